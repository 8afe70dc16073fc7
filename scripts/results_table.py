"""Merge offline comparison results (``airtwin evaluate-model --json``, ``airtwin finetune``'s results.json)
into one table: rows method x protocol, columns the task metrics with 95 % intervals.

    python scripts/results_table.py --zero-shot docs/results/zero-shot.json \
        --site docs/results/site-city-10000.json --out docs/results/results.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from airtwin.config import write_json
from airtwin.evaluation.offline import COLUMNS


def rows_of(result: dict, protocol: str) -> list[dict]:
    return [{"protocol": protocol, "method": name, **row} for name, row in result["rows"].items()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--zero-shot", help="evaluate-model --json output")
    p.add_argument("--site", help="finetune results.json")
    p.add_argument("--out", help="write the merged rows as JSON here")
    args = p.parse_args()
    rows = []
    if args.zero_shot:
        rows += rows_of(json.loads(Path(args.zero_shot).read_text()), "zero-shot (held-out areas)")
    if args.site:
        site = json.loads(Path(args.site).read_text())
        area = site["config"]["scenario"]
        for n, table in sorted(site["sizes"].items(), key=lambda kv: int(kv[0])):
            rows += rows_of(table, f"site-specific ({area}, {n} drops)")
    print("| protocol | method | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 2) + "|")
    for r in rows:
        cells = [f"{r[c]['value']:.3f} [{r[c]['low']:.3f}, {r[c]['high']:.3f}]" if c in r else "-" for c in COLUMNS]
        print(f"| {r['protocol']} | {r['method']} | " + " | ".join(cells) + " |")
    if args.out:
        write_json(args.out, rows)  # atomically: an interrupted run leaves the old table whole


if __name__ == "__main__":
    main()

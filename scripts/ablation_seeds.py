"""The ablation table over training seeds: ``airtwin evaluate-model --json`` of checkpoints named
``RUN_sSEED`` (``scripts/ablations.sh``), pooled per variant, mean [95 % Student-t interval over seeds], and
each variant against the full model paired by seed (see :func:`airtwin.evaluation.offline.across_seeds`). Several
tables of the same test set (one per seed, say) are merged first.

    python scripts/ablation_seeds.py TABLE.json [TABLE.json ...] [--reference full] [--out SEEDS.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from airtwin.config import write_json
from airtwin.evaluation.offline import across_seeds, merge_results, seeds_markdown


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("tables", nargs="+", help="evaluate-model --json outputs of one test set")
    p.add_argument("--reference", default="full", help="the variant the others are compared with")
    p.add_argument("--out", help="write the pooled table as JSON here")
    args = p.parse_args()
    try:
        table = across_seeds(merge_results([json.loads(Path(t).read_text()) for t in args.tables]), args.reference)
    except ValueError as e:
        raise SystemExit(f"{', '.join(args.tables)}: {e}") from None
    print("\n".join(seeds_markdown(table, args.reference)))
    if args.out:
        write_json(args.out, table)


if __name__ == "__main__":
    main()

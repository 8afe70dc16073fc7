"""Two ``airtwin finetune`` runs of the same drops and split, fine-tune seed by fine-tune seed: NEW - OLD of every
metric of their fine-tuned rows, with a 95 % interval over the test drops and the seeds at once
(:func:`airtwin.phy.metrics.pooled_difference`, paired by seed). For a before/after claim about a fine-tune:
one fine-tune's paired interval does not hold how far another seed lands.

    python scripts/compare_finetunes.py NEW_RUN OLD_RUN [--size N] [--rows memory|plain]

Each run folder holds ``size-N-KEY.json`` files, one per fine-tune (``airtwin finetune --finetunes K`` or
``--finetune-seed S``). The seeds both runs have are paired (at least two). The runs must share their test drops:
their baseline rows, fitted on the same drops, must be equal.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from airtwin.model.finetune import model_row_name, train_seed_of
from airtwin.phy.metrics import METRICS, TASK_METRICS, better, pooled_difference


def fine_tunes(run: str | Path, size: int | None, rows: str) -> tuple[int, dict[int, dict], dict]:
    """``(size, {fine-tune seed: {metric: [N] values}}, baselines)`` of one run folder's fine-tuned rows (``rows``:
    ``"memory"`` or ``"plain"``) at ``size`` training drops (default: its largest)."""
    by_size: dict[int, list[dict]] = {}
    for path in sorted(Path(run).glob("size-*.json")):  # size-N-KEY.json, one per fine-tune
        n = int(path.name.split("-")[1])
        entry = json.loads(path.read_text())
        if model_row_name(rows == "memory", n) in entry["models"]:
            by_size.setdefault(n, []).append(entry)
    if not by_size:
        raise ValueError(f"{run}: no size-N-KEY.json files with {rows} fine-tuned rows (an airtwin finetune run "
                         "folder? --rows memory or plain)")
    n = max(by_size) if size is None else size
    if n not in by_size:
        raise ValueError(f"{run}: no fine-tunes of {n} drops; it has {', '.join(map(str, sorted(by_size)))}")
    row = model_row_name(rows == "memory", n)
    seeds = {train_seed_of(e["settings"]["seed"], e["settings"].get("finetune_seed")):
             {m: np.asarray(v) for m, v in e["models"][row].items()} for e in by_size[n]}
    return n, seeds, by_size[n][0]["baselines"]


def compare_runs(new: str | Path, old: str | Path, size: int | None = None, rows: str = "memory", *,
                 seed: int = 0, num_resamples: int = 1000) -> dict:
    """``{"size", "seeds", "metrics": {metric: {"per_seed": [...], "difference", "low", "high", "verdict"}}}``:
    NEW - OLD, paired by fine-tune seed (see the module docstring).

    Raises:
        ValueError: fewer than two shared seeds, or runs whose baselines differ (other test drops).
    """
    n, a, base_a = fine_tunes(new, size, rows)
    _, b, base_b = fine_tunes(old, n, rows)
    shared = sorted(set(a) & set(b))
    if len(shared) < 2:
        raise ValueError(f"fine-tune seeds {sorted(a)} (new) and {sorted(b)} (old) share {shared}; allowed: two or "
                         "more shared (airtwin finetune --finetunes K in both)")
    if base_a != base_b:
        raise ValueError(f"{new} and {old} have different baseline rows at {n} drops: not the same test drops")
    diff = pooled_difference([a[s] for s in shared], [b[s] for s in shared], np.random.default_rng(seed),
                             num_resamples=num_resamples)
    metrics = {}
    for m in TASK_METRICS:
        if m in diff:
            per_seed = [METRICS[m].reduce(a[s][m]) - METRICS[m].reduce(b[s][m]) for s in shared]
            d, lo, hi = diff[m]
            metrics[m] = {"per_seed": per_seed, "difference": d, "low": lo, "high": hi, "verdict": better(m, diff[m])}
    return {"size": n, "seeds": shared, "metrics": metrics}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("new", help="run folder of the new procedure")
    p.add_argument("old", help="run folder of the one it is compared with")
    p.add_argument("--size", type=int, default=None, help="training drops (default: the new run's largest)")
    p.add_argument("--rows", choices=("memory", "plain"), default="memory",
                   help="the fine-tunes with a site memory or without one")
    args = p.parse_args()
    try:
        result = compare_runs(args.new, args.old, args.size, args.rows)
    except ValueError as e:
        raise SystemExit(str(e)) from None
    print(f"{args.new} - {args.old}: {result['size']} training drops, fine-tune seeds {result['seeds']}; "
          "95 % interval over the test drops and the seeds")
    print("\n| metric | per seed | new - old [95 %] | verdict |\n|---|---|---|---|")
    for m, c in result["metrics"].items():
        print(f"| {m} | {' / '.join(f'{x:+.3f}' for x in c['per_seed'])} | {c['difference']:+.3f} "
              f"[{c['low']:+.3f}, {c['high']:+.3f}] | {c['verdict']} |")


if __name__ == "__main__":
    main()

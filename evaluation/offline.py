"""Offline comparison tables: task metrics with 95 % bootstrap intervals, and each model against the
strongest classical baseline of every metric on the same samples (paired bootstrap)."""

from __future__ import annotations

import numpy as np

from airtwin.phy.metrics import TASK_METRICS, best_method, better, bootstrap_interval, paired_difference, summarize

#: Columns of the tables, in order.
COLUMNS = TASK_METRICS


def compare(models: dict[str, dict[str, np.ndarray]], baselines: dict[str, dict[str, np.ndarray]], *,
            seed: int = 0, num_resamples: int = 1000) -> dict:
    """Summaries with intervals for every row, and model-vs-strongest-baseline differences.

    Args:
        models: ``{name: {metric: [N] per-sample values}}`` (all tasks of a model merged).
        baselines: the same for the baselines, on the same samples.
    Returns:
        ``{"rows": {name: {metric: {"value", "low", "high"}}}, "strongest": {metric: baseline},
        "comparisons": {model: {metric: {"baseline", "difference", "low", "high", "verdict"}}}}``.
    """
    rng = np.random.default_rng(seed)
    rows: dict[str, dict] = {}
    for name, samples in {**models, **baselines}.items():
        values = summarize(samples)
        ci = bootstrap_interval(samples, rng, num_resamples=num_resamples)
        rows[name] = {k: {"value": values[k], "low": ci[k][0], "high": ci[k][1]} for k in samples}
    values = {b: {k: cell["value"] for k, cell in rows[b].items()} for b in baselines}
    strongest = {m: best for m in COLUMNS if (best := best_method(values, m)) is not None}
    comparisons: dict[str, dict] = {}
    for name, samples in models.items():
        comparisons[name] = {}
        for metric, base in strongest.items():
            if metric not in samples:
                continue
            d = paired_difference({metric: samples[metric]}, {metric: baselines[base][metric]}, rng,
                                  num_resamples=num_resamples)[metric]
            comparisons[name][metric] = {"baseline": base, "difference": d[0], "low": d[1], "high": d[2],
                                         "verdict": better(metric, d)}
    return {"rows": rows, "strongest": strongest, "comparisons": comparisons}


def markdown(result: dict) -> list[str]:
    """The comparison as markdown: one table of values with intervals, one of the model-vs-baseline verdicts."""
    lines = ["| method | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for name, row in result["rows"].items():
        cells = [f"{row[c]['value']:.3f} [{row[c]['low']:.3f}, {row[c]['high']:.3f}]" if c in row else "-"
                 for c in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for model, comp in result["comparisons"].items():
        lines += ["", f"{model} against the strongest baseline of each metric (paired bootstrap, 95 %):", "",
                  "| metric | baseline | difference [95 % interval] | verdict |", "|---|---|---|---|"]
        for metric, c in comp.items():
            lines.append(f"| {metric} | {c['baseline']} | {c['difference']:+.3f} [{c['low']:+.3f}, {c['high']:+.3f}] | "
                         f"{c['verdict']} |")
    return lines

"""Offline comparison tables: task metrics with 95 % bootstrap intervals, and each model against the
strongest classical baseline of every metric on the same samples (paired bootstrap)."""

from __future__ import annotations

import re

import numpy as np

from airtwin.phy.metrics import (TASK_METRICS, best_method, better, bootstrap_interval, paired_difference,
                                 pooled_difference, summarize)

#: Columns of the tables, in order.
COLUMNS = TASK_METRICS


def compare(models: dict[str, dict[str, np.ndarray]], baselines: dict[str, dict[str, np.ndarray]], *,
            pooled: dict[str, list[str]] | None = None, seed: int = 0, num_resamples: int = 1000) -> dict:
    """Summaries with intervals for every row, and model-vs-strongest-baseline differences.

    Args:
        models: ``{name: {metric: [N] per-sample values}}`` (all tasks of a model merged).
        baselines: the same for the baselines, on the same samples.
        pooled: ``{name: [model names]}``: rows that pool runs of one procedure (fine-tunes that differ only in
            their seed, at least two), scored as the runs' mean with an interval over both the test samples and
            the runs (:func:`airtwin.phy.metrics.pooled_difference`); the runs keep their own rows.
    Returns:
        ``{"rows": {name: {metric: {"value", "low", "high"}}}, "strongest": {metric: baseline},
        "comparisons": {model: {metric: {"baseline", "difference", "low", "high", "verdict"}}},
        "pooled": {name: [model names]}}``; the pooled rows come after the models' and before the baselines'.
    Raises:
        ValueError: a pooled row names a model not in ``models``, or fewer than two.
    """
    pooled = dict(pooled or {})
    for name, members in pooled.items():
        unknown = [m for m in members if m not in models]
        if unknown or len(members) < 2:
            raise ValueError(f"compare: pooled row {name!r} of {members!r}; allowed: two or more of the models "
                             f"({', '.join(models)})")
    rng = np.random.default_rng(seed)
    rows: dict[str, dict] = {}
    for name, samples in {**models, **baselines}.items():
        values = summarize(samples)
        ci = bootstrap_interval(samples, rng, num_resamples=num_resamples)
        rows[name] = {k: {"value": values[k], "low": ci[k][0], "high": ci[k][1]} for k in samples}
    for name, members in pooled.items():
        cells = pooled_difference([models[m] for m in members], None, rng, num_resamples=num_resamples)
        rows[name] = {k: {"value": v, "low": lo, "high": hi} for k, (v, lo, hi) in cells.items()}
    order = [*models, *pooled, *baselines]  # the pooled rows after the models, before the baselines
    rows = {name: rows[name] for name in order}
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
    for name, members in pooled.items():
        comparisons[name] = {}
        for metric, base in strongest.items():
            if all(metric in models[m] for m in members):
                d = pooled_difference([{metric: models[m][metric]} for m in members], {metric: baselines[base][metric]},
                                      rng, num_resamples=num_resamples)[metric]
                comparisons[name][metric] = {"baseline": base, "difference": d[0], "low": d[1], "high": d[2],
                                             "verdict": better(metric, d)}
    return {"rows": rows, "strongest": strongest, "comparisons": comparisons, "pooled": pooled}


def markdown(result: dict) -> list[str]:
    """The comparison as markdown: one table of values with intervals, one of the model-vs-baseline verdicts."""
    lines = ["| method | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for name, row in result["rows"].items():
        cells = [f"{row[c]['value']:.3f} [{row[c]['low']:.3f}, {row[c]['high']:.3f}]" if c in row else "-"
                 for c in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    pooled = result.get("pooled", {})
    runs = {m for members in pooled.values() for m in members}
    for model, comp in result["comparisons"].items():
        if model in runs:  # each run's own verdicts stay in the JSON; the pooled row's hold both sources of error
            continue
        how = (f"paired bootstrap over the test samples and Student-t over the {len(pooled[model])} runs, in "
               "quadrature" if model in pooled else "paired bootstrap")
        lines += ["", f"{model} against the strongest baseline of each metric ({how}, 95 %):", "",
                  "| metric | baseline | difference [95 % interval] | verdict |", "|---|---|---|---|"]
        for metric, c in comp.items():
            lines.append(f"| {metric} | {c['baseline']} | {c['difference']:+.3f} [{c['low']:+.3f}, {c['high']:+.3f}] | "
                         f"{c['verdict']} |")
    return lines


_SEEDED_ROW = re.compile(r"^(?P<variant>\S+) \(.*_s(?P<seed>\d+)\)$")


def merge_results(results: list[dict]) -> dict:
    """The rows of several :func:`compare` results on the same test samples (say one ``evaluate-model`` per seed of
    an ablation) as one ``{"rows": ..., "num_samples": ...}`` for :func:`across_seeds`.

    Raises:
        ValueError: the results were scored on different numbers of samples, or a row they share (a baseline)
            differs between them: not the same test set.
    """
    if not results:
        raise ValueError("merge_results: no results to merge")
    sizes = sorted({r.get("num_samples") for r in results}, key=str)
    if len(sizes) > 1:
        raise ValueError(f"merge_results: the results were scored on {', '.join(map(str, sizes))} samples; allowed: "
                         "one test set for all")
    rows: dict[str, dict] = {}
    for r in results:
        for name, row in r["rows"].items():
            if name in rows and rows[name] != row:
                raise ValueError(f"merge_results: row {name!r} differs between the results; allowed: the same row "
                                 "from the same test set (or rows of different names)")
            rows[name] = row
    return {"rows": rows, "num_samples": sizes[0]}


def across_seeds(result: dict, reference: str = "full") -> dict:
    """Rows of one comparison (:func:`compare`) that are training seeds of the same variant, pooled.

    Rows are named ``"VARIANT (RUN_sSEED)"``, as ``airtwin evaluate-model`` names the checkpoints of
    ``scripts/ablations.sh``; other rows are ignored. Each metric gets the mean over seeds with its 95 %
    Student-t interval (the spread between seeds, not the test-set noise), and each variant its difference
    from ``reference`` paired by seed, with the same kind of interval and a verdict.

    Returns:
        ``{variant: {"seeds": [...], metric: {"mean", "low", "high", "difference", "d_low", "d_high", "verdict"}}}``;
        the difference keys only where the reference variant has the same seeds (at least two).
    """
    from scipy import stats

    runs: dict[str, dict[int, dict]] = {}
    for name, row in result["rows"].items():
        if m := _SEEDED_ROW.match(name):
            runs.setdefault(m["variant"], {})[int(m["seed"])] = row
    if reference not in runs:
        raise ValueError(f"across_seeds: no rows of the reference variant {reference!r}; variants found: "
                         f"{', '.join(sorted(runs)) or 'none (rows must be named VARIANT (RUN_sSEED))'}")

    def interval(v: np.ndarray) -> tuple[float, float, float]:
        mean = float(np.mean(v))
        if len(v) < 2:
            return mean, float("nan"), float("nan")
        half = float(stats.t.ppf(0.975, len(v) - 1) * np.std(v, ddof=1) / np.sqrt(len(v)))
        return mean, mean - half, mean + half

    out: dict[str, dict] = {}
    for variant, by_seed in runs.items():
        seeds = sorted(by_seed)
        out[variant] = {"seeds": seeds}
        paired = seeds == sorted(runs[reference]) and len(seeds) >= 2
        for metric in COLUMNS:
            if not all(metric in by_seed[s] for s in seeds):
                continue
            values = np.array([by_seed[s][metric]["value"] for s in seeds])
            mean, low, high = interval(values)
            cell = {"mean": mean, "low": low, "high": high}
            if paired and variant != reference:
                d = interval(values - np.array([runs[reference][s][metric]["value"] for s in seeds]))
                cell |= {"difference": d[0], "d_low": d[1], "d_high": d[2], "verdict": better(metric, d)}
            out[variant][metric] = cell
    return out


def seeds_markdown(table: dict, reference: str = "full") -> list[str]:
    """:func:`across_seeds` as markdown: mean [95 % interval over seeds], and the verdict against ``reference``."""
    lines = ["| variant | seeds | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 2) + "|"]
    for variant, row in table.items():
        cells = []
        for c in COLUMNS:
            cell = row.get(c)
            text = "-" if cell is None else f"{cell['mean']:.3f} [{cell['low']:.3f}, {cell['high']:.3f}]"
            if cell is not None and "verdict" in cell and cell["verdict"] != "not distinguishable":
                text += f" ({cell['verdict']} than {reference})"
            cells.append(text)
        lines.append(f"| {variant} | {len(row['seeds'])} | " + " | ".join(cells) + " |")
    return lines

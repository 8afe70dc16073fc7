"""Write an evaluation run to disk: metrics.json, timing.json, PNG figures and report.md."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from airtwin.evaluation import plots
from airtwin.evaluation.runner import run_suite
from airtwin.scenes.suites import Suite
from airtwin.twin.pool import TwinPool


def beam_table(metrics: dict) -> list[str]:
    rows = ["| scenario | speed [m/s] | policy | beam top-1 | SNR loss [dB] | rate | net rate | overhead saved |",
            "|---|---|---|---|---|---|---|---|"]
    for sc, per in metrics["scenarios"].items():
        for v, runs in per["beam_selection"].items():
            for p, r in runs.items():
                rows.append(f"| {sc} | {v} | {p} | {100 * r['beam_accuracy']:.1f} % | {r['snr_loss_db']:.2f} | "
                            f"{r['rate']:.2f} | {r['net_rate']:.2f} | {100 * r['overhead_saved_vs_exhaustive']:.0f} % |")
    return rows


def precoding_table(metrics: dict) -> list[str]:
    rows = ["| scenario | pilot SNR [dB] | policy | SGCS | SE [bit/s/Hz] | optimal SE |", "|---|---|---|---|---|---|"]
    for sc, per in metrics["scenarios"].items():
        for snr, runs in per["precoding"].items():
            for p, r in runs.items():
                rows.append(f"| {sc} | {snr} | {p} | {r['sgcs']:.3f} | {r['spectral_efficiency']:.2f} | "
                            f"{r['optimal_spectral_efficiency']:.2f} |")
    return rows


def positioning_table(metrics: dict) -> list[str]:
    rows = ["| scenario | policy | median [m] | CDF90 [m] |", "|---|---|---|---|"]
    for sc, per in metrics["scenarios"].items():
        for p, r in per["positioning"].items():
            rows.append(f"| {sc} | {p} | {r['median_m']:.2f} | {r['cdf90_m']:.2f} |")
        r = per["path_loss"].get("universal")
        if r:
            rows.append(f"| {sc} | universal path loss | RMSE {r['rmse_db']:.2f} dB | |")
    return rows


def write_report(suite: Suite, policies: tuple[str, ...], out: str | Path, *, checkpoint=None, log=print) -> dict:
    """Run the suite and write ``metrics.json``, ``timing.json``, the figures and ``report.md`` to ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pool = TwinPool()  # the figures below draw the scenarios the runs traced
    metrics, timing = run_suite(suite, policies, checkpoint=checkpoint, pool=pool, log=log)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1, sort_keys=True) + "\n")
    (out / "timing.json").write_text(json.dumps(timing, indent=1, sort_keys=True) + "\n")
    figures = [plots.beam_bars(metrics, out), plots.snr_over_time(metrics, out), plots.precoding_vs_snr(metrics, out),
               plots.positioning_cdf(metrics, out), plots.path_loss_scatter(metrics, out)]
    from airtwin.evaluation.runner import scenario_variants

    specs = dict(scenario_variants(suite))
    for name, per in metrics["scenarios"].items():
        twin = pool.get(specs[name])
        runs = next(iter(per["beam_selection"].values()))
        if runs:
            figures.append(plots.beams_on_map(twin, runs, out, name))
        if suite.evaluation.render and runs:
            from airtwin.twin.render import render_scene

            traj = np.asarray(next(iter(runs.values()))["trajectory"])
            traj = np.concatenate([traj, np.full((len(traj), 1), twin.spec.ue.height_m)], axis=1)
            figures.append(render_scene(twin, out / f"scene_{name}.png", traj))
    lines = [f"# AirTwin evaluation: suite `{suite.name}`", "", suite.description, "",
             f"Policies: {', '.join(policies)}; {suite.evaluation.episodes} episode(s) of {suite.evaluation.steps} steps per run; "
             f"seed {suite.evaluation.seed}.", "", "## Beam selection (closed loop)", "", *beam_table(metrics), "",
             "Overhead saved: share of the air time of an exhaustive sweep every step (the oracle) that the "
             "policy does not spend (sweep: one sweep every 10 steps; universal, lookup, random: no sweep). "
             "Net rate = rate x (1 - sweep overhead).", "",
             "## Precoding from estimated, aged CSI", "", *precoding_table(metrics), "",
             "## Positioning and path loss", "", *positioning_table(metrics), "",
             "## Inference latency (median per decision, this machine)", "",
             "| policy | latency [ms] |", "|---|---|",
             *[f"| {p} | {t['median_ms']:.2f} |" for p, t in sorted(timing.items())], ""]
    if metrics["skipped"]:
        lines += ["## Skipped", "", *[f"- {k}: {v}" for k, v in sorted(metrics["skipped"].items())], ""]
    lines += ["## Figures", "", *[f"![{f.stem}]({f.name})" for f in figures], ""]
    (out / "report.md").write_text("\n".join(lines))
    log(f"wrote {out / 'report.md'}")
    return metrics

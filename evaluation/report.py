"""Write an evaluation run to disk: metrics.json, timing.json, PNG figures and report.md."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from airtwin.config import write_json
from airtwin.evaluation import plots
from airtwin.evaluation.runner import run_suite
from airtwin.scenes.suites import Suite
from airtwin.twin.pool import TwinPool


def _ci(r: dict, key: str, fmt: str = ".2f", scale: float = 1.0, unit: str = "") -> str:
    """``value unit [low, high]`` of a run's metric (the interval when the run has one)."""
    value = f"{scale * r[key]:{fmt}}{unit}"
    if key in r.get("intervals", {}):
        lo, hi = r["intervals"][key]
        value += f" [{scale * lo:{fmt}}, {scale * hi:{fmt}}]"
    return value


def comparison_table(metrics: dict) -> list[str]:
    """The universal model against each classical policy that ran, step by step on the same trajectories."""
    rows = ["| scenario / task / condition | baseline | metric | universal - baseline [95 % interval] | verdict |",
            "|---|---|---|---|---|"]
    for where, per in metrics.get("universal_vs_baselines", {}).items():
        for base, comp in per.items():
            for k, c in comp.items():
                rows.append(f"| {where} | {base} | {k} | {c['difference']:+.3f} [{c['low']:+.3f}, {c['high']:+.3f}] | "
                            f"{c['verdict']} |")
    return rows


def beam_table(metrics: dict) -> list[str]:
    rows = ["| scenario | speed [m/s] | policy | beam top-1 | SNR loss [dB] | rate | net rate | overhead saved |",
            "|---|---|---|---|---|---|---|---|"]
    for sc, per in metrics["scenarios"].items():
        for v, runs in per["beam_selection"].items():
            for p, r in runs.items():
                name = f"{p} ({r['table_drops']} drops, {r['table']})" if "table_drops" in r else p
                rows.append(f"| {sc} | {v} | {name} | {_ci(r, 'beam_accuracy', '.1f', 100, ' %')} | "
                            f"{_ci(r, 'snr_loss_db')} | {_ci(r, 'rate')} | {_ci(r, 'net_rate')} | "
                            f"{100 * r['overhead_saved_vs_exhaustive']:.0f} % |")
    return rows


def precoding_table(metrics: dict) -> list[str]:
    rows = ["| scenario | pilot SNR [dB] | policy | SGCS | SE [bit/s/Hz] | optimal SE |", "|---|---|---|---|---|---|"]
    for sc, per in metrics["scenarios"].items():
        for snr, runs in per["precoding"].items():
            for p, r in runs.items():
                rows.append(f"| {sc} | {snr} | {p} | {_ci(r, 'sgcs', '.3f')} | {_ci(r, 'spectral_efficiency')} | "
                            f"{r['optimal_spectral_efficiency']:.2f} |")
    return rows


def positioning_table(metrics: dict) -> list[str]:
    rows = ["| scenario | policy | median [m] | CDF90 [m] |", "|---|---|---|---|"]
    for sc, per in metrics["scenarios"].items():
        for p, r in per["positioning"].items():
            rows.append(f"| {sc} | {p} | {_ci(r, 'median_m')} | {_ci(r, 'cdf90_m')} |")
        for p, r in per["path_loss"].items():
            rows.append(f"| {sc} | {p} path loss | RMSE {r['rmse_db']:.2f} dB | |")
    return rows


def write_report(suite: Suite, policies: tuple[str, ...], out: str | Path, *, checkpoint=None,
                 reference_checkpoint=None, device: str = "auto", log=print) -> dict:
    """Run the suite and write ``metrics.json``, ``timing.json``, the figures and ``report.md`` to ``out``
    (``reference_checkpoint``: a second universal model to compare with, :func:`run_suite`)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pool = TwinPool()  # the figures below draw the scenarios the runs traced
    metrics, timing = run_suite(suite, policies, checkpoint=checkpoint, reference_checkpoint=reference_checkpoint,
                                pool=pool, device=device, log=log)
    policies = tuple(metrics["policies"])
    write_json(out / "metrics.json", metrics, sort_keys=True)
    write_json(out / "timing.json", timing, sort_keys=True)
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
             f"seed {suite.evaluation.seed}. Values [95 % interval, bootstrap over episodes].", "", "## Beam selection (closed loop)", "", *beam_table(metrics), "",
             "Overhead saved: share of the air time of an exhaustive sweep every step (the oracle) that the "
             "policy does not spend (sweep: one sweep every 10 steps; the other policies but the oracle: no sweep). "
             "Net rate = rate x (1 - sweep overhead).", "",
             "## Precoding from estimated, aged CSI", "", *precoding_table(metrics), "",
             "## Positioning and path loss", "", *positioning_table(metrics), "",
             "## Universal model vs. the baselines", "",
             "Same episodes (same seeds, same trajectories), paired step by step; intervals bootstrap whole "
             "episodes. Classical: the geometric beam, the eigen-precoder of the estimate, the first-path position; "
             "sweep: an exhaustive sweep every 10 steps (net rate after its air time); lookup: the best beam of the "
             "nearest drop in a table of the area (the universal model's site memory when it has one, so both "
             "know the same drops); lookup-gains: the beam strongest on average over the 20 nearest drops of the "
             "same table; reference: a second universal model, when the run has one.",
             "", *comparison_table(metrics), "",
             "## Inference latency (median per decision, this machine)", "",
             "| policy | latency [ms] |", "|---|---|",
             *[f"| {p} | {t['median_ms']:.2f} |" for p, t in sorted(timing.items())], ""]
    multi = [(n, s) for n, s in specs.items() if len(s.bs) > 1] if suite.evaluation.multicell else []
    if multi:
        from airtwin.evaluation.multicell import MulticellEvalConfig, evaluate_multicell, markdown

        lines += ["## Several users and several cells", "",
                  "Multi-user precoding (MRT, ZF, regularised ZF on the estimate and on the true channel) and "
                  "serving cell and beam management (A3, strongest reported site, the universal model per site, "
                  "the genie) on each multi-site scenario; values [95 % interval, bootstrap over episodes] and "
                  "the paired verdict against the strongest classical policy.", ""]
        metrics["multicell"] = {}
        for name, spec in multi:
            ev = suite.evaluation
            cfg = MulticellEvalConfig(scenario=spec.name, episodes=max(2, ev.episodes), steps=ev.steps, seed=ev.seed,
                                      checkpoint=str(checkpoint) if checkpoint is not None else None,
                                      device=device)
            result = evaluate_multicell(cfg, log=log, pool=pool, spec=spec)
            metrics["multicell"][name] = result
            safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
            figures += [plots.sum_rate_cdf(result, out, safe), plots.cells_map(pool.get(spec), result, out, safe)]
            lines += [f"### {name}", "", *markdown(result, level=4)]
            if result.get("skipped"):
                lines += [f"- skipped: {k}: {v}" for k, v in result["skipped"].items()] + [""]
        write_json(out / "metrics.json", metrics, sort_keys=True)
    if metrics["skipped"]:
        lines += ["## Skipped", "", *[f"- {k}: {v}" for k, v in sorted(metrics["skipped"].items())], ""]
    lines += ["## Figures", "", *[f"![{f.stem}]({f.name})" for f in figures], ""]
    (out / "report.md").write_text("\n".join(lines))
    log(f"wrote {out / 'report.md'}")
    return metrics

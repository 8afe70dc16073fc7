"""Figures of an evaluation run: one function per PNG.

Figures are ``matplotlib.figure.Figure`` objects saved straight to files (Agg canvas), so importing
this module changes no global matplotlib state (backend, open figures).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure


def _subplots(ncols: int = 1, figsize: tuple[float, float] = (6, 3.4)):
    fig = Figure(figsize=figsize)
    axes = fig.subplots(1, ncols)
    return fig, axes

COLORS = {"universal": "tab:blue", "classical": "tab:red", "reference": "tab:cyan", "oracle": "tab:green",
          "sweep": "tab:orange", "lookup": "tab:purple", "lookup-gains": "tab:pink", "random": "tab:gray"}


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def beam_bars(metrics: dict, out: Path) -> Path:
    """Beam accuracy and mean SNR loss per policy, per scenario and speed."""
    rows = [(f"{sc}\n{v} m/s", runs) for sc, per in metrics["scenarios"].items()
            for v, runs in per["beam_selection"].items()]
    policies = [p for p in metrics["policies"] if any(p in r for _, r in rows)]
    fig, axes = _subplots(2, figsize=(max(6, 2.2 * len(rows) + 3), 3.6))
    width = 0.8 / max(len(policies), 1)
    for k, p in enumerate(policies):
        x = np.arange(len(rows)) + k * width
        axes[0].bar(x, [r.get(p, {}).get("beam_accuracy", np.nan) * 100 for _, r in rows], width,
                    label=p, color=COLORS.get(p))
        axes[1].bar(x, [r.get(p, {}).get("snr_loss_db", np.nan) for _, r in rows], width, color=COLORS.get(p))
    for ax, title in zip(axes, ("top-1 beam accuracy [%]", "mean SNR loss vs. best beam [dB]")):
        ax.set_xticks(np.arange(len(rows)) + 0.4 - width / 2, [r for r, _ in rows], fontsize=7)
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=7)
    return _save(fig, out / "beam_selection.png")


def snr_over_time(metrics: dict, out: Path) -> Path:
    """Per-step SNR of the first episode, each policy, first scenario and speed."""
    scenario, per = next(iter(metrics["scenarios"].items()))
    speed, runs = next(iter(per["beam_selection"].items()))
    fig, ax = _subplots(figsize=(6, 3.4))
    for p, r in runs.items():
        ax.plot(r["snr_trace_db"], label=p, color=COLORS.get(p), marker=".")
    if runs:
        ax.plot(next(iter(runs.values()))["best_snr_trace_db"], "k:", label="best beam")
    ax.set_xlabel("step")
    ax.set_ylabel("beamformed SNR [dB]")
    ax.set_title(f"{scenario}, {speed} m/s: SNR over an episode", fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, out / "snr_over_time.png")


def precoding_vs_snr(metrics: dict, out: Path) -> Path:
    fig, axes = _subplots(2, figsize=(8, 3.4))
    for sc, per in metrics["scenarios"].items():
        snrs = sorted(per["precoding"], key=float)
        policies = {p for s in snrs for p in per["precoding"][s]}
        for p in sorted(policies):
            xs = [float(s) for s in snrs if p in per["precoding"][s]]
            axes[0].plot(xs, [per["precoding"][s][p]["sgcs"] for s in snrs if p in per["precoding"][s]],
                         marker="o", color=COLORS.get(p), label=f"{p} ({sc})")
            axes[1].plot(xs, [per["precoding"][s][p]["spectral_efficiency"] for s in snrs
                              if p in per["precoding"][s]], marker="o", color=COLORS.get(p))
    axes[0].set_title("SGCS vs. eigen-precoder", fontsize=9)
    axes[1].set_title("spectral efficiency [bit/s/Hz]", fontsize=9)
    for ax in axes:
        ax.set_xlabel("pilot SNR [dB]")
    axes[0].legend(fontsize=6)
    return _save(fig, out / "precoding.png")


def positioning_cdf(metrics: dict, out: Path) -> Path:
    fig, ax = _subplots(figsize=(5.5, 3.4))
    for sc, per in metrics["scenarios"].items():
        for p, r in per["positioning"].items():
            e = np.sort(r["errors_m"])
            if e.size:
                ax.plot(e, np.arange(1, e.size + 1) / e.size, color=COLORS.get(p), label=f"{p} ({sc})")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("position error [m]")
    ax.set_ylabel("CDF")
    ax.legend(fontsize=6)
    return _save(fig, out / "positioning_cdf.png")


def path_loss_scatter(metrics: dict, out: Path) -> Path:
    fig, ax = _subplots(figsize=(4.2, 4.0))
    lo, hi = np.inf, -np.inf
    for sc, per in metrics["scenarios"].items():
        r = per["path_loss"].get("universal")
        if r and r["true_db"]:
            ax.scatter(r["true_db"], r["pred_db"], s=8, label=f"{sc} (RMSE {r['rmse_db']:.1f} dB)")
            lo, hi = min(lo, *r["true_db"], *r["pred_db"]), max(hi, *r["true_db"], *r["pred_db"])
    if np.isfinite(lo):
        ax.plot([lo, hi], [lo, hi], "k:")
        ax.legend(fontsize=6)
    ax.set_xlabel("ray-traced path loss [dB]")
    ax.set_ylabel("universal model [dB]")
    return _save(fig, out / "path_loss_scatter.png")


def _area_map(twin) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Top-down building heights over the UE region ``[cells (y), cells (x)]`` [m] and its imshow extent."""
    from airtwin.twin.geometry import height_map_around

    x0, y0, x1, y1 = twin.area_bounds
    res = max(2.0, max(x1 - x0, y1 - y0) / 128)
    cells = int(np.ceil(max(x1 - x0, y1 - y0) / res))
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    half = cells * res / 2
    hm = height_map_around(twin.scene.mi_scene, centre, cells, res)
    return hm, (centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half)


def beams_on_map(twin, runs: dict, out: Path, name: str) -> Path:
    """Top-down height map with the UE trajectory and the beams each policy chose (first episode)."""
    hm, extent = _area_map(twin)
    bs = twin.bs_position
    half = max(extent[1] - extent[0], extent[3] - extent[2]) / 2
    fig, ax = _subplots(figsize=(5.2, 4.6))
    ax.imshow(hm, origin="lower", cmap="Greys", extent=extent)
    yaw = twin.spec.bs[twin.serving_bs].orientation_deg[0]
    az = np.radians(twin.codebook.azimuth_deg(yaw))
    for k, (p, r) in enumerate(runs.items()):
        traj = np.asarray(r["trajectory"])
        if k == 0:
            ax.plot(traj[:, 0], traj[:, 1], "r.-", lw=1, label="UE trajectory")
        last = r["beams"][-1]
        if np.isfinite(az[last]):
            ax.plot([bs[0], bs[0] + 0.8 * half * np.cos(az[last])], [bs[1], bs[1] + 0.8 * half * np.sin(az[last])],
                    color=COLORS.get(p), lw=2, label=f"{p}: beam {last}")
    ax.plot(bs[0], bs[1], "k^", ms=9, label="BS")
    ax.set_title(f"{name}: last chosen beam per policy", fontsize=9)
    ax.legend(fontsize=6, loc="upper right")
    return _save(fig, out / f"beams_{name}.png")


#: The headline metric of each task in the offline comparison figures.
TASK_HEADLINES = {"positioning": "pos_median_m", "los": "los_accuracy", "precoding": "sgcs",
                  "beam_selection": "beam_top1", "path_loss": "pl_rmse_db"}


def offline_comparison(result: dict, out: Path, prefix: str = "compare") -> list[Path]:
    """One PNG per task: its headline metric for every model and baseline, with 95 % intervals.

    ``result``: the output of :func:`airtwin.evaluation.offline.compare`.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for task, metric in TASK_HEADLINES.items():
        rows = [(name, row[metric]) for name, row in result["rows"].items() if metric in row]
        if not rows:
            continue
        fig, ax = _subplots(figsize=(6, 0.45 * len(rows) + 1.2))
        y = np.arange(len(rows))
        values = np.array([c["value"] for _, c in rows])
        err = np.array([[c["value"] - c["low"] for _, c in rows], [c["high"] - c["value"] for _, c in rows]])
        colors = ["tab:blue" if name in result["comparisons"] else "tab:gray" for name, _ in rows]  # models blue
        ax.barh(y, values, xerr=np.maximum(err, 0), color=colors, capsize=3)
        ax.set_yticks(y, [name for name, _ in rows], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel(f"{metric} (95 % interval)", fontsize=8)
        ax.set_title(task.replace("_", " "), fontsize=9)
        paths.append(_save(fig, out / f"{prefix}_{task}.png"))
    return paths


def sum_rate_cdf(result: dict, out: Path, tag: str = "") -> Path:
    """CDF of the per-step sum rate of every multi-user precoding policy (``airtwin evaluate-multicell``)."""
    fig, ax = _subplots(figsize=(6, 3.6))
    for name, values in result["multi_user"]["sum_rate_samples"].items():
        v = np.sort(np.asarray(values))
        ax.plot(v, np.arange(1, len(v) + 1) / len(v), label=name,
                linestyle="--" if "genie" in name else "-")
    ax.set_xlabel("sum rate [bit/s/Hz]")
    ax.set_ylabel("CDF over steps")
    ax.set_title(f"{result['config']['scenario']}: {result['config']['num_users']} users, "
                 f"pilot SNR {result['config']['pilot_snr_db']:g} dB", fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, out / f"sum_rate_cdf{'_' + tag if tag else ''}.png")


def cells_map(twin, result: dict, out: Path, tag: str = "") -> Path:
    """The sites and their boresights over the area's height map, and the first episode's UE track of the
    A3 rule and the genie, coloured by serving site, with each step's beam drawn from the serving site."""
    hm, extent = _area_map(twin)
    half = (extent[1] - extent[0]) / 2
    sites = np.array([b.position for b in twin.spec.bs])
    yaws = [b.orientation_deg[0] for b in twin.spec.bs]
    colors = [f"C{i}" for i in range(len(sites))]
    tracks = result["cells"]["tracks"]
    shown = [n for n in tracks if n.startswith("A3")][:1] + [n for n in tracks if n == "genie"]
    fig, axes = _subplots(len(shown), figsize=(5.0 * len(shown), 4.8))
    for ax, name in zip(np.atleast_1d(axes), shown):
        ax.imshow(hm, origin="lower", cmap="Greys", extent=extent)
        t = tracks[name]
        pos, serving, beams = np.asarray(t["positions"]), np.asarray(t["serving"]), np.asarray(t["beam"])
        for k, (p, s, b) in enumerate(zip(pos, serving, beams)):
            az = np.radians(twin.codebook.azimuth_deg(yaws[s])[b])
            if np.isfinite(az):
                r = 0.25 * half
                ax.plot([sites[s, 0], sites[s, 0] + r * np.cos(az)], [sites[s, 1], sites[s, 1] + r * np.sin(az)],
                        color=colors[s], alpha=0.25, lw=1)
        ax.scatter(pos[:, 0], pos[:, 1], c=[colors[s] for s in serving], s=12, zorder=3)
        handovers = np.flatnonzero(np.diff(serving)) + 1
        ax.scatter(pos[handovers, 0], pos[handovers, 1], marker="x", c="k", s=40, zorder=4, label="handover")
        for i, (site, yaw) in enumerate(zip(sites, yaws)):
            ax.plot(site[0], site[1], "^", color=colors[i], ms=10, mec="k", zorder=5)
            ax.annotate(twin.spec.bs[i].name, site[:2], fontsize=7, xytext=(4, 4), textcoords="offset points")
            d = np.radians(yaw)
            ax.arrow(site[0], site[1], 0.12 * half * np.cos(d), 0.12 * half * np.sin(d), color=colors[i], width=0.6)
        ax.set_title(f"{name}: serving site along the track (first episode)", fontsize=8)
        ax.legend(fontsize=7, loc="upper right")
    return _save(fig, out / f"cells_map{'_' + tag if tag else ''}.png")

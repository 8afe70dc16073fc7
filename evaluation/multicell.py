"""Closed-loop evaluation of the multi-user and multi-cell environments against their classical baselines.

    airtwin evaluate-multicell --scenario city-cells3-10000 --episodes 8 --steps 20 --out runs/mc

``AirTwin/MultiUserPrecoding-v0``: MRT, ZF and regularised ZF on the estimated CSI, the same on the true
applied channel (genie bounds), and random precoders. ``AirTwin/CellBeamManagement-v0``: the A3 rule
(3GPP hysteresis and time-to-trigger), the strongest reported site without hysteresis (A3 with zero
hysteresis, offset and time-to-trigger), staying on the initial site, and the genie. Every policy plays
the same episode seeds; each metric gets a 95 % bootstrap interval over episodes, and each policy is
compared with the strongest classical one by a paired bootstrap over episodes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from airtwin.config import check_range, write_json
from airtwin.phy.handover import A3Config
from airtwin.phy.metrics import METRICS, better, bootstrap_interval, paired_difference


@dataclass(frozen=True)
class MulticellEvalConfig:
    """What ``airtwin evaluate-multicell`` runs."""

    scenario: str = "city-cells3-10000"
    """A multi-site scenario (the multi-user runs use its first site)."""
    episodes: int = 6
    """Episodes per policy (the same seeds for every policy)."""
    steps: int = 15
    """Steps per episode."""
    num_users: int = 4
    """UEs of the multi-user precoding runs."""
    pilot_snr_db: float = 20.0
    """Pilot SNR of the multi-user CSI estimates [dB]."""
    speed_mps: float = 15.0
    """UE speed of the cell and beam management runs [m/s]."""
    step_s: float = 0.1
    """Measurement and decision period of the cell and beam management runs [s]."""
    load: float = 1.0
    """Probability that a non-serving site transmits in a step."""
    seed: int = 0
    """Seed of the episode seeds and the bootstrap."""
    checkpoint: str | None = None
    """Universal-model checkpoint playing the cell runs per site (default: the shipped one; 'none': leave it out)."""
    device: str = "cpu"
    """Torch device of the universal model: 'auto', 'cpu', 'cuda', 'cuda:N', 'mps' (one UE, batch of sites: CPU)."""

    def __post_init__(self) -> None:
        from airtwin.model.config import check_device

        check_device("MulticellEvalConfig.device", self.device)
        check_range("MulticellEvalConfig.episodes", self.episodes, 2, 100_000)
        check_range("MulticellEvalConfig.steps", self.steps, 1, 100_000)
        check_range("MulticellEvalConfig.num_users", self.num_users, 1, 64)
        check_range("MulticellEvalConfig.pilot_snr_db", self.pilot_snr_db, -30.0, 100.0)
        check_range("MulticellEvalConfig.speed_mps", self.speed_mps, 0.0, 100.0)
        check_range("MulticellEvalConfig.step_s", self.step_s, 0.0, 3600.0, low_open=True)
        check_range("MulticellEvalConfig.load", self.load, 0.0, 1.0)


def _play(env, policy, seeds: list[int], steps: int, record) -> dict[str, np.ndarray]:
    """Per-step samples (``record(reward, info) -> {metric: value}``) over episodes, plus ``episode`` ids."""
    rows: dict[str, list] = {"episode": []}
    for e, seed in enumerate(seeds):
        obs, _ = env.reset(seed=seed)
        policy.reset()
        for _ in range(steps):
            obs, reward, _, _, info = env.step(policy.act(obs))
            for k, v in record(reward, info).items():
                rows.setdefault(k, []).append(v)
            rows["episode"].append(e)
    return {k: np.asarray(v) for k, v in rows.items()}


def _summarise(samples: dict[str, dict[str, np.ndarray]], reference: str, rng: np.random.Generator) -> dict:
    """Value and 95 % interval of every metric per policy; each policy vs. ``reference`` (paired, per episode)."""
    out = {}
    ref = samples[reference]
    for name, s in samples.items():
        groups = s["episode"]
        metrics = {k: v for k, v in s.items() if k != "episode" and k in METRICS}
        ci = bootstrap_interval(metrics, rng, groups=groups)
        row = {k: {"value": METRICS[k].reduce(v), "low": ci[k][0], "high": ci[k][1]} for k, v in metrics.items()}
        if name != reference:
            diff = paired_difference(metrics, {k: ref[k] for k in metrics}, rng, groups=groups)
            for k, d in diff.items():
                row[k]["vs_reference"] = {"difference": d[0], "low": d[1], "high": d[2], "verdict": better(k, d)}
        out[name] = row
    return out


def evaluate_multicell(cfg: MulticellEvalConfig, log=print, pool=None, spec=None) -> dict:
    """Both environments, every baseline; returns ``{"config", "multi_user": {...}, "cells": {...}}``.

    ``multi_user`` holds the table (``policies``), its ``reference`` and the per-step ``sum_rate`` samples
    of every policy; ``cells`` the table, its reference and ``tracks``: the first episode of each policy,
    UE ``positions`` [m], ``serving`` site and ``beam`` per step. ``pool``: a ``TwinPool`` (default: a new one);
    ``spec``: a ``ScenarioSpec`` to use instead of ``cfg.scenario`` (e.g. a suite's carrier variant).
    """
    import gymnasium as gym

    import airtwin.envs  # noqa: F401  (registers the environments)
    from airtwin.envs.policies import A3Policy, CellGeniePolicy, MultiUserPrecoderPolicy, RandomPolicy
    from airtwin.twin.pool import TwinPool

    pool = pool if pool is not None else TwinPool()
    seeds = [int(s) for s in np.random.SeedSequence(cfg.seed).generate_state(cfg.episodes)]
    rng = np.random.default_rng([cfg.seed, 95])
    result: dict = {"config": asdict(cfg)}

    scenario = spec if spec is not None else cfg.scenario
    mu = gym.make("AirTwin/MultiUserPrecoding-v0", scenario=scenario, twin_pool=pool, num_users=cfg.num_users,
                  pilot_snr_db=cfg.pilot_snr_db)
    policies = {"random": RandomPolicy(mu.action_space, seed=cfg.seed)}
    for method in ("mrt", "zf", "rzf"):
        policies[method] = MultiUserPrecoderPolicy(mu, method)
    for method in ("mrt", "zf", "rzf"):
        policies[f"{method} (genie CSI)"] = MultiUserPrecoderPolicy(mu, method, genie=True)
    skipped = {}
    model = None
    if cfg.checkpoint != "none":
        from airtwin.model.checkpoint import default_checkpoint, load_checkpoint
        from airtwin.model.policy import UniversalMultiUserPolicy

        model = load_checkpoint(cfg.checkpoint or default_checkpoint(), device=cfg.device).for_inference()
        try:
            for combine in ("mrt", "zf"):
                policies[f"universal model ({combine} of its per-user precoders)"] = UniversalMultiUserPolicy(
                    mu, model, combine=combine)
        except ValueError as exc:  # the checkpoint's numerology does not fit the serving site
            skipped["universal model (multi-user)"] = str(exc)
            log(f"universal model skipped: {exc}")
    samples = {}
    for name, policy in policies.items():
        log(f"multi-user precoding: {name}")
        samples[name] = _play(mu, policy, seeds, cfg.steps, lambda r, i: {"sum_rate": i["sum_rate"],
                                                                     "min_user_rate": float(i["user_rates"].min())})
    reference = max(("mrt", "zf", "rzf"), key=lambda m: float(np.mean(samples[m]["sum_rate"])))  # classical
    result["multi_user"] = {"reference": reference, "policies": _summarise(samples, reference, rng),
                            "sum_rate_samples": {k: v["sum_rate"].tolist() for k, v in samples.items()}}

    cells = gym.make("AirTwin/CellBeamManagement-v0", scenario=scenario, twin_pool=pool, speed_mps=cfg.speed_mps,
                     step_s=cfg.step_s, load=cfg.load)
    cell_policies = {
        "A3 (hys 2 dB, off 1 dB, TTT 160 ms)": A3Policy(cells, A3Config()),
        "A3 (hys 3 dB, off 0 dB, TTT 320 ms)": A3Policy(cells, A3Config(3.0, 0.0, 0.32)),
        "strongest reported site": A3Policy(cells, A3Config(0.0, 0.0, 0.0)),
        "genie": CellGeniePolicy(cells),
    }
    record = lambda r, i: {"reward": r, "spectral_efficiency": i["spectral_efficiency"],  # noqa: E731
                           "handover_rate": float(i["handover"]),
                           "genie_site_agreement": float(i["serving"] == i["genie_site"]),
                           "x": float(i["ue_position"][0]), "y": float(i["ue_position"][1]),
                           "site": i["serving"], "beam": i["beam"]}
    if model is not None:
        from airtwin.model.policy import UniversalCellPolicy

        try:
            cell_policies["universal model"] = UniversalCellPolicy(cells, model)
        except ValueError as exc:  # the checkpoint's numerology does not fit this scenario's sites
            skipped["universal model"] = str(exc)
            log(f"universal model skipped: {exc}")
    samples = {}
    for name, policy in cell_policies.items():
        log(f"cell and beam management: {name}")
        samples[name] = _play(cells, policy, seeds, cfg.steps, record)
    if skipped:
        result["skipped"] = skipped
    classical = [n for n in cell_policies if n not in ("genie", "universal model")]
    reference = max(classical, key=lambda n: float(np.mean(samples[n]["reward"])))
    first = {n: s["episode"] == 0 for n, s in samples.items()}
    result["cells"] = {"reference": reference, "policies": _summarise(samples, reference, rng),
                       "tracks": {n: {"positions": np.stack([s["x"][first[n]], s["y"][first[n]]], 1).tolist(),
                                      "serving": s["site"][first[n]].tolist(), "beam": s["beam"][first[n]].tolist()}
                                  for n, s in samples.items()}}
    return result


def markdown(result: dict, level: int = 3) -> list[str]:
    """The two tables of :func:`evaluate_multicell`'s result (value [95 % interval], and the paired verdict),
    under headings of ``level``."""
    def cell(m: dict) -> str:
        text = f"{m['value']:.3f} [{m['low']:.3f}, {m['high']:.3f}]"
        if "vs_reference" in m:
            text += f" ({m['vs_reference']['verdict']})"
        return text

    lines = []
    for key, title in (("multi_user", "Multi-user precoding"), ("cells", "Cell and beam management")):
        block = result[key]
        metrics = list(next(iter(block["policies"].values())))
        lines += [f"{'#' * level} {title} (reference: {block['reference']})", "",
                  "| policy | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
        for name, row in block["policies"].items():
            lines.append(f"| {name} | " + " | ".join(cell(row[m]) for m in metrics) + " |")
        lines.append("")
    return lines


def write_multicell_report(cfg: MulticellEvalConfig, out: str | Path, log=print) -> dict:
    """Run :func:`evaluate_multicell` and write ``results.json`` and ``report.md`` into ``out``."""
    from airtwin.evaluation import plots
    from airtwin.twin.pool import TwinPool

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pool = TwinPool()
    result = evaluate_multicell(cfg, log=log, pool=pool)
    write_json(out / "results.json", result)
    figures = [plots.sum_rate_cdf(result, out), plots.cells_map(pool.get(cfg.scenario), result, out)]
    result["figures"] = [f.name for f in figures]
    (out / "report.md").write_text("\n".join([f"# Multi-user and multi-cell: {cfg.scenario}", "",
                                              "Values [95 % bootstrap interval over episodes]; in brackets after "
                                              "them, the paired verdict against the reference (the strongest "
                                              "classical policy).", "", *markdown(result),
                                              *[f"![{f.stem}]({f.name})" for f in figures]]) + "\n")
    return result

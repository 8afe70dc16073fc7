"""Run policies over an evaluation suite: closed-loop episodes and offline test sets, to metrics.

For every scenario of the suite:
- beam selection, once per UE speed: every beam policy plays the same episodes (same seeds, so the
  same UE trajectories); metrics: top-1 beam accuracy, mean SNR loss vs. the best beam [dB], mean
  rate and net rate after sweep overhead [bit/s/Hz], overhead saved vs. an exhaustive sweep every step.
  The position lookup's table holds ``lookup_drops`` traced drops of the area, or, when the universal
  checkpoint has a site memory of the area (``airtwin finetune``), the memory's drops: both then know the
  same site drops. ``"lookup"`` takes the nearest drop's best beam, ``"lookup-gains"`` the beam strongest on
  average over the nearest drops of the same table;
- precoding, once per pilot SNR: SGCS against the eigen-precoder and spectral efficiency [bit/s/Hz];
- positioning, at the first pilot SNR: error CDF, median and CDF90 [m];
- path loss (offline): the universal model's prediction vs. the twin on fresh drops, RMSE [dB].

The universal model is compared step by step, on the same episodes, with every classical policy that ran
(:data:`BASELINES`): paired differences with 95 % intervals that bootstrap whole episodes. Given a
``reference_checkpoint``, a second universal model plays too, as the policy ``"reference"`` (for example the
previous shipped checkpoint), and the first is compared with it in the same way.

``metrics.json`` is a deterministic function of the suite, the policies and the seed; wall-clock
timings (inference latency per decision) go to ``timing.json``.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import airtwin.envs  # noqa: F401  (registers the environments)
from airtwin.config import to_dict
from airtwin.envs.policies import (
    ClassicalPolicy,
    OraclePolicy,
    PeriodicSweepPolicy,
    PositionLookupBeamPolicy,
    RandomPolicy,
)
from airtwin.scenes.suites import Suite
from airtwin.model.checkpoint import default_checkpoint
from airtwin.model.policy import UniversalModelPolicy
from airtwin.phy.link import sweep_overhead
from airtwin.phy.metrics import better, bootstrap_interval, paired_difference, rmse
from airtwin.phy.metrics import summarize as summarize_steps
from airtwin.phy.tasks import observe
from airtwin.scenes.registry import get_scenario
from airtwin.twin.pool import TwinPool

POLICIES = ("universal", "reference", "classical", "oracle", "sweep", "lookup", "lookup-gains", "random")
#: Policies ``airtwin evaluate`` runs unless told otherwise.
DEFAULT_POLICIES = ("universal", "classical", "oracle", "sweep", "random")
#: The policies the universal model is compared with, step by step: the deployable classical ones, and a second
#: universal model when the run has a reference checkpoint.
BASELINES = ("classical", "sweep", "lookup", "lookup-gains", "reference")
#: Per-step values of each task's closed-loop metrics, from the step infos (has-path steps only); ``overhead``
#: is the policy's share of air time spent sweeping (:func:`policy_overhead`).
STEP_METRICS = {
    "beam_selection": {"beam_accuracy": lambda s: float(s["beam_correct"]), "snr_loss_db": lambda s: -s["reward"],
                       "rate": lambda s: s["rate"], "net_rate": lambda s: s["rate"] * (1 - s["overhead"])},
    "precoding": {"sgcs": lambda s: s["sgcs"], "spectral_efficiency": lambda s: s["spectral_efficiency"]},
    "positioning": {"median_m": lambda s: s["position_error_m"], "cdf90_m": lambda s: s["position_error_m"]},
}
SWEEP_PERIOD = 10


def make_policy(name: str, env, *, checkpoint, seed: int, lookup_drops: int = 256, reference=None):
    """A policy by name for ``env``; None when it does not apply to the task (e.g. sweep for precoding).

    ``checkpoint``: the universal model, loaded or as a checkpoint directory (the ``"universal"`` policy; a loaded
    model with a site memory of ``env``'s area also gives ``"lookup"`` its table). ``lookup_drops``: drops the
    lookup table traces otherwise. ``reference``: a second universal model, loaded or as a directory (the
    ``"reference"`` policy).
    """
    task = env.unwrapped.task.name
    if name == "random":
        return RandomPolicy(env.action_space, seed=seed)
    if name == "oracle":
        return OraclePolicy(env)
    if name == "classical":
        return ClassicalPolicy(env)
    if name == "universal":
        return UniversalModelPolicy(env, checkpoint)
    if name == "reference":
        if reference is None:
            raise ValueError("policy 'reference' needs a reference checkpoint "
                             "(airtwin evaluate --reference-checkpoint)")
        return UniversalModelPolicy(env, reference)
    if task != "beam_selection":
        return None
    if name == "sweep":
        return PeriodicSweepPolicy(env, period=SWEEP_PERIOD)
    if name in ("lookup", "lookup-gains"):
        rule = "gains" if name == "lookup-gains" else "nearest"
        twin = env.unwrapped.twin
        memory = site_memory_of(checkpoint, twin)
        table = None
        if memory is not None:
            site = twin.spec.bs[twin.serving_bs]
            table = memory.lookup_table(site.position, site.orientation_deg)
            if rule == "gains" and table[2] is None:  # a memory saved before it stored beam gains
                table = None
        if table is not None:
            xy, beams, gains = table
            policy = PositionLookupBeamPolicy(xy, beams, env=env, gains=gains, rule=rule)
        else:
            policy = PositionLookupBeamPolicy.from_twin(twin, lookup_drops, np.random.default_rng(seed), env=env,
                                                        rule=rule)
        policy.table_source = "site memory" if table is not None else "traced"
        return policy
    raise ValueError(f"unknown policy {name!r}; allowed: {', '.join(POLICIES)}")


def site_memory_of(model, twin):
    """The site memory of a loaded universal ``model`` when it serves ``twin``'s area and serving BS, else None."""
    memory = getattr(model, "memory", None)
    if memory is None:
        return None
    spec = twin.spec
    try:
        memory.cfg.check_site(spec.name, spec.radio.carrier_frequency_hz, spec.bs[twin.serving_bs].name)
    except ValueError:
        return None
    return memory


def policy_overhead(policy, env) -> float:
    """Share of the air time ``policy`` spends sweeping beams; the oracle is accounted as what it stands for, an
    exhaustive sweep every step."""
    base = env.unwrapped
    if isinstance(policy, OraclePolicy):
        return sweep_overhead(base.twin.codebook.num_beams, base.step_s)
    return getattr(policy, "overhead_fraction", 0.0)


def _speed_spec(spec, speed: float):
    return dataclasses.replace(spec, mobility=dataclasses.replace(spec.mobility, speed_mps=(speed, speed)))


def scenario_variants(suite: Suite) -> list[tuple[str, object]]:
    """``(label, ScenarioSpec)`` for every scenario of the suite at every carrier frequency asked for."""
    out = []
    for name in suite.scenarios:
        spec = get_scenario(name)
        if not suite.evaluation.carrier_frequencies_hz:
            out.append((name, spec))
        for f in suite.evaluation.carrier_frequencies_hz:
            radio = dataclasses.replace(spec.radio, carrier_frequency_hz=f)
            out.append((f"{name}@{f / 1e9:g}GHz", dataclasses.replace(spec, radio=radio)))
    return out


def play(env, policy, suite: Suite, episode_seeds: list[int]) -> tuple[list[list[dict]], list[float]]:
    """Run the episodes; returns per-episode lists of step infos (with the reward) and decision latencies [s]."""
    episodes, latencies = [], []
    for seed in episode_seeds:
        obs, _ = env.reset(seed=seed)
        policy.reset()
        steps = []
        for _ in range(suite.evaluation.steps):
            start = time.perf_counter()
            action = policy.act(obs)
            latencies.append(time.perf_counter() - start)
            obs, reward, _, _, info = env.step(action)
            steps.append({**info, "reward": float(reward), "action": action})
        episodes.append(steps)
    return episodes, latencies


def _beam_summary(episodes: list[list[dict]], policy, env, stats: dict[str, float]) -> dict:
    """Beam metrics (the net rate after the policy's sweep overhead, :func:`policy_overhead`)."""
    base = env.unwrapped
    exhaustive = sweep_overhead(base.twin.codebook.num_beams, base.step_s)
    overhead = policy_overhead(policy, env)
    return {
        **stats, "overhead_fraction": overhead,
        "overhead_saved_vs_exhaustive": 1.0 - overhead / exhaustive if exhaustive > 0 else 1.0,
        "covered_steps": sum(s["has_paths"] for ep in episodes for s in ep),
        "snr_trace_db": [round(s["snr_db"], 3) for s in episodes[0]],
        "best_snr_trace_db": [round(s["best_snr_db"], 3) for s in episodes[0]],
        "trajectory": [[round(float(v), 3) for v in s["ue_position"][:2]] for s in episodes[0]],
        "beams": [int(np.asarray(s["action"])) for s in episodes[0]],
        "best_beams": [int(s["best_beam"]) for s in episodes[0]],
    }


def _precoding_summary(episodes: list[list[dict]], policy, env, stats: dict[str, float]) -> dict:
    optimal = [s["optimal_spectral_efficiency"] for ep in episodes for s in ep if s["has_paths"]]
    return {**stats, "optimal_spectral_efficiency": float(np.mean(optimal)) if optimal else 0.0}


def _positioning_summary(episodes: list[list[dict]], policy, env, stats: dict[str, float]) -> dict:
    errors = [s["position_error_m"] for ep in episodes for s in ep if s["has_paths"]]
    return {"errors_m": [round(e, 3) for e in errors], **stats}


def _step_samples(episodes: list[list[dict]], task: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-step values of the task's closed-loop metrics (steps with a path) and each step's episode."""
    rows = [(e, s) for e, ep in enumerate(episodes) for s in ep if s["has_paths"]]
    values = {k: np.array([f(s) for _, s in rows], dtype=np.float64) for k, f in STEP_METRICS[task].items()}
    return values, np.array([e for e, _ in rows], dtype=np.int64)


class _Run:
    """What one :func:`run_suite` call accumulates: decision latencies and the reasons policies were skipped."""

    def __init__(self, suite: Suite, policies: tuple[str, ...], checkpoint: Path, pool: TwinPool, device: str,
                 reference_checkpoint: Path | None = None):
        self.suite, self.policies, self.checkpoint, self.pool = suite, policies, checkpoint, pool
        self.device, self.reference_checkpoint = device, reference_checkpoint
        self._models: dict[Path, object] = {}
        self.seeds = [int(s) for s in np.random.SeedSequence(suite.evaluation.seed).generate_state(suite.evaluation.episodes)]
        self.timing: dict[str, list[float]] = {}
        self.skipped: dict[str, str] = {}
        self.comparisons: dict[str, dict[str, dict]] = {}
        self.rng = np.random.default_rng([suite.evaluation.seed, 95])  # bootstrap resampling

    def universal_model(self, reference: bool = False):
        """The universal model (or, with ``reference``, the reference one; None without one), loaded once per run.

        Raises:
            CheckpointError: the checkpoint cannot be loaded; the user asked for it, so the run stops.
        """
        path = self.reference_checkpoint if reference else self.checkpoint
        if path is None:
            return None
        if path not in self._models:
            from airtwin.model.checkpoint import load_checkpoint

            self._models[path] = load_checkpoint(path, device=self.device).for_inference()
        return self._models[path]

    def make(self, env_id: str, **kwargs):
        """An environment of this run (its twin from the run's pool)."""
        return gym.make(env_id, twin_pool=self.pool, **kwargs)

    def policies_on(self, env, scenario: str, task: str, label: str, summarize) -> dict:
        """Play every applicable policy on ``env`` (same episode seeds) and summarise each, with 95 % intervals
        (bootstrap over episodes); the universal model is compared with every baseline that ran, step by step."""
        runs, steps = {}, {}
        model = self.universal_model() if "universal" in self.policies else None
        reference = self.universal_model(reference=True) if "reference" in self.policies else None
        for pname in self.policies:
            try:
                policy = make_policy(pname, env, checkpoint=model, seed=self.suite.evaluation.seed,
                                     lookup_drops=self.suite.evaluation.lookup_drops, reference=reference)
            except ValueError as exc:  # e.g. the universal model does not fit this scenario's numerology
                self.skipped[f"{scenario}/{pname}"] = str(exc)
                continue
            if policy is None:  # not applicable to this task
                continue
            episodes, latencies = play(env, policy, self.suite, self.seeds)
            overhead = policy_overhead(policy, env)
            for step in (s for ep in episodes for s in ep):
                step["overhead"] = overhead
            steps[pname] = _step_samples(episodes, task)
            stats = summarize_steps(steps[pname][0]) if len(steps[pname][1]) else dict.fromkeys(STEP_METRICS[task], 0.0)
            runs[pname] = summarize(episodes, policy, env, stats)
            if isinstance(policy, PositionLookupBeamPolicy):
                runs[pname]["table_drops"] = len(policy.beams)
                runs[pname]["table"] = policy.table_source
            if len(steps[pname][1]):
                runs[pname]["intervals"] = {k: list(v) for k, v in bootstrap_interval(
                    steps[pname][0], self.rng, groups=steps[pname][1]).items()}
            self.timing.setdefault(pname, []).extend(latencies)
        if "universal" in steps and len(steps["universal"][1]):
            mine, groups = steps["universal"]
            for base in (b for b in BASELINES if b in steps):
                diffs = paired_difference(mine, steps[base][0], self.rng, groups=groups)
                self.comparisons.setdefault(f"{scenario}/{task}/{label}", {})[base] = {
                    k: {"difference": d[0], "low": d[1], "high": d[2], "verdict": better(k, d)} for k, d in diffs.items()}
        return runs


def run_suite(suite: Suite, policies: tuple[str, ...], *, checkpoint: str | Path | None = None,
              reference_checkpoint: str | Path | None = None, pool: TwinPool | None = None, device: str = "auto",
              log=print) -> tuple[dict, dict]:
    """Evaluate ``policies`` over ``suite``; returns ``(metrics, timing)``.

    ``device``: where the universal model runs ('auto': CUDA when present, else CPU; 'cpu', 'cuda', ...).

    ``reference_checkpoint``: a second universal model, played as the policy ``"reference"`` (added to
    ``policies`` when missing) and compared with ``"universal"`` step by step, like the classical baselines.

    ``pool``: where the environments take their twins from (default: a pool of one twin, so that a
    scenario's runs share it and scenarios are loaded one at a time).
    """
    bad = [p for p in policies if p not in POLICIES]
    if bad or not policies:
        raise ValueError(f"policies {bad or policies}; allowed: a comma-separated subset of {', '.join(POLICIES)}")
    if reference_checkpoint is not None and "reference" not in policies:
        policies = (*policies, "reference")
    if "reference" in policies and reference_checkpoint is None:
        raise ValueError("policy 'reference' needs reference_checkpoint (airtwin evaluate --reference-checkpoint DIR)")
    run = _Run(suite, policies, Path(checkpoint) if checkpoint is not None else default_checkpoint(),
               pool if pool is not None else TwinPool(max_size=1), device,
               Path(reference_checkpoint) if reference_checkpoint is not None else None)
    for reference in (False, True):  # a checkpoint that cannot be loaded stops the run before any episode
        if ("reference" if reference else "universal") in policies:
            run.universal_model(reference)
    metrics: dict = {"suite": to_dict(suite), "policies": list(policies), "scenarios": {}}
    for name, spec in scenario_variants(suite):
        log(f"scenario {name}")
        per: dict = {
            "beam_selection": {f"{v:g}": run.policies_on(
                run.make("AirTwin/BeamSelection-v0", scenario=_speed_spec(spec, v)), name, "beam_selection",
                f"{v:g} m/s", _beam_summary)
                for v in suite.evaluation.speeds_mps},
            "precoding": {f"{snr:g}": run.policies_on(
                run.make("AirTwin/Precoding-v0", scenario=spec, pilot_snr_db=snr), name, "precoding",
                f"{snr:g} dB", _precoding_summary)
                for snr in suite.evaluation.pilot_snr_db},
            "positioning": run.policies_on(
                run.make("AirTwin/Positioning-v0", scenario=spec, pilot_snr_db=suite.evaluation.pilot_snr_db[0]), name,
                "positioning", f"{suite.evaluation.pilot_snr_db[0]:g} dB", _positioning_summary),
        }
        per["path_loss"] = _offline_path_loss(spec, suite, run, policies)
        metrics["scenarios"][name] = per
    metrics["skipped"] = run.skipped
    metrics["universal_vs_baselines"] = run.comparisons
    timing_ms = {p: {"median_ms": 1e3 * float(np.median(v)), "decisions": len(v)} for p, v in run.timing.items()}
    return metrics, timing_ms


def _offline_path_loss(spec, suite: Suite, run: _Run, policies) -> dict:
    """Universal-model path loss on fresh drops vs. the twin (when the model fits the scenario); the reference
    model's too, on the same drops, when it plays."""
    from airtwin.model.numerology import predict_on_site, site_adapter

    twin = run.pool.get(spec)  # the twin the episodes above already loaded
    adapters = {}
    for name in (p for p in ("universal", "reference") if p in policies):
        model = run.universal_model(name == "reference")
        try:
            adapters[name] = (model, site_adapter(model, spec, twin.serving_bs))
        except ValueError as exc:  # before tracing: nothing to trace for a model that cannot play
            run.skipped[f"{spec.name}/{name} (offline path loss)"] = str(exc)
    if not adapters:
        return {}
    rng = np.random.default_rng(suite.evaluation.seed)
    batch = twin.trace(twin.sample_ue_positions(suite.evaluation.offline_samples, rng))
    keep = batch.has_paths
    fields = {k: v[keep] for k, v in batch.observed_fields().items()}
    true = batch.path_loss_db[keep]
    out = {}
    for name, (model, adapter) in adapters.items():
        obs = observe("env", fields, model.cfg.pilot_snr_db, np.random.default_rng([suite.evaluation.seed, 1]))
        pred = predict_on_site(model, adapter, "path_loss", obs)
        out[name] = {"true_db": [round(float(v), 2) for v in true], "pred_db": [round(float(v), 2) for v in pred],
                     "rmse_db": rmse(pred, true)}
    return out

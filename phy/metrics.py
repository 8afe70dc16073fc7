"""Metrics of the five tasks, their 95 % intervals, and the error statistics every report uses.

Every metric is a reduction of per-sample values, so that its uncertainty can be bootstrapped
and two methods can be compared on the same samples (paired differences):

=====================  =========================================  ===========  ================
metric                 per-sample value                           reduction    better
=====================  =========================================  ===========  ================
``pos_median_m``       position error [m]                         median       lower
``pos_cdf90_m``        position error [m]                         90th pct.    lower
``los_accuracy``       1 if the LoS call is right                 mean         higher
``sgcs``               SGCS with the optimal precoder (subband    mean         higher
                       mean)
``beam_top1``          1 if the best beam is chosen               mean         higher
``beam_top3``          1 if the best beam is among the top 3      mean         higher
``beam_snr_loss_db``   SNR loss of the chosen beam [dB]           mean         lower
``pl_rmse_db``         path-loss error [dB]                       RMS          lower
=====================  =========================================  ===========  ================

Closed-loop runs use per-step values: ``beam_accuracy``, ``snr_loss_db``, ``rate`` [bit/s/Hz],
``sgcs``, ``spectral_efficiency`` [bit/s/Hz] (means) and ``median_m``, ``cdf90_m`` of the position error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from airtwin.phy.beams import sgcs


@dataclass(frozen=True)
class Metric:
    """How a metric reduces its per-sample values, and which direction is better."""

    name: str
    reduce: Callable[[np.ndarray], float]
    higher_is_better: bool


def _p90(v: np.ndarray) -> float:
    return float(np.percentile(v, 90))


def _rms(v: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(v))))


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("pos_median_m", lambda v: float(np.median(v)), False),
    Metric("pos_cdf90_m", _p90, False),
    Metric("los_accuracy", lambda v: float(np.mean(v)), True),
    Metric("sgcs", lambda v: float(np.mean(v)), True),
    Metric("beam_top1", lambda v: float(np.mean(v)), True),
    Metric("beam_top3", lambda v: float(np.mean(v)), True),
    Metric("beam_snr_loss_db", lambda v: float(np.mean(v)), False),
    Metric("pl_rmse_db", _rms, False),
    # closed loop (per step)
    Metric("beam_accuracy", lambda v: float(np.mean(v)), True),
    Metric("snr_loss_db", lambda v: float(np.mean(v)), False),
    Metric("rate", lambda v: float(np.mean(v)), True),
    Metric("net_rate", lambda v: float(np.mean(v)), True),
    Metric("spectral_efficiency", lambda v: float(np.mean(v)), True),
    Metric("median_m", lambda v: float(np.median(v)), False),
    Metric("cdf90_m", _p90, False),
    # multi-user and multi-cell closed loop (per step)
    Metric("sum_rate", lambda v: float(np.mean(v)), True),
    Metric("min_user_rate", lambda v: float(np.mean(v)), True),
    Metric("reward", lambda v: float(np.mean(v)), True),
    Metric("handover_rate", lambda v: float(np.mean(v)), False),
    Metric("genie_site_agreement", lambda v: float(np.mean(v)), True),
)}


#: The offline task metrics (the first table of the module docstring), in report order.
TASK_METRICS = ("pos_median_m", "pos_cdf90_m", "los_accuracy", "sgcs", "beam_top1", "beam_top3", "beam_snr_loss_db",
                "pl_rmse_db")


def rmse(pred: np.ndarray, truth: np.ndarray) -> float:
    """Root-mean-square error (0 for empty inputs)."""
    d = np.asarray(pred, np.float64) - np.asarray(truth, np.float64)
    return _rms(d) if d.size else 0.0


# ---------------------------------------------------------------------- per-sample values of each task
def positioning_samples(pred_xy: np.ndarray, true_xy: np.ndarray) -> dict[str, np.ndarray]:
    """``pred_xy``, ``true_xy``: ``[N, 2]`` [m]."""
    err = np.linalg.norm(np.asarray(pred_xy, np.float64) - true_xy, axis=-1)
    return {"pos_median_m": err, "pos_cdf90_m": err}


def los_samples(pred: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
    """``pred``, ``truth``: ``[N]`` (anything truthy is LoS)."""
    return {"los_accuracy": (np.asarray(pred).astype(bool) == np.asarray(truth).astype(bool)).astype(np.float64)}


def precoding_samples(pred: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
    """``pred``, ``truth``: ``[N, S, A]`` complex."""
    return {"sgcs": np.mean(sgcs(pred, truth), axis=-1)}


def beam_samples(scores: np.ndarray, beam_gain_db: np.ndarray) -> dict[str, np.ndarray]:
    """``scores``: ``[N, B]`` (higher = better); ``beam_gain_db``: ``[N, B]`` from the twin."""
    best = beam_gain_db.argmax(axis=1)
    order = np.argsort(-scores, axis=1)
    chosen = order[:, 0]
    rows = np.arange(len(best))
    return {"beam_top1": (chosen == best).astype(np.float64),
            "beam_top3": (order[:, :3] == best[:, None]).any(axis=1).astype(np.float64),
            "beam_snr_loss_db": (beam_gain_db[rows, best] - beam_gain_db[rows, chosen]).astype(np.float64)}


def path_loss_samples(pred_db: np.ndarray, true_db: np.ndarray) -> dict[str, np.ndarray]:
    return {"pl_rmse_db": np.asarray(pred_db, np.float64) - np.asarray(true_db, np.float64)}


# ---------------------------------------------------------------------- reductions and intervals
def summarize(samples: dict[str, np.ndarray]) -> dict[str, float]:
    """Each metric's value from its per-sample values."""
    return {k: METRICS[k].reduce(v) for k, v in samples.items()}


def _resample_indices(n: int, groups: np.ndarray | None, rng: np.random.Generator, num: int):
    """``num`` bootstrap index arrays over ``n`` samples (whole groups drawn when ``groups`` is given)."""
    if groups is None:
        yield from rng.integers(0, n, size=(num, n))
        return
    groups = np.asarray(groups)
    members = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    for pick in rng.integers(0, len(members), size=(num, len(members))):
        yield np.concatenate([members[g] for g in pick])


def bootstrap_interval(samples: dict[str, np.ndarray], rng: np.random.Generator, *, num_resamples: int = 1000,
                       level: float = 0.95, groups: np.ndarray | None = None) -> dict[str, tuple[float, float]]:
    """Percentile-bootstrap interval of each metric.

    Args:
        samples: per-sample values (all arrays of one length ``N``).
        groups: ``[N]`` group of each sample (e.g. the episode); groups, not samples, are resampled,
            for samples that are not independent (steps of one episode).
    Returns:
        ``{metric: (low, high)}`` at ``level``.
    """
    keys = list(samples)
    n = len(samples[keys[0]]) if keys else 0
    if n == 0:
        return {k: (float("nan"), float("nan")) for k in keys}
    stats = {k: np.empty(num_resamples) for k in keys}
    for r, idx in enumerate(_resample_indices(n, groups, rng, num_resamples)):
        for k in keys:
            stats[k][r] = METRICS[k].reduce(samples[k][idx])
    q = (1 - level) / 2
    return {k: (float(np.quantile(s, q)), float(np.quantile(s, 1 - q))) for k, s in stats.items()}


def paired_difference(a: dict[str, np.ndarray], b: dict[str, np.ndarray], rng: np.random.Generator, *,
                      num_resamples: int = 1000, level: float = 0.95, groups: np.ndarray | None = None
                      ) -> dict[str, tuple[float, float, float]]:
    """``metric(a) - metric(b)`` on the same samples, with its paired-bootstrap interval.

    Returns ``{metric: (difference, low, high)}``; the difference is significant at ``level`` when the
    interval excludes 0.
    """
    keys = [k for k in a if k in b]
    n = len(a[keys[0]]) if keys else 0
    out = {}
    diffs = {k: np.empty(num_resamples) for k in keys}
    for r, idx in enumerate(_resample_indices(n, groups, rng, num_resamples)):
        for k in keys:
            diffs[k][r] = METRICS[k].reduce(a[k][idx]) - METRICS[k].reduce(b[k][idx])
    q = (1 - level) / 2
    for k in keys:
        d = METRICS[k].reduce(a[k]) - METRICS[k].reduce(b[k])
        out[k] = (float(d), float(np.quantile(diffs[k], q)), float(np.quantile(diffs[k], 1 - q)))
    return out


def pooled_difference(runs: list[dict[str, np.ndarray]],
                      b: dict[str, np.ndarray] | list[dict[str, np.ndarray]] | None, rng: np.random.Generator, *,
                      num_resamples: int = 1000, level: float = 0.95) -> dict[str, tuple[float, float, float]]:
    """The mean over ``K >= 2`` runs of one stochastic procedure (fine-tunes that differ only in their seed) of
    ``metric(run) - metric(b)`` on the same samples (``b`` None: of ``metric(run)``; ``b`` a list of K runs of
    another procedure: of ``metric(run_i) - metric(b_i)``, paired run by run, as two procedures fine-tuned with the
    same seeds), with an interval that holds both sources of error: the test samples and the runs.

    - Samples: the paired percentile bootstrap of the runs' mean (every run and ``b`` resampled with the same
      indices), as :func:`paired_difference` does for one run.
    - Runs: the Student-t half-width of the mean over ``K`` runs, ``t_{K-1} s / sqrt(K)`` with ``s`` the runs'
      standard deviation on the whole test set (how far another fine-tune would land).

    The two are taken as independent and added in quadrature on each side of the mean. With one run the result
    would claim to know the second source, so ``K = 1`` is refused.

    Returns ``{metric: (mean, low, high)}``, for the metrics every run (and ``b``) has.

    Raises:
        ValueError: fewer than two runs, a list ``b`` of another length, or runs of different lengths.
    """
    from scipy import stats

    if len(runs) < 2:
        raise ValueError(f"pooled_difference: {len(runs)} run(s); allowed: 2 or more (with one, paired_difference)")
    if isinstance(b, list) and len(b) != len(runs):
        raise ValueError(f"pooled_difference: {len(runs)} runs against {len(b)}; allowed: one reference per run")
    refs = b if isinstance(b, list) else [] if b is None else [b]  # one per run, one for all, or none
    keys = [k for k in runs[0] if all(k in r for r in (*runs, *refs))]
    lengths = {len(r[k]) for r in (*runs, *refs) for k in keys}
    if len(lengths) > 1:
        raise ValueError(f"pooled_difference: per-sample values of lengths {sorted(lengths)}; allowed: one test set")
    n, k_runs = (lengths.pop() if lengths else 0), len(runs)

    def per_run(k: str, idx: np.ndarray) -> np.ndarray:  # [K] metric(run_i) - metric(reference_i) on idx
        reduce = METRICS[k].reduce
        own = np.array([reduce(run[k][idx]) for run in runs])
        return own - np.array([reduce(ref[k][idx]) for ref in refs]) if refs else own  # one reference: reduced once

    boot = {k: np.empty(num_resamples) for k in keys}
    for r, idx in enumerate(_resample_indices(n, None, rng, num_resamples)):
        for k in keys:
            boot[k][r] = per_run(k, idx).mean()
    q = (1 - level) / 2
    t = float(stats.t.ppf(1 - q, k_runs - 1))
    everything = np.arange(n)
    out = {}
    for k in keys:
        per_run_k = per_run(k, everything)
        mean = float(per_run_k.mean())
        spread = t * float(per_run_k.std(ddof=1)) / np.sqrt(k_runs)
        below = max(mean - float(np.quantile(boot[k], q)), 0.0)
        above = max(float(np.quantile(boot[k], 1 - q)) - mean, 0.0)
        out[k] = (mean, mean - float(np.hypot(below, spread)), mean + float(np.hypot(above, spread)))
    return out


def best_method(rows: dict[str, dict[str, float]], metric: str) -> str | None:
    """The method with the best value of ``metric`` among ``rows`` (``{method: {metric: value}}``); None if none has it."""
    have = {m: r[metric] for m, r in rows.items() if metric in r}
    if not have:
        return None
    pick = max if METRICS[metric].higher_is_better else min
    return pick(have, key=have.get)


def better(metric: str, difference: tuple[float, float, float]) -> str:
    """``"better"``, ``"worse"`` or ``"not distinguishable"`` for ``paired_difference`` output (a vs. b)."""
    _, lo, hi = difference
    if lo <= 0 <= hi:
        return "not distinguishable"
    up = lo > 0
    return "better" if up == METRICS[metric].higher_is_better else "worse"

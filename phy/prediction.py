"""Channel prediction from two pilot occasions: where the channel will be when the precoder is applied.

A precoder chosen from the CSI of one pilot meets the channel ``feedback_delay_s`` later, after every path's
phase has turned by its Doppler shift. One snapshot cannot tell how the paths turn; two pilots
``pilot_gap_s`` apart can. :func:`predict_channel` is the classical predictor: in the angle-delay domain
(an oversampled DFT over the array's elements and over the subcarriers), most bins hold one dominant path,
so each bin's phase turn between the two pilots is its path's Doppler phase. Each bin of the latest
estimate is turned on by ``feedback_delay_s / pilot_gap_s`` times that turn, and transformed back. Bins
where paths mix, or that hold only noise, are extrapolated wrongly; that error is what a learnt predictor
can do better on.

The pilot gap must resolve the fastest Doppler shift: ``pilot_gap_s < 1 / (2 max |f_D|)`` (1 ms resolves
500 Hz: 15 m/s at 10 GHz), or a bin's turn aliases.
"""

from __future__ import annotations

import numpy as np

from airtwin.phy.beams import eigen_precoders, sgcs
from airtwin.phy.estimation import to_complex

#: The keys of a CSI observation (:func:`airtwin.phy.tasks.observe`) that the prediction reads.
PREDICTION_KEYS = ("csi", "csi_prev", "pilot_timing_s", "antenna_positions")
#: Oversampling of the angle-delay grid: finer bins separate more paths (2 keeps the transform cheap).
DEFAULT_OVERSAMPLING = 2


def array_grid(antenna_positions: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Grid indices of a planar array's elements: ``(row [A], col [A], num_rows, num_cols)``, from element
    positions ``[A, 3]`` in the array frame (columns along y, rows along z,
    :func:`airtwin.phy.beams.element_positions`).

    Raises ``ValueError`` unless the elements fill a uniform rectangular grid."""
    pos = np.asarray(antenna_positions, np.float64)
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise ValueError(f"antenna_positions has shape {pos.shape}; allowed: [A, 3]")
    axes = []
    for coord in (-pos[:, 2], pos[:, 1]):  # rows from the top, columns from the left
        values = np.unique(np.round(coord, 6))
        step = np.diff(values)
        if len(values) > 1 and not np.allclose(step, step[0], atol=1e-6):
            raise ValueError("antenna_positions: the elements are not uniformly spaced")
        if len(values) == 1:
            index = np.zeros(len(coord), np.int64)
        else:
            index = np.rint((coord - values[0]) / step[0]).astype(np.int64)
        axes.append((index, len(values)))
    (row, rows), (col, cols) = axes
    if rows * cols != len(pos) or len(set(zip(row.tolist(), col.tolist()))) != len(pos):
        raise ValueError(f"antenna_positions: {len(pos)} elements do not fill a {rows} x {cols} grid")
    return row, col, rows, cols


def predict_channel(previous: np.ndarray, latest: np.ndarray, antenna_positions: np.ndarray,
                    pilot_gap_s: float | np.ndarray, ahead_s: float | np.ndarray,
                    oversampling: int = DEFAULT_OVERSAMPLING) -> np.ndarray:
    """The channel ``ahead_s`` after the latest pilot, extrapolated from two pilot estimates.

    Args:
        previous, latest: ``[N, A, K]`` complex estimates of the two pilot occasions, ``pilot_gap_s`` apart
            (each may be scaled by its own positive factor: only the phase turn between them is used).
        antenna_positions: ``[A, 3]`` element positions [wavelengths] of a uniform planar array.
        pilot_gap_s: time between the two pilots [s]; ahead_s: how far past the latest to predict [s] (each a
            scalar or ``[N]``).
        oversampling: of the angle-delay grid, per dimension.
    Returns:
        ``[N, A, K]`` complex64 predicted channel, on the scale of ``latest``. ``ahead_s = 0`` returns ``latest``.
    """
    gap, ahead = np.asarray(pilot_gap_s, np.float64), np.asarray(ahead_s, np.float64)
    if not np.all(gap > 0):
        raise ValueError(f"pilot_gap_s = {pilot_gap_s}; allowed: > 0 (two pilots at different times)")
    if not np.all(ahead >= 0):
        raise ValueError(f"ahead_s = {ahead_s}; allowed: >= 0 [s]")
    previous, latest = np.asarray(previous), np.asarray(latest)
    if previous.shape != latest.shape or latest.ndim != 3:
        raise ValueError(f"previous {previous.shape} and latest {latest.shape} must both be [N, A, K]")
    n, a, k = latest.shape
    row, col, rows, cols = array_grid(antenna_positions)
    if len(row) != a:
        raise ValueError(f"antenna_positions has {len(row)} elements; the CSI has {a}")
    size = (rows * oversampling, cols * oversampling, k * oversampling)

    def angle_delay(h: np.ndarray) -> np.ndarray:
        """``[N, A, K]`` -> ``[N, O rows, O cols, O K]``: the oversampled DFT frame, by zero-padded FFTs (any
        common scale drops out below)."""
        g = np.zeros((n, rows, cols, k), np.complex128)
        g[:, row, col] = h
        x = np.fft.fft2(g, s=size[:2], axes=(1, 2))  # angle: exp(-j 2π m a / (n O))
        return np.fft.ifft(x, n=size[2], axis=3)  # delay: exp(+j 2π k d / (K O))

    x_prev, x_last = angle_delay(previous), angle_delay(latest)
    ratio = np.broadcast_to(ahead / gap, (n,))[:, None, None, None]
    x = x_last * np.exp(1j * ratio * np.angle(x_last * np.conj(x_prev)))
    # The inverse transforms of the padded lengths bring the bins back to the elements and subcarriers exactly.
    g = np.fft.ifft2(x, axes=(1, 2))[:, :rows, :cols]
    g = np.fft.fft(g, axis=3)[..., :k]
    return g[:, row, col].astype(np.complex64)


def has_previous_pilot(obs: dict[str, np.ndarray]) -> bool:
    """Whether an unbatched environment observation carries a previous pilot (the multi-task environment holds
    zeros in its place outside precoding)."""
    return "csi_prev" in obs and float(np.asarray(obs["pilot_timing_s"])[0]) > 0


def predicted_estimate(obs: dict[str, np.ndarray]) -> np.ndarray:
    """``[N, A, K]`` complex: :func:`predict_channel` of a batched CSI observation with a previous pilot
    (:func:`airtwin.phy.tasks.observe`: ``csi``, ``csi_prev``, ``pilot_timing_s``, ``antenna_positions``), the
    channel when the precoder is applied. The batch must share one array."""
    positions = _shared_array(obs)
    timing = np.asarray(obs["pilot_timing_s"], np.float64)
    return predict_channel(to_complex(obs["csi_prev"]), to_complex(obs["csi"]), positions, timing[:, 0],
                           timing[:, 1])


def _shared_array(obs: dict[str, np.ndarray]) -> np.ndarray:
    """The element positions ``[A, 3]`` a batched observation with a previous pilot shares; ``ValueError`` if it
    has no previous pilot or mixes arrays."""
    if "csi_prev" not in obs:
        raise ValueError("the observation has no previous pilot (csi_prev): data or an environment with "
                         "pilot_gap_s > 0 gives one")
    positions = np.asarray(obs["antenna_positions"])
    if not np.allclose(positions, positions[:1]):
        raise ValueError("the batch mixes arrays; predict each array's samples apart")
    return positions[0]


#: The two classical precoders a switched predictor chooses between, as (the share of the feedback delay predicted
#: ahead, the full-band smoothing weight of :func:`airtwin.phy.beams.eigen_precoders`): the latest estimate,
#: smoothed, and the prediction over the whole delay, lightly smoothed. Of 20 such pairs on `mix-heldout` (1954
#: drops), these two score best alone (0.940 and 0.961) and together (0.971 with the best choice per drop).
SWITCH_CANDIDATES = ((0.0, 0.25), (1.0, 0.1))
#: What :func:`switch_inputs` measures per drop; each ``log10`` of a small distance, so that an MLP sees them on one
#: scale: how far the two candidates' precoders are apart (their mean, worst and spread over the subbands of
#: ``1 - |w_latest^H w_predicted|^2``), how far the two pilots are apart (``1 -`` their normalised correlation), and
#: the natural log of the predicted channel's energy over the latest estimate's.
SWITCH_FEATURES = ("precoder_disagreement_mean", "precoder_disagreement_max", "precoder_disagreement_std",
                   "pilot_decorrelation", "predicted_energy_ratio")
#: The switched predictor trusts the prediction where ``precoder_disagreement_mean`` exceeds this (log10): the
#: prediction moves the precoder enough to be worth its extrapolated noise. Fitted by :func:`fit_switch_threshold`
#: on 16,384 drops of `mix-train-xl` with two pilots.
DEFAULT_SWITCH_THRESHOLD = -1.68


def switch_inputs(obs: dict[str, np.ndarray], num_subbands: int) -> tuple[np.ndarray, np.ndarray]:
    """The candidates and features of a switched predictor, from a batched CSI observation with a previous pilot
    (as :func:`predicted_estimate`).

    Returns:
        ``(candidates [N, 2, S, A] complex64, features [N, 5] float32)``: the eigen-precoders of
        :data:`SWITCH_CANDIDATES` (latest, predicted) and :data:`SWITCH_FEATURES`.
    """
    positions = _shared_array(obs)
    latest, previous = to_complex(obs["csi"]), to_complex(obs["csi_prev"])
    timing = np.asarray(obs["pilot_timing_s"], np.float64)
    channels, cands = [], []
    for share, weight in SWITCH_CANDIDATES:
        h = latest if share == 0 else predict_channel(previous, latest, positions, timing[:, 0], share * timing[:, 1])
        channels.append(h)
        cands.append(eigen_precoders(h, num_subbands, weight))
    apart = 1.0 - sgcs(cands[0], cands[1])  # [N, S]
    norm = np.linalg.norm(previous, axis=(1, 2)) * np.linalg.norm(latest, axis=(1, 2))
    corr = np.abs(np.sum(np.conj(previous) * latest, axis=(1, 2))) / np.maximum(norm, 1e-30)
    energy = np.linalg.norm(channels[1], axis=(1, 2)) / np.maximum(np.linalg.norm(latest, axis=(1, 2)), 1e-30)
    floor = 1e-6
    feats = np.stack([np.log10(apart.mean(1) + floor), np.log10(apart.max(1) + floor), np.log10(apart.std(1) + floor),
                      np.log10(np.clip(1.0 - corr, 0.0, 1.0) + floor), np.log(np.maximum(energy, floor))], axis=1)
    return np.stack(cands, axis=1), feats.astype(np.float32)


def switched_precoders(candidates: np.ndarray, features: np.ndarray,
                       threshold: float = DEFAULT_SWITCH_THRESHOLD) -> np.ndarray:
    """The classical switched predictor: per drop, the predicted channel's precoder where the prediction moves the
    precoder by more than ``threshold`` (``features[:, 0]``, log10), else the latest estimate's.

    ``candidates`` ``[N, 2, S, A]`` and ``features`` ``[N, F]`` from :func:`switch_inputs`; returns ``[N, S, A]``."""
    return np.where((features[:, 0] > threshold)[:, None, None], candidates[:, 1], candidates[:, 0])


def fit_switch_threshold(candidates: np.ndarray, features: np.ndarray, target: np.ndarray) -> float:
    """The threshold of :func:`switched_precoders` with the highest mean SGCS against ``target`` ``[N, S, A]`` (the
    precoders of the channel when applied), among the 2nd to 98th percentiles of ``features[:, 0]``."""
    if len(candidates) == 0 or len(candidates) != len(target):
        raise ValueError(f"fit_switch_threshold: {len(candidates)} candidates and {len(target)} targets; allowed: the "
                         "same number, at least one")
    scores = sgcs(candidates, target[:, None]).mean(axis=2)  # [N, 2]
    grid = np.quantile(features[:, 0], np.linspace(0.02, 0.98, 49))
    value = [np.where(features[:, 0] > t, scores[:, 1], scores[:, 0]).mean() for t in grid]
    return float(grid[int(np.argmax(value))])


__all__ = ["DEFAULT_OVERSAMPLING", "DEFAULT_SWITCH_THRESHOLD", "PREDICTION_KEYS", "SWITCH_CANDIDATES",
           "SWITCH_FEATURES", "array_grid", "fit_switch_threshold", "has_previous_pilot", "predict_channel",
           "predicted_estimate", "switch_inputs", "switched_precoders"]

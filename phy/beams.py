"""Beamforming over the twin's CSI: DFT codebooks, per-beam gains and eigen-precoders.

Convention (downlink, BS transmits): for subcarrier ``k`` the UE receives
``y_k = h_k^T w s_k + n_k`` with ``h_k = csi[:, k]`` (``[num_bs_ant]``) and a unit-norm
precoder ``w``. The beamforming gain of ``w`` is ``|h_k^T w|^2`` (linear, includes the
path gain). Sionna's synthetic arrays give ``h ∝ exp(+j 2π/λ r_n·d)`` for departure
direction ``d``, so the beam steered to ``d`` is ``w = conj(a(d)) / sqrt(num_bs_ant)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # annotations only: phy sits below scenes
    from airtwin.scenes.spec import ArraySpec

#: Floor for gains expressed in dB (instead of -inf for a zero channel) [dB].
GAIN_FLOOR_DB = -300.0


def to_db(x: np.ndarray, floor_db: float = GAIN_FLOOR_DB) -> np.ndarray:
    """``10 log10(x)`` of a non-negative linear quantity, floored at ``floor_db`` (no -inf, no NaN)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore"):
        out = 10.0 * np.log10(np.maximum(x, 0.0))
    return np.maximum(out, floor_db)


def element_positions(array: ArraySpec) -> np.ndarray:
    """Antenna positions in the array's local frame, ``[num_ant, 3]`` [wavelengths].

    Index ``i = col * num_rows + row``; columns along +y, row 0 on top (+z), centred.
    """
    col, row = np.meshgrid(np.arange(array.num_cols), np.arange(array.num_rows), indexing="ij")
    y = (col.ravel() - (array.num_cols - 1) / 2.0) * array.horizontal_spacing
    z = ((array.num_rows - 1) / 2.0 - row.ravel()) * array.vertical_spacing
    return np.stack([np.zeros_like(y), y, z], axis=-1)


def array_response(local_directions: np.ndarray, positions_wl: np.ndarray) -> np.ndarray:
    """Plane-wave response ``exp(j 2π p_a · d)`` of elements at ``positions_wl`` ``[..., A, 3]`` [wavelengths]
    toward unit ``local_directions`` ``[..., 3]`` in the array's frame: ``[..., A]`` complex128 (leading axes
    broadcast as in ``matmul``: directions ``[N, Z, 3]`` with positions ``[N, A, 3]`` give ``[N, Z, A]``)."""
    return np.exp(2j * np.pi * (np.asarray(local_directions, np.float64) @ np.swapaxes(positions_wl, -1, -2)))


def _dft_spatial_frequencies(n: int, oversampling: int, spacing: float) -> np.ndarray:
    """Direction cosines of an oversampled DFT grid: ``u_k = (k - floor(nO/2)) / (nO d)``, broadside included."""
    m = n * oversampling
    return (np.arange(m) - m // 2) / (m * spacing)


@dataclass(frozen=True)
class Codebook:
    """An oversampled 2-D DFT codebook for a UPA.

    Attributes:
        weights: ``[num_beams, num_bs_ant]`` complex64, unit-norm precoders ``w_b``.
        u_h: ``[num_beams]`` horizontal direction cosine ``sin(theta) sin(phi)`` in the array frame.
        u_v: ``[num_beams]`` vertical direction cosine ``cos(theta)`` in the array frame.
    Beam ``b = iv * num_h + ih``.
    """

    weights: np.ndarray
    u_h: np.ndarray
    u_v: np.ndarray

    @property
    def num_beams(self) -> int:
        return int(self.weights.shape[0])

    def azimuth_deg(self, yaw_deg: float = 0.0) -> np.ndarray:
        """Horizontal pointing azimuth of each beam in the world frame [deg] (front half-space, no tilt).

        ``NaN`` for beams whose direction cosine has no real angle (|u_h| > 1, grating lobes).
        """
        with np.errstate(invalid="ignore"):
            return np.degrees(np.arcsin(self.u_h)) + yaw_deg


def dft_codebook(array: ArraySpec, oversampling_h: int = 1, oversampling_v: int = 1) -> Codebook:
    """Build the ``(num_rows·O_v) x (num_cols·O_h)`` DFT codebook of ``array``."""
    uh = _dft_spatial_frequencies(array.num_cols, oversampling_h, array.horizontal_spacing)
    uv = _dft_spatial_frequencies(array.num_rows, oversampling_v, array.vertical_spacing) if array.num_rows > 1 \
        else np.zeros(1)
    gv, gh = np.meshgrid(uv, uh, indexing="ij")
    gh, gv = gh.ravel(), gv.ravel()
    pos = element_positions(array)  # [A, 3] wavelengths
    phase = 2.0 * np.pi * (pos[None, :, 1] * gh[:, None] + pos[None, :, 2] * gv[:, None])
    weights = np.exp(-1j * phase) / np.sqrt(array.num_antennas)
    return Codebook(weights.astype(np.complex64), gh.astype(np.float64), gv.astype(np.float64))


def beam_gains(csi: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mean-over-subcarrier beamforming gain ``mean_k |h_k^T w_b|^2``.

    Args:
        csi: ``[num_ue, num_bs_ant, num_subcarriers]`` complex.
        weights: ``[num_beams, num_bs_ant]`` complex.
    Returns:
        ``[num_ue, num_beams]`` float64, linear.
    """
    y = np.einsum("ba,nak->nbk", weights.astype(np.complex128), csi.astype(np.complex128), optimize=True)
    return np.mean(np.abs(y) ** 2, axis=-1)


def subband_slices(num_subcarriers: int, num_subbands: int) -> list[slice]:
    """Contiguous, nearly equal subcarrier ranges, one per subband."""
    edges = np.linspace(0, num_subcarriers, num_subbands + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def eigen_precoders(csi: np.ndarray, num_subbands: int, full_band_weight: float = 0.0) -> np.ndarray:
    """Optimal (maximum-ratio, rank-1) precoder per subband.

    ``w_s`` is the principal eigenvector of ``R_s = sum_{k in s} conj(h_k) h_k^T``, i.e. the unit
    vector maximising ``sum_k |h_k^T w|^2``. Its global phase is fixed so that the first
    non-negligible entry is real and positive; a zero channel gives a zero precoder.

    Args:
        csi: ``[num_ue, num_bs_ant, num_subcarriers]`` complex.
        full_band_weight: ``a`` in ``(1 - a) R_s / |s| + a R / K``: each subband's covariance smoothed with the
            full band's (per subcarrier). 0 is the exact optimum for ``csi``; a channel that ages before the
            precoder is applied scrambles the paths' phase relations, and smoothing averages them out.
    Returns:
        ``[num_ue, num_subbands, num_bs_ant]`` complex64.
    """
    num_ue, num_ant, num_sc = csi.shape
    h = csi.astype(np.complex128)
    out = np.zeros((num_ue, num_subbands, num_ant), dtype=np.complex128)
    full = np.einsum("nak,nbk->nab", np.conj(h), h) / num_sc if full_band_weight else 0.0
    for s, sl in enumerate(subband_slices(num_sc, num_subbands)):
        hs = h[:, :, sl]
        cov = np.einsum("nak,nbk->nab", np.conj(hs), hs)
        if full_band_weight:
            cov = (1.0 - full_band_weight) * cov / hs.shape[-1] + full_band_weight * full
        _, vecs = np.linalg.eigh(cov)
        w = vecs[:, :, -1]
        ref = w[np.arange(num_ue), np.argmax(np.abs(w) > 1e-6 * np.abs(w).max(axis=1, keepdims=True), axis=1)]
        w = w * np.exp(-1j * np.angle(ref))[:, None]
        power = np.einsum("nak->n", np.abs(hs) ** 2)
        out[:, s] = np.where(power[:, None] > 0, w, 0.0)
    return out.astype(np.complex64)


#: Candidate weights of the full band in the smoothed eigen-precoder (:func:`eigen_precoders`).
SMOOTHING_WEIGHTS = (0.0, 0.125, 0.25, 0.5)
#: The weight :func:`fit_full_band_weight` picks on 2,048 ``mix-train`` drops (20 dB pilots, the default 5 ms
#: feedback delay; the same for two draws): the default of policies that have no data to fit it on.
DEFAULT_FULL_BAND_WEIGHT = 0.25


def fit_full_band_weight(csi: np.ndarray, target: np.ndarray, weights: tuple[float, ...] = SMOOTHING_WEIGHTS
                         ) -> float:
    """The full-band weight of :func:`eigen_precoders` that scores the highest mean SGCS against ``target``.

    Args:
        csi: ``[N, num_bs_ant, num_subcarriers]`` complex, the estimates the precoder is computed from.
        target: ``[N, num_subbands, num_bs_ant]`` complex, the precoders wanted (those of the channel when the
            precoder is applied).
        weights: candidates, each in ``[0, 1]``.
    """
    if len(csi) == 0 or len(csi) != len(target):
        raise ValueError(f"fit_full_band_weight: csi has {len(csi)} samples and target {len(target)}; "
                         "allowed: the same number, at least one")
    return float(max(weights, key=lambda a: float(np.mean(sgcs(eigen_precoders(csi, target.shape[1], a), target)))))


def sgcs(estimate: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Squared generalised cosine similarity ``|w_hat^H w|^2 / (|w_hat|^2 |w|^2)`` over the last axis.

    Returns 0 where either vector is zero. Shape: input shape without the last axis.
    """
    num = np.abs(np.sum(np.conj(estimate) * target, axis=-1)) ** 2
    den = np.sum(np.abs(estimate) ** 2, axis=-1) * np.sum(np.abs(target) ** 2, axis=-1)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def precoders_to_action(w: np.ndarray) -> np.ndarray:
    """Complex precoders ``[..., S, A]`` -> real action ``[..., S, A, 2]`` in [-1, 1] (direction kept).

    The inverse of :func:`action_to_precoders` up to the (irrelevant) norm.
    """
    x = np.stack([np.real(w), np.imag(w)], axis=-1)
    return (x / max(float(np.abs(x).max(initial=0.0)), 1e-12)).astype(np.float32)


def action_to_precoders(action: np.ndarray) -> np.ndarray:
    """Real action ``[..., S, A, 2]`` -> unit-norm complex precoders ``[..., S, A]`` (a zero vector stays zero)."""
    w = np.asarray(action, dtype=np.float64)
    w = w[..., 0] + 1j * w[..., 1]
    norm = np.linalg.norm(w, axis=-1, keepdims=True)
    return np.where(norm > 0, w / np.where(norm > 0, norm, 1.0), 0.0)

"""Multi-user MIMO downlink: linear precoders (MRT, zero-forcing, regularised ZF) and per-user SINR.

Conventions as in :mod:`airtwin.phy.link`: UE ``u`` receives ``y_u,k = sqrt(P) h_u,k^T W_s(k) x_k + n`` with
``W_s`` ``[A, U]`` the precoding matrix of subband ``s`` (column ``u`` serves UE ``u``), unit total power
``||W_s||_F = 1`` (``P`` split among the users), and noise of power ``N`` over the band. The classical
precoders give every user with a channel the same power ``P/U`` (unit-norm columns scaled by ``1/sqrt(U)``):
scaling a column keeps zero-forcing's nulls, and unlike a plain channel inversion it does not spend the
power on the weakest user. Then

    SINR_u,k = (P/N) |h_u,k^T w_u|^2 / (1 + (P/N) sum_{v != u} |h_u,k^T w_v|^2).

Precoders are designed per subband from one channel per subband, the one at its centre subcarrier
(:func:`subband_channels`): a per-user phase that drifts across the subband leaves the zero-forcing
nulls intact.
"""

from __future__ import annotations

import numpy as np

from airtwin.phy.beams import subband_slices

#: Linear multi-user precoders: maximum-ratio transmission, zero-forcing, regularised zero-forcing (MMSE).
MU_PRECODERS = ("mrt", "zf", "rzf")


def subband_channels(csi: np.ndarray, num_subbands: int) -> np.ndarray:
    """``[..., A, K]`` per-subcarrier channels -> ``[..., S, A]``: the channel at each subband's centre subcarrier."""
    centres = [(sl.start + sl.stop - 1) // 2 for sl in subband_slices(csi.shape[-1], num_subbands)]
    return np.moveaxis(csi[..., centres], -1, -2)


def normalise_power(w: np.ndarray) -> np.ndarray:
    """``[..., A, U]`` -> the same directions with ``||W||_F = 1`` per matrix (an all-zero matrix stays zero)."""
    norm = np.linalg.norm(w, axis=(-2, -1), keepdims=True)
    return np.where(norm > 0, w / np.where(norm > 0, norm, 1.0), 0.0)


def mu_precoders(h: np.ndarray, method: str, snr: float | None = None,
                 error_power: np.ndarray | None = None) -> np.ndarray:
    """Linear precoding matrices for channels ``h`` ``[..., U, A]`` (row ``u``: UE ``u``'s ``h_u^T``).

    Args:
        h: complex channels (one per user, e.g. one subband's, :func:`subband_channels`).
        method: ``"mrt"`` (``W = H^H``), ``"zf"`` (``W = H^H (H H^H)^-1``: ``H W`` diagonal, no interference
            when ``U <= A`` and the channels are independent) or ``"rzf"`` (``W = H^H (H H^H + D)^-1`` with
            ``D = U/snr I``, the MMSE-optimal regularisation for equal user powers and perfect CSI, plus
            ``diag(A e_u)`` for estimates whose entries carry error power ``e_u``).
        snr: ``P/N`` (linear, the scale of ``h``'s gains) for ``rzf``.
        error_power: ``[..., U]`` per-entry error power of each user's estimate (``rzf`` only; None: exact CSI).
    Returns:
        ``[..., A, U]`` complex128, each column of a user with a channel of norm ``1/sqrt(U_active)`` (equal
        power), so ``||W||_F = 1``; users without a channel get a zero column.
    Raises:
        ValueError: unknown method, or ``rzf`` without a positive ``snr``.
    """
    if method not in MU_PRECODERS:
        raise ValueError(f"method = {method!r}; allowed: {', '.join(MU_PRECODERS)}")
    h = np.asarray(h, dtype=np.complex128)
    hh = np.conj(np.swapaxes(h, -1, -2))  # [..., A, U]
    if method == "mrt":
        return equal_power(hh)
    u = h.shape[-2]
    gram = h @ hh  # [..., U, U]
    if method == "rzf":
        if snr is None or not snr > 0:
            raise ValueError(f"snr = {snr!r}; rzf needs the linear P/N > 0")
        gram = gram + (u / snr) * np.eye(u)
        if error_power is not None:
            e = np.asarray(error_power, dtype=np.float64) * h.shape[-1]
            gram = gram + np.einsum("...u,uv->...uv", e, np.eye(u))
    # Users without a channel would make the Gram matrix singular: regularise by a negligible diagonal there.
    silent = np.einsum("...uu->...u", gram).real <= 0
    gram = gram + np.einsum("...u,uv->...uv", silent.astype(float), np.eye(u))
    return equal_power(hh @ np.linalg.pinv(gram, hermitian=True))


def equal_power(w: np.ndarray) -> np.ndarray:
    """``[..., A, U]`` -> the same column directions, every non-zero column with power ``1 / (non-zero columns)``."""
    norms = np.linalg.norm(w, axis=-2, keepdims=True)  # [..., 1, U]
    active = norms > 1e-30 * max(float(norms.max(initial=0.0)), 1e-300)
    count = np.maximum(active.sum(axis=-1, keepdims=True), 1)
    return np.where(active, w / np.where(active, norms, 1.0) / np.sqrt(count), 0.0)


def mu_sinr(csi: np.ndarray, w: np.ndarray, snr: float, other_cell_gain: np.ndarray | None = None) -> np.ndarray:
    """Per-user, per-subcarrier SINR (linear) of precoders ``w`` ``[S, A, U]`` on channels ``csi`` ``[U, A, K]``.

    ``snr`` is ``P/N`` (linear). ``other_cell_gain`` ``[U, K]``: the summed gain ``sum_j |g_j,u,k^T v_j|^2`` of
    other cells transmitting at the same power ``P`` (unit-norm precoders ``v_j``), added to the
    interference. Returns ``[U, K]`` float64.
    """
    csi = np.asarray(csi, dtype=np.complex128)
    out = np.zeros((csi.shape[0], csi.shape[-1]))
    extra = np.zeros(out.shape) if other_cell_gain is None else np.asarray(other_cell_gain, dtype=np.float64)
    for s, sl in enumerate(subband_slices(csi.shape[-1], w.shape[0])):
        g = np.abs(np.einsum("uak,av->ukv", csi[:, :, sl], w[s])) ** 2  # [U, K_s, V]: UE u's gain from stream v
        users = np.arange(g.shape[0])
        signal = g[users, :, users]  # [U, K_s]: UE u's gain from its own stream
        out[:, sl] = snr * signal / (1.0 + snr * (g.sum(axis=-1) - signal + extra[:, sl]))
    return out


def user_rates(csi: np.ndarray, w: np.ndarray, snr: float, other_cell_gain: np.ndarray | None = None) -> np.ndarray:
    """``[U]`` spectral efficiency of each user, ``mean_k log2(1 + SINR_u,k)`` [bit/s/Hz] (see :func:`mu_sinr`)."""
    return np.log2(1.0 + mu_sinr(csi, w, snr, other_cell_gain)).mean(axis=-1)

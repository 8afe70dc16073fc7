"""OFDM channel of ray-traced paths: the subcarrier grid and the channel frequency response."""

from __future__ import annotations

import numpy as np


def subcarrier_offsets_hz(num_subcarriers: int, spacing_hz: float) -> np.ndarray:
    """Baseband subcarrier frequencies ``[num_subcarriers]`` [Hz], centred on the carrier (as Sionna's)."""
    if num_subcarriers % 2 == 0:
        idx = np.arange(-num_subcarriers // 2, num_subcarriers // 2)
    else:
        idx = np.arange(-(num_subcarriers - 1) // 2, (num_subcarriers - 1) // 2 + 1)
    return idx * spacing_hz


def frequency_response(a: np.ndarray, tau_s: np.ndarray, carrier_hz: float, offsets_hz: np.ndarray,
                       doppler_hz: np.ndarray | None = None, times_s: np.ndarray | None = None) -> np.ndarray:
    """Channel frequency response of multipath channels, optionally aged by per-path Doppler.

    ``h[n, a, k] = sum_p a[n, a, p] exp(-j 2π (f_c + f_k) τ[n, p])``; with ``times_s`` the path
    coefficients rotate as ``a_p(t) = a_p exp(j 2π f_D,p t)`` with the geometry frozen (accurate while
    the UE moves much less than the distance over which paths change, a few metres). Computed in
    float64, which keeps the carrier phase (~1e4 rad) exact.

    Args:
        a: ``[N, A, P]`` complex path coefficients without propagation phase (Sionna's ``Paths.a``).
        tau_s: ``[N, P]`` path delays [s].
        carrier_hz: carrier frequency [Hz]; offsets_hz: ``[K]`` subcarrier offsets [Hz].
        doppler_hz: ``[N, P]`` Doppler shifts [Hz] (needed with ``times_s``).
        times_s: ``[T]`` instants [s].
    Returns:
        ``[N, A, K]`` complex64, or ``[N, T, A, K]`` when ``times_s`` is given.
    """
    phase = np.exp(-2j * np.pi * np.asarray(tau_s, np.float64)[:, :, None] * (carrier_hz + offsets_hz[None, None, :]))
    a64 = np.asarray(a).astype(np.complex128)
    if times_s is None:
        return np.einsum("nap,npk->nak", a64, phase, optimize=True).astype(np.complex64)
    if doppler_hz is None:
        raise ValueError("doppler_hz is needed to age the channel over times_s")
    rot = np.exp(2j * np.pi * np.asarray(doppler_hz, np.float64)[:, None, :] * np.asarray(times_s)[None, :, None])
    return np.einsum("nap,ntp,npk->ntak", a64, rot, phase, optimize=True).astype(np.complex64)

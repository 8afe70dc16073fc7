"""Pilot-based CSI estimates: what a receiver, an environment observation and the model all see.

The estimate of a channel ``h`` (``[A, K]``) at pilot SNR ``ρ`` is ``h + n`` with complex Gaussian
noise of power ``mean|h|^2 / 10^(ρ/10)`` per entry, then normalised to unit mean power; its mean
power (before normalisation) is reported separately in dB. Aging (the channel a precoder meets a
feedback delay later) is :func:`airtwin.phy.ofdm.frequency_response` over time.
"""

from __future__ import annotations

import numpy as np

#: Pilot SNR of CSI estimates unless a configuration says otherwise [dB].
DEFAULT_PILOT_SNR_DB = 20.0
#: Age of the CSI a precoder is chosen from (feedback delay) unless a configuration says otherwise [s].
DEFAULT_FEEDBACK_DELAY_S = 0.005
#: Time between the previous pilot occasion and the latest one, whose phase turn a predictor extrapolates over the
#: feedback delay (:mod:`airtwin.phy.prediction`); it resolves Doppler shifts up to 500 Hz [s].
DEFAULT_PILOT_GAP_S = 0.001
#: Received power reported for an all-zero channel (no signal, nothing to estimate) [dB].
NO_SIGNAL_DB = -500.0


def estimate_csi(csi: np.ndarray, pilot_snr_db: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Noisy, power-normalised CSI estimates.

    Args:
        csi: ``[..., A, K]`` complex true channels.
        pilot_snr_db: pilot SNR [dB], relative to each channel's own mean power.
        rng: source of the noise.
    Returns:
        ``(estimate [..., 2, A, K] float32 (real, imag) with unit mean power, rx_power_db [...] float32)``:
        the estimate's mean power [dB] before normalisation. An all-zero channel gives zeros and
        :data:`NO_SIGNAL_DB`.
    """
    csi = np.asarray(csi)
    power = np.mean(np.abs(csi) ** 2, axis=(-2, -1), keepdims=True)
    sigma = np.sqrt(power * 10 ** (-pilot_snr_db / 10) / 2)
    noise = rng.standard_normal(csi.shape) + 1j * rng.standard_normal(csi.shape)
    noisy = np.where(power > 0, csi + sigma * noise, 0.0)
    est_power = np.mean(np.abs(noisy) ** 2, axis=(-2, -1), keepdims=True)
    normalised = noisy / np.sqrt(np.where(est_power > 0, est_power, 1.0))
    with np.errstate(divide="ignore"):
        rx_power_db = np.where(est_power > 0, 10 * np.log10(np.where(est_power > 0, est_power, 1.0)), NO_SIGNAL_DB)
    estimate = np.stack([normalised.real, normalised.imag], axis=-3).astype(np.float32)
    return estimate, rx_power_db[..., 0, 0].astype(np.float32)


def to_complex(estimate: np.ndarray) -> np.ndarray:
    """``[..., 2, A, K]`` real estimate -> ``[..., A, K]`` complex."""
    return estimate[..., 0, :, :] + 1j * estimate[..., 1, :, :]


def power_feature(rx_power_db: np.ndarray) -> np.ndarray:
    """Received power [dB] rescaled for learning, ``(dB + 100) / 20``, and -5 for no signal (float32)."""
    p = np.asarray(rx_power_db, dtype=np.float32)
    return np.where(p > NO_SIGNAL_DB, (p + 100) / 20, -5.0).astype(np.float32)

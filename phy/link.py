"""Link budget: SNR, achievable rate, spectral efficiency, and the air time a beam sweep costs.

Conventions: downlink, the BS transmits with total power ``P_tx``; the per-subcarrier SNR of a
unit-norm precoder ``w`` is ``P_tx |h_k^T w|^2 / N`` with ``N`` the noise power over the band.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from airtwin.phy.beams import subband_slices

#: Air time to measure one beam in a sweep (one SSB burst slot) [s].
BEAM_MEASUREMENT_S = 0.5e-3


def rate(snr_db: np.ndarray | float) -> np.ndarray | float:
    """Shannon rate ``log2(1 + SNR)`` [bit/s/Hz] of an SNR in dB."""
    return np.log2(1.0 + 10 ** (np.asarray(snr_db, dtype=np.float64) / 10))


@dataclass(frozen=True)
class LinkBudget:
    """Transmit and noise power of a link [dBm]."""

    tx_power_dbm: float
    noise_power_dbm: float

    @classmethod
    def of(cls, radio) -> LinkBudget:
        """From a :class:`airtwin.scenes.spec.RadioSpec`."""
        return cls(float(radio.tx_power_dbm), float(radio.noise_power_dbm))

    def snr_db(self, gain_db: np.ndarray | float) -> np.ndarray | float:
        """SNR of a channel gain (path gain, or beamformed gain) ``P_tx + G - N`` [dB]."""
        return self.tx_power_dbm + np.asarray(gain_db, dtype=np.float64) - self.noise_power_dbm

    def spectral_efficiency(self, csi: np.ndarray, precoders: np.ndarray) -> float:
        """``mean_k log2(1 + P |h_k^T w_s(k)|^2 / N)`` for csi ``[A, K]`` and precoders ``[S, A]`` [bit/s/Hz]."""
        scale = 10 ** ((self.tx_power_dbm - self.noise_power_dbm) / 10)
        se = []
        for s, sl in enumerate(subband_slices(csi.shape[-1], precoders.shape[0])):
            gain = np.abs(np.einsum("ak,a->k", csi[:, sl].astype(np.complex128), precoders[s])) ** 2
            se.append(np.log2(1.0 + scale * gain))
        return float(np.mean(np.concatenate(se)))


def sweep_overhead(num_beams: int, period_s: float, beam_measurement_s: float = BEAM_MEASUREMENT_S) -> float:
    """Share of air time an exhaustive sweep of ``num_beams`` beams every ``period_s`` seconds costs (capped at 1)."""
    if period_s <= 0:
        raise ValueError(f"period_s = {period_s}; allowed: > 0")
    return min(1.0, num_beams * beam_measurement_s / period_s)

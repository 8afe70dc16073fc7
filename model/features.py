"""Turn dataset samples into model inputs (shared by encoder pretraining and the universal model).

- CSI: ``[B, A, K]`` complex -> noisy estimate at ``pilot_snr_db`` normalised to unit mean power,
  ``[B, 2, A, K]`` (real, imag), plus its log power ``[B, 1]`` ((dB + 100) / 20).
- Environment: height map ``[B, H, W]`` around the BS and the UE position -> ``[B, 2, H, W]``
  (heights / 50 m, a Gaussian blob at the UE's cell) plus the UE position relative to the BS
  ``[B, 3]`` divided by the map's half extent.
"""

from __future__ import annotations

import torch

HEIGHT_SCALE_M = 50.0


def csi_features(csi: torch.Tensor, pilot_snr_db: float | None, generator: torch.Generator | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """``([B, 2, A, K], [B, 1])`` from complex CSI ``[B, A, K]``; zero channels stay zero.

    ``pilot_snr_db=None`` adds no noise (the input already is an estimate, e.g. an env observation).
    """
    csi = csi.to(torch.complex64)
    noisy = csi
    if pilot_snr_db is not None:
        power = csi.abs().pow(2).mean(dim=(1, 2), keepdim=True)
        sigma = torch.sqrt(power * 10 ** (-pilot_snr_db / 10) / 2)
        noise = torch.complex(torch.randn(csi.shape, generator=generator),
                              torch.randn(csi.shape, generator=generator))
        noisy = csi + sigma * noise
    est = noisy.abs().pow(2).mean(dim=(1, 2), keepdim=True)
    safe = torch.where(est > 0, est, torch.ones_like(est))
    normalised = noisy / torch.sqrt(safe)
    log_power = torch.where(est > 0, (10 * torch.log10(safe) + 100) / 20, torch.full_like(est, -5.0))
    return torch.stack([normalised.real, normalised.imag], dim=1), log_power.reshape(-1, 1)


def env_features(height_map: torch.Tensor, bs_position: torch.Tensor, ue_position: torch.Tensor,
                 resolution_m: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``([B, 2, H, W], [B, 3])`` from height maps ``[B, H, W]`` and positions ``[B, 3]`` [m]."""
    b, h, w = height_map.shape
    rel = (ue_position - bs_position).float()
    half_extent = resolution_m * h / 2
    col = rel[:, 0] / resolution_m + (w - 1) / 2
    row = rel[:, 1] / resolution_m + (h - 1) / 2
    ys = torch.arange(h, dtype=torch.float32).view(1, h, 1)
    xs = torch.arange(w, dtype=torch.float32).view(1, 1, w)
    blob = torch.exp(-((ys - row.view(b, 1, 1)) ** 2 + (xs - col.view(b, 1, 1)) ** 2) / 2.0)
    maps = torch.stack([height_map.float() / HEIGHT_SCALE_M, blob], dim=1)
    return maps, rel / half_extent

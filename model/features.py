"""Observations (NumPy, :func:`airtwin.phy.tasks.observe`) to model inputs (torch): conversion and rescaling only.

- CSI: the estimate ``[B, 2, A, K]`` (unit mean power) as it is, plus its received power
  ``[B, 1]`` rescaled by :func:`airtwin.phy.estimation.power_feature`.
- Environment: height map ``[B, H, W]`` around the BS and the UE position -> ``[B, 2, H, W]``
  (heights / 50 m, a Gaussian blob at the UE's cell) plus the UE position relative to the BS
  ``[B, 3]`` divided by the map's half extent.
"""

from __future__ import annotations

import numpy as np
import torch

from airtwin.phy.estimation import power_feature
from airtwin.phy.tasks import observe

HEIGHT_SCALE_M = 50.0


def to_tensors(arrays: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """NumPy arrays to tensors (no copy where the layout allows)."""
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}


def observation_batch(modality: str, fields: dict[str, np.ndarray], pilot_snr_db: float,
                      rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """:func:`airtwin.phy.tasks.observe` of dataset fields, as tensors."""
    return to_tensors(observe(modality, fields, pilot_snr_db, rng))


def csi_inputs(obs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``([B, 2, A, K], [B, 1])`` from a CSI observation (``csi``, ``rx_power_db``)."""
    csi = obs["csi"]
    log_power = torch.from_numpy(power_feature(obs["rx_power_db"].detach().cpu().numpy()).reshape(-1, 1))
    return csi.float(), log_power.to(csi.device)


def env_inputs(obs: dict[str, torch.Tensor], resolution_m: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``([B, 2, H, W], [B, 3])`` from an environment observation (height maps ``[B, H, W]``, positions ``[B, 3]`` [m])."""
    height_map = obs["height_map"]
    b, h, w = height_map.shape
    rel = (obs["ue_position"] - obs["bs_position"]).float()
    half_extent = resolution_m * h / 2
    col = rel[:, 0] / resolution_m + (w - 1) / 2
    row = rel[:, 1] / resolution_m + (h - 1) / 2
    ys = torch.arange(h, dtype=torch.float32, device=height_map.device).view(1, h, 1)
    xs = torch.arange(w, dtype=torch.float32, device=height_map.device).view(1, 1, w)
    blob = torch.exp(-((ys - row.view(b, 1, 1)) ** 2 + (xs - col.view(b, 1, 1)) ** 2) / 2.0)
    maps = torch.stack([height_map.float() / HEIGHT_SCALE_M, blob], dim=1)
    return maps, rel / half_extent

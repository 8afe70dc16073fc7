"""Radio modality encoders: CSI and environment, each to a 128-d embedding.

Pretrained by contrastive alignment (:mod:`model.pretrain`) and frozen in the universal model,
like AI2MMUM's CFENN (channel) and EPNN (environment).
"""

from __future__ import annotations

import torch
from torch import nn

from airtwin.model.features import CSI_CHANNELS, ENV_CHANNELS, ENV_SCALARS


class CSIEncoder(nn.Module):
    """``([B, 3, A, K], [B, 1]) -> [B, embed_dim]``: convolutions over antennas x subcarriers of the estimate
    and its angle-delay magnitude (:func:`airtwin.model.features.csi_inputs`)."""

    def __init__(self, embed_dim: int = 128):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(CSI_CHANNELS, 32, 3, padding=1), nn.GELU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(64, 64, 3, stride=2, padding=1), nn.GELU(),
            nn.AdaptiveAvgPool2d((2, 4)),
        )
        self.mlp = nn.Sequential(nn.Linear(64 * 8 + 1, 256), nn.GELU(), nn.Linear(256, embed_dim))

    def forward(self, csi: torch.Tensor, log_power: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.cat([self.conv(csi).flatten(1), log_power], dim=1))


class EnvEncoder(nn.Module):
    """``([B, 3, R, R], [B, 6]) -> [B, embed_dim]``: convolutions over the map in the BS's frame with the UE
    blob and the BS-UE ray, plus the UE's range and bearing (:func:`airtwin.model.features.env_inputs`)."""

    def __init__(self, embed_dim: int = 128):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(ENV_CHANNELS, 16, 5, stride=2, padding=2), nn.GELU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.GELU(),
            nn.AdaptiveAvgPool2d((4, 4)),
        )
        self.mlp = nn.Sequential(nn.Linear(64 * 16 + ENV_SCALARS, 256), nn.GELU(), nn.Linear(256, embed_dim))

    def forward(self, maps: torch.Tensor, rel_position: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.cat([self.conv(maps).flatten(1), rel_position], dim=1))

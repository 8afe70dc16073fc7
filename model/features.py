"""Observations (NumPy, :func:`airtwin.phy.tasks.observe`) to model inputs (torch): conversion and rescaling only.

- CSI: the estimate ``[B, 2, A, K]`` (unit mean power) plus its angle-delay magnitude
  ``|IDFT_k DFT_a h|`` as a third channel, where the first path's delay and angle stand out
  (``[B, 3, A, K]``), and its received power ``[B, 1]`` rescaled by
  :func:`airtwin.phy.estimation.power_feature`.
- Environment: the height map in the BS's frame ``[B, R, R]`` (range x bearing, :mod:`airtwin.phy.envmap`)
  -> ``[B, 3, R, R]``: heights / 50 m, a Gaussian blob at the UE's cell, and the straight BS-UE ray (the
  UE's bearing column out to its range); plus ``[B, ENV_SCALARS]`` scalars: the UE's range / 200 m,
  log10 of it, cos and sin of its bearing from boresight, the BS's height above the UE / 50 m and the
  map's range / 200 m.
- First-path prior (positioning): the classical first-path range and bearing of the estimate
  (:func:`airtwin.phy.classical.first_path_polar`), from the numerology the CSI observation carries.
"""

from __future__ import annotations

import numpy as np
import torch

from airtwin.phy import classical, envmap
from airtwin.phy.estimation import power_feature, to_complex
from airtwin.phy.tasks import observe

HEIGHT_SCALE_M = 50.0
RANGE_SCALE_M = 200.0
#: Channels of the CSI image and of the environment map, and scalars of the environment.
CSI_CHANNELS, ENV_CHANNELS, ENV_SCALARS = 3, 3, 6


def to_tensors(arrays: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """NumPy arrays to tensors (no copy where the layout allows)."""
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}


def observation_batch(modality: str, fields: dict[str, np.ndarray], pilot_snr_db: float,
                      rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """:func:`airtwin.phy.tasks.observe` of dataset fields, as tensors."""
    return to_tensors(observe(modality, fields, pilot_snr_db, rng))


def angle_delay(csi: torch.Tensor) -> torch.Tensor:
    """``[B, A, K]`` magnitudes of the angle-delay transform of a CSI image ``[B, 2, A, K]`` (DFT over the
    antennas, inverse DFT over the subcarriers), scaled to unit mean square."""
    h = torch.complex(csi[:, 0].float(), csi[:, 1].float())
    mag = torch.fft.ifft(torch.fft.fft(h, dim=1, norm="ortho"), dim=2, norm="ortho").abs()
    return mag / mag.pow(2).mean(dim=(1, 2), keepdim=True).sqrt().clamp_min(1e-9)


def csi_inputs(obs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``([B, 3, A, K], [B, 1])`` from a CSI observation (``csi``, ``rx_power_db``)."""
    csi = obs["csi"].float()
    log_power = torch.from_numpy(power_feature(obs["rx_power_db"].detach().cpu().numpy()).reshape(-1, 1))
    return torch.cat([csi, angle_delay(csi).unsqueeze(1)], dim=1), log_power.to(csi.device)


def env_inputs(obs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``([B, 3, R, R], [B, 6])`` from an environment observation (see the module docstring)."""
    height_map = obs["height_map"]
    device = height_map.device
    b, cells, _ = height_map.shape
    np_of = lambda k: obs[k].detach().cpu().double().numpy()  # noqa: E731
    bs, ue, orient = np_of("bs_position"), np_of("ue_position"), np_of("bs_orientation_deg")
    map_range = np_of("map_range_m").reshape(b)
    rng, bearing = envmap.to_bs_frame(bs, orient[:, 0], ue)
    row, col = envmap.map_cell(rng, bearing, cells, map_range)
    idx = np.arange(cells, dtype=np.float64)
    dcol = np.abs(idx[None, :] - col[:, None])
    dcol = np.minimum(dcol, cells - dcol)  # bearing wraps around
    dist_row = (idx[None, :] - row[:, None]) ** 2  # [B, R]
    blob = np.exp(-(dist_row[:, :, None] + dcol[:, None, :] ** 2) / 2.0)
    ray = (idx[None, :, None] <= row[:, None, None]) * np.exp(-dcol[:, None, :] ** 2 / 0.5)
    maps = torch.stack([height_map.float() / HEIGHT_SCALE_M,
                        torch.from_numpy(blob).float().to(device), torch.from_numpy(ray).float().to(device)], dim=1)
    scalars = np.stack([rng / RANGE_SCALE_M, np.log10(np.maximum(rng, 1.0)), np.cos(bearing), np.sin(bearing),
                        (bs[:, 2] - ue[:, 2]) / HEIGHT_SCALE_M, map_range / RANGE_SCALE_M], axis=1)
    return maps, torch.from_numpy(scalars).float().to(device)


def first_path_prior(obs: dict[str, torch.Tensor]) -> torch.Tensor:
    """``[B, 2]`` (horizontal range [m], bearing from the boresight [rad]) of the first path of each CSI
    observation (:func:`airtwin.phy.classical.first_path_polar`): needs ``csi``, ``subcarrier_frequencies_hz``
    ``[B, K]``, ``antenna_positions`` ``[B, A, 3]``, ``bs_orientation_deg`` and ``bs_height_above_ue_m``."""
    missing = [k for k in ("subcarrier_frequencies_hz", "antenna_positions", "bs_height_above_ue_m") if k not in obs]
    if missing:
        raise ValueError(f"the first-path prior needs the CSI observation's numerology; missing: {', '.join(missing)} "
                         "(see airtwin.phy.tasks.observe)")
    np_of = lambda k: obs[k].detach().cpu().double().numpy()  # noqa: E731
    csi = to_complex(obs["csi"].detach().cpu().float().numpy())
    freqs, positions, orient = np_of("subcarrier_frequencies_hz"), np_of("antenna_positions"), np_of("bs_orientation_deg")
    height = np_of("bs_height_above_ue_m").reshape(-1)
    out = np.zeros((len(csi), 2))
    # Samples sharing a subcarrier grid are estimated together (a batch usually has one).
    _, group = np.unique(freqs, axis=0, return_inverse=True)
    for g in np.unique(group):
        rows = np.flatnonzero(group.reshape(-1) == g)
        rng, bearing = classical.first_path_polar(csi[rows], freqs[rows[0]], positions[rows], orient[rows], height[rows])
        out[rows] = np.stack([rng, bearing], axis=1)
    return torch.from_numpy(out).float().to(obs["csi"].device)

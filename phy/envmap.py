"""The environment map in the BS's frame: one convention for the twin, the data, the baselines and the model.

The map is a polar grid around the serving BS, ``[size_cells (range), size_cells (bearing)]``:

- row ``i`` samples the range ``(i + 0.5) * map_range_m / size_cells`` [m] (horizontal distance from the BS);
- column ``j`` samples the bearing ``-pi + (j + 0.5) * 2 pi / size_cells`` [rad] from the BS boresight
  (its yaw, ``orientation_deg[0]``), counter-clockwise as Sionna's azimuth.

``map_range_m`` is chosen per site so that the map reaches the farthest point of the UE region
(:meth:`airtwin.twin.Twin.map_range_of`), and it is recorded with the map. In this frame a DFT beam is a
fixed column whatever the BS's heading, and the straight BS-UE ray runs down one column.
"""

from __future__ import annotations

import numpy as np


def to_bs_frame(bs_position: np.ndarray, yaw_deg: np.ndarray | float, points: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """``(range [...] m, bearing [...] rad in [-pi, pi))`` of ``points [..., >=2]`` [m] seen from the BS.

    ``bs_position`` ``[..., >=2]`` [m] and ``yaw_deg`` broadcast against ``points``.
    """
    bs = np.asarray(bs_position, np.float64)
    p = np.asarray(points, np.float64)
    dx, dy = p[..., 0] - bs[..., 0], p[..., 1] - bs[..., 1]
    bearing = np.arctan2(dy, dx) - np.radians(np.asarray(yaw_deg, np.float64))
    return np.hypot(dx, dy), (bearing + np.pi) % (2 * np.pi) - np.pi


def from_bs_frame(bs_position: np.ndarray, yaw_deg: np.ndarray | float, range_m: np.ndarray,
                  bearing_rad: np.ndarray) -> np.ndarray:
    """``[..., 2]`` (x, y) [m] of points at ``range_m`` and ``bearing_rad`` from the BS (inverse of :func:`to_bs_frame`)."""
    bs = np.asarray(bs_position, np.float64)
    az = np.asarray(bearing_rad, np.float64) + np.radians(np.asarray(yaw_deg, np.float64))
    r = np.asarray(range_m, np.float64)
    return np.stack([bs[..., 0] + r * np.cos(az), bs[..., 1] + r * np.sin(az)], axis=-1)


def grid_points(bs_position: np.ndarray, yaw_deg: float, size_cells: int, map_range_m: float) -> np.ndarray:
    """``[size_cells, size_cells, 2]`` (x, y) [m] of the cell centres of the map (see the module docstring)."""
    r = (np.arange(size_cells) + 0.5) * map_range_m / size_cells
    phi = -np.pi + (np.arange(size_cells) + 0.5) * 2 * np.pi / size_cells
    return from_bs_frame(bs_position, yaw_deg, r[:, None], phi[None, :])


def map_cell(range_m: np.ndarray, bearing_rad: np.ndarray, size_cells: int, map_range_m: np.ndarray | float
             ) -> tuple[np.ndarray, np.ndarray]:
    """Fractional ``(row, column)`` of points at ``range_m``, ``bearing_rad`` (cell centres are whole numbers)."""
    row = np.asarray(range_m, np.float64) / np.asarray(map_range_m, np.float64) * size_cells - 0.5
    col = (np.asarray(bearing_rad, np.float64) + np.pi) / (2 * np.pi) * size_cells - 0.5
    return row, col


def covered(range_m: np.ndarray, map_range_m: np.ndarray | float) -> np.ndarray:
    """``[...]`` bool: the point lies within the map (every bearing is; the range decides)."""
    return np.asarray(range_m) <= np.asarray(map_range_m)

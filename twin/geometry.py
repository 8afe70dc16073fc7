"""Scene geometry queries by ray casting: surface height maps and the outdoor area.

These work for any Mitsuba scene (built-in, XML or procedural): a vertical ray is
cast down onto every cell centre and the first hit gives the surface elevation.
Building height maps (the environment modality) and the outdoor mask (where users
may stand) both come from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from airtwin.twin.backend import sionna_rt

#: A cell whose surface is more than this above the ground level is treated as built up [m].
BUILDING_THRESHOLD_M = 1.0


def surface_height(mi_scene, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Elevation of the highest surface above each (x, y) [m]; 0 where nothing is hit.

    Args:
        mi_scene: a ``mitsuba.Scene`` (``sionna.rt.Scene.mi_scene``).
        x, y: arrays of the same shape [m].
    Returns:
        float32 array of that shape [m].
    """
    _, mi = sionna_rt()
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32)
    if x.size == 0:
        return np.zeros(x.shape, dtype=np.float32)
    top = float(mi_scene.bbox().max.z) + 10.0 if mi_scene.bbox().valid() else 10.0
    origin = mi.Point3f(mi.Float(x.ravel()), mi.Float(y.ravel()), mi.Float(np.full(x.size, top, np.float32)))
    si = mi_scene.ray_intersect(mi.Ray3f(origin, mi.Vector3f(0.0, 0.0, -1.0)))
    hit = np.array(si.is_valid(), dtype=bool)
    z = np.where(hit, np.array(si.p.z, dtype=np.float32), 0.0)
    return z.reshape(x.shape).astype(np.float32)


def grid_centers(center_xy: tuple[float, float], size_cells: int, resolution_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Cell-centre coordinates ``(x [size_cells], y [size_cells])`` of a square grid around ``center_xy`` [m]."""
    offsets = (np.arange(size_cells) - (size_cells - 1) / 2.0) * resolution_m
    return center_xy[0] + offsets, center_xy[1] + offsets


def height_map_around(mi_scene, center_xy: tuple[float, float], size_cells: int, resolution_m: float,
                      ground_level_m: float = 0.0) -> np.ndarray:
    """Building height map ``[size_cells (y), size_cells (x)]`` float32 [m] centred on ``center_xy``.

    Row ``i`` is ``y = center_y + (i - (size_cells - 1) / 2) * resolution_m`` (y grows with the
    row index), column ``j`` likewise in x. Heights are above ``ground_level_m``, clipped at 0.
    """
    xs, ys = grid_centers(center_xy, size_cells, resolution_m)
    gx, gy = np.meshgrid(xs, ys)
    return np.maximum(surface_height(mi_scene, gx, gy) - ground_level_m, 0.0).astype(np.float32)


@dataclass(frozen=True)
class OutdoorRaster:
    """Outdoor mask of a scene on a regular grid, from ray-cast surface heights.

    Attributes:
        x0, y0: centre of cell (0, 0) [m].
        resolution_m: cell side [m].
        outdoor: ``[num_y, num_x]`` bool, True where the surface is within
            :data:`BUILDING_THRESHOLD_M` of the ground level.
    """

    x0: float
    y0: float
    resolution_m: float
    outdoor: np.ndarray

    @classmethod
    def from_scene(cls, mi_scene, bounds: tuple[float, float, float, float], resolution_m: float = 1.0,
                   ground_level_m: float = 0.0) -> OutdoorRaster:
        """Rasterise ``bounds = (x_min, y_min, x_max, y_max)`` [m] of a scene."""
        x_min, y_min, x_max, y_max = bounds
        xs = np.arange(x_min + resolution_m / 2, x_max, resolution_m)
        ys = np.arange(y_min + resolution_m / 2, y_max, resolution_m)
        gx, gy = np.meshgrid(xs, ys)
        z = surface_height(mi_scene, gx, gy)
        return cls(float(xs[0]), float(ys[0]), resolution_m, z <= ground_level_m + BUILDING_THRESHOLD_M)

    def is_outdoor(self, xy: np.ndarray, margin_m: float = 0.0) -> np.ndarray:
        """``[...]`` bool for points ``[..., 2]`` [m]; outside the raster counts as not outdoor.

        With ``margin_m > 0`` the cells within that distance (in the max-norm) must be outdoor too.
        """
        xy = np.asarray(xy, dtype=np.float64)
        reach = int(np.ceil(margin_m / self.resolution_m))
        ny, nx = self.outdoor.shape
        result = np.ones(xy.shape[:-1], dtype=bool)
        for di in range(-reach, reach + 1):
            for dj in range(-reach, reach + 1):
                col = np.rint((xy[..., 0] - self.x0) / self.resolution_m).astype(np.int64) + dj
                row = np.rint((xy[..., 1] - self.y0) / self.resolution_m).astype(np.int64) + di
                inside = (col >= 0) & (col < nx) & (row >= 0) & (row < ny)
                ok = np.zeros(xy.shape[:-1], dtype=bool)
                ok[inside] = self.outdoor[row[inside], col[inside]]
                result &= ok
        return result

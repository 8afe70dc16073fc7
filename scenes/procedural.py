"""Seeded procedural city areas: a street grid, building footprints and heights, ITU materials.

:func:`generate_city` turns :class:`~scenes.spec.CityParams` into a :class:`CityLayout`:
axis-aligned buildings (boxes) standing in blocks between streets. The layout writes
a Sionna RT scene folder (:meth:`CityLayout.write_scene`: Mitsuba XML and welded PLY
meshes, see :mod:`scenes.meshes`) and exposes the building height map and the outdoor
area where users may stand. The same seed gives byte-identical scene files; different
seeds give different areas. All randomness comes from ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from airtwin.scenes.materials import resolve_palette
from airtwin.scenes.meshes import COORD_DECIMALS, write_buildings
from airtwin.scenes.spec import CityParams


def _cut_axis(rng: np.random.Generator, length: float, params: CityParams) -> list[tuple[float, float]]:
    """Blocks ``[(start, end), ...]`` along one axis of ``[-length/2, length/2]``; the rest is street.

    The area starts and ends with a street so that every block is surrounded by streets.
    """
    half = length / 2
    w_min = params.street_width_m[0]
    x = -half + rng.uniform(*params.street_width_m)
    blocks = []
    while x + params.block_size_m[0] + w_min <= half:
        b = min(rng.uniform(*params.block_size_m), half - x - w_min)
        blocks.append((x, x + b))
        x += b + rng.uniform(*params.street_width_m)
    return blocks


def _split(rng: np.random.Generator, start: float, end: float, max_parts: int) -> list[tuple[float, float]]:
    """Split ``[start, end]`` into 1..max_parts lots of jittered, roughly equal width."""
    n = int(rng.integers(1, max_parts + 1))
    weights = 1.0 + 0.4 * rng.uniform(-1.0, 1.0, size=n)
    edges = start + (end - start) * np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
    return [(float(edges[i]), float(edges[i + 1])) for i in range(n)]


@dataclass(frozen=True)
class CityLayout:
    """A generated city area.

    Attributes:
        params: the generating parameters.
        footprints: ``[num_buildings, 4]`` float64, ``(x_min, y_min, x_max, y_max)`` [m].
        heights: ``[num_buildings]`` float64, roof heights above the ground (z = 0) [m].
        materials: ``[num_buildings]`` int64, index into the building palette (``params.materials``,
            or the band's defaults: :func:`scenes.materials.resolve_palette`).
        blocks_x, blocks_y: block intervals along x and y [m]; streets are the gaps between them.
    """

    params: CityParams
    footprints: np.ndarray
    heights: np.ndarray
    materials: np.ndarray
    blocks_x: tuple[tuple[float, float], ...]
    blocks_y: tuple[tuple[float, float], ...]

    @property
    def num_buildings(self) -> int:
        return int(self.footprints.shape[0])

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(x_min, y_min, x_max, y_max)`` of the area [m]."""
        sx, sy = self.params.size_m
        return (-sx / 2, -sy / 2, sx / 2, sy / 2)

    # ------------------------------------------------------------------ geometry queries
    def building_at(self, xy: np.ndarray, margin_m: float = 0.0) -> np.ndarray:
        """Index of the building whose footprint (grown by ``margin_m``) contains each point, or -1.

        Args:
            xy: ``[..., 2]`` points [m].
        Returns:
            ``[...]`` int64 building indices (the tallest one where footprints overlap).
        """
        xy = np.asarray(xy, dtype=np.float64)
        flat = xy.reshape(-1, 2)
        f = self.footprints
        inside = ((flat[:, None, 0] >= f[None, :, 0] - margin_m) & (flat[:, None, 0] <= f[None, :, 2] + margin_m)
                  & (flat[:, None, 1] >= f[None, :, 1] - margin_m) & (flat[:, None, 1] <= f[None, :, 3] + margin_m))
        masked_heights = np.where(inside, self.heights[None, :], -np.inf)
        idx = np.where(inside.any(axis=1), np.argmax(masked_heights, axis=1) if f.size else -1, -1)
        return idx.reshape(xy.shape[:-1]).astype(np.int64)

    def is_outdoor(self, xy: np.ndarray, margin_m: float = 0.0) -> np.ndarray:
        """``[...]`` bool: the point lies inside the area and outside every footprint grown by ``margin_m``."""
        xy = np.asarray(xy, dtype=np.float64)
        x0, y0, x1, y1 = self.bounds
        in_area = (xy[..., 0] >= x0) & (xy[..., 0] <= x1) & (xy[..., 1] >= y0) & (xy[..., 1] <= y1)
        return in_area & (self.building_at(xy, margin_m) < 0)

    def height_map(self, x_centers: np.ndarray, y_centers: np.ndarray) -> np.ndarray:
        """Building height at cell centres: ``[len(y_centers), len(x_centers)]`` float32 [m], 0 on streets."""
        x_centers = np.asarray(x_centers, dtype=np.float64)
        y_centers = np.asarray(y_centers, dtype=np.float64)
        out = np.zeros((y_centers.size, x_centers.size), dtype=np.float32)
        for (xa, ya, xb, yb), h in zip(self.footprints, self.heights):
            cols = (x_centers >= xa) & (x_centers <= xb)
            rows = (y_centers >= ya) & (y_centers <= yb)
            if cols.any() and rows.any():
                block = out[np.ix_(rows, cols)]
                out[np.ix_(rows, cols)] = np.maximum(block, h)
        return out

    def segment_blocked(self, p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
        """Whether the straight segment ``p0 -> p1`` passes through any building (slab test).

        Args:
            p0, p1: ``[N, 3]`` end points [m].
        Returns:
            ``[N]`` bool, True when a building box (footprint x [0, height]) cuts the open segment.
        """
        p0 = np.atleast_2d(np.asarray(p0, dtype=np.float64))
        p1 = np.atleast_2d(np.asarray(p1, dtype=np.float64))
        d = p1 - p0
        lo = np.stack([self.footprints[:, 0], self.footprints[:, 1], np.zeros(self.num_buildings)], axis=-1)
        hi = np.stack([self.footprints[:, 2], self.footprints[:, 3], self.heights], axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / d[:, None, :]
            t0 = (lo[None] - p0[:, None, :]) * inv
            t1 = (hi[None] - p0[:, None, :]) * inv
        tmin = np.minimum(t0, t1)
        tmax = np.maximum(t0, t1)
        # Axis-parallel segments: inside the slab means (-inf, inf), outside means empty.
        parallel = d[:, None, :] == 0
        inside = (p0[:, None, :] >= lo[None]) & (p0[:, None, :] <= hi[None])
        tmin = np.where(parallel, np.where(inside, -np.inf, np.inf), tmin)
        tmax = np.where(parallel, np.where(inside, np.inf, -np.inf), tmax)
        enter = tmin.max(axis=-1)
        leave = tmax.min(axis=-1)
        eps = 1e-9
        return ((enter < leave) & (leave > eps) & (enter < 1 - eps)).any(axis=-1)

    # ------------------------------------------------------------------ scene files
    def polygons(self) -> list:
        """Footprints as ``shapely.Polygon`` boxes [m]."""
        from shapely.geometry import box  # noqa: PLC0415

        return [box(*fp) for fp in self.footprints]

    def write_scene(self, folder: str | Path, carrier_frequency_hz: float) -> Path:
        """Write the area as a Sionna RT scene folder (``scene.xml`` + welded PLY meshes); returns the XML path.

        Building and ground materials are resolved for the carrier (:func:`scenes.materials.resolve_palette`).
        The same layout and carrier always give the same bytes.
        """
        palette, ground = resolve_palette("CityParams", self.params.materials, self.params.ground_material,
                                          carrier_frequency_hz)
        return write_buildings(folder, self.polygons(), self.heights, [palette[m] for m in self.materials],
                               self.bounds, ground)


def generate_city(params: CityParams) -> CityLayout:
    """Generate the city area described by ``params`` (deterministic in ``params.seed``)."""
    rng = np.random.default_rng(params.seed)
    blocks_x = _cut_axis(rng, params.size_m[0], params)
    blocks_y = _cut_axis(rng, params.size_m[1], params)
    footprints, heights, materials = [], [], []
    s = params.setback_m
    for bx in blocks_x:
        for by in blocks_y:
            for lx in _split(rng, *bx, params.max_lots_per_side):
                for ly in _split(rng, *by, params.max_lots_per_side):
                    if rng.uniform() < params.empty_lot_prob:
                        continue
                    fp = (lx[0] + s, ly[0] + s, lx[1] - s, ly[1] - s)
                    if fp[2] - fp[0] < 2.0 or fp[3] - fp[1] < 2.0:
                        continue
                    footprints.append(fp)
                    heights.append(rng.uniform(*params.building_height_m))
                    materials.append(int(rng.integers(params.num_materials)))
    # Round to the mesh precision so analytic queries and the traced geometry agree exactly.
    return CityLayout(
        params=params,
        footprints=np.round(np.asarray(footprints, dtype=np.float64).reshape(-1, 4), COORD_DECIMALS),
        heights=np.round(np.asarray(heights, dtype=np.float64), COORD_DECIMALS),
        materials=np.asarray(materials, dtype=np.int64),
        blocks_x=tuple(blocks_x),
        blocks_y=tuple(blocks_y),
    )

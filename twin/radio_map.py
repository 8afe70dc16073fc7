"""Radio maps: path gain of the serving BS over a horizontal grid (Sionna's ``RadioMapSolver``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from airtwin.phy.beams import to_db
from airtwin.twin.channel import NO_PATH_LOSS_DB


@dataclass(frozen=True)
class RadioMap:
    """Path gain over a grid at UE height.

    Attributes:
        path_gain_db: ``[num_y, num_x]`` float32 [dB]; ``-NO_PATH_LOSS_DB`` where no ray arrived.
        x_m: ``[num_x]`` cell-centre x coordinates [m]; ``y_m``: ``[num_y]`` likewise.
        height_m: height of the measurement plane [m].
        bs_position: ``[3]`` serving BS position [m].
    """

    path_gain_db: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    height_m: float
    bs_position: np.ndarray

    def at(self, xy: np.ndarray) -> np.ndarray:
        """Path gain [dB] of the cells containing points ``[..., 2]`` (nearest cell, clipped to the map)."""
        xy = np.asarray(xy, dtype=np.float64)
        dx = self.x_m[1] - self.x_m[0] if self.x_m.size > 1 else 1.0
        dy = self.y_m[1] - self.y_m[0] if self.y_m.size > 1 else 1.0
        col = np.clip(np.rint((xy[..., 0] - self.x_m[0]) / dx).astype(int), 0, self.x_m.size - 1)
        row = np.clip(np.rint((xy[..., 1] - self.y_m[0]) / dy).astype(int), 0, self.y_m.size - 1)
        return self.path_gain_db[row, col]


def solve_radio_map(twin, cell_size_m: float = 5.0, *, samples_per_tx: int = 1_000_000, seed: int | None = None):
    """Sionna ``RadioMap`` of ``twin``'s serving BS over its UE area at UE height, for one BS array element.

    The map is computed for a single element of the BS array (same pattern, polarisation
    and orientation), so that it is the per-antenna path gain, as ``ChannelBatch.path_gain_db``
    is, and not the gain of one particular precoder.
    """
    if cell_size_m <= 0:
        raise ValueError(f"cell_size_m = {cell_size_m}; allowed: > 0")
    rt, mi = twin.rt, twin.mi
    x0, y0, x1, y1 = twin.area_bounds
    t = twin.spec.tracing
    h = twin.spec.ue.height_m
    arr = twin.spec.bs[twin.serving_bs].array
    full_array = twin.scene.tx_array
    twin.scene.tx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern=arr.pattern, polarization=arr.polarization)
    try:
        return rt.RadioMapSolver()(
            twin.scene,
            center=mi.Point3f((x0 + x1) / 2, (y0 + y1) / 2, h),
            orientation=mi.Point3f(0.0, 0.0, 0.0),
            size=mi.Point2f(x1 - x0, y1 - y0),
            cell_size=mi.Point2f(cell_size_m, cell_size_m),
            samples_per_tx=int(samples_per_tx),
            max_depth=t.max_depth, los=t.los, specular_reflection=t.specular_reflection,
            diffuse_reflection=t.diffuse_reflection, refraction=t.refraction, diffraction=t.diffraction,
            seed=t.seed if seed is None else int(seed),
        )
    finally:
        twin.scene.tx_array = full_array


def compute_radio_map(twin, cell_size_m: float = 5.0, *, samples_per_tx: int = 1_000_000,
                      seed: int | None = None) -> RadioMap:
    """Radio map of ``twin``'s serving BS over its UE area, at the UE height (see :func:`solve_radio_map`).

    Args:
        twin: a :class:`twin.twin.Twin`.
        cell_size_m: cell side [m].
        samples_per_tx: rays shot from the BS.
        seed: tracer seed (``spec.tracing.seed`` if None).
    """
    rm = solve_radio_map(twin, cell_size_m, samples_per_tx=samples_per_tx, seed=seed)
    gain = np.asarray(rm.path_gain, dtype=np.float64)[0]  # [num_y, num_x]
    centers = np.asarray(rm.cell_centers, dtype=np.float64)  # [num_y, num_x, 3]
    gain_db = np.where(gain > 0, to_db(gain), -NO_PATH_LOSS_DB).astype(np.float32)
    return RadioMap(gain_db, centers[0, :, 0], centers[:, 0, 1], twin.spec.ue.height_m,
                    twin.bs_position.astype(np.float32))

"""Pictures of a scenario with Sionna's renderer: radio map, a UE trajectory and the paths to the UE."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from airtwin.twin.radio_map import solve_radio_map


def render_scene(twin, filename: str | Path, trajectory: np.ndarray | None = None, *, cell_size_m: float = 4.0,
                 samples_per_tx: int = 300_000, resolution: tuple[int, int] = (800, 600),
                 num_samples: int = 64) -> Path:
    """Render ``twin``'s scene to a PNG, seen from above and behind the BS.

    Shows the serving BS, the radio map (per-element path gain), the UE trajectory as receivers
    (``trajectory``: ``[T, 3]`` positions [m]) and the ray-traced paths to its last point.
    Rendering runs on the CPU (about a second at the default resolution).
    """
    rt, mi = twin.rt, twin.mi
    filename = Path(filename)
    radio_map = solve_radio_map(twin, cell_size_m, samples_per_tx=samples_per_tx)
    paths = None
    if trajectory is not None and len(trajectory):
        trajectory = np.asarray(trajectory, dtype=np.float64)
        paths = twin.trace_paths(trajectory[-1:])
        twin.place_receivers(trajectory, np.zeros_like(trajectory))
    x0, y0, x1, y1 = twin.area_bounds
    center = np.array([(x0 + x1) / 2, (y0 + y1) / 2, 0.0])
    extent = max(x1 - x0, y1 - y0)
    bs = twin.bs_position
    away = center[:2] - bs[:2]
    away = away / max(np.linalg.norm(away), 1e-9)
    eye = np.array([center[0] - 0.45 * extent * away[0], center[1] - 0.45 * extent * away[1], 1.35 * extent])
    camera = rt.Camera(position=mi.Point3f(*map(float, eye)), look_at=mi.Point3f(*map(float, center)))
    twin.scene.render_to_file(camera=camera, filename=str(filename), paths=paths, radio_map=radio_map,
                              resolution=resolution, num_samples=num_samples, rm_vmin=-150.0, rm_vmax=-60.0)
    return filename

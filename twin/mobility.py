"""User placement and motion: seeded drops in the outdoor area and street trajectories.

Pure NumPy: the twin supplies ``is_free(xy) -> bool`` (outdoor and inside the UE
region). Every function takes an explicit ``numpy.random.Generator``.

Models (``Mobility.model``):
- ``manhattan``: UEs walk or drive along streets in the four grid directions. Blocked
  ahead, they turn into an open direction (reversing only as a last resort); at an
  open crossing they turn with probability ``turn_prob``, at most once per 20 m.
- ``random_direction``: straight lines in a uniformly drawn direction; blocked, a new
  open direction is drawn (16 tries), else the UE waits.
- ``static``: UEs do not move.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from airtwin.scenes.spec import Mobility

FreeFn = Callable[[np.ndarray], np.ndarray]

#: Distance ahead that must be free for a crossing street to count as open [m].
LOOKAHEAD_M = 8.0
#: Minimum distance travelled between two voluntary turns [m].
TURN_COOLDOWN_M = 20.0


def sample_drops(is_free: FreeFn, bounds: tuple[float, float, float, float], num_ue: int, height_m: float,
                 rng: np.random.Generator, max_rounds: int = 200) -> np.ndarray:
    """Uniform UE positions over the free (outdoor, in-region) area by rejection sampling.

    Args:
        is_free: ``[M, 2] -> [M]`` bool.
        bounds: ``(x_min, y_min, x_max, y_max)`` box to draw candidates from [m].
        height_m: UE height above ground [m].
    Returns:
        ``[num_ue, 3]`` float64 positions [m].
    Raises:
        ValueError: when the free area is (nearly) empty.
    """
    x0, y0, x1, y1 = bounds
    found: list[np.ndarray] = []
    total = 0
    batch = max(64, 4 * num_ue)
    for _ in range(max_rounds):
        if total >= num_ue:
            break
        xy = np.stack([rng.uniform(x0, x1, batch), rng.uniform(y0, y1, batch)], axis=-1)
        ok = xy[is_free(xy)]
        found.append(ok)
        total += len(ok)
    if total < num_ue:
        raise ValueError(
            f"could not place {num_ue} UEs: the outdoor area inside the UE region is empty or too small "
            f"(bounds {bounds}); widen UERegion x_range_m/y_range_m/max_distance_m"
        )
    xy = np.concatenate(found)[:num_ue]
    return np.concatenate([xy, np.full((num_ue, 1), height_m)], axis=-1)


@dataclass(frozen=True)
class MotionState:
    """Kinematic state of ``num_ue`` UEs.

    Attributes:
        positions: ``[num_ue, 3]`` [m].
        speeds: ``[num_ue]`` [m/s].
        headings: ``[num_ue]`` [rad], direction of travel in the x-y plane.
        since_turn_m: ``[num_ue]`` distance travelled since the last voluntary turn [m].
        moving: ``[num_ue]`` bool, False when the UE is boxed in (velocity 0).
    """

    positions: np.ndarray
    speeds: np.ndarray
    headings: np.ndarray
    since_turn_m: np.ndarray
    moving: np.ndarray

    @property
    def velocities(self) -> np.ndarray:
        """``[num_ue, 3]`` [m/s]."""
        v = np.where(self.moving, self.speeds, 0.0)
        return np.stack([v * np.cos(self.headings), v * np.sin(self.headings), np.zeros_like(v)], axis=-1)


def _unit(h: np.ndarray) -> np.ndarray:
    return np.stack([np.cos(h), np.sin(h)], axis=-1)


def init_motion(positions: np.ndarray, mobility: Mobility, rng: np.random.Generator,
                is_free: FreeFn | None = None) -> MotionState:
    """Draw speeds and initial headings for UEs at ``positions`` ``[num_ue, 3]``.

    With ``is_free`` given, manhattan UEs start in an open grid direction where one exists.
    """
    n = positions.shape[0]
    speeds = rng.uniform(*mobility.speed_mps, size=n)
    if mobility.model == "manhattan":
        headings = rng.integers(0, 4, size=n) * (np.pi / 2)
        if is_free is not None:
            for i in range(n):
                order = rng.permutation(4) * (np.pi / 2)
                probe = positions[i, None, :2] + LOOKAHEAD_M * _unit(order)
                open_dirs = order[is_free(probe)]
                if open_dirs.size:
                    headings[i] = open_dirs[0]
    else:
        headings = rng.uniform(0.0, 2 * np.pi, size=n)
    moving = np.full(n, mobility.model != "static")
    return MotionState(positions.astype(np.float64).copy(), speeds, headings.astype(np.float64),
                       np.zeros(n), moving)


def step_motion(state: MotionState, dt: float, mobility: Mobility, is_free: FreeFn,
                rng: np.random.Generator) -> MotionState:
    """Advance every UE by ``dt`` seconds along its model; UEs never enter non-free space."""
    if mobility.model == "static" or dt == 0:
        return state
    pos = state.positions.copy()
    headings = state.headings.copy()
    since = state.since_turn_m.copy()
    moving = state.moving.copy()
    for i in range(pos.shape[0]):
        step = state.speeds[i] * dt
        xy = pos[i, :2]
        h = headings[i]
        if mobility.model == "manhattan":
            if since[i] >= TURN_COOLDOWN_M and rng.uniform() < mobility.turn_prob:
                side = h + rng.choice([-1.0, 1.0]) * np.pi / 2
                if is_free((xy + LOOKAHEAD_M * _unit(np.array([side])))).all():
                    h, since[i] = side, 0.0
            candidates = [h, h + np.pi / 2, h - np.pi / 2, h + np.pi]
            if rng.uniform() < 0.5:
                candidates[1], candidates[2] = candidates[2], candidates[1]
        else:
            candidates = [h, *rng.uniform(0.0, 2 * np.pi, size=16)]
        cand = np.asarray(candidates)
        targets = xy[None, :] + step * _unit(cand)
        ok = is_free(targets)
        if ok.any():
            k = int(np.argmax(ok))
            headings[i] = np.mod(cand[k], 2 * np.pi)
            pos[i, :2] = targets[k]
            since[i] = since[i] + step if k == 0 else 0.0
            moving[i] = True
        else:
            moving[i] = False
    return replace(state, positions=pos, headings=headings, since_turn_m=since, moving=moving)


def sample_trajectories(state: MotionState, num_steps: int, dt: float, mobility: Mobility, is_free: FreeFn,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Roll the motion model forward.

    Returns:
        positions ``[num_ue, num_steps, 3]`` [m] and velocities ``[num_ue, num_steps, 3]`` [m/s];
        step 0 is ``state`` itself.
    """
    positions, velocities = [], []
    for _ in range(num_steps):
        positions.append(state.positions)
        velocities.append(state.velocities)
        state = step_motion(state, dt, mobility, is_free, rng)
    return np.stack(positions, axis=1), np.stack(velocities, axis=1)

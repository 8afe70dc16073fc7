"""Split the drops of one area by location, for the site-specific protocol (train and test in the same area)."""

from __future__ import annotations

import numpy as np


def location_cells(positions_xy: np.ndarray, cell_m: float) -> np.ndarray:
    """``[N, 2]`` int64 index of the ``cell_m`` square each position ``[N, >=2]`` [m] (scene frame) lies in: the
    squares :func:`location_split` assigns whole to train or test."""
    return np.floor(np.asarray(positions_xy, np.float64)[:, :2] / cell_m).astype(np.int64)


def location_split(positions_xy: np.ndarray, rng: np.random.Generator, *, test_fraction: float = 0.2,
                   cell_m: float = 20.0, guard_m: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)`` indices of drops at ``positions_xy`` ``[N, 2]`` [m], split by location.

    Squares of ``cell_m`` are assigned whole to the test side (drawn with ``rng`` until at least
    ``test_fraction`` of the drops are in them); then every test drop within ``guard_m`` of a training
    drop is left out, so that no test position is a near copy of a training one.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction = {test_fraction}; allowed: 0 < test_fraction < 1")
    if cell_m <= 0 or guard_m < 0:
        raise ValueError(f"cell_m = {cell_m}, guard_m = {guard_m}; allowed: cell_m > 0, guard_m >= 0")
    xy = np.asarray(positions_xy, np.float64)[:, :2]
    cells = location_cells(xy, cell_m)
    keys, inverse = np.unique(cells, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    counts = np.bincount(inverse, minlength=len(keys))
    chosen = np.zeros(len(keys), bool)
    for c in rng.permutation(len(keys)):
        if counts[chosen].sum() >= test_fraction * len(xy):
            break
        chosen[c] = True
    is_test = chosen[inverse]
    train, test = np.flatnonzero(~is_test), np.flatnonzero(is_test)
    keep = np.ones(len(test), bool)
    for start in range(0, len(test), 512):  # chunked pairwise distances: memory stays small
        block = xy[test[start:start + 512]]
        d = np.linalg.norm(block[:, None, :] - xy[None, train, :], axis=-1)
        keep[start:start + 512] = (d.min(axis=1) if len(train) else np.full(len(block), np.inf)) > guard_m
    return train, test[keep]

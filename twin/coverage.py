"""Coverage of a scenario: how many outdoor UE drops the twin reaches, with LoS and path-loss statistics."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class CoverageStats:
    """Coverage figures of one scenario over ``drops`` outdoor UE drops.

    Attributes:
        coverage: fraction of UEs with at least one path.
        los: fraction of UEs with a line-of-sight path.
        median_path_loss_db: median path loss of the covered UEs [dB] (NaN if none).
        seconds: wall time of the traces [s].
    """

    scenario: str
    drops: int
    coverage: float
    los: float
    median_path_loss_db: float
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def measure_coverage(twin, drops: int, rng: np.random.Generator, batch_size: int = 50) -> CoverageStats:
    """Drop ``drops`` UEs uniformly over the twin's UE region and trace them in batches of ``batch_size``."""
    if drops < 1 or batch_size < 1:
        raise ValueError(f"drops = {drops} and batch_size = {batch_size} must be >= 1")
    positions = twin.sample_ue_positions(drops, rng)
    t0 = time.perf_counter()
    batches = [twin.trace(positions[i:i + batch_size]) for i in range(0, drops, batch_size)]
    seconds = time.perf_counter() - t0
    covered = np.concatenate([b.has_paths for b in batches])
    los = np.concatenate([b.los for b in batches])
    pl = np.concatenate([b.path_loss_db for b in batches])
    return CoverageStats(scenario=twin.spec.name, drops=drops, coverage=float(covered.mean()), los=float(los.mean()),
                         median_path_loss_db=float(np.median(pl[covered])) if covered.any() else float("nan"),
                         seconds=seconds)

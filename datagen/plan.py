"""Generation settings and their deterministic split into shard tasks.

The plan depends only on the :class:`GenerateConfig`: the same config always gives
the same shards with the same seeds, whatever the backend or the number of workers,
which is what makes runs resumable and backends interchangeable.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from airtwin.config import check_range
from airtwin.phy.estimation import DEFAULT_FEEDBACK_DELAY_S, DEFAULT_PILOT_GAP_S
from airtwin.scenes.registry import area_split
from airtwin.scenes.suites import load_suite


@dataclass(frozen=True)
class GenerateConfig:
    """What to generate."""

    suite: str
    """Suite: a built-in name (``airtwin scenes list``) or a suite TOML file."""
    samples: int
    """Total number of UE samples, spread evenly over the suite's scenarios."""
    seed: int = 0
    """Base seed; every shard derives its own seed from it, the scenario name and its index."""
    shard_size: int = 256
    """Samples per shard file."""
    batch_size: int = 64
    """UEs traced per PathSolver call."""
    trajectory_steps: int = 1
    """Samples per UE trajectory: 1 gives independent drops; T > 1 gives T consecutive positions."""
    step_s: float = 0.5
    """Time between trajectory samples [s]."""
    aging_delay_s: float = DEFAULT_FEEDBACK_DELAY_S
    """Delay of ``csi_aged`` after ``csi`` (feedback delay) [s]."""
    pilot_gap_s: float = DEFAULT_PILOT_GAP_S
    """Time of the previous pilot occasion before ``csi``: the data then holds ``csi_prev``, from which a predictor
    extrapolates the channel over the feedback delay (0: no previous pilot) [s]."""

    def __post_init__(self) -> None:
        load_suite(self.suite)  # raises ValueError naming the allowed suites
        check_range("GenerateConfig.samples", self.samples, 1)
        check_range("GenerateConfig.seed", self.seed, 0, 2**63 - 1)
        check_range("GenerateConfig.shard_size", self.shard_size, 1, 1_000_000)
        check_range("GenerateConfig.batch_size", self.batch_size, 1, 4096)
        check_range("GenerateConfig.trajectory_steps", self.trajectory_steps, 1, 10_000)
        check_range("GenerateConfig.step_s", self.step_s, 0.0, 3600.0, low_open=True)
        check_range("GenerateConfig.aging_delay_s", self.aging_delay_s, 0.0, 10.0, low_open=True)
        check_range("GenerateConfig.pilot_gap_s", self.pilot_gap_s, 0.0, 0.1)
        if self.shard_size % self.trajectory_steps:
            raise ValueError(f"GenerateConfig.shard_size = {self.shard_size} must be a multiple of "
                             f"trajectory_steps = {self.trajectory_steps} (trajectories never straddle shards)")


@dataclass(frozen=True)
class ShardTask:
    """One shard to generate: ``num_samples`` samples of one scenario, from one seed."""

    index: int
    scenario: str
    scenario_index: int
    split: str
    num_samples: int
    seed: int

    @property
    def file_name(self) -> str:
        return f"shard-{self.index:05d}.h5"


def shard_seed(base_seed: int, scenario: str, shard_in_scenario: int) -> int:
    """A 63-bit seed from the base seed, the scenario name and the shard's rank within the scenario."""
    ss = np.random.SeedSequence([base_seed, zlib.crc32(scenario.encode()), shard_in_scenario])
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def iter_shards(cfg: GenerateConfig) -> Iterator[ShardTask]:
    """The shard tasks of ``cfg``, scenario by scenario, made one at a time.

    Lazy, so that memory does not grow with ``cfg.samples`` (a trillion samples plan in
    constant memory); :func:`plan_shards` is the list form for small plans.
    """
    scenarios = load_suite(cfg.suite).scenarios
    per, extra = divmod(cfg.samples, len(scenarios))
    index = 0
    for j, name in enumerate(scenarios):
        split = area_split(name)
        remaining = per + (1 if j < extra else 0)
        rank = 0
        while remaining > 0:
            n = min(cfg.shard_size, remaining)
            yield ShardTask(index, name, j, split, n, shard_seed(cfg.seed, name, rank))
            index += 1
            remaining -= n
            rank += 1


def num_shards(cfg: GenerateConfig) -> int:
    """Number of shards of ``cfg`` (without making them)."""
    scenarios = len(load_suite(cfg.suite).scenarios)
    per, extra = divmod(cfg.samples, scenarios)
    return sum(-(-(per + (1 if j < extra else 0)) // cfg.shard_size) for j in range(scenarios))


def plan_shards(cfg: GenerateConfig) -> list[ShardTask]:
    """All shard tasks of ``cfg`` as a list (see :func:`iter_shards`)."""
    return list(iter_shards(cfg))

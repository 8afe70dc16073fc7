"""Dataset generation throughput with 1 and 2 workers vs. the twin's own single-process throughput.

Measured in one run on a procedural suite:
(a) the twin alone: ``Twin.trace`` of the same number of UEs per scenario, in this process
    (scene loading excluded, first-call JIT warmed up);
(b) ``datagen.generate`` with the local backend and 1 worker, then 2 worker processes
    (everything included: planning, drops, tracing with Doppler aging, HDF5 writes, checksums), each without
    and with the previous pilot (``--pilot-gaps``, seconds; 0 leaves it out), so its cost is a ratio too.

    python benchmarks/generate_throughput.py [--suite procedural-train] [--samples 1024] [--pilot-gaps 0 1e-3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass

import numpy as np


@dataclass
class Args:
    suite: str = "procedural-train"
    """Scenario suite."""
    samples: int = 1024
    """Samples per generation run (spread over the suite's areas)."""
    batch_size: int = 64
    """UEs per trace call (also the shard size)."""
    workers: tuple[int, ...] = (1, 2)
    """Worker counts to measure."""
    pilot_gaps: tuple[float, ...] = (0.0, 1e-3)
    """``GenerateConfig.pilot_gap_s`` values to measure [s] (0: no previous pilot)."""


def parse_args() -> Args:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--suite", default=Args.suite)
    p.add_argument("--samples", type=int, default=Args.samples)
    p.add_argument("--batch-size", type=int, default=Args.batch_size)
    p.add_argument("--workers", type=int, nargs="+", default=list(Args.workers))
    p.add_argument("--pilot-gaps", type=float, nargs="+", default=list(Args.pilot_gaps))
    a = p.parse_args()
    return Args(a.suite, a.samples, a.batch_size, tuple(a.workers), tuple(a.pilot_gaps))


def twin_throughput(args: Args) -> float:
    """UE samples/s of bare ``Twin.trace`` calls over the suite, one process."""
    from airtwin.datagen.plan import GenerateConfig, plan_shards
    from airtwin.scenes import get_scenario
    from airtwin.twin.twin import Twin

    tasks = plan_shards(GenerateConfig(suite=args.suite, samples=args.samples, shard_size=args.batch_size,
                                       batch_size=args.batch_size))
    total_s, total_n = 0.0, 0
    twin = None
    for task in tasks:
        if twin is None or twin.spec.name != task.scenario:
            twin = Twin(get_scenario(task.scenario))
            twin.trace(twin.sample_ue_positions(task.num_samples, np.random.default_rng(0)))  # JIT warm-up
        pos = twin.sample_ue_positions(task.num_samples, np.random.default_rng(task.seed))
        start = time.perf_counter()
        twin.trace(pos)
        total_s += time.perf_counter() - start
        total_n += task.num_samples
    return total_n / total_s


def main() -> None:
    args = parse_args()
    from airtwin.datagen.generate import generate
    from airtwin.datagen.plan import GenerateConfig

    base = twin_throughput(args)
    print(f"suite {args.suite}, {args.samples} samples, {args.batch_size} UEs per trace call and shard")
    print(f"{'method':<50} | {'samples/s':>9} | {'vs twin':>7}")
    print(f"{'twin.trace, 1 process':<50} | {base:>9.1f} | {1.0:>7.2f}")
    for workers in args.workers:
        for gap in args.pilot_gaps:
            cfg = GenerateConfig(suite=args.suite, samples=args.samples, shard_size=args.batch_size,
                                 batch_size=args.batch_size, pilot_gap_s=gap)
            with tempfile.TemporaryDirectory() as out:
                start = time.perf_counter()
                generate(cfg, out, workers=workers, progress=False)
                rate = args.samples / (time.perf_counter() - start)
            pilot = f"previous pilot {gap * 1e3:g} ms before" if gap else "one pilot"
            print(f"{f'generate, {workers} worker(s), {pilot}':<50} | {rate:>9.1f} | {rate / base:>7.2f}")


if __name__ == "__main__":
    main()

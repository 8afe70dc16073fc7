"""Steps per second of the batched vector environment vs. Gymnasium's SyncVectorEnv, side by side.

For 1, 8 and 32 copies of ``AirTwin/BeamSelection-v0``: ``TwinVectorEnv`` traces all UEs in one
twin call per step; ``SyncVectorEnv`` steps the same environments one by one (one trace each).
Both take random actions; the first step is a warm-up (JIT compile for the batch size).

    python benchmarks/env_steps.py [--scenario city-tiny-00000] [--num-envs 1 8 32] [--steps 6]
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym

import airtwin.envs  # noqa: F401  (registers the ids)
from airtwin.envs.vector import TwinVectorEnv
from airtwin.twin.pool import TwinPool


def steps_per_second(vec, steps: int) -> float:
    vec.reset(seed=0)
    vec.action_space.seed(0)
    vec.step(vec.action_space.sample())
    start = time.perf_counter()
    for _ in range(steps):
        vec.step(vec.action_space.sample())
    return steps * vec.num_envs / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--env-id", default="AirTwin/BeamSelection-v0")
    p.add_argument("--scenario", default="city-tiny-00000")
    p.add_argument("--num-envs", type=int, nargs="+", default=[1, 8, 32])
    p.add_argument("--steps", type=int, default=6, help="timed vector steps per measurement")
    args = p.parse_args()
    print(f"{args.env_id} on {args.scenario}")
    print(f"{'envs':>5} | {'TwinVectorEnv [steps/s]':>23} | {'SyncVectorEnv [steps/s]':>23} | {'ratio':>6}")
    for n in args.num_envs:
        batched = steps_per_second(TwinVectorEnv(args.env_id, n, scenario=args.scenario), args.steps)
        pool = TwinPool()  # one twin for all sub-environments, as TwinVectorEnv has
        sync = gym.vector.SyncVectorEnv([lambda: gym.make(args.env_id, scenario=args.scenario, twin_pool=pool)
                                         for _ in range(n)])
        one_by_one = steps_per_second(sync, max(2, args.steps // 2))
        print(f"{n:>5} | {batched:>23.1f} | {one_by_one:>23.1f} | {batched / one_by_one:>6.2f}")


if __name__ == "__main__":
    main()

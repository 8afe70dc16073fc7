"""Twin throughput on each Mitsuba variant this machine runs (CUDA GPU vs. LLVM CPU), side by side in one run.

The variant is fixed once per process, so each variant traces in a process of its own
(``AIRTWIN_MITSUBA_VARIANT``); variants alternate every round, on the same UE drops. Each process
times ``Twin.trace`` (paths, CSI, LoS, path loss, beams, precoders, map) per batch size after one
warm-up call; the median over rounds is reported as UE samples per second, with the GPU/CPU ratio.
A variant that cannot start here (no GPU, no libLLVM >= 16) is reported and skipped.

    python benchmarks/twin_devices.py [--scenario munich] [--batch-sizes 1 64 256] [--repeats 3] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

VARIANTS = ("llvm_ad_mono_polarized", "cuda_ad_mono_polarized")


def worker(scenario: str, batch_sizes: list[int], repeats: int, seed: int) -> None:
    """Trace in this process's variant; print one JSON line ``{"variant", "seconds": {batch: [per call]}}``."""
    import numpy as np

    from airtwin.scenes import get_scenario
    from airtwin.twin.twin import Twin

    twin = Twin(get_scenario(scenario))
    rng = np.random.default_rng(seed)
    seconds = {}
    for n in batch_sizes:
        drops = [twin.sample_ue_positions(n, rng) for _ in range(repeats + 1)]
        twin.trace(drops[0], seed=0)  # warm-up: JIT compilation for this batch size
        times = []
        for pos in drops[1:]:
            start = time.perf_counter()
            twin.trace(pos, seed=0)
            times.append(time.perf_counter() - start)
        seconds[n] = times
    print(json.dumps({"variant": twin.variant, "seconds": seconds}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scenario", default="munich")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 64, 256])
    p.add_argument("--repeats", type=int, default=3, help="timed calls per batch size, process and round")
    p.add_argument("--rounds", type=int, default=2, help="rounds; the variants alternate within each")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.scenario, args.batch_sizes, args.repeats, args.seed)
        return
    runs: dict[str, dict[int, list[float]]] = {}
    failed: dict[str, str] = {}
    for r in range(args.rounds):
        for variant in VARIANTS if r % 2 == 0 else VARIANTS[::-1]:
            if variant in failed:
                continue
            cmd = [sys.executable, __file__, "--worker", "--scenario", args.scenario, "--repeats", str(args.repeats),
                   "--seed", str(args.seed), "--batch-sizes", *map(str, args.batch_sizes)]
            proc = subprocess.run(cmd, capture_output=True, text=True,
                                  env={**os.environ, "AIRTWIN_MITSUBA_VARIANT": variant})
            line = next((ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith("{")), None)
            if proc.returncode != 0 or line is None:
                failed[variant] = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                continue
            for n, times in json.loads(line)["seconds"].items():
                runs.setdefault(variant, {}).setdefault(int(n), []).extend(times)
    for variant, why in failed.items():
        print(f"{variant}: not run here ({why})")
    print(f"scenario {args.scenario}; UE samples per second (median over {args.rounds} rounds x {args.repeats} calls)")
    print(f"{'UEs/call':>8} | " + " | ".join(f"{v:>24}" for v in runs) + (" | GPU/CPU" if len(runs) == 2 else ""))
    for n in args.batch_sizes:
        rate = {v: n / statistics.median(runs[v][n]) for v in runs}
        cells = " | ".join(f"{rate[v]:>24.1f}" for v in runs)
        ratio = f" | {rate[VARIANTS[1]] / rate[VARIANTS[0]]:>7.2f}" if len(runs) == 2 else ""
        print(f"{n:>8} | {cells}{ratio}")


if __name__ == "__main__":
    main()

"""Coverage of scenarios: the fraction of outdoor UE drops that the twin reaches with any path.

For every scenario of a suite (or the names given), ``--drops`` outdoor UEs are dropped with a
fixed seed and traced with the scenario's own tracing settings. Printed per area: coverage
(UEs with at least one path), LoS fraction, and the median path loss of covered UEs.

    python scripts/coverage.py --suite procedural-train [--drops 200] [--seed 0] [--json out.json]
    python scripts/coverage.py --scenarios city-00003 city-10000
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np


@dataclass
class Args:
    suite: str | None = None
    """Scenario suite to measure (``airtwin scenes list``)."""
    scenarios: tuple[str, ...] = ()
    """Scenario names, instead of or besides a suite."""
    drops: int = 200
    """Outdoor UE drops per scenario."""
    batch_size: int = 50
    """UEs per trace call."""
    seed: int = 0
    """Seed of the drops."""
    json: str | None = None
    """Also write the table as JSON to this file."""


def parse_args() -> Args:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--suite")
    p.add_argument("--scenarios", nargs="*", default=[])
    p.add_argument("--drops", type=int, default=Args.drops)
    p.add_argument("--batch-size", type=int, default=Args.batch_size)
    p.add_argument("--seed", type=int, default=Args.seed)
    p.add_argument("--json")
    a = p.parse_args()
    return Args(a.suite, tuple(a.scenarios), a.drops, a.batch_size, a.seed, a.json)


def main() -> None:
    args = parse_args()
    from airtwin.config import write_json
    from airtwin.scenes import get_scenario
    from airtwin.scenes.suites import load_suite
    from airtwin.twin import Twin
    from airtwin.twin.coverage import measure_coverage

    names = list(args.scenarios)
    if args.suite:
        names += list(load_suite(args.suite).scenarios)
    if not names:
        raise SystemExit("coverage.py: name a --suite or --scenarios")
    rows = []
    print(f"{'scenario':<16} {'coverage':>8} {'LoS':>6} {'median PL [dB]':>15} {'time [s]':>9}")
    for name in names:
        r = measure_coverage(Twin(get_scenario(name)), args.drops, np.random.default_rng(args.seed),
                             args.batch_size).to_dict()
        rows.append(r)
        print(f"{name:<16} {r['coverage']:>8.3f} {r['los']:>6.3f} {r['median_path_loss_db']:>15.1f} "
              f"{r['seconds']:>9.1f}", flush=True)
    cov = np.array([r["coverage"] for r in rows])
    print(f"{'all':<16} {cov.mean():>8.3f} (min {cov.min():.3f}, max {cov.max():.3f}) over {len(rows)} areas")
    if args.json:
        write_json(args.json, rows, indent=2)  # atomically: an interrupted run leaves the old file whole


if __name__ == "__main__":
    main()

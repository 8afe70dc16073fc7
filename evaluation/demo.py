"""``airtwin demo``: a short closed-loop run on the default scenario with the shipped checkpoint."""

from __future__ import annotations

import time
from pathlib import Path

from airtwin.evaluation.report import beam_table, comparison_table, positioning_table, precoding_table, write_report
from airtwin.evaluation.runner import DEFAULT_POLICIES
from airtwin.scenes.suites import load_suite

DEMO_POLICIES = DEFAULT_POLICIES


def run_demo(out: str | Path = "out/demo", log=print) -> dict:
    start = time.perf_counter()
    suite = load_suite("demo")
    metrics = write_report(suite, DEMO_POLICIES, out, log=log)
    print("\n".join(["", *beam_table(metrics), "", *precoding_table(metrics), "", *positioning_table(metrics), "",
                     *comparison_table(metrics), ""]))
    print(f"report: {Path(out) / 'report.md'} ({time.perf_counter() - start:.0f} s)")
    return metrics

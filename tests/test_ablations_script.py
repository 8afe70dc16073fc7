"""``scripts/ablations.sh`` with several copies on one work folder: every run is trained once, by one copy, each
seed is evaluated once, and the seeds are pooled once (stand-ins for the CLI and the interpreter record what they
were asked to do)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[1] / "scripts" / "ablations.sh"

STAND_IN = """#!/usr/bin/env bash
# airtwin and python stand-in: logs the command; train makes the run's final checkpoint after a pause,
# evaluate-model and the seeds script their JSON
echo "$*" >> "$LOG"
cmd=$1
while [ $# -gt 0 ]; do
    case $1 in --out) out=$2 ;; --json) json=$2 ;; esac
    shift
done
case $cmd in
    train) sleep 0.2; mkdir -p "$out/final" && echo {} > "$out/final/config.json" ;;
    evaluate-model) sleep 0.3; echo {} > "$json" ;;
    scripts/ablation_seeds.py) echo {} > "$out" ;;
esac
"""


def work_folder(tmp_path):
    """``(work folder with encoders, log file, environment)``: the stand-in serves as the CLI and the
    interpreter and logs each call to the log file."""
    work, log = tmp_path / "work", tmp_path / "log.txt"
    (work / "enc").mkdir(parents=True)
    (work / "enc" / "encoders.json").write_text("{}")
    stand_in = tmp_path / "airtwin"
    stand_in.write_text(STAND_IN)
    stand_in.chmod(0o755)
    return work, log, {**os.environ, "AIRTWIN": str(stand_in), "PYTHON": str(stand_in), "LOG": str(log)}


@pytest.mark.skipif(shutil.which("flock") is None, reason="needs flock (util-linux)")
def test_two_copies_share_the_runs_and_evaluate_once(tmp_path):
    work, log, env = work_folder(tmp_path)
    cmd = ["bash", str(SCRIPT), str(work), "5", "0 1", "5"]
    copies = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
              for _ in range(2)]
    outputs = [c.communicate(timeout=120)[0] for c in copies]
    assert all(c.returncode == 0 for c in copies), outputs
    lines = log.read_text().splitlines()
    trained = sorted(line.split("--out ")[1].split()[0] for line in lines if line.startswith("train "))
    want = sorted(str(work / f"run_{v}_s{s}") for s in (0, 1) for v in ("full", "fp", "sp", "te", "wl", "rl", "wm"))
    assert trained == want  # each run once, none twice
    assert sum("another copy's run" in o for o in outputs) >= 1  # the copies did share the work
    evaluated = sorted(line.split("--json ")[1] for line in lines if line.startswith("evaluate-model "))
    assert evaluated == [str(work / "table_s0.json"), str(work / "table_s1.json")]  # each seed once
    for line in lines:
        if line.startswith("evaluate-model "):
            seed = line.split("table_s")[1][0]
            assert line.count("/final") == 7 and line.count(f"_s{seed}/final") == 7
    pooled = [line for line in lines if line.startswith("scripts/ablation_seeds.py ")]
    assert len(pooled) == 1 and "table_s0.json" in pooled[0] and "table_s1.json" in pooled[0]
    assert (work / "seeds.json").exists()  # a later copy has nothing left to do
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "nothing to evaluate" in again.stdout
    assert len(log.read_text().splitlines()) == len(lines) + 2  # only its two generate calls


@pytest.mark.skipif(shutil.which("flock") is None, reason="needs flock (util-linux)")
def test_equal_timestamps_count_as_done_and_a_newer_input_as_not(tmp_path):
    """A table or pooled file written in the same clock tick as its inputs (coarse file-system timestamps) is up
    to date; one older than an input is redone."""
    work, log, env = work_folder(tmp_path)
    cmd = ["bash", str(SCRIPT), str(work), "5", "0", "5"]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stdout + first.stderr
    outputs = [work / "table_s0.json", work / "seeds.json"]
    inputs = [work / f"run_{v}_s0" / "final" / "config.json" for v in ("full", "fp", "sp", "te", "wl", "rl", "wm")]
    for p in inputs + outputs:
        os.utime(p, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))  # one tick for all
    n = len(log.read_text().splitlines())
    same = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert same.returncode == 0 and "nothing to evaluate" in same.stdout
    assert len(log.read_text().splitlines()) == n + 2  # its two generate calls, no evaluation, no pooling
    os.utime(inputs[3], ns=(1_700_000_001_000_000_000, 1_700_000_001_000_000_000))  # te's run retrained later
    redo = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert redo.returncode == 0, redo.stdout + redo.stderr
    new = log.read_text().splitlines()[n + 2:]
    assert [line.split()[0] for line in new] == ["generate", "generate", "evaluate-model", "scripts/ablation_seeds.py"]

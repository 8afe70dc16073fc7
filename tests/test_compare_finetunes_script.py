"""``scripts/compare_finetunes.py``: two site runs' fine-tunes paired by seed, with intervals over the test drops and
the seeds; runs of other test drops, or with fewer than two shared seeds, are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.test_benchmarks import _script


def _run(folder, medians_m, baseline_shift=0.0, n=200):
    """A run folder with one ``size-40-KEY.json`` per fine-tune seed: position errors exponential around each
    median, the same drops and baselines for every run (unless ``baseline_shift``)."""
    folder.mkdir()
    base = np.random.default_rng(0).exponential(1.0, n)
    for seed, median in enumerate(medians_m):
        entry = {"models": {"general checkpoint (zero-shot)": {"pos_median_m": list(base * 20)},
                            "fine-tuned with site memory on 40 site drops": {
                                "pos_median_m": list(base * median / np.median(base))}},
                 "baselines": {"k-NN fingerprint": {"pos_median_m": list(base * 3 + baseline_shift)}},
                 "seconds": 1.0, "settings": {"seed": 0, "finetune_seed": None if seed == 0 else seed}}
        (folder / f"size-40-{seed:012d}.json").write_text(json.dumps(entry))
    return folder


def test_two_runs_are_compared_seed_by_seed(tmp_path):
    compare = _script("compare_finetunes", "scripts").compare_runs
    old = _run(tmp_path / "old", (2.0, 2.2, 1.8))
    better = compare(_run(tmp_path / "new", (1.0, 1.1, 0.9)), old, num_resamples=200)
    cell = better["metrics"]["pos_median_m"]
    assert better["size"] == 40 and better["seeds"] == [0, 1, 2]
    assert cell["per_seed"] == pytest.approx([-1.0, -1.1, -0.9])  # each seed's median minus the old one's
    assert cell["difference"] == pytest.approx(np.mean(cell["per_seed"])) and cell["verdict"] == "better"
    spread = compare(_run(tmp_path / "spread", (1.0, 2.2, 3.4)), old, num_resamples=200)["metrics"]["pos_median_m"]
    assert spread["verdict"] == "not distinguishable"  # -1, 0, +1.6 m: the seeds disagree
    with pytest.raises(ValueError, match="share \\[0\\]; allowed: two or more"):
        compare(_run(tmp_path / "one", (1.0,)), old)
    with pytest.raises(ValueError, match="different baseline rows at 40 drops"):
        compare(_run(tmp_path / "elsewhere", (1.0, 1.1, 0.9), baseline_shift=1.0), old)
    with pytest.raises(ValueError, match="no fine-tunes of 80 drops; it has 40"):
        compare(tmp_path / "new", old, size=80)

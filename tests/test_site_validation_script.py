"""``scripts/site_validation.py``'s beam agreement: pairs of drops counted once per order, by distance bin, with
whether they share their best beam and what the other's beam costs."""

from __future__ import annotations

import numpy as np

from tests.test_benchmarks import _script


def test_beam_agreement_counts_the_pairs_of_each_distance_bin():
    agreement = _script("site_validation", "scripts").beam_agreement
    xy = np.array([[0.0, 0.0], [0.1, 0.0], [0.7, 0.0], [30.0, 0.0]])  # m; the last is beyond every bin
    best = np.array([0, 0, 1, 1])
    gains = np.array([[0.0, -3.0], [0.0, -1.0], [-2.0, 0.0], [-5.0, 0.0]])  # dB
    los = np.array([True, False, True, True])
    bins = {(lo, hi): pairs for lo, hi, pairs in agreement(xy, best, gains, los)}
    near = bins[0.0, 0.25]  # drops 0 and 1, both orders
    assert len(near) == 2 and near["same"].all() and np.allclose(near["loss"], 0.0)
    assert sorted(near["los"]) == [False, True]
    mid = bins[0.5, 1.0]  # 0-2 (0.7 m) and 1-2 (0.6 m), both orders: never the same beam
    assert len(mid) == 4 and not mid["same"].any()
    # Drop 0 under drop 2's beam loses 3 dB, drop 1 under it 1 dB, drop 2 under theirs 2 dB (twice).
    assert sorted(mid["loss"]) == [1.0, 2.0, 2.0, 3.0]
    assert sum(len(p) for p in bins.values()) == 6  # drop 3 is 29+ m from every other

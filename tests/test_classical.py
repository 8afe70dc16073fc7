"""Classical, training-free baselines against cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from airtwin.phy.classical import (
    KRIGING_CROSS_LOS,
    KRIGING_LENGTH_M,
    KRIGING_NUGGET,
    delay_profile,
    estimate_position,
    first_path_ratio,
    fit_path_loss_trend,
    fit_threshold,
    geometric_beam_scores,
    kriged_path_loss,
    map_line_of_sight,
    observed_line_of_sight,
    path_loss_trend_features,
    path_loss_umi,
)
from airtwin.phy.estimation import estimate_csi, to_complex


def _free_space_drops(twin, n, seed):
    """UEs in front of the array within 200 m (inside one delay period c / Δf = 240 m of this numerology)."""
    rng = np.random.default_rng(seed)
    r = rng.uniform(20.0, 200.0, n)
    az = rng.uniform(-1.2, 1.2, n)
    return np.stack([r * np.cos(az), r * np.sin(az), np.full(n, twin.spec.ue.height_m)], axis=1)


def test_geometric_beam_equals_the_oracle_for_los_ues_in_free_space(make_twin):
    twin = make_twin("free-space")
    site = twin.spec.bs[0]
    batch = twin.trace(_free_space_drops(twin, 48, seed=1))
    scores = geometric_beam_scores(batch.bs_position, batch.ue_positions, site.array, site.orientation_deg,
                                   twin.codebook.weights)
    assert batch.los.all()
    np.testing.assert_array_equal(scores.argmax(axis=1), batch.best_beam)


def test_model_based_position_is_within_a_metre_in_free_space_at_20_db(make_twin):
    twin = make_twin("free-space")
    site = twin.spec.bs[0]
    drops = _free_space_drops(twin, 32, seed=2)
    batch = twin.trace(drops)
    est, _ = estimate_csi(batch.csi, 20.0, np.random.default_rng(0))
    xy = estimate_position(to_complex(est), twin.frequencies_hz, site.array, site.orientation_deg,
                           batch.bs_position, twin.spec.ue.height_m)
    err = np.linalg.norm(xy - drops[:, :2], axis=1)
    assert err.max() < 1.0, err


def test_38901_umi_path_loss_matches_the_formula_at_two_distances():
    # fc = 3.5 GHz, h_BS = 10 m, h_UT = 1.5 m: d'_BP = 4 * 9 * 0.5 * 3.5e9 / c = 210.145 m.
    # d2D = 100 m (LoS, before the breakpoint): d3D = 100.361 m,
    #   PL1 = 32.4 + 21 log10(100.361) + 20 log10(3.5) = 32.4 + 42.033 + 10.881 = 85.314 dB.
    # d2D = 400 m (LoS, beyond): d3D = 400.090 m,
    #   PL2 = 32.4 + 40 log10(400.090) + 20 log10(3.5) - 9.5 log10(210.145^2 + 8.5^2) = 103.233 dB.
    # d2D = 100 m NLoS: max(85.314, 35.3 log10(100.361) + 22.4 + 21.3 log10(3.5)) = 104.644 dB.
    d2d = np.array([100.0, 400.0, 100.0])
    d3d = np.hypot(d2d, 8.5)
    pl = path_loss_umi(d3d, d2d, 10.0, 1.5, 3.5e9, np.array([True, True, False]))
    np.testing.assert_allclose(pl, [85.314, 103.233, 104.644], atol=2e-3)


def test_map_line_of_sight_sees_a_wall():
    from airtwin.phy.envmap import grid_points

    bs = np.array([0.0, 0.0, 25.0])
    points = grid_points(bs, 0.0, 64, 64.0)  # 1 m range cells, the BS facing east
    hmap = np.where((points[..., 0] > 16) & (points[..., 0] < 20), 30.0, 0.0)  # a 30 m wall at x = 16..20 m
    ue = np.array([[40.0, 0.0, 1.5], [-40.0, 0.0, 1.5], [10.0, 5.0, 1.5], [40.0, 20.0, 1.5]])
    assert map_line_of_sight(hmap, 64.0, bs, 0.0, ue).tolist() == [False, True, True, False]
    # One map per UE (each row's own observation): the same calls, and a map without the wall clears all.
    env = {"height_map": np.stack([hmap, hmap, np.zeros_like(hmap), hmap]), "map_range_m": np.full(4, 64.0),
           "bs_position": np.tile(bs, (4, 1)), "bs_orientation_deg": np.zeros((4, 3)), "ue_position": ue}
    assert observed_line_of_sight(env).tolist() == [False, True, True, False]
    env["height_map"][0] = 0.0
    assert observed_line_of_sight(env).tolist() == [True, True, True, False]


def test_path_loss_trend_and_kriging():
    """The trend fits a log-distance law per map LoS state exactly; kriging adds the residuals of drops by their
    correlation (a drop at the query with no nugget would be copied), a left-out drop weighs nothing, and far from
    every drop the estimate is the trend."""
    d = np.array([10.0, 100.0, 20.0, 200.0])
    los = np.array([True, True, False, False])
    pl = np.where(los, 40 + 20 * np.log10(d), 30 + 35 * np.log10(d))
    coef = fit_path_loss_trend(d, los, pl)
    np.testing.assert_allclose(path_loss_trend_features(d, los) @ coef, pl, atol=1e-9)
    np.testing.assert_allclose(coef, [30.0, 3.5, 10.0, -1.5], atol=1e-9)

    trend = np.array([100.0, 100.0, 100.0])
    xy = np.array([[[0.0, 0.0], [10.0, 0.0]]] * 3)
    residual = np.array([[6.0, -2.0]] * 3)
    dist = np.array([[0.0, 10.0], [1e6, 1e6], [0.0, np.inf]])  # at drop 0; far from both; drop 1 left out
    est, std = kriged_path_loss(trend, np.ones(3, bool), dist, xy, np.ones((3, 2), bool), residual)
    cov = np.exp(-np.array([[0.0, 10.0], [10.0, 0.0]]) / KRIGING_LENGTH_M) + KRIGING_NUGGET * np.eye(2)
    w = np.linalg.solve(cov, np.exp(-np.array([0.0, 10.0]) / KRIGING_LENGTH_M))
    np.testing.assert_allclose(est[0], 100.0 + w @ [6.0, -2.0])
    assert 100.0 < est[0] < 106.0 and std[0] < std[1]
    np.testing.assert_allclose([est[1], std[1]], [100.0, np.sqrt(1 + KRIGING_NUGGET)])
    np.testing.assert_allclose(est[2], 100.0 + 6.0 / (1 + KRIGING_NUGGET))
    # A drop across the map's LoS boundary correlates KRIGING_CROSS_LOS times less.
    across, _ = kriged_path_loss(trend[:1], np.zeros(1, bool), dist[:1, :1], xy[:1, :1], np.ones((1, 1), bool),
                                 residual[:1, :1])
    np.testing.assert_allclose(across, 100.0 + 6.0 * KRIGING_CROSS_LOS / (1 + KRIGING_NUGGET))


def test_first_path_ratio_separates_one_path_from_two():
    k = np.arange(64)
    one = np.exp(-2j * np.pi * k * 3 / 64)[None, None, :]
    two = one + 0.9 * np.exp(-2j * np.pi * k * 20 / 64)[None, None, :]
    ratio = first_path_ratio(np.concatenate([one, two]))
    assert ratio[0] == pytest.approx(1.0) and ratio[1] < 0.6
    assert fit_threshold(ratio, np.array([True, False])) < ratio[0]


def test_location_split_keeps_a_guard_between_train_and_test():
    from airtwin.datagen.site import location_split

    xy = np.random.default_rng(0).uniform(0, 200, (2000, 2))
    train, test = location_split(xy, np.random.default_rng(1), test_fraction=0.2, cell_m=20.0, guard_m=2.0)
    assert len(np.intersect1d(train, test)) == 0 and 0.1 * len(xy) < len(test) < 0.3 * len(xy)
    d = np.linalg.norm(xy[test][:, None] - xy[train][None], axis=-1)
    assert d.min() > 2.0
    with pytest.raises(ValueError, match="test_fraction"):
        location_split(xy, np.random.default_rng(1), test_fraction=1.0)


def test_bootstrap_intervals_and_paired_differences():
    from airtwin.phy.metrics import better, bootstrap_interval, paired_difference

    rng = np.random.default_rng(0)
    err = rng.exponential(10.0, 500)
    ci = bootstrap_interval({"pos_median_m": err}, np.random.default_rng(1), num_resamples=300)["pos_median_m"]
    assert ci[0] < np.median(err) < ci[1]
    worse = {"pos_median_m": err + 5.0}
    d = paired_difference(worse, {"pos_median_m": err}, np.random.default_rng(2), num_resamples=300)["pos_median_m"]
    assert d[0] == pytest.approx(5.0) and better("pos_median_m", d) == "worse"
    same = paired_difference({"beam_top1": (rng.random(200) < 0.5).astype(float)},
                             {"beam_top1": (rng.random(200) < 0.5).astype(float)}, np.random.default_rng(3),
                             num_resamples=300)["beam_top1"]
    assert better("beam_top1", same) == "not distinguishable"


def test_pooled_runs_hold_the_test_samples_and_the_spread_between_runs():
    from scipy import stats

    from airtwin.phy.metrics import better, paired_difference, pooled_difference

    rng = np.random.default_rng(0)
    err = rng.exponential(10.0, 400)
    base = {"pos_median_m": err}
    # Identical runs: no spread between them, so the interval is the paired bootstrap's, resample for resample.
    same = pooled_difference([{"pos_median_m": err + 1.0}] * 3, base, np.random.default_rng(5), num_resamples=300)
    one = paired_difference({"pos_median_m": err + 1.0}, base, np.random.default_rng(5), num_resamples=300)
    assert same["pos_median_m"] == pytest.approx(one["pos_median_m"])
    # Runs shifted by -2, 0, +2 m: the mean shift is 0, and each side adds the Student-t half-width in quadrature.
    runs = [{"pos_median_m": err + 1.0 + shift} for shift in (-2.0, 0.0, 2.0)]
    mean, low, high = pooled_difference(runs, base, np.random.default_rng(5), num_resamples=300)["pos_median_m"]
    spread = stats.t.ppf(0.975, 2) * 2.0 / np.sqrt(3)
    _, b_low, b_high = one["pos_median_m"]
    assert mean == pytest.approx(1.0)
    assert low == pytest.approx(1.0 - np.hypot(1.0 - b_low, spread))
    assert high == pytest.approx(1.0 + np.hypot(b_high - 1.0, spread))
    assert better("pos_median_m", one["pos_median_m"]) == "worse"  # one run alone: worse by 1 m
    assert better("pos_median_m", (mean, low, high)) == "not distinguishable"  # runs 2 m apart: not known
    # Without a reference: the runs' mean metric and its interval.
    value, low, high = pooled_difference(runs, None, np.random.default_rng(5), num_resamples=300)["pos_median_m"]
    assert value == pytest.approx(np.median(err) + 1.0) and low < value - spread < value + spread < high
    # Against another procedure's runs, paired run by run: the mean of the per-run differences.
    others = [{"pos_median_m": err + 1.0 + shift} for shift in (-1.0, 0.0, 1.0)]
    mean, low, high = pooled_difference(runs, others, np.random.default_rng(5), num_resamples=300)["pos_median_m"]
    spread = stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)  # differences -1, 0, +1 m, identical on every resample
    assert (mean, low, high) == (pytest.approx(0.0), pytest.approx(-spread), pytest.approx(spread))
    with pytest.raises(ValueError, match="3 runs against 2; allowed: one reference per run"):
        pooled_difference(runs, others[:2], rng)
    with pytest.raises(ValueError, match="1 run\\(s\\); allowed: 2 or more"):
        pooled_difference(runs[:1], base, rng)
    with pytest.raises(ValueError, match="lengths \\[399, 400\\]"):
        pooled_difference([runs[0], {"pos_median_m": err[1:]}], None, rng)


def test_smoothed_eigen_precoders_span_subband_and_wideband():
    from airtwin.phy.beams import eigen_precoders, sgcs

    g = np.random.default_rng(3)
    h = g.standard_normal((5, 8, 32)) + 1j * g.standard_normal((5, 8, 32))
    np.testing.assert_array_equal(eigen_precoders(h, 4, 0.0), eigen_precoders(h, 4))
    wide = eigen_precoders(h, 1)
    full = eigen_precoders(h, 4, 1.0)  # only the full band: every subband gets the wideband precoder
    np.testing.assert_allclose(sgcs(full, np.repeat(wide, 4, axis=1)), 1.0, atol=1e-5)
    half = eigen_precoders(h, 4, 0.5)
    assert (sgcs(half, eigen_precoders(h, 4)) < 1 - 1e-4).any() and (sgcs(half, full) < 1 - 1e-4).any()


def test_full_band_weight_is_fitted_to_the_target():
    from airtwin.phy.beams import SMOOTHING_WEIGHTS, eigen_precoders, fit_full_band_weight

    g = np.random.default_rng(4)
    h = g.standard_normal((40, 8, 32)) + 1j * g.standard_normal((40, 8, 32))
    for weight in SMOOTHING_WEIGHTS:  # the weight that made the target is the one found
        assert fit_full_band_weight(h, eigen_precoders(h, 4, weight)) == weight
    with pytest.raises(ValueError, match="csi has 40 samples and target 3"):
        fit_full_band_weight(h, eigen_precoders(h[:3], 4))


def test_the_delay_profile_is_the_matched_filter_on_any_grid():
    """Evenly spaced delays over one period take the inverse-FFT path, other grids the direct sums: both are
    ``sum_a |sum_k h exp(j 2π f_k τ)|^2``, one UE at a time or in a batch."""
    g = np.random.default_rng(3)
    csi = (g.standard_normal((6, 16, 32)) + 1j * g.standard_normal((6, 16, 32))).astype(np.complex64)
    offsets = (np.arange(32) - 16) * 625e3

    def matched_filter(h, delays):
        steer = np.exp(2j * np.pi * np.outer(offsets, delays))
        return np.sum(np.abs(np.einsum("nak,kt->nat", h.astype(np.complex128), steer)) ** 2, axis=1)

    even = np.arange(512) / (512 * 625e3)
    uneven = np.sort(g.random(300)) / 625e3
    for delays in (even, uneven):
        want = matched_filter(csi, delays)
        np.testing.assert_allclose(delay_profile(csi, offsets, delays), want, rtol=1e-4, atol=1e-5 * want.max())
        alone = np.concatenate([delay_profile(csi[i:i + 1], offsets, delays) for i in range(6)])
        np.testing.assert_allclose(alone, want, rtol=1e-4, atol=1e-5 * want.max())

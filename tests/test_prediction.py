"""The two-pilot channel predictor (:mod:`airtwin.phy.prediction`) on channels built path by path."""

import numpy as np
import pytest

from airtwin.phy.beams import eigen_precoders, element_positions
from airtwin.phy.metrics import precoding_samples
from airtwin.phy.ofdm import frequency_response, subcarrier_offsets_hz
from airtwin.phy.prediction import (SWITCH_FEATURES, array_grid, fit_switch_threshold, predict_channel,
                                    predicted_estimate, switch_inputs, switched_precoders)
from airtwin.phy.estimation import estimate_csi
from airtwin.scenes.spec import ArraySpec

ARRAY = ArraySpec(num_rows=2, num_cols=8)
K, SPACING_HZ, CARRIER_HZ = 32, 20e6 / 32, 3.5e9


def paths_channel(rows: np.ndarray, cols: np.ndarray, delays_s: np.ndarray, doppler_hz: np.ndarray,
                  gains: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    """``[N=1, T, A, K]``: plane waves whose element phases are DFT bins ``(rows, cols)`` of the 2x8 array."""
    pos = element_positions(ARRAY)  # [A, 3] wavelengths, columns along y, rows along z
    row_i, col_i, nr, nc = array_grid(pos)
    a = np.stack([g * np.exp(2j * np.pi * (r * row_i / nr + c * col_i / nc))
                  for r, c, g in zip(rows, cols, gains)], axis=-1)  # [A, P]
    return frequency_response(a[None], delays_s[None], CARRIER_HZ, subcarrier_offsets_hz(K, SPACING_HZ),
                              doppler_hz[None], times_s)


def test_array_grid_reads_the_element_layout():
    row, col, nr, nc = array_grid(element_positions(ARRAY))
    assert (nr, nc) == (2, 8)
    np.testing.assert_array_equal(col * 2 + row, np.arange(16))  # index = col * num_rows + row
    with pytest.raises(ValueError, match="do not fill"):
        array_grid(element_positions(ARRAY)[:-1])


def test_separable_paths_are_predicted_exactly_and_one_pilot_cannot():
    # Three paths in different angle-delay bins turn at different Doppler shifts; two pilots 1 ms apart.
    delays = np.array([200e-9, 200e-9 + 3 / (K * SPACING_HZ), 200e-9 + 9 / (K * SPACING_HZ)])
    h = paths_channel(np.array([0, 1, 0]), np.array([1, 4, 6]), delays, np.array([-180.0, 90.0, 240.0]),
                      np.array([1.0, 0.8, 0.6]), np.array([-1e-3, 0.0, 5e-3]))[0]
    prev, latest, later = h[0], h[1], h[2]
    # On the grid without oversampling, each path is one bin of its own.
    pred = predict_channel(prev[None], latest[None], element_positions(ARRAY), 1e-3, 5e-3, oversampling=1)[0]
    np.testing.assert_allclose(pred, later, atol=1e-4 * np.abs(later).max())
    # Oversampled bins between two paths mix them, so the default grid is close, not exact.
    pred = predict_channel(prev[None], latest[None], element_positions(ARRAY), 1e-3, 5e-3)[0]
    target = eigen_precoders(later[None], 4)
    assert precoding_samples(eigen_precoders(pred[None], 4), target)["sgcs"].min() > 0.99
    assert precoding_samples(eigen_precoders(latest[None], 4), target)["sgcs"].mean() < 0.99  # aging is real
    # Nothing ahead: the latest estimate itself; a scale on either pilot changes nothing.
    np.testing.assert_allclose(predict_channel(prev[None], latest[None], element_positions(ARRAY), 1e-3, 0.0)[0],
                               latest, atol=1e-5)
    np.testing.assert_allclose(predict_channel(3 * prev[None], latest[None], element_positions(ARRAY), 1e-3, 5e-3)[0],
                               pred, atol=1e-5)


def test_a_single_path_off_the_grid_is_predicted_exactly():
    # One path turns every bin alike, wherever its energy leaks.
    h = paths_channel(np.array([0.3]), np.array([2.7]), np.array([333e-9]), np.array([275.0]), np.array([1.0]),
                      np.array([-1e-3, 0.0, 5e-3]))[0]
    pred = predict_channel(h[0][None], h[1][None], element_positions(ARRAY), 1e-3, 5e-3)[0]
    np.testing.assert_allclose(pred, h[2], atol=1e-4)


def test_noisy_pilots_still_beat_the_latest_estimate_and_bad_input_is_named():
    rng = np.random.default_rng(0)
    n = 64
    out_pred, out_last = [], []
    for _ in range(n):
        rows, cols = rng.integers(0, 2, 3), rng.integers(0, 8, 3)
        delays = 100e-9 + rng.integers(0, 12, 3) / (K * SPACING_HZ)
        h = paths_channel(rows, cols, delays, rng.uniform(-300, 300, 3), rng.uniform(0.3, 1.0, 3),
                          np.array([-1e-3, 0.0, 5e-3]))[0]
        est = [estimate_csi(h[i][None], 20.0, rng)[0] for i in range(2)]
        obs = {"csi_prev": est[0], "csi": est[1], "pilot_timing_s": np.array([[1e-3, 5e-3]], np.float32),
               "antenna_positions": element_positions(ARRAY)[None].astype(np.float32)}
        target = eigen_precoders(h[2][None], 4)
        out_pred.append(precoding_samples(eigen_precoders(predicted_estimate(obs), 4), target)["sgcs"].mean())
        out_last.append(precoding_samples(eigen_precoders(est[1][:, 0] + 1j * est[1][:, 1], 4), target)["sgcs"].mean())
    assert np.mean(out_pred) > np.mean(out_last) + 0.05
    with pytest.raises(ValueError, match="pilot_gap_s"):
        predict_channel(np.ones((1, 16, K)), np.ones((1, 16, K)), element_positions(ARRAY), 0.0, 5e-3)
    with pytest.raises(ValueError, match="previous pilot"):
        predicted_estimate({"csi": est[1]})


def test_the_switched_predictor_keeps_still_channels_and_predicts_moving_ones():
    # Still UEs (no Doppler): the prediction only extrapolates noise, so the switch keeps the latest estimate;
    # fast ones (a few hundred Hz): it predicts. The threshold fitted on them separates the two.
    rng = np.random.default_rng(3)
    obs, targets, moving = {"csi": [], "csi_prev": []}, [], []
    for i in range(48):
        rows, cols = rng.integers(0, 2, 3), rng.integers(0, 8, 3)
        delays = 100e-9 + rng.integers(0, 12, 3) / (K * SPACING_HZ)
        doppler = rng.uniform(150, 300, 3) * rng.choice([-1, 1], 3) if i % 2 else np.zeros(3)
        h = paths_channel(rows, cols, delays, doppler, rng.uniform(0.3, 1.0, 3), np.array([-1e-3, 0.0, 5e-3]))[0]
        obs["csi_prev"].append(estimate_csi(h[0][None], 20.0, rng)[0][0])
        obs["csi"].append(estimate_csi(h[1][None], 20.0, rng)[0][0])
        targets.append(eigen_precoders(h[2][None], 4)[0])
        moving.append(bool(i % 2))
    obs = {k: np.stack(v) for k, v in obs.items()}
    obs |= {"pilot_timing_s": np.tile([1e-3, 5e-3], (48, 1)).astype(np.float32),
            "antenna_positions": np.tile(element_positions(ARRAY), (48, 1, 1)).astype(np.float32)}
    candidates, features = switch_inputs(obs, 4)
    assert candidates.shape == (48, 2, 4, 16) and features.shape == (48, len(SWITCH_FEATURES))
    assert np.isfinite(features).all()
    moving = np.array(moving)
    assert features[moving, 0].mean() > features[~moving, 0].mean() + 1.0  # the prediction moves fast UEs' precoders
    target = np.stack(targets)
    threshold = fit_switch_threshold(candidates, features, target)
    switched = precoding_samples(switched_precoders(candidates, features, threshold), target)["sgcs"]
    latest = precoding_samples(candidates[:, 0], target)["sgcs"]
    predicted = precoding_samples(candidates[:, 1], target)["sgcs"]
    assert switched.mean() >= max(latest.mean(), predicted.mean())
    assert switched[~moving].mean() > predicted[~moving].mean() and switched[moving].mean() > latest[moving].mean()
    with pytest.raises(ValueError, match="fit_switch_threshold"):
        fit_switch_threshold(candidates, features, target[:3])
    with pytest.raises(ValueError, match="mixes arrays"):
        switch_inputs({**obs, "antenna_positions": obs["antenna_positions"] * np.arange(1, 49)[:, None, None]}, 4)

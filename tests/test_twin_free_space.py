"""Closed-form checks of the twin in an empty world (no ground, LoS only)."""

import dataclasses

import numpy as np
import pytest

from airtwin.scenes import ArraySpec, CodebookConfig, TracingConfig, get_scenario
from airtwin.twin.channel import NO_PATH_LOSS_DB

C = 299_792_458.0


def friis_db(distance_m, frequency_hz):
    return 20 * np.log10(C / frequency_hz / (4 * np.pi * distance_m))


@pytest.fixture(scope="module")
def upa_twin():
    from airtwin.twin.twin import Twin

    spec = get_scenario("free-space")
    bs = dataclasses.replace(spec.bs[0], array=ArraySpec(num_rows=4, num_cols=8, pattern="iso"))
    spec = dataclasses.replace(spec, bs=(bs,), codebook=CodebookConfig(oversampling_h=4, oversampling_v=2))
    return Twin(spec)


def test_free_space_path_gain_matches_friis(make_twin):
    twin = make_twin("free-space")
    bs = twin.bs_position
    distances = np.array([50.0, 400.0])
    ue = np.stack([bs[0] + distances, np.full(2, bs[1]), np.full(2, bs[2])], axis=-1)
    batch = twin.trace(ue)
    assert batch.los.all() and batch.has_paths.all()
    expected = friis_db(distances, twin.spec.radio.carrier_frequency_hz)
    assert np.abs(batch.path_gain_db - expected).max() < 0.5
    np.testing.assert_allclose(batch.path_loss_db, -batch.path_gain_db)
    # The CSI carries the same power on every antenna and subcarrier in free space.
    power_db = 10 * np.log10(np.mean(np.abs(batch.csi) ** 2, axis=(1, 2)))
    assert np.abs(power_db - expected).max() < 0.5
    # Delay of the LoS path is d / c.
    np.testing.assert_allclose(batch.path_delay_s[:, 0], distances / C, rtol=1e-5)
    assert batch.path_valid[:, 0].all() and not batch.path_valid[:, 1:].any()
    # SNR = P_tx + PG - noise.
    radio = twin.spec.radio
    np.testing.assert_allclose(batch.snr_db, radio.tx_power_dbm + batch.path_gain_db - radio.noise_power_dbm, atol=1e-3)


@pytest.mark.parametrize("azimuth_deg", [-50.0, -12.0, 0.0, 20.0, 41.0])
def test_best_dft_beam_points_at_the_ue(upa_twin, azimuth_deg):
    bs = upa_twin.bs_position
    az = np.radians(azimuth_deg)
    d_h, dz = 150.0, -30.0  # UE below the BS: the vertical beam index matters too
    ue = np.array([[bs[0] + d_h * np.cos(az), bs[1] + d_h * np.sin(az), bs[2] + dz]])
    batch = upa_twin.trace(ue)
    direction = (ue[0] - bs) / np.linalg.norm(ue[0] - bs)
    u_h, u_v = direction[1], direction[2]  # sin(theta) sin(phi), cos(theta) in the array frame
    cb = upa_twin.codebook
    step_h = 1.0 / (8 * 4 * 0.5)
    step_v = 1.0 / (4 * 2 * 0.5)
    best = int(batch.best_beam[0])
    assert abs(cb.u_h[best] - u_h) <= step_h / 2 + 1e-9
    assert abs(cb.u_v[best] - u_v) <= step_v / 2 + 1e-9
    assert abs(cb.azimuth_deg()[best] - np.degrees(np.arcsin(u_h))) <= np.degrees(np.arcsin(step_h)) + 1e-9
    # The best beam gets (nearly) the full array gain; the eigen-precoder gets exactly all of it.
    array_gain_db = 10 * np.log10(32)
    assert batch.beam_gain_db[0, best] <= batch.path_gain_db[0] + array_gain_db + 1e-3
    assert batch.beam_gain_db[0, best] > batch.path_gain_db[0] + array_gain_db - 4.0
    w = batch.precoders[0, 0]
    gain = np.mean(np.abs(np.einsum("ak,a->k", batch.csi[0], w)) ** 2)
    assert 10 * np.log10(gain) == pytest.approx(batch.path_gain_db[0] + array_gain_db, abs=0.05)


def test_no_path_ue_gets_zero_channel_and_no_nan():
    from airtwin.twin.twin import Twin

    spec = get_scenario("free-space")
    spec = dataclasses.replace(spec, tracing=dataclasses.replace(spec.tracing, los=False))
    batch = Twin(spec).trace(np.array([[100.0, 0.0, 1.5], [50.0, 20.0, 1.5]]))
    assert not batch.has_paths.any() and not batch.los.any()
    assert (batch.csi == 0).all() and (batch.precoders == 0).all()
    assert (batch.path_loss_db == NO_PATH_LOSS_DB).all()
    assert not batch.path_valid.any()
    for name, value in batch.arrays().items():
        if value.dtype.kind in "fc":
            assert np.isfinite(value).all(), name


def test_same_inputs_and_seed_give_identical_outputs(make_twin):
    twin = make_twin("canyon-test")
    rng = np.random.default_rng(3)
    ue = twin.sample_ue_positions(12, rng)
    a, b = twin.trace(ue, seed=5), twin.trace(ue, seed=5)
    for name, value in a.arrays().items():
        np.testing.assert_array_equal(value, getattr(b, name), err_msg=name)


def test_doppler_evolution_matches_radial_velocity(make_twin):
    twin = make_twin("free-space")
    bs = twin.bs_position
    ue = np.array([[bs[0] + 100.0, bs[1], bs[2]]])
    speed = 20.0
    dt = 1e-3
    batch = twin.trace(ue, np.array([[speed, 0.0, 0.0]]), num_time_steps=4, time_step_s=dt)
    wavelength = C / twin.spec.radio.carrier_frequency_hz
    # Moving straight away from the BS: f_D = -v / lambda.
    assert batch.path_doppler_hz[0, 0] == pytest.approx(-speed / wavelength, rel=1e-4)
    evo = batch.csi_evolution
    assert evo.shape == (1, 4, batch.num_bs_ant, batch.num_subcarriers)
    np.testing.assert_allclose(evo[:, 0], batch.csi, rtol=1e-5, atol=1e-12)
    rotation = evo[0, 1] / batch.csi[0]
    np.testing.assert_allclose(np.angle(rotation), 2 * np.pi * (-speed / wavelength) * dt, atol=1e-4)
    # The previous pilot, 2 ms before the trace: the same path turned back.
    prev = twin.trace(ue, np.array([[speed, 0.0, 0.0]]), pilot_gap_s=2e-3)
    assert prev.pilot_gap_s == 2e-3 and prev.csi_evolution is None
    turn = np.exp(2j * np.pi * (speed / wavelength) * 2e-3)
    np.testing.assert_allclose(prev.csi_prev[0] / prev.csi[0], turn, atol=1e-4)
    assert twin.trace(ue).csi_prev is None
    with pytest.raises(ValueError, match="pilot_gap_s"):
        twin.trace(ue, pilot_gap_s=-1.0)


def test_bad_positions_are_rejected(make_twin):
    twin = make_twin("free-space")
    with pytest.raises(ValueError, match="positions must have shape"):
        twin.trace(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="finite"):
        twin.trace(np.array([[np.nan, 0.0, 1.0]]))
    with pytest.raises(ValueError, match="velocities"):
        twin.trace(np.ones((2, 3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="serving_bs"):
        twin.serving_bs = "nope"


def test_free_space_radio_map_follows_friis(make_twin):
    twin = make_twin("free-space")
    rm = twin.radio_map(cell_size_m=20.0, samples_per_tx=2_000_000)
    gx, gy = np.meshgrid(rm.x_m, rm.y_m)
    d = np.sqrt((gx - twin.bs_position[0]) ** 2 + (gy - twin.bs_position[1]) ** 2
                + (rm.height_m - twin.bs_position[2]) ** 2)
    far = (d > 100) & (d < 400)
    err = rm.path_gain_db[far] - friis_db(d[far], twin.spec.radio.carrier_frequency_hz)
    assert np.median(np.abs(err)) < 1.0


def test_tracing_config_is_validated():
    with pytest.raises(ValueError, match="TracingConfig.samples_per_src"):
        TracingConfig(samples_per_src=0)


def test_twin_reports_its_mitsuba_variant_and_it_can_be_forced(tmp_path):
    import os
    import subprocess
    import sys

    code = ("from airtwin.scenes import get_scenario; from airtwin.twin import Twin; "
            "print(Twin(get_scenario('free-space')).variant)")
    env = {**os.environ, "AIRTWIN_MITSUBA_VARIANT": "llvm_ad_mono_polarized"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("llvm_ad_mono_polarized")
    env["AIRTWIN_MITSUBA_VARIANT"] = "warp_drive"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode != 0 and "AIRTWIN_MITSUBA_VARIANT='warp_drive'; allowed:" in proc.stderr

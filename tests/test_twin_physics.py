"""Closed-form checks of the twin's physics: wedge diffraction, two-ray ground reflection, DFT beams.

The scenes are written with :mod:`scenes.meshes` (the same writer the procedural cities use)
and loaded as XML scenario specs.
"""

import dataclasses

import numpy as np
import pytest
from shapely.geometry import box

from airtwin.scenes import ArraySpec, BSSite, CodebookConfig, RadioConfig, ScenarioSpec, SceneSource, TracingConfig, UERegion
from airtwin.scenes.meshes import write_buildings

C = 299_792_458.0
EPS0 = 8.8541878128e-12


def xml_scenario(folder, buildings, ground_bounds, ground_material, bs_position, *, tracing: TracingConfig,
                 carrier_hz=3.5e9, array=ArraySpec(num_rows=1, num_cols=1, pattern="iso")) -> ScenarioSpec:
    polygons = [box(*fp) for fp, _, _ in buildings]
    xml = write_buildings(folder, polygons, [h for _, h, _ in buildings], [m for _, _, m in buildings],
                          ground_bounds, ground_material)
    return ScenarioSpec(
        name="physics-test", scene=SceneSource(kind="xml", path=str(xml)),
        bs=(BSSite(name="bs0", position=bs_position, array=array),),
        radio=RadioConfig(carrier_frequency_hz=carrier_hz, num_subcarriers=16, bandwidth_hz=1e6),
        ue=UERegion(x_range_m=(-500.0, 500.0), y_range_m=(-500.0, 500.0)),
        tracing=tracing)


def test_ue_in_the_shadow_of_one_building_is_reached_by_wedge_diffraction(tmp_path):
    """Empty world, one welded building: behind it, the only path is diffraction over the back roof edge."""
    from airtwin.twin.backend import sionna_rt
    from airtwin.twin.twin import Twin

    rt, _ = sionna_rt()
    building = ((-5.0, -30.0, 5.0, 30.0), 10.0, "concrete")
    tracing = TracingConfig(max_depth=2, samples_per_src=100_000, diffraction=True)
    spec = xml_scenario(tmp_path, [building], None, "concrete", (-30.0, 0.0, 25.0), tracing=tracing)
    twin = Twin(spec)
    ue = np.array([[8.0, 0.0, 1.5]])
    # Geometric shadow: the straight line from the BS passes below the front roof edge (z = 9.5 m at x = -5).
    assert (25.0 - (25.0 - 1.5) * 25.0 / 38.0) < 10.0
    batch = twin.trace(ue)
    assert batch.has_paths[0] and not batch.los[0]
    paths = twin.trace_paths(ue)
    inter = np.asarray(paths.interactions).reshape(tracing.max_depth, -1)    # [depth, paths]
    a_re, a_im = paths.a
    power = (np.asarray(a_re) ** 2 + np.asarray(a_im) ** 2).reshape(-1)
    valid = np.asarray(paths.valid, dtype=bool).reshape(-1) & np.isfinite(power) & (power > 0)
    diffracted = valid & (inter == rt.InteractionType.DIFFRACTION).any(axis=0)
    assert diffracted.any()
    # The diffracted field is weaker than free space at the same distance but not vanishing (tens of dB).
    d = np.linalg.norm(ue[0] - twin.bs_position)
    fspl_db = 20 * np.log10(C / spec.radio.carrier_frequency_hz / (4 * np.pi * d))
    assert fspl_db - 40.0 < batch.path_gain_db[0] < fspl_db


def fresnel_tm(eps_r: float, sigma: float, f_hz: float, grazing_rad: float) -> complex:
    """Reflection coefficient of a half-space for the field in the plane of incidence (vertical polarisation)."""
    eta = eps_r - 1j * sigma / (2 * np.pi * f_hz * EPS0)
    s, c = np.sin(grazing_rad), np.cos(grazing_rad)
    root = np.sqrt(eta - c ** 2)
    return (eta * s - root) / (eta * s + root)


@pytest.fixture(scope="module")
def ground_twin(tmp_path_factory):
    from airtwin.twin.twin import Twin

    tracing = TracingConfig(max_depth=1, samples_per_src=200_000, diffraction=False, refraction=False)
    spec = xml_scenario(tmp_path_factory.mktemp("ground"), [], (-1000.0, -1000.0, 1000.0, 1000.0),
                        "medium_dry_ground", (0.0, 0.0, 10.0), tracing=tracing)
    return Twin(spec)


@pytest.mark.parametrize("distance_m", [30.0, 60.0, 90.0, 120.0, 250.0])
def test_two_ray_ground_reflection_matches_fresnel(ground_twin, distance_m):
    from airtwin.twin.backend import sionna_rt

    sionna_rt()
    from sionna.rt.radio_materials.itu import itu_material

    f = ground_twin.spec.radio.carrier_frequency_hz
    eps_r, sigma = (float(np.asarray(v).reshape(-1)[0]) for v in itu_material("medium_dry_ground", f))
    h_t, h_r = ground_twin.bs_position[2], 1.5
    ue = np.array([[distance_m, 0.0, h_r]])
    batch = ground_twin.trace(ue)
    assert batch.los[0]
    d1 = np.hypot(distance_m, h_t - h_r)
    d2 = np.hypot(distance_m, h_t + h_r)
    k = 2 * np.pi * f / C
    gamma = fresnel_tm(eps_r, sigma, f, np.arctan2(h_t + h_r, distance_m))
    # Two paths: LoS and the ground bounce, with the reflected amplitude |Gamma| d1 / d2 of the LoS one.
    p = batch.path_power_db[0][batch.path_valid[0]]
    assert p.size == 2
    assert p.min() - p.max() == pytest.approx(20 * np.log10(abs(gamma) * d1 / d2), abs=1.0)
    # Coherent sum at the carrier against the closed form (array and antennas are isotropic here).
    # Vertical polarisation: E = E_los + Gamma_TM E_ref (Gamma_TM -> -1 at grazing, where the two cancel).
    lam = C / f
    h = lam / (4 * np.pi) * (np.exp(-1j * k * d1) / d1 + gamma * np.exp(-1j * k * d2) / d2)
    centre = batch.num_subcarriers // 2  # baseband offset 0
    twin_db = 20 * np.log10(abs(batch.csi[0, 0, centre]))
    assert twin_db == pytest.approx(20 * np.log10(abs(h)), abs=1.0)


@pytest.mark.parametrize("elevation_deg", [-45.0, -20.0, -5.0, 10.0])
def test_best_dft_beam_matches_the_ue_elevation(tmp_path, elevation_deg):
    """8x4 UPA (8 rows): the vertical DFT index is the one nearest cos(theta) of the UE direction."""
    from airtwin.twin.twin import Twin

    spec = xml_scenario(tmp_path, [], None, "concrete", (0.0, 0.0, 30.0), tracing=TracingConfig(max_depth=0),
                        array=ArraySpec(num_rows=8, num_cols=4, pattern="iso"))
    spec = dataclasses.replace(spec, codebook=CodebookConfig(oversampling_v=2))
    twin = Twin(spec)
    el = np.radians(elevation_deg)
    ue = np.array([[100.0 * np.cos(el), 0.0, 30.0 + 100.0 * np.sin(el)]])
    batch = twin.trace(ue)
    best = int(batch.best_beam[0])
    step_v = 1.0 / (8 * 2 * 0.5)  # spacing of the vertical DFT grid in u_v = cos(theta)
    assert abs(twin.codebook.u_v[best] - np.sin(el)) <= step_v / 2 + 1e-9
    assert abs(twin.codebook.u_h[best]) <= 1.0 / (4 * 0.5) / 2 + 1e-9


def test_csi_equals_sionna_cfr_in_multipath(make_twin):
    """The twin's CSI is Sionna's own frequency response (carrier phase included) for every UE."""
    twin = make_twin("canyon-test")
    ue = twin.sample_ue_positions(6, np.random.default_rng(1))
    batch = twin.trace(ue)
    paths = twin.trace_paths(ue)
    h = paths.cfr(frequencies=twin.frequencies_hz, normalize_delays=False, out_type="numpy")
    ref = h[:, 0, 0, :, 0, :]  # [num_rx, num_tx_ant, num_subcarriers]
    assert (batch.path_valid.sum(axis=1) > 1).any()  # multipath, so the relative phases matter
    # Sionna evaluates the phase 2π f τ (thousands of radians) in float32, the twin in float64: they agree to
    # about 1e-3 of each UE's channel; without the carrier phase the error would be of order one.
    rel = np.abs(batch.csi - ref).max(axis=(1, 2)) / np.abs(ref).max(axis=(1, 2))
    assert rel.max() < 5e-3

"""Several BS sites traced in one PathSolver call: a BS axis, per-site results, multi-site scenarios."""

import dataclasses

import numpy as np
import pytest

from airtwin.scenes import ArraySpec, get_scenario
from airtwin.scenes.procedural import generate_city
from airtwin.scenes.registry import ROOFTOP_MAST_M, STREET_MAST_M, area_split, list_scenarios
from airtwin.scenes.spec import BSSite

C = 299_792_458.0


def three_site_canyon():
    spec = get_scenario("canyon-test")
    arr = spec.bs[0].array
    return dataclasses.replace(spec, name="canyon-3", bs=(
        spec.bs[0],
        BSSite(name="bs1", position=(0.0, 0.0, 12.0), orientation_deg=(180.0, 0.0, 0.0), array=arr),
        BSSite(name="bs2", position=(50.0, 0.0, 12.0), array=arr)))


@pytest.fixture(scope="module")
def canyon3():
    from airtwin.twin.twin import Twin

    return Twin(three_site_canyon())


def test_free_space_sites_each_follow_friis():
    """Two sites, one call: each site's path gain is Friis at its own distance, and the BS axis is axis 1."""
    from airtwin.twin.twin import Twin

    spec = get_scenario("free-space")
    sites = (spec.bs[0], dataclasses.replace(spec.bs[0], name="bs1", position=(300.0, 200.0, 10.0),
                                             orientation_deg=(180.0, 0.0, 0.0)))
    twin = Twin(dataclasses.replace(spec, bs=sites))
    ue = np.array([[100.0, 0.0, 10.0], [250.0, 150.0, 10.0], [150.0, 100.0, 1.5]])
    sb = twin.trace_sites(ue, num_time_steps=2, time_step_s=1e-3)
    a = twin.spec.bs[0].array.num_antennas
    assert sb.num_bs == 2 and sb.bs_names == ("bs0", "bs1")
    assert sb.csi.shape == (3, 2, a, twin.spec.radio.num_subcarriers)
    assert sb.csi_evolution.shape == (3, 2, 2, a, twin.spec.radio.num_subcarriers)
    assert sb.los.shape == sb.path_loss_db.shape == sb.best_beam.shape == (3, 2)
    assert sb.beam_gain_db.shape == (3, 2, twin.codebook.num_beams)
    assert sb.precoders.shape == (3, 2, twin.spec.codebook.num_subbands, a)
    d = np.linalg.norm(ue[:, None, :] - sb.bs_positions[None], axis=-1)
    friis = 20 * np.log10(C / twin.spec.radio.carrier_frequency_hz / (4 * np.pi * d))
    assert sb.los.all()
    np.testing.assert_allclose(sb.path_gain_db, friis, atol=0.5)
    np.testing.assert_allclose(sb.site(1).bs_position, (300.0, 200.0, 10.0))
    swapped = twin.trace_sites(ue, sites=("bs1", "bs0"))  # the BS axis follows the order asked for
    assert swapped.bs_names == ("bs1", "bs0")
    np.testing.assert_allclose(swapped.path_gain_db, friis[:, ::-1], atol=0.5)


def test_one_call_matches_single_site_traces(canyon3):
    """The first site is bit-identical to tracing it alone; the others agree within the tracer's own sampling
    noise (Sionna samples each source's rays differently, as a different seed would)."""
    twin = canyon3
    pos = twin.sample_ue_positions(24, np.random.default_rng(0))
    sb = twin.trace_sites(pos, seed=1)
    for i in range(3):
        twin.serving_bs = i
        alone = twin.trace(pos, seed=1)
        assert alone.bs_name == sb.site(i).bs_name
        np.testing.assert_array_equal(alone.los, sb.site(i).los)
        np.testing.assert_array_equal(alone.height_map, sb.site(i).height_map)
        if i == 0:
            np.testing.assert_array_equal(alone.csi, sb.site(0).csi)
            np.testing.assert_array_equal(alone.path_loss_db, sb.site(0).path_loss_db)
        both = alone.has_paths & sb.site(i).has_paths
        assert np.median(np.abs(alone.path_loss_db - sb.site(i).path_loss_db)[both]) < 0.5
    twin.serving_bs = 0
    again = twin.trace(pos, seed=1)  # the single-site scene is restored after a multi-site call
    np.testing.assert_array_equal(again.csi, sb.site(0).csi)
    sub = sb.select(np.array([2, 5]))
    np.testing.assert_array_equal(sub.csi, sb.csi[[2, 5]])


def test_site_selection_and_bad_sites(canyon3):
    twin = canyon3
    pos = twin.sample_ue_positions(2, np.random.default_rng(1))
    sb = twin.trace_sites(pos, sites=("bs2", 0))
    assert sb.bs_names == ("bs2", "bs0")
    with pytest.raises(ValueError, match=r"'nope' is not a BS of canyon-3; allowed: \['bs0', 'bs1', 'bs2'\]"):
        twin.trace_sites(pos, sites=("nope",))
    with pytest.raises(ValueError, match="distinct"):
        twin.trace_sites(pos, sites=(1, 1))
    with pytest.raises(AttributeError):
        sb.not_a_field  # noqa: B018


def test_sites_with_different_arrays_cannot_share_a_call():
    from airtwin.twin.twin import Twin

    spec = three_site_canyon()
    odd = dataclasses.replace(spec.bs[2], array=ArraySpec(num_rows=2, num_cols=4))
    twin = Twin(dataclasses.replace(spec, bs=(*spec.bs[:2], odd)))
    pos = twin.sample_ue_positions(2, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"sites \['bs0', 'bs1', 'bs2'\] have different arrays"):
        twin.trace_sites(pos)
    assert twin.trace_sites(pos, sites=(0, 1)).num_bs == 2


def test_multi_site_scenarios():
    spec = get_scenario("city-cells3-10000")
    assert [b.name for b in spec.bs] == ["bs0", "bs1-rooftop", "bs2-mast"]
    assert spec.bs[0] == get_scenario("city-10000").bs[0]  # the single-site scenario's serving site
    assert len({b.array for b in spec.bs}) == 1
    layout = generate_city(spec.scene.city)
    x, y, z = spec.bs[1].position
    roof = layout.heights[layout.building_at(np.array([x, y]))]
    assert z == pytest.approx(roof + ROOFTOP_MAST_M, abs=1e-3) and spec.bs[2].position[2] == STREET_MAST_M
    assert len(get_scenario("city-cells7-00001").bs) == 7
    assert area_split("city-cells3-10000") == "test" and area_split("city-cells3-00001") == "train"
    assert "city-cells3-10000" in list_scenarios() and "munich-cells" in list_scenarios()
    assert len(get_scenario("munich-cells").bs) == 3
    with pytest.raises(ValueError, match=r"city-cells1-00001: num_sites = 1; allowed: 2..16"):
        get_scenario("city-cells1-00001")

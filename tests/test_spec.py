import dataclasses
import json

import pytest

from airtwin.config import ConfigError
from airtwin.scenes import (
    ArraySpec,
    BSSite,
    CityParams,
    Mobility,
    RadioConfig,
    ScenarioSpec,
    SceneSource,
    UERegion,
    get_scenario,
    load_scenario,
)
from airtwin.scenes.registry import HELDOUT_SEEDS, TRAIN_SEEDS
from airtwin.scenes.suites import builtin_suites, load_suite

INVALID = [
    (lambda: RadioConfig(carrier_frequency_hz=-1.0), "RadioConfig.carrier_frequency_hz"),
    (lambda: RadioConfig(num_subcarriers=0), "RadioConfig.num_subcarriers"),
    (lambda: ArraySpec(pattern="horn"), "ArraySpec.pattern.*iso"),
    (lambda: ArraySpec(polarization="VH"), "ArraySpec.polarization"),
    (lambda: ArraySpec(num_cols=0), "ArraySpec.num_cols"),
    (lambda: SceneSource(kind="builtin", name="atlantis"), "SceneSource.name.*munich"),
    (lambda: SceneSource(kind="lidar"), "SceneSource.kind"),
    (lambda: SceneSource(kind="xml"), "SceneSource.path"),
    (lambda: SceneSource(kind="empty", name="munich"), "SceneSource.name"),
    (lambda: CityParams(seed=-3), "CityParams.seed"),
    (lambda: CityParams(materials=("unobtainium",)), "unobtainium.*concrete"),
    (lambda: CityParams(street_width_m=(20.0, 10.0)), "CityParams.street_width_m"),
    (lambda: UERegion(min_distance_m=50.0, max_distance_m=10.0), "UERegion.max_distance_m"),
    (lambda: UERegion(array=ArraySpec(num_cols=2)), "UERegion.array"),
    (lambda: Mobility(model="teleport"), "Mobility.model"),
    (lambda: Mobility(speed_mps=(5.0, 1.0)), "Mobility.speed_mps"),
    (lambda: BSSite(name="bad name!", position=(0.0, 0.0, 10.0)), "BSSite.name"),
    (lambda: ScenarioSpec(name="x", scene=SceneSource(kind="empty"), bs=()), "ScenarioSpec.bs"),
]


@pytest.mark.parametrize("build, match", INVALID)
def test_invalid_values_name_the_field(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_unknown_key_lists_allowed_keys():
    data = get_scenario("canyon-test").to_dict()
    data["radio"]["carrier_freq"] = 28e9
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['carrier_freq'\].*carrier_frequency_hz"):
        ScenarioSpec.from_dict(data)


def test_wrong_type_is_reported_with_path():
    data = get_scenario("canyon-test").to_dict()
    data["bs"][0]["array"]["num_rows"] = "four"
    with pytest.raises(ConfigError, match=r"bs\[0\]\.array\.num_rows"):
        ScenarioSpec.from_dict(data)


@pytest.mark.parametrize("name", ["canyon-test", "free-space", "munich", "etoile", "city-00042", "city-tiny-10001"])
def test_json_round_trip(tmp_path, name):
    spec = get_scenario(name)
    spec.save(tmp_path / "spec.json")
    assert load_scenario(tmp_path / "spec.json") == spec
    assert json.loads((tmp_path / "spec.json").read_text())["name"] == name


def test_toml_spec(tmp_path):
    (tmp_path / "s.toml").write_text(
        """
name = "my-city"
[scene]
kind = "procedural"
city = { seed = 7, size_m = [150.0, 150.0] }
[[bs]]
name = "north"
position = [0.0, 80.0, 30.0]
orientation_deg = [-90.0, 0.0, 0.0]
array = { num_rows = 2, num_cols = 4, pattern = "tr38901" }
[radio]
carrier_frequency_hz = 28e9
bandwidth_hz = 100e6
num_subcarriers = 64
"""
    )
    spec = load_scenario(tmp_path / "s.toml")
    assert spec.scene.city.seed == 7 and spec.scene.city.size_m == (150.0, 150.0)
    assert spec.bs[0].array.num_antennas == 8
    assert spec.radio.subcarrier_spacing_hz == pytest.approx(100e6 / 64)
    assert spec.mobility == Mobility()  # defaults fill the rest


def test_xml_path_resolves_against_spec_file(tmp_path):
    (tmp_path / "scene.xml").write_text('<scene version="2.1.0"/>\n')  # the file must exist (checked on load)
    (tmp_path / "s.json").write_text(json.dumps({
        "name": "xml", "scene": {"kind": "xml", "path": "scene.xml"},
        "bs": [{"name": "a", "position": [0, 0, 10]}]}))
    assert load_scenario(tmp_path / "s.json").scene.path == str(tmp_path / "scene.xml")


def test_noise_power():
    # -174 dBm/Hz + 10 log10(20 MHz) + 7 dB = -93.99 dBm
    assert RadioConfig(bandwidth_hz=20e6, noise_figure_db=7.0).noise_power_dbm == pytest.approx(-93.99, abs=0.01)


def test_registry_and_suites():
    with pytest.raises(ValueError, match="canyon-test"):
        get_scenario("nowhere")
    with pytest.raises(ValueError, match="procedural-train"):
        load_suite("nope")
    assert set(TRAIN_SEEDS).isdisjoint(HELDOUT_SEEDS)
    train = {get_scenario(n).scene.city.seed for n in load_suite("procedural-train").scenarios}
    heldout = {get_scenario(n).scene.city.seed for n in load_suite("procedural-heldout").scenarios}
    assert train <= set(TRAIN_SEEDS) and heldout <= set(HELDOUT_SEEDS)
    for suite in map(load_suite, builtin_suites()):
        for name in suite.scenarios:
            assert get_scenario(name).name == name
    assert dataclasses.replace(get_scenario("city-00003")).scene.city.seed == 3


NON_FINITE = [
    (lambda v: RadioConfig(carrier_frequency_hz=v), "RadioConfig.carrier_frequency_hz"),
    (lambda v: RadioConfig(tx_power_dbm=v), "RadioConfig.tx_power_dbm"),
    (lambda v: BSSite(name="bs0", position=(0.0, 0.0, 10.0), orientation_deg=(v, 0.0, 0.0)), r"orientation_deg\[0\]"),
    (lambda v: UERegion(height_m=v), "UERegion.height_m"),
    (lambda v: CityParams(size_m=(v, 100.0)), r"CityParams.size_m\[0\]"),
    (lambda v: Mobility(speed_mps=(1.0, v)), r"Mobility.speed_mps\[1\]"),
]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("build, match", NON_FINITE)
def test_nan_and_inf_are_rejected_naming_the_field(build, match, value):
    with pytest.raises(ValueError, match=match + ".*finite"):
        build(value)


def test_missing_xml_and_ue_region_outside_the_scene_are_caught_when_loading(tmp_path):
    (tmp_path / "s.toml").write_text('name = "s"\n[scene]\nkind = "xml"\npath = "missing.xml"\n'
                                     '[[bs]]\nname = "bs0"\nposition = [0.0, 0.0, 10.0]\n')
    with pytest.raises(ValueError, match=r"SceneSource.path = '.*missing.xml': no such Mitsuba XML file"):
        load_scenario(tmp_path / "s.toml")
    spec = get_scenario("city-tiny-00000")
    with pytest.raises(ValueError, match=r"UERegion.x_range_m = \(500.0, 600.0\) lies outside the scene, whose x "
                                         r"extent is \[-60, 60\] m"):
        dataclasses.replace(spec, ue=UERegion(x_range_m=(500.0, 600.0)))

"""ITU materials against the carrier: validated when the spec is built, from Sionna's own table."""

import dataclasses

import numpy as np
import pytest

from airtwin.scenes import CityParams, ScenarioSpec, SceneSource, get_scenario
from airtwin.scenes.materials import (
    builtin_scene_file,
    itu_table,
    materials_defined_at,
    resolve_palette,
    scene_file_materials,
)


def at(spec: ScenarioSpec, carrier_hz: float) -> ScenarioSpec:
    return dataclasses.replace(spec, radio=dataclasses.replace(spec.radio, carrier_frequency_hz=carrier_hz))


def test_table_read_from_source_is_the_one_sionna_uses():
    from airtwin.twin.backend import sionna_rt

    sionna_rt()
    from sionna.rt.radio_materials.itu import ITU_MATERIALS_PROPERTIES

    assert itu_table() == {m: tuple(sorted(r)) for m, r in ITU_MATERIALS_PROPERTIES.items()}


def test_explicit_material_outside_its_band_names_field_frequency_and_alternatives():
    city = CityParams(seed=0, ground_material="medium_dry_ground")
    spec = get_scenario("city-10000")
    with pytest.raises(ValueError, match=r"CityParams\.ground_material = 'medium_dry_ground' is not defined at 28 GHz"
                                         r" \(ITU-R P\.2040 defines it at 1-10 GHz\).*concrete.*metal"):
        at(dataclasses.replace(spec, scene=SceneSource(kind="procedural", city=city)), 28e9)
    with pytest.raises(ValueError, match=r"CityParams\.materials\[1\] = 'brick' is not defined at 60 GHz"):
        at(dataclasses.replace(spec, scene=SceneSource(kind="procedural", city=CityParams(
            materials=("concrete", "brick")))), 60e9)


def test_builtin_scene_materials_are_checked_against_the_carrier():
    assert "brick" in scene_file_materials(builtin_scene_file("munich"))
    at(get_scenario("munich"), 28e9)  # every Munich material is defined at 28 GHz
    with pytest.raises(ValueError, match=r"munich.*'brick' is not defined at 50 GHz.*carrier_frequency_hz"):
        at(get_scenario("munich"), 50e9)


def test_procedural_defaults_hold_from_1_to_100_ghz():
    for f in (1e9, 3.5e9, 10e9, 28e9, 39e9, 60e9, 77e9, 100e9):
        palette, ground = resolve_palette("CityParams", None, None, f)
        assert len(palette) == 4
        assert all(m in materials_defined_at(f) for m in (*palette, ground)), f
    assert resolve_palette("CityParams", None, None, 3.5e9) == (("concrete", "brick", "glass", "marble"),
                                                                 "medium_dry_ground")
    assert resolve_palette("CityParams", None, None, 28e9)[1] == "concrete"
    with pytest.raises(ValueError, match=r"CityParams\.materials: the defaults.*0\.7 GHz.*wood"):
        resolve_palette("CityParams", None, None, 0.7e9)
    # Sionna compares in float32: 60 GHz is just outside marble's 1-60 GHz there, so it falls back.
    assert resolve_palette("CityParams", None, None, 60e9)[0] == ("concrete", "concrete", "glass", "concrete")


@pytest.mark.parametrize("carrier_hz", [3.5e9, 28e9, 60e9])
def test_procedural_twin_traces_at_every_band(carrier_hz):
    from airtwin.twin.twin import Twin

    twin = Twin(at(get_scenario("city-tiny-00001"), carrier_hz))
    assert twin.scene.frequency[0] == pytest.approx(carrier_hz)
    batch = twin.trace(twin.sample_ue_positions(8, np.random.default_rng(0)))
    assert batch.has_paths.any()
    assert np.isfinite(batch.csi).all() and np.isfinite(batch.path_loss_db).all()

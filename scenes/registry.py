"""Named scenarios and scenario suites.

Scenario names:
- ``canyon-test``: Sionna's ``simple_street_canyon`` with a small array and few subcarriers (fast tests).
- ``free-space``: an empty world (no ground): every path is the LoS path (Friis checks).
- ``munich``, ``etoile``: built-in Sionna city scenes with a rooftop BS.
- ``city-NNNNN``: the procedural city of seed ``NNNNN`` (any non-negative integer);
  ``city-tiny-NNNNN`` is a 120 m x 120 m variant for tests.
- ``footprints-example``: a district of 30 real-style building footprints shipped as GeoJSON
  (``scenes/data/example_footprints.geojson``; the same buildings as OSM XML beside it), with a
  rooftop BS. :func:`footprint_scenario` makes a scenario of any footprint file.

Procedural seeds are split by area: seeds ``[0, 10000)`` are training areas (every
seed ``= 7 mod 8`` of them is a validation area) and ``[10000, 20000)`` are held-out
test areas, never used for training or encoder pretraining. Built-in scenes are test
areas too. :func:`area_split` gives the split of any scenario name.

Suites (named lists of scenarios) are in :mod:`airtwin.scenes.suites`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from airtwin.scenes.procedural import generate_city
from airtwin.scenes.spec import (
    ArraySpec,
    BSSite,
    CityParams,
    EnvironmentMapConfig,
    FootprintParams,
    Mobility,
    RadioConfig,
    SceneSource,
    ScenarioSpec,
    TracingConfig,
    UERegion,
)

#: Suffixes of files :func:`get_scenario` reads (scenario specs, then building footprints).
SCENARIO_FILE_SUFFIXES = (".toml", ".json", ".geojson", ".osm", ".pbf")
TRAIN_SEEDS = range(0, 10_000)
HELDOUT_SEEDS = range(10_000, 20_000)

_CITY_RE = re.compile(r"^city-(tiny-)?(\d{1,9})$")


def _canyon_test() -> ScenarioSpec:
    return ScenarioSpec(
        name="canyon-test",
        description="Sionna simple_street_canyon, 1x4 BS array, 16 subcarriers: the fast test scenario.",
        scene=SceneSource(kind="builtin", name="simple_street_canyon"),
        bs=(BSSite(name="bs0", position=(-70.0, 0.0, 12.0), array=ArraySpec(num_rows=1, num_cols=4, pattern="tr38901")),),
        radio=RadioConfig(num_subcarriers=16, bandwidth_hz=10e6),
        ue=UERegion(min_distance_m=5.0, max_distance_m=200.0),
        tracing=TracingConfig(samples_per_src=20_000, max_paths=16),
        environment=EnvironmentMapConfig(size_cells=32, resolution_m=4.0),
    )


def _free_space() -> ScenarioSpec:
    return ScenarioSpec(
        name="free-space",
        description="Empty world: LoS only, for closed-form (Friis) checks.",
        scene=SceneSource(kind="empty"),
        bs=(BSSite(name="bs0", position=(0.0, 0.0, 10.0), array=ArraySpec(num_rows=1, num_cols=8, pattern="iso")),),
        radio=RadioConfig(num_subcarriers=16),
        ue=UERegion(x_range_m=(5.0, 500.0), y_range_m=(-500.0, 500.0), min_distance_m=5.0, max_distance_m=500.0),
        mobility=Mobility(model="random_direction"),
        tracing=TracingConfig(samples_per_src=1_000, max_depth=0),
        environment=EnvironmentMapConfig(size_cells=16, resolution_m=4.0),
    )


def _munich() -> ScenarioSpec:
    return ScenarioSpec(
        name="munich",
        description="Sionna's Munich scene; rooftop BS with a 4x8 array facing north-east.",
        scene=SceneSource(kind="builtin", name="munich"),
        bs=(BSSite(name="bs0", position=(8.5, 21.0, 27.0), orientation_deg=(62.0, 0.0, 0.0),
                   array=ArraySpec(num_rows=4, num_cols=8)),),
        ue=UERegion(x_range_m=(-200.0, 300.0), y_range_m=(-150.0, 350.0), min_distance_m=10.0, max_distance_m=400.0),
    )


def _etoile() -> ScenarioSpec:
    return ScenarioSpec(
        name="etoile",
        description="Sionna's Etoile (Paris) scene; mast BS on the place, 4x8 array facing east.",
        scene=SceneSource(kind="builtin", name="etoile"),
        bs=(BSSite(name="bs0", position=(0.0, 0.0, 30.0), orientation_deg=(0.0, 0.0, 0.0),
                   array=ArraySpec(num_rows=4, num_cols=8)),),
        ue=UERegion(x_range_m=(10.0, 400.0), y_range_m=(-300.0, 300.0), min_distance_m=10.0, max_distance_m=400.0),
    )


def procedural_scenario(seed: int, *, tiny: bool = False) -> ScenarioSpec:
    """The procedural city scenario of ``seed``.

    The BS stands on a 25 m mast in the middle of the west edge street, facing east
    (+x) over the area; UEs are anywhere outdoors in front of it.
    """
    size = (120.0, 120.0) if tiny else (240.0, 240.0)
    city = CityParams(seed=seed, size_m=size, block_size_m=(25.0, 45.0) if tiny else (30.0, 70.0))
    layout = generate_city(city)
    west_street_x = (layout.bounds[0] + layout.blocks_x[0][0]) / 2 if layout.blocks_x else layout.bounds[0] + 5.0
    name = f"city-tiny-{seed:05d}" if tiny else f"city-{seed:05d}"
    split = "held-out" if seed in HELDOUT_SEEDS else "train"
    return ScenarioSpec(
        name=name,
        description=f"Procedural city area, seed {seed} ({split} split).",
        scene=SceneSource(kind="procedural", city=city),
        bs=(BSSite(name="bs0", position=(round(west_street_x, 3), 0.0, 25.0), array=ArraySpec(num_rows=2, num_cols=8)),),
        radio=RadioConfig(num_subcarriers=32),
        ue=UERegion(min_distance_m=5.0, max_distance_m=1e4),
        tracing=TracingConfig(samples_per_src=50_000 if tiny else 100_000),
        environment=EnvironmentMapConfig(size_cells=64, resolution_m=2.0 if tiny else 4.0),
    )


#: Example footprint files shipped with AirTwin (GeoJSON and OSM XML of the same 30 buildings).
EXAMPLE_FOOTPRINTS = files("airtwin.scenes") / "data" / "example_footprints.geojson"
EXAMPLE_FOOTPRINTS_OSM = files("airtwin.scenes") / "data" / "example_footprints.osm"


def footprint_scenario(path: str | Path, *, name: str | None = None, rooftop: str | None = None,
                       yaw_deg: float = 0.0, mast_height_m: float = 3.0, **footprint_params) -> ScenarioSpec:
    """A scenario over a footprint file (GeoJSON or OSM XML), with a rooftop BS.

    Args:
        path: the footprint file.
        name: scenario name; the file's stem if None.
        rooftop: name or id of the building that carries the BS; the tallest one if None.
        yaw_deg: BS boresight azimuth [deg], 0 = east (+x).
        mast_height_m: mast height above the roof [m].
        footprint_params: further :class:`~scenes.spec.FootprintParams` fields.
    """
    from airtwin.scenes.footprints import load_footprints  # noqa: PLC0415

    params = FootprintParams(path=str(Path(path).resolve()), **footprint_params)
    if rooftop is None:
        rooftop = load_footprints(params).tallest()
    return ScenarioSpec(
        name=name or Path(path).stem,
        description=f"Building footprints from {Path(path).name}; BS on the roof of {rooftop!r}.",
        scene=SceneSource(kind="footprints", footprints=params),
        bs=(BSSite(name="bs0", rooftop=rooftop, mast_height_m=mast_height_m, orientation_deg=(yaw_deg, 0.0, 0.0),
                   array=ArraySpec(num_rows=2, num_cols=8)),),
        radio=RadioConfig(num_subcarriers=32),
        ue=UERegion(min_distance_m=5.0),
        tracing=TracingConfig(samples_per_src=100_000),
        environment=EnvironmentMapConfig(size_cells=64, resolution_m=4.0),
    )


def _footprints_example() -> ScenarioSpec:
    spec = footprint_scenario(str(EXAMPLE_FOOTPRINTS), name="footprints-example", rooftop="B13", mast_height_m=6.0)
    return dataclasses.replace(spec, description="A district of 30 footprints (L-shapes, courtyards, U-shapes) "
                               "shipped as GeoJSON; BS on the roof of B13 at the west edge, facing east.")


_FIXED = {
    "canyon-test": _canyon_test,
    "free-space": _free_space,
    "munich": _munich,
    "etoile": _etoile,
    "footprints-example": _footprints_example,
}


def get_scenario(name: str) -> ScenarioSpec:
    """Look up a named scenario, or load a scenario file.

    ``name`` is a registered name, a scenario file (``.toml``/``.json``, :func:`scenes.spec.load_scenario`)
    or a footprint file (``.geojson``/``.osm``/``.pbf``, :func:`footprint_scenario`). Raises ``ValueError``
    listing the names allowed.
    """
    suffix = Path(name).suffix.lower()
    if suffix in SCENARIO_FILE_SUFFIXES:
        if not Path(name).is_file():
            raise ValueError(f"scenario file {name!r} does not exist")
        if suffix in (".toml", ".json"):
            from airtwin.scenes.spec import load_scenario  # noqa: PLC0415

            return load_scenario(name)
        return footprint_scenario(name)
    if name in _FIXED:
        return _FIXED[name]()
    match = _CITY_RE.match(name)
    if match:
        return procedural_scenario(int(match.group(2)), tiny=bool(match.group(1)))
    raise ValueError(f"unknown scenario {name!r}; allowed: {', '.join(_FIXED)}, city-NNNNN, city-tiny-NNNNN, "
                     "or a scenario (.toml/.json) or footprint (.geojson/.osm/.pbf) file")


def area_split(name: str) -> str:
    """``"train"``, ``"validation"`` or ``"test"`` for a scenario name: a property of the area, not of a suite."""
    match = _CITY_RE.match(name)
    if match:
        seed = int(match.group(2))
        if seed in HELDOUT_SEEDS or seed not in TRAIN_SEEDS:
            return "test"
        return "validation" if seed % 8 == 7 else "train"
    get_scenario(name)  # raises for unknown names
    return "test"


def list_scenarios() -> list[str]:
    """Names of the fixed scenarios plus one example of each procedural family."""
    return [*_FIXED, "city-00000", "city-tiny-00000", "city-10000"]

"""Named scenarios and scenario suites.

Scenario names:
- ``canyon-test``: Sionna's ``simple_street_canyon`` with a small array and few subcarriers (fast tests).
- ``free-space``: an empty world (no ground): every path is the LoS path (Friis checks).
- ``munich``, ``etoile``: built-in Sionna city scenes with a rooftop BS.
- ``city-NNNNN``: the procedural city of seed ``NNNNN`` (any non-negative integer);
  ``city-tiny-NNNNN`` is a 120 m x 120 m variant for tests; ``city-mix-NNNNN`` draws the family's
  street widths, block sizes, building heights, area size, carrier band and BS edge and mast from the seed.
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

import numpy as np
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
_CELLS_RE = re.compile(r"^city-(tiny-)?cells(\d{1,2})-(\d{1,9})$")
_MIX_RE = re.compile(r"^city-mix-(\d{1,9})$")
#: Carrier bands of the mixed family ``city-mix-NNNNN`` [Hz] (FR1: 2.6, 3.5 and 6 GHz).
MIX_CARRIERS_HZ = (2.6e9, 3.5e9, 6.0e9)
#: Site counts of the multi-site procedural family ``city-cellsK-NNNNN``.
CELL_SITE_COUNTS = range(2, 17)
#: Height of a street mast and of a rooftop mast above the roof in the multi-site family [m].
STREET_MAST_M = 25.0
ROOFTOP_MAST_M = 3.0


def _canyon_test() -> ScenarioSpec:
    return ScenarioSpec(
        name="canyon-test",
        description="Sionna simple_street_canyon, 1x4 BS array, 16 subcarriers: the fast test scenario.",
        scene=SceneSource(kind="builtin", name="simple_street_canyon"),
        bs=(BSSite(name="bs0", position=(-70.0, 0.0, 12.0), array=ArraySpec(num_rows=1, num_cols=4, pattern="tr38901")),),
        radio=RadioConfig(num_subcarriers=16, bandwidth_hz=10e6),
        ue=UERegion(min_distance_m=5.0, max_distance_m=200.0),
        tracing=TracingConfig(samples_per_src=20_000, max_paths=16),
        environment=EnvironmentMapConfig(size_cells=32),
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
        environment=EnvironmentMapConfig(size_cells=16),
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


def _munich_cells() -> ScenarioSpec:
    """Munich with three rooftop sites: ``munich``'s BS and two more on masts 10 m above roofs measured in the scene."""
    base = _munich()
    array = base.bs[0].array
    return dataclasses.replace(
        base, name="munich-cells",
        description="Sionna's Munich scene with 3 rooftop sites (4x8 arrays): multi-cell tracing and handover.",
        bs=(base.bs[0],
            BSSite(name="bs1", position=(216.0, 56.0, 30.4), orientation_deg=(165.0, 0.0, 0.0), array=array),
            BSSite(name="bs2", position=(-156.0, 180.0, 32.3), orientation_deg=(-21.0, 0.0, 0.0), array=array)))


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
        environment=EnvironmentMapConfig(size_cells=64),
    )


def procedural_cells_scenario(seed: int, num_sites: int = 3, *, tiny: bool = False) -> ScenarioSpec:
    """The procedural city of ``seed`` (the area of ``city-NNNNN``, or ``city-tiny-NNNNN``) served by
    ``num_sites`` sites (``city-cellsK-NNNNN``, ``city-tiny-cellsK-NNNNN``).

    Site ``bs0`` is the single-site scenario's street mast at the west edge, facing east. The others stand at
    bearings spread evenly around the area centre (``bs0`` taking the west) and alternate between a rooftop
    site (``ROOFTOP_MAST_M`` above the tallest building of its angular sector) and a street mast
    (``STREET_MAST_M`` high, at the street crossing nearest to the point at 60 % of the half size on its
    bearing), each facing the area centre. All sites carry the same
    2x8 array (sites traced together share one array). UEs may stand anywhere outdoors in the area.
    """
    name = f"city-{'tiny-' if tiny else ''}cells{num_sites}-{seed:05d}"
    if num_sites not in CELL_SITE_COUNTS:
        raise ValueError(f"{name}: num_sites = {num_sites}; allowed: "
                         f"{CELL_SITE_COUNTS.start}..{CELL_SITE_COUNTS.stop - 1}")
    base = procedural_scenario(seed, tiny=tiny)
    layout = generate_city(base.scene.city)
    x0, y0, x1, y1 = layout.bounds
    gaps = lambda blocks, lo, hi: [(lo + blocks[0][0]) / 2] + [  # noqa: E731  street centre lines
        (a[1] + b[0]) / 2 for a, b in zip(blocks, blocks[1:])] + [(blocks[-1][1] + hi) / 2]
    streets_x = gaps(layout.blocks_x, x0, x1) if layout.blocks_x else [x0 + 5.0, x1 - 5.0]
    streets_y = gaps(layout.blocks_y, y0, y1) if layout.blocks_y else [y0 + 5.0, y1 - 5.0]
    centres = (layout.footprints[:, :2] + layout.footprints[:, 2:]) / 2
    array = base.bs[0].array
    sites = [base.bs[0]]
    used: set = set()
    for j in range(1, num_sites):
        angle = np.pi + 2 * np.pi * j / num_sites  # bs0 stands west (angle pi); the others spread evenly
        point = 0.6 * np.array([(x1 - x0) / 2 * np.cos(angle), (y1 - y0) / 2 * np.sin(angle)])
        if j % 2 == 1 and layout.num_buildings:  # rooftop: tallest building of the sector
            bearing = np.arctan2(centres[:, 1], centres[:, 0])
            half = np.pi / num_sites
            in_sector = np.abs((bearing - angle + np.pi) % (2 * np.pi) - np.pi) <= half
            in_sector &= np.array([i not in used for i in range(layout.num_buildings)])
            pool = np.flatnonzero(in_sector) if in_sector.any() else np.flatnonzero(
                [i not in used for i in range(layout.num_buildings)])
            b = int(pool[np.argmax(layout.heights[pool])])
            used.add(b)
            xy, z, kind = centres[b], float(layout.heights[b]) + ROOFTOP_MAST_M, "rooftop"
        else:  # street mast at the nearest crossing
            xy = np.array([min(streets_x, key=lambda v: abs(v - point[0])),
                           min(streets_y, key=lambda v: abs(v - point[1]))])
            z, kind = STREET_MAST_M, "mast"
        yaw = float(np.degrees(np.arctan2(-xy[1], -xy[0])))
        sites.append(BSSite(name=f"bs{j}-{kind}", position=(round(float(xy[0]), 3), round(float(xy[1]), 3), round(z, 3)),
                            orientation_deg=(round(yaw, 3), 0.0, 0.0), array=array))
    names = [s.position for s in sites]
    if len(set(names)) != len(names):
        raise ValueError(f"{name}: two sites fell on the same spot; use fewer sites")
    split = "held-out" if seed in HELDOUT_SEEDS else "train"
    return dataclasses.replace(
        base, name=name, bs=tuple(sites),
        description=f"Procedural city area, seed {seed} ({split} split), {num_sites} sites (street masts and rooftops).")


def procedural_mix_scenario(seed: int) -> ScenarioSpec:
    """``city-mix-NNNNN``: a procedural area whose family parameters are drawn from ``seed``, for training
    at scale (issue 12).

    Drawn per seed: street widths (8-14 m up to 4-10 m wider), block sides (20-40 m up to 15-40 m longer),
    building heights (5-12 m up to 20-60 m), the share of empty lots (5-30 %), the area's side (200-280 m),
    the carrier (:data:`MIX_CARRIERS_HZ`), and the BS: a 15-35 m street mast in the middle of one of the four
    edge streets, facing the area. The numerology is that of ``city-NNNNN`` (2x8 array, 32 subcarriers over
    20 MHz, a 64-cell map). Seeds split as for ``city-NNNNN`` (10000-19999 held out).
    """
    rng = np.random.default_rng([seed, 0x6D6978])
    street_lo, block_lo, height_lo = rng.uniform(8, 14), rng.uniform(20, 40), rng.uniform(5, 12)
    side = float(rng.uniform(200, 280))
    city = CityParams(seed=seed, size_m=(round(side, 1), round(side, 1)),
                      street_width_m=(round(street_lo, 1), round(street_lo + rng.uniform(4, 10), 1)),
                      block_size_m=(round(block_lo, 1), round(block_lo + rng.uniform(15, 40), 1)),
                      building_height_m=(round(height_lo, 1), round(float(rng.uniform(20, 60)), 1)),
                      empty_lot_prob=round(float(rng.uniform(0.05, 0.3)), 3))
    carrier = float(MIX_CARRIERS_HZ[int(rng.integers(len(MIX_CARRIERS_HZ)))])
    edge = int(rng.integers(4))  # 0 west, 1 south, 2 east, 3 north: the BS faces the area from there
    mast = round(float(rng.uniform(15, 35)), 1)
    layout = generate_city(city)
    x0, y0, x1, y1 = layout.bounds
    street_x = ((x0 + layout.blocks_x[0][0]) / 2, (layout.blocks_x[-1][1] + x1) / 2) if layout.blocks_x else (
        x0 + 5.0, x1 - 5.0)
    street_y = ((y0 + layout.blocks_y[0][0]) / 2, (layout.blocks_y[-1][1] + y1) / 2) if layout.blocks_y else (
        y0 + 5.0, y1 - 5.0)
    xy, yaw = [((street_x[0], 0.0), 0.0), ((0.0, street_y[0]), 90.0), ((street_x[1], 0.0), 180.0),
               ((0.0, street_y[1]), -90.0)][edge]
    split = "held-out" if seed in HELDOUT_SEEDS else "train"
    return ScenarioSpec(
        name=f"city-mix-{seed:05d}",
        description=f"Procedural city area with drawn family parameters, seed {seed} ({split} split); "
                    f"{carrier / 1e9:g} GHz, BS on a {mast:g} m mast at the {['west', 'south', 'east', 'north'][edge]} edge.",
        scene=SceneSource(kind="procedural", city=city),
        bs=(BSSite(name="bs0", position=(round(float(xy[0]), 3), round(float(xy[1]), 3), mast),
                   orientation_deg=(yaw, 0.0, 0.0), array=ArraySpec(num_rows=2, num_cols=8)),),
        radio=RadioConfig(carrier_frequency_hz=carrier, num_subcarriers=32),
        ue=UERegion(min_distance_m=5.0, max_distance_m=1e4),
        tracing=TracingConfig(samples_per_src=100_000),
        environment=EnvironmentMapConfig(size_cells=64),
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
        environment=EnvironmentMapConfig(size_cells=64),
    )


def _footprints_example() -> ScenarioSpec:
    spec = footprint_scenario(str(EXAMPLE_FOOTPRINTS), name="footprints-example", rooftop="B13", mast_height_m=6.0)
    return dataclasses.replace(spec, description="A district of 30 footprints (L-shapes, courtyards, U-shapes) "
                               "shipped as GeoJSON; BS on the roof of B13 at the west edge, facing east.")


_FIXED = {
    "canyon-test": _canyon_test,
    "free-space": _free_space,
    "munich": _munich,
    "munich-cells": _munich_cells,
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
    match = _CELLS_RE.match(name)
    if match:
        return procedural_cells_scenario(int(match.group(3)), int(match.group(2)), tiny=bool(match.group(1)))
    match = _MIX_RE.match(name)
    if match:
        return procedural_mix_scenario(int(match.group(1)))
    raise ValueError(f"unknown scenario {name!r}; allowed: {', '.join(_FIXED)}, city-NNNNN, city-tiny-NNNNN, "
                     f"city-cellsK-NNNNN, city-tiny-cellsK-NNNNN (K = {CELL_SITE_COUNTS.start}.."
                     f"{CELL_SITE_COUNTS.stop - 1} sites), city-mix-NNNNN, "
                     "or a scenario (.toml/.json) or footprint (.geojson/.osm/.pbf) file")


def area_split(name: str) -> str:
    """``"train"``, ``"validation"`` or ``"test"`` for a scenario name: a property of the area, not of a suite."""
    match = _CITY_RE.match(name) or _CELLS_RE.match(name) or _MIX_RE.match(name)
    if match:
        seed = int(match.group(match.lastindex))
        if seed in HELDOUT_SEEDS or seed not in TRAIN_SEEDS:
            return "test"
        return "validation" if seed % 8 == 7 else "train"
    get_scenario(name)  # raises for unknown names
    return "test"


def list_scenarios() -> list[str]:
    """Names of the fixed scenarios plus one example of each procedural family."""
    return [*_FIXED, "city-00000", "city-tiny-00000", "city-10000", "city-cells3-10000", "city-mix-00000"]

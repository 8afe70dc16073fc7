"""Typed, validated scenario specifications.

A :class:`ScenarioSpec` says what the world is: the scene geometry (a built-in
Sionna scene, a Mitsuba XML file, a procedural city or empty free space), the radio
numerology, the base-station sites and arrays, where users stand and how they move,
and how the ray tracer is configured. Specs load from TOML or JSON
(:func:`load_scenario`) and every field is checked in ``__post_init__``: a bad value
raises ``ValueError`` naming the field and what is allowed.

Units: metres, seconds, Hz, dBm/dB, degrees for orientations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from airtwin.config import ConfigError, check_interval, check_range, from_dict, load_file, save_json, to_dict
from airtwin.scenes import materials as itu

#: Built-in Sionna RT scenes usable by name (``sionna.rt.scene.<name>``).
BUILTIN_SCENES = (
    "box", "double_reflector", "etoile", "floor_wall", "florence", "munich", "san_francisco",
    "simple_reflector", "simple_street_canyon", "simple_street_canyon_with_cars", "simple_wedge",
    "triple_reflector",
)


ANTENNA_PATTERNS = ("iso", "dipole", "hw_dipole", "tr38901")
SPEED_OF_LIGHT = 299_792_458.0


@dataclass(frozen=True)
class CityParams:
    """Parameters of a procedural city area (see :mod:`scenes.procedural`)."""

    seed: int = 0
    """Seed of the city generator: same seed, same city."""
    size_m: tuple[float, float] = (240.0, 240.0)
    """Extent of the area along x and y [m], centred on the origin."""
    street_width_m: tuple[float, float] = (12.0, 20.0)
    """Range of street widths [m]."""
    block_size_m: tuple[float, float] = (30.0, 70.0)
    """Range of block side lengths between streets [m]."""
    building_height_m: tuple[float, float] = (8.0, 45.0)
    """Range of building heights [m]."""
    max_lots_per_side: int = 2
    """Each block is split into up to this many lots along each axis; one building per lot."""
    setback_m: float = 1.0
    """Gap between a building and its lot boundary [m] (alleys between neighbours are twice this)."""
    empty_lot_prob: float = 0.15
    """Probability that a lot stays empty (a square or park)."""
    materials: tuple[str, ...] | None = None
    """ITU materials drawn uniformly for buildings; ``None``: the defaults for the carrier
    (:mod:`scenes.materials`: concrete, brick, glass, marble, with concrete standing in where
    ITU-R P.2040 does not define one)."""
    ground_material: str | None = None
    """ITU material of the ground; ``None``: medium_dry_ground up to 10 GHz, concrete above."""

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"CityParams.seed = {self.seed!r}: allowed is a non-negative integer")
        check_range("CityParams.size_m[0]", self.size_m[0], 20.0, 5000.0)
        check_range("CityParams.size_m[1]", self.size_m[1], 20.0, 5000.0)
        check_interval("CityParams.street_width_m", self.street_width_m, 2.0, 100.0)
        check_interval("CityParams.block_size_m", self.block_size_m, 5.0, 1000.0)
        check_interval("CityParams.building_height_m", self.building_height_m, 1.0, 500.0)
        check_range("CityParams.max_lots_per_side", self.max_lots_per_side, 1, 8)
        check_range("CityParams.setback_m", self.setback_m, 0.0, self.block_size_m[0] / 4)
        check_range("CityParams.empty_lot_prob", self.empty_lot_prob, 0.0, 0.95)
        itu.check_palette_names("CityParams", self.materials, self.ground_material)

    @property
    def num_materials(self) -> int:
        """Size of the building palette (the defaults' when ``materials`` is None)."""
        return len(self.materials) if self.materials is not None else len(itu.DEFAULT_BUILDING_MATERIALS)


#: Footprint files: GeoJSON, and OpenStreetMap as XML or PBF.
FOOTPRINT_SUFFIXES = (".geojson", ".json", ".osm", ".pbf")


@dataclass(frozen=True)
class FootprintParams:
    """A scene extruded from building footprints (see :mod:`scenes.footprints`).

    The file is GeoJSON (``.geojson``/``.json``, a FeatureCollection of Polygon or MultiPolygon
    features) or an OpenStreetMap extract (``.osm`` XML or ``.pbf``; ways and multipolygon relations
    tagged ``building`` or ``building:part``), read offline. A building's height comes from its
    ``height`` property/tag [m], else from ``building:levels`` times :attr:`metres_per_level`, else
    :attr:`default_height_m`; parts that start above the ground give ``min_height`` [m] or
    ``building:min_level``.
    """

    path: str
    """Footprint file; relative paths resolve against the spec file (or the working directory)."""
    origin_lat_lon: tuple[float, float] | None = None
    """Latitude and longitude [deg] of the local origin (x east, y north, metres, azimuthal
    equidistant projection); ``None``: the centre of the footprints' bounding box."""
    metres_per_level: float = 3.0
    """Storey height used for ``building:levels`` [m]."""
    default_height_m: float | None = None
    """Height of buildings with neither ``height`` nor ``building:levels`` [m]; ``None``: such a building is an error."""
    padding_m: float = 30.0
    """The ground extends this far beyond the footprints' bounding box [m]."""
    materials: tuple[str, ...] | None = None
    """ITU palette for buildings without a ``material`` property (drawn with :attr:`seed`);
    ``None``: the defaults for the carrier (:mod:`scenes.materials`)."""
    ground_material: str | None = None
    """ITU material of the ground; ``None``: the default for the carrier."""
    seed: int = 0
    """Seed of the material draws."""

    def __post_init__(self) -> None:
        if not self.path or Path(self.path).suffix.lower() not in FOOTPRINT_SUFFIXES:
            raise ValueError(f"FootprintParams.path = {self.path!r}: allowed are {', '.join(FOOTPRINT_SUFFIXES)} files")
        if self.origin_lat_lon is not None:
            check_range("FootprintParams.origin_lat_lon[0]", self.origin_lat_lon[0], -90.0, 90.0)
            check_range("FootprintParams.origin_lat_lon[1]", self.origin_lat_lon[1], -180.0, 180.0)
        check_range("FootprintParams.metres_per_level", self.metres_per_level, 0.5, 20.0)
        if self.default_height_m is not None:
            check_range("FootprintParams.default_height_m", self.default_height_m, 0.5, 1000.0)
        check_range("FootprintParams.padding_m", self.padding_m, 0.0, 5000.0)
        check_range("FootprintParams.seed", self.seed, 0, 2**63 - 1)
        itu.check_palette_names("FootprintParams", self.materials, self.ground_material)


SCENE_KINDS = ("builtin", "xml", "procedural", "footprints", "empty")


@dataclass(frozen=True)
class SceneSource:
    """Where the scene geometry comes from."""

    kind: Literal["builtin", "xml", "procedural", "footprints", "empty"] = "builtin"
    name: str | None = None
    """Built-in scene name (``kind="builtin"``), one of :data:`BUILTIN_SCENES`."""
    path: str | None = None
    """Mitsuba XML file (``kind="xml"``); relative paths resolve against the spec file."""
    city: CityParams | None = None
    """Procedural city parameters (``kind="procedural"``)."""
    footprints: FootprintParams | None = None
    """Building footprint file and extrusion parameters (``kind="footprints"``)."""

    def __post_init__(self) -> None:
        if self.kind not in SCENE_KINDS:
            raise ValueError(f"SceneSource.kind = {self.kind!r}; allowed: {', '.join(map(repr, SCENE_KINDS))}")
        if self.kind == "builtin" and self.name not in BUILTIN_SCENES:
            raise ValueError(f"SceneSource.name = {self.name!r} is not a built-in scene; allowed: {', '.join(BUILTIN_SCENES)}")
        if self.kind == "xml" and not self.path:
            raise ValueError("SceneSource.path is required when kind = 'xml'")
        if self.kind == "procedural" and self.city is None:
            object.__setattr__(self, "city", CityParams())
        if self.kind == "footprints" and self.footprints is None:
            raise ValueError("SceneSource.footprints (a table with at least 'path') is required when kind = 'footprints'")
        extra = {"name": self.name if self.kind != "builtin" else None,
                 "path": self.path if self.kind != "xml" else None,
                 "city": self.city if self.kind != "procedural" else None,
                 "footprints": self.footprints if self.kind != "footprints" else None}
        for key, value in extra.items():
            if value is not None:
                raise ValueError(f"SceneSource.{key} is only allowed with the matching kind, not with kind = {self.kind!r}")


@dataclass(frozen=True)
class RadioConfig:
    """OFDM numerology and link budget."""

    carrier_frequency_hz: float = 3.5e9
    bandwidth_hz: float = 20e6
    """Occupied bandwidth [Hz]; subcarrier spacing = bandwidth / num_subcarriers."""
    num_subcarriers: int = 64
    """Number of (possibly decimated) subcarriers at which CSI is computed."""
    tx_power_dbm: float = 43.0
    """Total BS transmit power [dBm]."""
    noise_figure_db: float = 7.0
    """UE receiver noise figure [dB]."""

    def __post_init__(self) -> None:
        check_range("RadioConfig.carrier_frequency_hz", self.carrier_frequency_hz, 1e8, 3e11)
        check_range("RadioConfig.bandwidth_hz", self.bandwidth_hz, 1e3, 5e9)
        check_range("RadioConfig.num_subcarriers", self.num_subcarriers, 1, 8192)
        check_range("RadioConfig.tx_power_dbm", self.tx_power_dbm, -50.0, 80.0)
        check_range("RadioConfig.noise_figure_db", self.noise_figure_db, 0.0, 30.0)
        if self.bandwidth_hz >= self.carrier_frequency_hz:
            raise ValueError("RadioConfig.bandwidth_hz must be smaller than carrier_frequency_hz")

    @property
    def wavelength_m(self) -> float:
        return SPEED_OF_LIGHT / self.carrier_frequency_hz

    @property
    def subcarrier_spacing_hz(self) -> float:
        return self.bandwidth_hz / self.num_subcarriers

    @property
    def noise_power_dbm(self) -> float:
        """Thermal noise over the bandwidth at 290 K plus the noise figure [dBm]."""
        return -174.0 + 10.0 * math.log10(self.bandwidth_hz) + self.noise_figure_db


@dataclass(frozen=True)
class ArraySpec:
    """A uniform planar array (UPA) in the y-z plane of the device, facing +x.

    Antenna index ``i = col * num_rows + row`` (Sionna's ordering); row 0 is the top.
    Only single-polarised arrays are supported so that one CSI entry is one antenna.
    """

    num_rows: int = 1
    num_cols: int = 8
    vertical_spacing: float = 0.5
    """Spacing between rows [wavelengths]."""
    horizontal_spacing: float = 0.5
    """Spacing between columns [wavelengths]."""
    pattern: Literal["iso", "dipole", "hw_dipole", "tr38901"] = "tr38901"
    polarization: Literal["V", "H"] = "V"

    def __post_init__(self) -> None:
        check_range("ArraySpec.num_rows", self.num_rows, 1, 64)
        check_range("ArraySpec.num_cols", self.num_cols, 1, 256)
        check_range("ArraySpec.vertical_spacing", self.vertical_spacing, 0.0, 10.0, low_open=True)
        check_range("ArraySpec.horizontal_spacing", self.horizontal_spacing, 0.0, 10.0, low_open=True)
        if self.pattern not in ANTENNA_PATTERNS:
            raise ValueError(f"ArraySpec.pattern = {self.pattern!r}; allowed: {', '.join(ANTENNA_PATTERNS)}")
        if self.polarization not in ("V", "H"):
            raise ValueError(f"ArraySpec.polarization = {self.polarization!r}; allowed: 'V', 'H'")

    @property
    def num_antennas(self) -> int:
        return self.num_rows * self.num_cols


@dataclass(frozen=True)
class BSSite:
    """A base-station site."""

    name: str
    position: tuple[float, float, float] | None = None
    """Array centre [m]; derived from :attr:`rooftop` when that is given."""
    orientation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """(yaw, pitch, roll) [deg]: yaw rotates the boresight (+x) about z."""
    array: ArraySpec = field(default_factory=ArraySpec)
    rooftop: str | None = None
    """Name (or id) of a building of a footprint scene: the BS stands on its roof, at the
    footprint's representative point, :attr:`mast_height_m` above the roof."""
    mast_height_m: float = 3.0
    """Height of a rooftop mast above the roof [m]."""

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"BSSite.name = {self.name!r}: allowed are letters, digits, '_' and '-'")
        if self.position is None and self.rooftop is None:
            raise ValueError(f"BSSite({self.name}): give a position [m] or a rooftop (a building of a footprint scene)")
        for i, v in enumerate(self.position or ()):
            if not math.isfinite(v):
                raise ValueError(f"BSSite.position[{i}] = {v!r} must be finite")
        check_range(f"BSSite({self.name}).mast_height_m", self.mast_height_m, 0.0, 200.0)
        check_range(f"BSSite({self.name}).orientation_deg[0]", self.orientation_deg[0], -360.0, 360.0)
        check_range(f"BSSite({self.name}).orientation_deg[1]", self.orientation_deg[1], -90.0, 90.0)
        check_range(f"BSSite({self.name}).orientation_deg[2]", self.orientation_deg[2], -180.0, 180.0)


@dataclass(frozen=True)
class UERegion:
    """Where user equipments may stand: outdoors, inside a box, within a distance ring of the serving BS."""

    x_range_m: tuple[float, float] | None = None
    """x extent [m]; ``None`` uses the scene's extent."""
    y_range_m: tuple[float, float] | None = None
    height_m: float = 1.5
    """UE antenna height above the ground [m]."""
    min_distance_m: float = 5.0
    """Minimum horizontal distance to the serving BS [m]."""
    max_distance_m: float = 1e4
    """Maximum horizontal distance to the serving BS [m]."""
    array: ArraySpec = field(default_factory=lambda: ArraySpec(num_rows=1, num_cols=1, pattern="iso"))

    def __post_init__(self) -> None:
        if self.x_range_m is not None:
            check_interval("UERegion.x_range_m", self.x_range_m)
        if self.y_range_m is not None:
            check_interval("UERegion.y_range_m", self.y_range_m)
        check_range("UERegion.height_m", self.height_m, 0.1, 300.0)
        check_range("UERegion.min_distance_m", self.min_distance_m, 0.0)
        check_range("UERegion.max_distance_m", self.max_distance_m, self.min_distance_m, low_open=True)
        if self.array.num_antennas != 1:
            raise ValueError("UERegion.array must have a single antenna (num_rows = num_cols = 1); "
                             "CSI is [num_ue, num_bs_ant, num_subcarriers]")


@dataclass(frozen=True)
class Mobility:
    """How users move between re-traces."""

    model: Literal["static", "manhattan", "random_direction"] = "manhattan"
    """``manhattan``: axis-aligned motion along streets, turning at open crossings;
    ``random_direction``: straight lines in any direction, a new direction when blocked;
    ``static``: no motion."""
    speed_mps: tuple[float, float] = (1.0, 15.0)
    """Range of UE speeds [m/s], drawn once per UE."""
    time_step_s: float = 0.5
    """Default time between environment steps [s]."""
    turn_prob: float = 0.3
    """Probability of turning at an open crossing (manhattan)."""

    def __post_init__(self) -> None:
        if self.model not in ("static", "manhattan", "random_direction"):
            raise ValueError(f"Mobility.model = {self.model!r}; allowed: 'static', 'manhattan', 'random_direction'")
        check_interval("Mobility.speed_mps", self.speed_mps, 0.0, 100.0)
        check_range("Mobility.time_step_s", self.time_step_s, 0.0, 60.0, low_open=True)
        check_range("Mobility.turn_prob", self.turn_prob, 0.0, 1.0)


@dataclass(frozen=True)
class TracingConfig:
    """Sionna RT ``PathSolver`` settings and the twin's outputs derived from paths."""

    max_depth: int = 5
    """Maximum number of interactions per path. Depth 3 leaves a quarter of the UEs of a
    procedural city without any path; depth 5 reaches most of them for ~30 % more time."""
    samples_per_src: int = 100_000
    max_num_paths_per_src: int = 1_000_000
    """Path buffer size per source; all UEs of a batch share the buffer of their BS."""
    los: bool = True
    specular_reflection: bool = True
    diffuse_reflection: bool = False
    refraction: bool = True
    diffraction: bool = True
    """First-order edge diffraction (street corners); it adds coverage in built-up scenes."""
    seed: int = 42
    deterministic: bool = True
    """Use Sionna's deterministic candidate generator. Without it, the multi-threaded tracer
    finds slightly different path sets from run to run even with the same seed. Measured on
    Munich (2 cores, 1e5 samples): 64 UEs take 0.87 s and 1.6 GB instead of 0.67 s and 0.5 GB;
    256 UEs take 5 GB. Turn off for very large batches when bit-exact repeats do not matter."""
    max_paths: int = 32
    """Paths kept per UE in the per-path outputs (strongest first)."""

    def __post_init__(self) -> None:
        check_range("TracingConfig.max_depth", self.max_depth, 0, 10)
        check_range("TracingConfig.samples_per_src", self.samples_per_src, 1, 100_000_000)
        check_range("TracingConfig.max_num_paths_per_src", self.max_num_paths_per_src, 1, 100_000_000)
        check_range("TracingConfig.seed", self.seed, 0, 2**31 - 1)
        check_range("TracingConfig.max_paths", self.max_paths, 1, 4096)


@dataclass(frozen=True)
class CodebookConfig:
    """Oversampled 2-D DFT beam codebook and precoder subbands."""

    oversampling_h: int = 1
    oversampling_v: int = 1
    num_subbands: int = 4
    """CSI subcarriers are split into this many contiguous subbands, one eigen-precoder each."""

    def __post_init__(self) -> None:
        check_range("CodebookConfig.oversampling_h", self.oversampling_h, 1, 16)
        check_range("CodebookConfig.oversampling_v", self.oversampling_v, 1, 16)
        check_range("CodebookConfig.num_subbands", self.num_subbands, 1, 1024)


@dataclass(frozen=True)
class EnvironmentMapConfig:
    """The environment modality: a building height map in the serving BS's frame (range x bearing,
    :mod:`airtwin.phy.envmap`)."""

    size_cells: int = 64
    """The map is ``[size_cells (range), size_cells (bearing)]``."""
    range_m: float | None = None
    """Largest range the map covers [m]; ``None``: the farthest point of the UE region from the BS."""

    def __post_init__(self) -> None:
        check_range("EnvironmentMapConfig.size_cells", self.size_cells, 4, 1024)
        if self.range_m is not None:
            check_range("EnvironmentMapConfig.range_m", self.range_m, 1.0, 1e5)


@dataclass(frozen=True)
class ScenarioSpec:
    """A complete, reproducible description of a twin scenario."""

    name: str
    scene: SceneSource
    bs: tuple[BSSite, ...]
    radio: RadioConfig = field(default_factory=RadioConfig)
    ue: UERegion = field(default_factory=UERegion)
    mobility: Mobility = field(default_factory=Mobility)
    tracing: TracingConfig = field(default_factory=TracingConfig)
    codebook: CodebookConfig = field(default_factory=CodebookConfig)
    environment: EnvironmentMapConfig = field(default_factory=EnvironmentMapConfig)
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("ScenarioSpec.name must not be empty")
        if isinstance(self.bs, list):
            object.__setattr__(self, "bs", tuple(self.bs))
        if any(b.rooftop is not None for b in self.bs):
            object.__setattr__(self, "bs", self._place_on_rooftops())
        if not self.bs:
            raise ValueError("ScenarioSpec.bs must list at least one BSSite")
        names = [b.name for b in self.bs]
        if len(set(names)) != len(names):
            raise ValueError(f"ScenarioSpec.bs names must be unique, got {names}")
        if self.scene.kind == "xml" and Path(self.scene.path).is_absolute() and not Path(self.scene.path).is_file():
            raise ValueError(f"SceneSource.path = {self.scene.path!r}: no such Mitsuba XML file")
        self.check_materials()
        self._check_ue_region()
        if self.codebook.num_subbands > self.radio.num_subcarriers:
            raise ValueError(
                f"CodebookConfig.num_subbands = {self.codebook.num_subbands} exceeds "
                f"RadioConfig.num_subcarriers = {self.radio.num_subcarriers}"
            )

    def _place_on_rooftops(self) -> tuple[BSSite, ...]:
        """Sites with a ``rooftop`` get the position derived from the footprint scene's building."""
        from dataclasses import replace  # noqa: PLC0415

        if self.scene.kind != "footprints":
            raise ValueError(f"BSSite.rooftop needs SceneSource.kind = 'footprints', not {self.scene.kind!r}")
        if not Path(self.scene.footprints.path).is_file():
            return self.bs  # a relative path not resolved yet: load_scenario resolves it and comes back here
        from airtwin.scenes.footprints import load_footprints  # noqa: PLC0415

        layout = load_footprints(self.scene.footprints)
        sites = []
        for b in self.bs:
            if b.rooftop is not None:
                x, y, roof = layout.rooftop(b.rooftop)
                derived = (round(x, 3), round(y, 3), round(roof + b.mast_height_m, 3))
                if b.position is not None and max(abs(p - q) for p, q in zip(b.position, derived)) > 1e-3:
                    raise ValueError(f"BSSite({b.name}).position = {b.position} conflicts with rooftop = "
                                     f"{b.rooftop!r} (which puts it at {derived}); give one of them")
                b = replace(b, position=derived)
            sites.append(b)
        return tuple(sites)

    def _check_ue_region(self) -> None:
        """The UE box must overlap the generated area (procedural and footprint scenes, whose extent is known here)."""
        ue = self.ue
        if ue.x_range_m is None and ue.y_range_m is None:
            return
        if self.scene.kind == "procedural":
            sx, sy = self.scene.city.size_m
            area = (-sx / 2, -sy / 2, sx / 2, sy / 2)
        elif self.scene.kind == "footprints" and Path(self.scene.footprints.path).is_file():
            from airtwin.scenes.footprints import load_footprints  # noqa: PLC0415

            area = load_footprints(self.scene.footprints).bounds
        else:
            return  # built-in and XML scenes: the twin checks against the loaded scene's extent
        for axis, rng, lo, hi in (("x", ue.x_range_m, area[0], area[2]), ("y", ue.y_range_m, area[1], area[3])):
            if rng is not None and (rng[1] < lo or rng[0] > hi):
                raise ValueError(f"UERegion.{axis}_range_m = {rng} lies outside the scene, whose {axis} extent is "
                                 f"[{lo:g}, {hi:g}] m")

    def check_materials(self) -> None:
        """Raise ``ValueError`` unless every material of the scene is defined at the carrier.

        Procedural cities resolve their palette (:func:`scenes.materials.resolve_palette`);
        built-in and XML scenes are checked against the ITU materials their XML file uses
        (an XML file that does not exist yet, e.g. a relative path before
        :func:`load_scenario` resolves it, is checked when it does).
        """
        f = self.radio.carrier_frequency_hz
        source = self.scene
        if source.kind == "procedural":
            itu.resolve_palette("CityParams", source.city.materials, source.city.ground_material, f)
            return
        if source.kind == "footprints":
            itu.resolve_palette("FootprintParams", source.footprints.materials, source.footprints.ground_material, f)
            if Path(source.footprints.path).is_file():  # buildings that name their own material
                from airtwin.scenes.footprints import load_footprints  # noqa: PLC0415

                load_footprints(source.footprints).building_materials(f)
            return
        if source.kind == "builtin":
            xml, where = itu.builtin_scene_file(source.name), f"SceneSource.name = {source.name!r}: material"
        elif source.kind == "xml" and Path(source.path).is_file():
            xml, where = Path(source.path), f"SceneSource.path = {source.path!r}: material"
        else:
            return
        for m in itu.scene_file_materials(xml):
            try:
                itu.check_defined(where, m, f)
            except ValueError as exc:
                raise ValueError(f"{exc} (RadioConfig.carrier_frequency_hz = {f:g})") from None

    def to_dict(self) -> dict:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ScenarioSpec:
        return from_dict(cls, data)

    def save(self, path: str | Path) -> None:
        """Save as JSON."""
        save_json(self, path)


def load_scenario(path: str | Path) -> ScenarioSpec:
    """Load a :class:`ScenarioSpec` from a TOML or JSON file.

    A relative ``scene.path`` (Mitsuba XML) or ``scene.footprints.path`` is resolved against the
    spec file's folder.
    """
    from dataclasses import replace  # noqa: PLC0415

    path = Path(path)
    spec = load_file(ScenarioSpec, path)
    if spec.scene.kind == "xml" and not Path(spec.scene.path).is_absolute():
        # replace() validates again, now with the resolved path (which must exist).
        spec = replace(spec, scene=replace(spec.scene, path=str((path.parent / spec.scene.path).resolve())))
    if spec.scene.kind == "footprints" and not Path(spec.scene.footprints.path).is_absolute():
        fp = replace(spec.scene.footprints, path=str((path.parent / spec.scene.footprints.path).resolve()))
        spec = replace(spec, scene=replace(spec.scene, footprints=fp))
    return spec


__all__ = [
    "BUILTIN_SCENES", "SCENE_KINDS", "ANTENNA_PATTERNS", "CityParams", "FootprintParams", "SceneSource", "RadioConfig",
    "ArraySpec", "BSSite", "UERegion", "Mobility", "TracingConfig", "CodebookConfig",
    "EnvironmentMapConfig", "ScenarioSpec", "load_scenario", "ConfigError",
]

"""Scenes from real building footprints: GeoJSON or OpenStreetMap XML, read offline.

:func:`load_footprints` reads the file named by :class:`~scenes.spec.FootprintParams`,
projects longitude/latitude to local metres (x east, y north) around an origin with
pyproj (azimuthal equidistant on WGS 84), validates every polygon with shapely, and
returns a :class:`FootprintLayout`. The layout offers what procedural cities offer: a
scene folder of welded meshes (:meth:`FootprintLayout.write_scene`, see
:mod:`scenes.meshes`), the building height map, the outdoor mask for UE drops, and
rooftop positions for base stations.

GeoJSON (RFC 7946) coordinates are WGS 84 longitude/latitude. A file that names another
coordinate reference system in a ``crs`` member (for example ``EPSG:32632``, UTM 32N) is
transformed from it. OSM files (XML ``.osm`` or ``.pbf``) are read with pyosmium; ways and
multipolygon relations tagged ``building`` or ``building:part`` become footprints (courtyards
are the relations' inner rings).

Properties (GeoJSON) and tags (OSM) used per building:
    ``height`` [m] (numbers such as ``"12"``, ``"12 m"`` or ``"12.5m"``), else
    ``building:levels`` (or ``levels``) times ``metres_per_level``, else ``default_height_m``;
    ``min_height`` [m] or ``building:min_level`` for parts that start above the ground;
    ``material`` (an ITU material name, optional); ``name`` (optional; ``rooftop`` may use it
    or the feature's ``id``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from airtwin.scenes import materials as itu
from airtwin.scenes.meshes import COORD_DECIMALS, write_buildings
from airtwin.scenes.spec import FootprintParams


class FootprintError(ValueError):
    """A footprint file cannot be turned into a scene; the message names the file and the feature."""


@dataclass(frozen=True)
class FootprintLayout:
    """Buildings of a footprint scene in local metres.

    Attributes:
        params: the footprint parameters.
        polygons: footprints, ``shapely.Polygon`` in metres (x east, y north of the origin).
        heights: ``[num_buildings]`` float64 roof heights above the ground (z = 0) [m].
        bases: ``[num_buildings]`` float64 heights of the buildings' floors [m] (0 for most).
        materials: ITU material of each building, or ``None`` where the palette decides.
        palette_index: ``[num_buildings]`` int64 draw into the palette (used where ``materials`` is None).
        names: name or id of each building (a multipolygon's parts share it).
        origin_lat_lon: the projection origin [deg].
        union: all footprints as one prepared shapely geometry (outdoor queries).
    """

    params: FootprintParams
    polygons: tuple
    heights: np.ndarray
    bases: np.ndarray
    materials: tuple[str | None, ...]
    palette_index: np.ndarray
    names: tuple[str, ...]
    origin_lat_lon: tuple[float, float]
    union: object = field(repr=False, compare=False, default=None)

    @property
    def num_buildings(self) -> int:
        return len(self.polygons)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(x_min, y_min, x_max, y_max)`` of the area [m]: the footprints' box grown by ``padding_m``."""
        import shapely  # noqa: PLC0415

        x0, y0, x1, y1 = shapely.total_bounds(np.asarray(self.polygons, dtype=object))
        p = self.params.padding_m
        return (float(x0 - p), float(y0 - p), float(x1 + p), float(y1 + p))

    def is_outdoor(self, xy: np.ndarray, margin_m: float = 0.0) -> np.ndarray:
        """``[..., 2] -> [...]`` bool: inside the area and farther than ``margin_m`` from every footprint."""
        import shapely  # noqa: PLC0415

        xy = np.asarray(xy, dtype=np.float64)
        x0, y0, x1, y1 = self.bounds
        in_area = (xy[..., 0] >= x0) & (xy[..., 0] <= x1) & (xy[..., 1] >= y0) & (xy[..., 1] <= y1)
        flat = xy.reshape(-1, 2)
        union = self.union
        inside = shapely.contains_xy(union, flat[:, 0], flat[:, 1])
        if margin_m > 0:
            near = shapely.dwithin(union, shapely.points(flat), margin_m)
            inside |= near
        return in_area & ~inside.reshape(xy.shape[:-1])

    def height_map(self, x_centers: np.ndarray, y_centers: np.ndarray) -> np.ndarray:
        """Building height at cell centres: ``[len(y_centers), len(x_centers)]`` float32 [m], 0 outdoors."""
        import shapely  # noqa: PLC0415

        gx, gy = np.meshgrid(np.asarray(x_centers, dtype=np.float64), np.asarray(y_centers, dtype=np.float64))
        out = np.zeros(gx.shape, dtype=np.float32)
        for poly, h in zip(self.polygons, self.heights):
            inside = shapely.contains_xy(poly, gx, gy)
            out[inside] = np.maximum(out[inside], h)
        return out

    def rooftop(self, name: str) -> tuple[float, float, float]:
        """``(x, y, roof height)`` [m] of the building called ``name``: a point inside its (largest) footprint."""
        parts = [i for i, n in enumerate(self.names) if n == name]
        if not parts:
            known = sorted(set(self.names))
            shown = ", ".join(known[:20]) + (" ..." if len(known) > 20 else "")
            raise ValueError(f"BSSite.rooftop = {name!r} is not a building of {self.params.path}; buildings: {shown}")
        i = max(parts, key=lambda k: self.polygons[k].area)
        p = self.polygons[i].representative_point()
        return float(p.x), float(p.y), float(self.heights[i])

    def tallest(self) -> str:
        """Name of the tallest building."""
        return self.names[int(np.argmax(self.heights))]

    def building_materials(self, carrier_frequency_hz: float) -> tuple[list[str], str]:
        """ITU material of every building and of the ground at a carrier (palette defaults resolved there)."""
        palette, ground = itu.resolve_palette("FootprintParams", self.params.materials, self.params.ground_material,
                                              carrier_frequency_hz)
        mats = []
        for name, m, k in zip(self.names, self.materials, self.palette_index):
            if m is not None:
                itu.check_defined(f"{self.params.path}: building {name!r} material", m, carrier_frequency_hz)
            mats.append(m if m is not None else palette[int(k) % len(palette)])
        return mats, ground

    def write_scene(self, folder: str | Path, carrier_frequency_hz: float) -> Path:
        """Write the buildings as a Sionna RT scene folder (``scene.xml`` + welded PLY meshes); returns the XML path."""
        mats, ground = self.building_materials(carrier_frequency_hz)
        return write_buildings(folder, self.polygons, self.heights, mats, self.bounds, ground, self.bases)


# ---------------------------------------------------------------------------------------------- reading
_NUMBER = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(m|metres|meters)?\s*$")


def _number(value, what: str, where: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        match = _NUMBER.match(str(value))
        if not match:
            raise FootprintError(f"{where}: {what} = {value!r} is not a number of metres")
        number = float(match.group(1))
    if not np.isfinite(number) or number <= 0:
        raise FootprintError(f"{where}: {what} = {value!r} must be a positive number")
    return number


def _height(props: dict, params: FootprintParams, where: str) -> float:
    h = _number(props.get("height"), "height", where)
    if h is not None:
        return h
    levels = props.get("building:levels", props.get("levels"))
    n = _number(levels, "building:levels", where)
    if n is not None:
        return n * params.metres_per_level
    if params.default_height_m is not None:
        return params.default_height_m
    raise FootprintError(f"{where}: no height (give 'height' [m] or 'building:levels', "
                         "or set FootprintParams.default_height_m)")


def _base(props: dict, params: FootprintParams, height: float, where: str) -> float:
    """Floor height of a building part that starts above the ground [m] (0 for most buildings)."""
    base = _number(props.get("min_height"), "min_height", where)
    if base is None:
        levels = _number(props.get("building:min_level"), "building:min_level", where)
        base = levels * params.metres_per_level if levels is not None else 0.0
    if base >= height:
        raise FootprintError(f"{where}: min_height {base:g} m is not below its height {height:g} m")
    return base


@dataclass
class _Feature:
    geometry: object          # shapely (Multi)Polygon in source coordinates
    props: dict
    where: str                # "FILE: feature 3 ('Town hall')" for messages
    name: str


def _read_geojson(path: Path) -> tuple[list[_Feature], str | None]:
    import shapely.geometry  # noqa: PLC0415

    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise FootprintError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise FootprintError(f"{path}: expected a GeoJSON FeatureCollection")
    crs = None
    if isinstance(data.get("crs"), dict):
        crs = (data["crs"].get("properties") or {}).get("name")
    features = []
    for i, feat in enumerate(data.get("features") or []):
        props = dict(feat.get("properties") or {})
        label = props.get("name") or feat.get("id") or props.get("id")
        where = f"{path}: feature {i}" + (f" ({label!r})" if label else "")
        geom = feat.get("geometry")
        if not geom or geom.get("type") not in ("Polygon", "MultiPolygon"):
            raise FootprintError(f"{where}: geometry must be a Polygon or MultiPolygon, got "
                                 f"{geom.get('type') if geom else None!r}")
        try:
            shape = shapely.geometry.shape(geom)
        except (ValueError, TypeError, IndexError) as exc:
            raise FootprintError(f"{where}: malformed geometry ({exc})") from None
        features.append(_Feature(shape, props, where, str(label if label is not None else f"building_{i}")))
    return features, crs


def _read_osm(path: Path) -> list[_Feature]:
    import osmium  # noqa: PLC0415
    import shapely  # noqa: PLC0415

    wkb = osmium.geom.WKBFactory()
    features = []
    try:
        for obj in osmium.FileProcessor(str(path)).with_areas():
            if not (obj.is_area() and ("building" in obj.tags or "building:part" in obj.tags)):
                continue
            kind = "way" if obj.from_way() else "relation"
            props = {t.k: t.v for t in obj.tags}
            label = props.get("name")
            where = f"{path}: {kind} {obj.orig_id()}" + (f" ({label!r})" if label else "")
            try:
                shape = shapely.from_wkb(bytes.fromhex(wkb.create_multipolygon(obj)))
            except RuntimeError as exc:
                raise FootprintError(f"{where}: cannot build its polygon ({exc})") from None
            features.append(_Feature(shape, props, where, str(label or f"{kind}/{obj.orig_id()}")))
    except RuntimeError as exc:
        raise FootprintError(f"{path}: not a readable OSM file ({exc})") from None
    return features


def _drop_outlines_with_parts(features: list[_Feature]) -> list[_Feature]:
    """OSM's Simple 3D Buildings: where ``building:part`` areas lie inside a ``building`` outline, the
    parts describe the building and the outline is only its 2-D extent, so the outline is dropped.

    ``features`` hold geometries in local metres; a part may stick out of its outline by 0.5 m.
    """
    def is_part(f: _Feature) -> bool:
        return "building:part" in f.props and "building" not in f.props

    parts = [f.geometry for f in features if is_part(f)]
    if not parts:
        return features
    import shapely  # noqa: PLC0415

    tree = shapely.STRtree(parts)
    return [f for f in features
            if is_part(f) or not any(f.geometry.buffer(0.5).covers(parts[i]) for i in tree.query(f.geometry))]


def _to_local(source, origin: tuple[float, float]):
    """Transformer from the file's CRS to metres east/north of ``origin`` (lat, lon) [deg]: azimuthal equidistant."""
    from pyproj import CRS, Transformer  # noqa: PLC0415

    local = CRS.from_proj4(f"+proj=aeqd +lat_0={origin[0]} +lon_0={origin[1]} +datum=WGS84 +units=m +no_defs")
    return Transformer.from_crs(source, local, always_xy=True)


def load_footprints(params: FootprintParams) -> FootprintLayout:
    """Read, project and validate a footprint file (cached per file contents and parameters).

    Raises:
        FootprintError: empty file, missing heights, invalid or self-intersecting polygons,
            coordinates that are not longitude/latitude where WGS 84 is expected, or an unknown
            ``crs``; the message names the file and the feature.
    """
    path = Path(params.path)
    if not path.is_file():
        raise FootprintError(f"FootprintParams.path = {params.path!r}: no such file")
    return _load(params, path.stat().st_mtime_ns, path.stat().st_size)


@lru_cache(maxsize=16)
def _load(params: FootprintParams, _mtime_ns: int, _size: int) -> FootprintLayout:
    import shapely  # noqa: PLC0415
    from pyproj.exceptions import CRSError  # noqa: PLC0415
    from shapely.validation import explain_validity  # noqa: PLC0415

    path = Path(params.path)
    if path.suffix.lower() in (".osm", ".pbf"):
        features, crs = _read_osm(path), None
    else:
        features, crs = _read_geojson(path)
    if not features:
        raise FootprintError(f"{path}: no building footprints (Polygon/MultiPolygon features, or OSM 'building' / "
                             "'building:part' areas)")

    geographic = crs is None or crs.replace("urn:ogc:def:crs:", "").replace("::", ":") in (
        "OGC:1.3:CRS84", "OGC:CRS84", "EPSG:4326", "CRS84")
    for feat in features:
        if feat.geometry.is_empty:
            raise FootprintError(f"{feat.where}: empty geometry")
        if geographic:
            x0, y0, x1, y1 = feat.geometry.bounds
            if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
                raise FootprintError(
                    f"{feat.where}: coordinates ({x0:g}, {y0:g}) are not longitude/latitude in degrees; GeoJSON is "
                    "WGS 84 (RFC 7946): reproject the file, or name its CRS in a 'crs' member (e.g. EPSG:32632)")
        if not feat.geometry.is_valid:
            raise FootprintError(f"{feat.where}: invalid polygon ({explain_validity(feat.geometry)})")

    from pyproj import CRS, Transformer  # noqa: PLC0415

    try:
        source = CRS.from_user_input(crs or "OGC:CRS84")
    except CRSError as exc:
        raise FootprintError(f"{path}: unknown coordinate reference system {crs!r} ({exc})") from None
    if params.origin_lat_lon is not None:
        origin = params.origin_lat_lon
    else:  # the centre of the footprints' bounding box
        x0, y0, x1, y1 = shapely.total_bounds(np.asarray([f.geometry for f in features], dtype=object))
        lon, lat = Transformer.from_crs(source, "OGC:CRS84", always_xy=True).transform((x0 + x1) / 2, (y0 + y1) / 2)
        origin = (float(lat), float(lon))
    transformer = _to_local(source, origin)

    def project(geom):
        local = shapely.transform(geom, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
        return shapely.remove_repeated_points(shapely.set_precision(local, 10.0 ** -COORD_DECIMALS), 1e-3)

    features = _drop_outlines_with_parts([_Feature(project(f.geometry), f.props, f.where, f.name) for f in features])
    rng = np.random.default_rng(params.seed)
    polygons, heights, bases, mats, draws, names = [], [], [], [], [], []
    for feat in features:
        h = _height(feat.props, params, feat.where)
        base = _base(feat.props, params, h, feat.where)
        m = feat.props.get("material")
        if m is not None:
            try:
                itu.check_known(f"{feat.where}: material", m)
            except ValueError as exc:
                raise FootprintError(str(exc)) from None
        draw = int(rng.integers(1 << 30))
        local = feat.geometry
        parts = list(local.geoms) if local.geom_type == "MultiPolygon" else [local]
        for part in parts:
            if part.is_empty or part.area < 1.0:
                raise FootprintError(f"{feat.where}: footprint smaller than 1 m^2 after projection; "
                                     "are the coordinates in the stated CRS?")
            if not part.is_valid:
                raise FootprintError(f"{feat.where}: invalid polygon after projection ({explain_validity(part)})")
            polygons.append(part)
            heights.append(h)
            bases.append(base)
            mats.append(m)
            draws.append(draw)
            names.append(feat.name)
    union = shapely.union_all(np.asarray(polygons, dtype=object))
    shapely.prepare(union)
    return FootprintLayout(params=params, polygons=tuple(polygons), heights=np.asarray(heights, dtype=np.float64),
                           bases=np.asarray(bases, dtype=np.float64),
                           materials=tuple(mats), palette_index=np.asarray(draws, dtype=np.int64),
                           names=tuple(names), origin_lat_lon=(float(origin[0]), float(origin[1])), union=union)


__all__ = ["FootprintError", "FootprintLayout", "load_footprints"]

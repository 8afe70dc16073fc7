"""Write the example footprint files shipped in ``scenes/data/`` (GeoJSON and OSM XML of the same buildings).

A made-up district of 30 buildings around (48.1374 N, 11.5755 E): rectangles, L- and
U-shapes, courtyard blocks (polygons with holes), one building in two parts (a
MultiPolygon), heights given in metres or as ``building:levels``, a few with an ITU
``material``. Deterministic: running it again gives the same bytes.

    python scripts/make_example_footprints.py [--out scenes/data]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from pyproj import CRS, Transformer
from shapely.geometry import MultiPolygon, Polygon, box, mapping
from shapely.geometry.polygon import orient

ORIGIN = (48.1374, 11.5755)


def shapes() -> list[tuple[str, object, dict]]:
    """``(name, shapely geometry in local metres, properties)`` of every building."""
    out = []
    k = 0
    for row in range(5):
        for col in range(6):
            x0, y0 = -165.0 + col * 55.0, -135.0 + row * 55.0   # 55 m pitch: 35 m blocks, 20 m streets
            kind = (row * 6 + col) % 6
            if kind == 0:      # plain rectangle
                g = box(x0, y0, x0 + 35, y0 + 25)
            elif kind == 1:    # L-shape
                g = Polygon([(x0, y0), (x0 + 35, y0), (x0 + 35, y0 + 12), (x0 + 14, y0 + 12), (x0 + 14, y0 + 35),
                             (x0, y0 + 35)])
            elif kind == 2:    # courtyard block
                g = Polygon(box(x0, y0, x0 + 35, y0 + 35).exterior.coords,
                            [box(x0 + 10, y0 + 10, x0 + 25, y0 + 25).exterior.coords])
            elif kind == 3:    # U-shape
                g = Polygon([(x0, y0), (x0 + 35, y0), (x0 + 35, y0 + 35), (x0 + 24, y0 + 35), (x0 + 24, y0 + 11),
                             (x0 + 11, y0 + 11), (x0 + 11, y0 + 35), (x0, y0 + 35)])
            elif kind == 4:    # two parts of one building
                g = MultiPolygon([box(x0, y0, x0 + 15, y0 + 35), box(x0 + 20, y0, x0 + 35, y0 + 20)])
            else:              # rotated rectangle
                c, s = np.cos(0.35), np.sin(0.35)
                pts = np.array([[-15, -9], [15, -9], [15, 9], [-15, 9]]) @ np.array([[c, s], [-s, c]])
                g = Polygon(pts + [x0 + 17.5, y0 + 17.5])
            k += 1
            props = {"name": f"B{k:02d}", "building": "yes"}
            if k % 3 == 0:
                props["building:levels"] = str(3 + k % 5)
            else:
                props["height"] = f"{10 + (7 * k) % 28} m" if k % 2 else round(10.0 + (7 * k) % 28, 1)
            if k % 7 == 0:
                props["material"] = "glass"
            out.append((f"B{k:02d}", g, props))
    return out


def to_lonlat(geom):
    import shapely

    local = CRS.from_proj4(f"+proj=aeqd +lat_0={ORIGIN[0]} +lon_0={ORIGIN[1]} +datum=WGS84 +units=m +no_defs")
    t = Transformer.from_crs(local, "OGC:CRS84", always_xy=True)
    return shapely.transform(geom, lambda xy: np.round(np.column_stack(t.transform(xy[:, 0], xy[:, 1])), 7))


def polygons_of(geom) -> list[Polygon]:
    return [orient(p) for p in (geom.geoms if geom.geom_type == "MultiPolygon" else [geom])]


def write_geojson(path: Path, items) -> None:
    features = []
    for i, (name, geom, props) in enumerate(items):
        g = to_lonlat(geom)
        parts = polygons_of(g)
        g = parts[0] if len(parts) == 1 else MultiPolygon(parts)
        features.append({"type": "Feature", "id": i + 1, "properties": props, "geometry": mapping(g)})
    data = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(data, indent=1) + "\n")


def write_osm(path: Path, items) -> None:
    nodes, ways, rels = [], [], []
    nid, wid, rid = 1, 1, 1

    def ring_way(coords, tags=None):
        nonlocal nid, wid
        refs = []
        for lon, lat in list(coords)[:-1]:
            nodes.append(f'  <node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>')
            refs.append(nid)
            nid += 1
        body = "".join(f'\n    <nd ref="{r}"/>' for r in refs + refs[:1])
        body += "".join(f'\n    <tag k="{k}" v="{v}"/>' for k, v in (tags or {}).items())
        ways.append(f'  <way id="{wid}" version="1">{body}\n  </way>')
        wid += 1
        return wid - 1

    for name, geom, props in items:
        tags = {k: str(v) for k, v in props.items()}
        parts = polygons_of(to_lonlat(geom))
        if len(parts) == 1 and not parts[0].interiors:
            ring_way(parts[0].exterior.coords, tags)
            continue
        members = []
        for p in parts:
            members.append(("outer", ring_way(p.exterior.coords)))
            members += [("inner", ring_way(r.coords)) for r in p.interiors]
        body = "".join(f'\n    <member type="way" ref="{w}" role="{role}"/>' for role, w in members)
        body += "".join(f'\n    <tag k="{k}" v="{v}"/>' for k, v in {"type": "multipolygon", **tags}.items())
        rels.append(f'  <relation id="{rid}" version="1">{body}\n  </relation>')
        rid += 1
    text = "\n".join(['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="AirTwin example">',
                      *nodes, *ways, *rels, "</osm>"]) + "\n"
    path.write_text(text)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "scenes" / "data"))
    out = Path(p.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    items = shapes()
    write_geojson(out / "example_footprints.geojson", items)
    write_osm(out / "example_footprints.osm", items)
    print(f"wrote {len(items)} buildings to {out}/example_footprints.geojson and .osm")


if __name__ == "__main__":
    main()

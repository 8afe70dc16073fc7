"""Footprint scenes: GeoJSON and OSM XML files become welded-mesh twins with the services of procedural cities."""

import json

import numpy as np
import pytest
import shapely

from airtwin.scenes import ScenarioSpec, get_scenario, load_scenario
from airtwin.scenes.footprints import FootprintError, load_footprints
from airtwin.scenes.meshes import extrude
from airtwin.scenes.registry import EXAMPLE_FOOTPRINTS, EXAMPLE_FOOTPRINTS_OSM, footprint_scenario
from airtwin.scenes.spec import BSSite, FootprintParams, SceneSource

ORIGIN = (48.0, 11.0)


def square_lonlat(x0, y0, side):
    """A square of ``side`` metres at local (x0, y0) around ORIGIN, as a lon/lat ring.

    Azimuthal equidistant coordinates are the geodesic distance and azimuth from the origin,
    so the corners are placed with pyproj's geodesic (an independent route to the same metres).
    """
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    ring = []
    for x, y in [(x0, y0), (x0 + side, y0), (x0 + side, y0 + side), (x0, y0 + side), (x0, y0)]:
        lon, lat, _ = geod.fwd(ORIGIN[1], ORIGIN[0], np.degrees(np.arctan2(x, y)), np.hypot(x, y))
        ring.append([lon, lat])
    return ring


def write_geojson(path, features, crs=None):
    data = {"type": "FeatureCollection", "features": features}
    if crs:
        data["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(data))
    return str(path)


def feature(ring, **props):
    return {"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": [ring]}}


def test_geojson_and_osm_give_the_same_buildings():
    a = load_footprints(FootprintParams(path=str(EXAMPLE_FOOTPRINTS)))
    b = load_footprints(FootprintParams(path=str(EXAMPLE_FOOTPRINTS_OSM)))
    assert a.num_buildings == b.num_buildings >= 30
    assert sorted(set(a.names)) == sorted(set(b.names))
    area = {n: 0.0 for n in a.names}
    for p, n in zip(a.polygons, a.names):
        area[n] += p.area
    for p, n in zip(b.polygons, b.names):
        area[n] -= p.area
    assert max(abs(v) for v in area.values()) < 0.5
    assert dict(zip(a.names, a.heights)) == dict(zip(b.names, b.heights))
    # The example has courtyards (holes), non-convex shapes and heights from building:levels.
    assert any(p.interiors for p in a.polygons)
    assert any(p.convex_hull.area - p.area > 50 for p in a.polygons if not p.interiors)
    assert 12.0 in set(a.heights)  # 4 levels x 3 m


def test_projection_to_local_metres(tmp_path):
    path = write_geojson(tmp_path / "f.geojson", [feature(square_lonlat(100.0, -50.0, 20.0), height=10)])
    layout = load_footprints(FootprintParams(path=path, origin_lat_lon=ORIGIN))
    x0, y0, x1, y1 = layout.polygons[0].bounds
    assert (x0, y0) == pytest.approx((100.0, -50.0), abs=2e-3)
    assert (x1 - x0, y1 - y0) == pytest.approx((20.0, 20.0), abs=2e-3)


@pytest.mark.parametrize("kind", ["courtyard", "l-shape"])
def test_non_convex_and_holed_footprints_extrude_to_closed_meshes(kind):
    layout = load_footprints(FootprintParams(path=str(EXAMPLE_FOOTPRINTS)))
    if kind == "courtyard":
        i = next(i for i, p in enumerate(layout.polygons) if p.interiors)
    else:
        i = next(i for i, p in enumerate(layout.polygons) if not p.interiors and p.convex_hull.area - p.area > 50)
    poly, h = layout.polygons[i], layout.heights[i]
    mesh = extrude(poly, h)
    edges = np.sort(np.concatenate([mesh.faces[:, [0, 1]], mesh.faces[:, [1, 2]], mesh.faces[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert (counts == 2).all()  # closed and welded: every edge is a wedge between two faces
    v = mesh.vertices[mesh.faces]
    volume = np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum() / 6
    assert volume == pytest.approx(poly.area * h, rel=1e-6)  # outward normals, holes left open


def test_footprint_twin_through_the_python_api():
    from airtwin.phy.envmap import grid_points
    from airtwin.twin.twin import Twin

    spec = get_scenario("footprints-example")
    twin = Twin(spec)
    layout = twin.layout
    x, y, roof = layout.rooftop("B13")
    assert twin.bs_position.tolist() == pytest.approx([x, y, roof + 6.0], abs=1e-3)
    pos = twin.sample_ue_positions(400, np.random.default_rng(0))
    inside = shapely.contains_xy(shapely.union_all(list(layout.polygons)), pos[:, 0], pos[:, 1])
    assert not inside.any()
    assert (shapely.distance(layout.union, shapely.points(pos[:, :2])) >= 1.0 - 1e-6).all()
    points = grid_points(twin.bs_position, spec.bs[0].orientation_deg[0], spec.environment.size_cells,
                         twin.map_range_of(0))
    heights = np.array([layout.height_map(np.array([x]), np.array([y]))[0, 0] for x, y in points.reshape(-1, 2)])
    assert np.isclose(twin.height_map, heights.reshape(points.shape[:-1]), atol=1e-3).mean() > 0.98
    batch = twin.trace(pos[:24])
    assert batch.has_paths.mean() >= 0.9
    assert np.isfinite(batch.csi).all()


def test_footprint_file_through_the_cli(capsys, tmp_path):
    from airtwin.cli import main

    out = tmp_path / "cov.json"
    assert main(["scenes", "trace", str(EXAMPLE_FOOTPRINTS_OSM), "--drops", "8", "--json", str(out)]) == 0
    assert "coverage" in capsys.readouterr().out
    stats = json.loads(out.read_text())
    assert stats["drops"] == 8 and 0.0 <= stats["coverage"] <= 1.0
    assert main(["scenes", "show", str(EXAMPLE_FOOTPRINTS)]) == 0
    assert "35 buildings" in capsys.readouterr().out


def test_scenario_toml_with_footprints_and_a_rooftop_bs(tmp_path):
    (tmp_path / "b.geojson").write_text(EXAMPLE_FOOTPRINTS.read_text())
    toml = tmp_path / "site.toml"
    toml.write_text('name = "my-site"\n[scene]\nkind = "footprints"\n[scene.footprints]\npath = "b.geojson"\n'
                    'metres_per_level = 3.5\n[[bs]]\nname = "bs0"\nrooftop = "B20"\nmast_height_m = 4.0\n')
    spec = load_scenario(toml)
    layout = load_footprints(spec.scene.footprints)
    x, y, roof = layout.rooftop("B20")
    assert spec.bs[0].position == pytest.approx((x, y, roof + 4.0), abs=1e-3)
    assert spec.scene.footprints.path == str(tmp_path / "b.geojson")
    # Saved and reloaded, the spec is the same.
    spec.save(tmp_path / "site.json")
    assert ScenarioSpec.from_dict(json.loads((tmp_path / "site.json").read_text())) == spec
    with pytest.raises(ValueError, match=r"BSSite\.rooftop = 'B99'.*buildings: B01, B02"):
        footprint_scenario(tmp_path / "b.geojson", rooftop="B99")
    with pytest.raises(ValueError, match=r"position .* conflicts with rooftop"):
        ScenarioSpec(name="x", scene=spec.scene, bs=(BSSite(name="bs0", rooftop="B20", position=(0.0, 0.0, 30.0)),))
    with pytest.raises(ValueError, match="rooftop needs SceneSource.kind = 'footprints'"):
        ScenarioSpec(name="x", scene=SceneSource(kind="empty"), bs=(BSSite(name="bs0", rooftop="B20"),))


BAD_FILES = [
    ([feature(square_lonlat(0, 0, 10))], None, r"feature 0: no height"),
    ([feature(square_lonlat(0, 0, 10), name="Hall", height="tall")], None, r"feature 0 \('Hall'\): height = 'tall'"),
    ([feature([[11.0, 48.0], [11.001, 48.001], [11.001, 48.0], [11.0, 48.001], [11.0, 48.0]], name="Bowtie",
              height=9)], None, r"'Bowtie'.*invalid polygon \(Self-intersection"),
    ([feature([[500000.0, 5300000.0], [500020.0, 5300000.0], [500020.0, 5300020.0], [500000.0, 5300000.0]],
              height=9)], None, r"feature 0: coordinates .* not longitude/latitude.*crs"),
    ([], None, r"no building footprints"),
    ([feature(square_lonlat(0, 0, 10), height=9)], "EPSG:999999", r"unknown coordinate reference system 'EPSG:999999'"),
    ([feature(square_lonlat(0, 0, 10), height=9, material="cardboard")], None, r"feature 0: material = 'cardboard'"),
    ([{"type": "Feature", "properties": {"height": 5}, "geometry": {"type": "Point", "coordinates": [11, 48]}}],
     None, r"must be a Polygon or MultiPolygon, got 'Point'"),
]


@pytest.mark.parametrize("features, crs, match", BAD_FILES)
def test_bad_footprint_files_name_the_feature(tmp_path, features, crs, match):
    path = write_geojson(tmp_path / "bad.geojson", features, crs)
    with pytest.raises(FootprintError, match=match):
        load_footprints(FootprintParams(path=path))


def test_projected_crs_is_transformed(tmp_path):
    """A file in UTM 32N (named in its crs member) lands at the same local metres as its lon/lat twin."""
    from pyproj import Transformer

    ring = square_lonlat(0.0, 0.0, 30.0)
    t = Transformer.from_crs("OGC:CRS84", "EPSG:32632", always_xy=True)
    utm = [list(t.transform(lon, lat)) for lon, lat in ring]
    a = load_footprints(FootprintParams(path=write_geojson(tmp_path / "a.geojson", [feature(ring, height=9)]),
                                        origin_lat_lon=ORIGIN))
    b = load_footprints(FootprintParams(path=write_geojson(tmp_path / "b.geojson", [feature(utm, height=9)],
                                                           "EPSG:32632"), origin_lat_lon=ORIGIN))
    assert shapely.hausdorff_distance(a.polygons[0], b.polygons[0]) < 0.01


def test_footprint_params_are_validated():
    with pytest.raises(ValueError, match=r"FootprintParams.path = 'x.shp'.*geojson"):
        FootprintParams(path="x.shp")
    with pytest.raises(ValueError, match=r"FootprintParams.metres_per_level"):
        FootprintParams(path="x.osm", metres_per_level=0.0)
    with pytest.raises(ValueError, match=r"SceneSource.footprints .* required"):
        SceneSource(kind="footprints")
    with pytest.raises(FootprintError, match="no such file"):
        load_footprints(FootprintParams(path="/nonexistent/x.geojson"))


def test_a_building_material_undefined_at_the_carrier_is_caught_with_the_spec(tmp_path):
    import dataclasses

    path = write_geojson(tmp_path / "f.geojson", [feature(square_lonlat(0, 0, 20), name="Old mill", height=9,
                                                          material="brick")])
    spec = footprint_scenario(path)
    with pytest.raises(ValueError, match=r"building 'Old mill' material = 'brick' is not defined at 60 GHz"):
        dataclasses.replace(spec, radio=dataclasses.replace(spec.radio, carrier_frequency_hz=60e9))


def test_footprints_example_script_runs(tmp_path):
    """The example script, run as a user would, with tiny settings (cleanrl-style smoke test)."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "examples" / "footprints_twin.py"
    proc = subprocess.run([sys.executable, str(script), "--file", str(EXAMPLE_FOOTPRINTS_OSM), "--drops", "8",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "35 footprints" in proc.stdout and "coverage" in proc.stdout
    assert (tmp_path / "scene.png").stat().st_size > 10_000


def test_pbf_extract_reads_like_the_xml(tmp_path):
    """The same OSM data as PBF (written here with pyosmium) gives the same buildings."""
    import osmium

    pbf = tmp_path / "district.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(EXAMPLE_FOOTPRINTS_OSM)):
            writer.add(obj)
    a = load_footprints(FootprintParams(path=str(EXAMPLE_FOOTPRINTS_OSM)))
    b = load_footprints(FootprintParams(path=str(pbf)))
    assert a.names == b.names and np.array_equal(a.heights, b.heights)
    assert sum(p.area for p in a.polygons) == pytest.approx(sum(p.area for p in b.polygons), rel=1e-9)


def test_building_parts_above_the_ground_start_at_min_height(tmp_path):
    path = write_geojson(tmp_path / "f.geojson", [
        feature(square_lonlat(0, 0, 20), name="tower", height=30),
        feature(square_lonlat(30, 0, 10), name="bridge", height=12, min_height=8),
        feature(square_lonlat(50, 0, 10), name="upper floors", **{"building:levels": 6, "building:min_level": 2}),
    ])
    layout = load_footprints(FootprintParams(path=path, origin_lat_lon=ORIGIN))
    assert layout.bases.tolist() == [0.0, 8.0, 6.0] and layout.heights.tolist() == [30.0, 12.0, 18.0]
    mesh = extrude(layout.polygons[1], layout.heights[1], layout.bases[1])
    assert mesh.vertices[:, 2].min() == 8.0 and mesh.vertices[:, 2].max() == 12.0
    bad = write_geojson(tmp_path / "bad.geojson", [feature(square_lonlat(70, 0, 10), name="upside down", height=5,
                                                           min_height=9)])
    with pytest.raises(FootprintError, match=r"'upside down'\): min_height 9 m is not below its height 5 m"):
        load_footprints(FootprintParams(path=bad))


def test_outline_with_building_parts_is_replaced_by_its_parts(tmp_path):
    path = write_geojson(tmp_path / "f.geojson", [
        feature(square_lonlat(0, 0, 40), name="church outline", building="yes", height=20),
        feature(square_lonlat(0, 0, 10), name="tower", **{"building:part": "yes", "height": 60}),
        feature(square_lonlat(10, 0, 30), name="nave", **{"building:part": "yes", "height": 20}),
        feature(square_lonlat(100, 0, 10), name="house", building="yes", height=9),
    ])
    layout = load_footprints(FootprintParams(path=path, origin_lat_lon=ORIGIN))
    assert sorted(layout.names) == ["house", "nave", "tower"]

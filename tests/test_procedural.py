import numpy as np
import pytest

from airtwin.scenes import CityParams, generate_city, get_scenario


def _scene_bytes(folder) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_scene_files(tmp_path):
    generate_city(CityParams(seed=11)).write_scene(tmp_path / "a", 3.5e9)
    generate_city(CityParams(seed=11)).write_scene(tmp_path / "b", 3.5e9)
    a, b = _scene_bytes(tmp_path / "a"), _scene_bytes(tmp_path / "b")
    assert set(a) >= {"scene.xml", "meshes/ground.ply"} and len(a) >= 3
    assert a == b


def test_different_seeds_give_different_areas(tmp_path):
    a, b = generate_city(CityParams(seed=1)), generate_city(CityParams(seed=2))
    a.write_scene(tmp_path / "a", 3.5e9)
    b.write_scene(tmp_path / "b", 3.5e9)
    assert _scene_bytes(tmp_path / "a") != _scene_bytes(tmp_path / "b")
    assert a.num_buildings > 5 and b.num_buildings > 5


def test_buildings_are_closed_welded_meshes():
    """Every box is 8 shared vertices and 12 outward triangles; every edge joins exactly two faces."""
    from airtwin.scenes.meshes import extrude

    layout = generate_city(CityParams(seed=3))
    for poly, h in list(zip(layout.polygons(), layout.heights))[:10]:
        mesh = extrude(poly, h)
        assert mesh.vertices.shape == (8, 3) and mesh.faces.shape == (12, 3)
        edges = np.sort(np.concatenate([mesh.faces[:, [0, 1]], mesh.faces[:, [1, 2]], mesh.faces[:, [2, 0]]]), axis=1)
        _, counts = np.unique(edges, axis=0, return_counts=True)
        assert (counts == 2).all()
        # Outward normals: the signed volume (divergence theorem) equals the box volume.
        v = mesh.vertices[mesh.faces]
        volume = np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum() / 6
        assert volume == pytest.approx(poly.area * h, rel=1e-9)


def test_buildings_stay_inside_area_and_blocks():
    layout = generate_city(CityParams(seed=5, size_m=(200.0, 160.0)))
    x0, y0, x1, y1 = layout.bounds
    fp = layout.footprints
    assert (fp[:, 0] >= x0).all() and (fp[:, 2] <= x1).all() and (fp[:, 1] >= y0).all() and (fp[:, 3] <= y1).all()
    assert (fp[:, 2] > fp[:, 0]).all() and (fp[:, 3] > fp[:, 1]).all()
    p = layout.params
    assert (layout.heights >= p.building_height_m[0]).all() and (layout.heights <= p.building_height_m[1]).all()
    # Every building lies in a block, so the street grid is free.
    cx, cy = (fp[:, 0] + fp[:, 2]) / 2, (fp[:, 1] + fp[:, 3]) / 2
    in_bx = np.array([[a <= x <= b for a, b in layout.blocks_x] for x in cx]).any(axis=1)
    in_by = np.array([[a <= y <= b for a, b in layout.blocks_y] for y in cy]).any(axis=1)
    assert in_bx.all() and in_by.all()


def test_analytic_height_map_and_outdoor_mask_agree():
    layout = generate_city(CityParams(seed=3))
    xs = np.linspace(-119, 119, 120)
    hm = layout.height_map(xs, xs)
    gx, gy = np.meshgrid(xs, xs)
    outdoor = layout.is_outdoor(np.stack([gx, gy], -1))
    assert ((hm > 0) == ~outdoor).all()


def test_segment_blocked_reference():
    layout = generate_city(CityParams(seed=4, max_lots_per_side=1, empty_lot_prob=0.0))
    i = int(np.argmax(layout.heights))
    xa, ya, xb, yb = layout.footprints[i]
    cy = (ya + yb) / 2
    p0 = np.array([[xa - 0.5, cy, 2.0]] * 3)
    p1 = np.array([
        [xb + 0.5, cy, 2.0],                      # straight through the building
        [xa - 0.5, cy + 3.0, 2.0],                # along the wall, outside
        [xa - 0.4, cy, layout.heights[i] + 50],   # up past the roof edge, outside
    ])
    assert layout.segment_blocked(p0, p1).tolist() == [True, False, False]


def test_procedural_scene_loads_in_sionna(make_twin):
    twin = make_twin("city-tiny-00000")
    assert twin.layout is not None
    bb = twin.scene.mi_scene.bbox()
    assert float(bb.max.z) == pytest.approx(float(twin.layout.heights.max()), abs=1e-3)


def test_ue_samples_never_inside_a_footprint(make_twin):
    twin = make_twin("city-00007")
    pos = twin.sample_ue_positions(2000, np.random.default_rng(0))
    assert (twin.layout.building_at(pos[:, :2]) < 0).all()
    assert (pos[:, 2] == twin.spec.ue.height_m).all()
    x0, y0, x1, y1 = twin.layout.bounds
    assert (pos[:, 0] >= x0).all() and (pos[:, 0] <= x1).all()


def layout_heights(layout, points):
    """``[...]`` heights [m] of a layout at ``points [..., 2]`` (cell by cell, from its own footprints)."""
    flat = points.reshape(-1, 2)
    out = np.array([layout.height_map(np.array([x]), np.array([y]))[0, 0] for x, y in flat])
    return out.reshape(points.shape[:-1])


def test_ray_cast_height_map_matches_layout(make_twin):
    twin = make_twin("city-tiny-00000")
    hm = twin.height_map  # [64 ranges, 64 bearings] in the BS's frame
    from airtwin.phy.envmap import grid_points

    spec = twin.spec
    points = grid_points(twin.bs_position, spec.bs[0].orientation_deg[0], spec.environment.size_cells,
                         twin.map_range_of(0))
    ref = layout_heights(twin.layout, points)
    # Cells exactly on a wall may go either way; everywhere else the two agree to float precision.
    agree = np.isclose(hm, ref, atol=1e-3)
    assert agree.mean() > 0.99
    assert hm.max() > 0


def test_spec_of_procedural_family_is_seeded():
    a, b = get_scenario("city-00001"), get_scenario("city-00001")
    assert a == b and a != get_scenario("city-00002")

"""Building meshes and scene files: welded prisms from footprints, binary PLY, Mitsuba XML.

Sionna RT computes wedge diffraction only on edges shared by two faces of a mesh, that
is, on vertices shared by index. Every building is therefore written as one closed,
welded prism: its footprint polygon (any simple polygon, non-convex or with holes) is
triangulated with shapely's constrained Delaunay triangulation for the roof and the floor,
and each ring edge becomes a wall quad whose corners are the roof's and floor's own
vertices. A box gets 8 vertices and 12 triangles. Normals point out of the building
(counter-clockwise triangles seen from outside).

:func:`write_scene` writes a folder that Sionna's ``load_scene`` reads unchanged:
``scene.xml`` with one ``itu-radio-material`` per material and one ``ply`` shape per
material (all buildings of that material in one mesh), plus a flat ground mesh. The
output depends only on its inputs: the same layout gives byte-identical files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from airtwin.config import write_atomic

#: Wall thickness given to every material [m] (Sionna's thin-slab model of walls).
WALL_THICKNESS_M = 0.2
#: Coordinates are rounded to this many decimals [m] before they are written.
COORD_DECIMALS = 4


@dataclass(frozen=True)
class Mesh:
    """A triangle mesh.

    Attributes:
        vertices: ``[num_vertices, 3]`` float64 [m].
        faces: ``[num_faces, 3]`` int64 vertex indices, counter-clockwise seen from outside.
    """

    vertices: np.ndarray
    faces: np.ndarray

    @staticmethod
    def concatenate(meshes: Sequence[Mesh]) -> Mesh:
        """One mesh holding all ``meshes`` (vertex indices offset; nothing is welded across meshes)."""
        if not meshes:
            return Mesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64))
        offsets = np.cumsum([0] + [m.vertices.shape[0] for m in meshes[:-1]])
        return Mesh(np.concatenate([m.vertices for m in meshes]),
                    np.concatenate([m.faces + o for m, o in zip(meshes, offsets)]))


def _rings(polygon) -> list[np.ndarray]:
    """Exterior (counter-clockwise) and holes (clockwise) as ``[n, 2]`` arrays without the closing point."""
    from shapely.geometry.polygon import orient  # noqa: PLC0415

    polygon = orient(polygon, sign=1.0)
    return [np.asarray(r.coords, dtype=np.float64)[:-1] for r in (polygon.exterior, *polygon.interiors)]


def extrude(polygon, height_m: float, base_m: float = 0.0) -> Mesh:
    """Closed, welded prism over a footprint, from ``base_m`` up to ``height_m`` [m].

    Args:
        polygon: a valid ``shapely.Polygon`` (holes allowed) in metres; its coordinates should
            already be rounded to :data:`COORD_DECIMALS`.
        height_m: roof height [m], above ``base_m``.
    Returns:
        A :class:`Mesh` whose roof and floor are the constrained Delaunay triangulation of the
        footprint and whose walls share their corners with them.
    """
    import shapely  # noqa: PLC0415

    rings = _rings(polygon)
    ring_xy = np.concatenate(rings)
    n = ring_xy.shape[0]
    index = {(float(x), float(y)): i for i, (x, y) in enumerate(ring_xy)}
    if len(index) != n:
        raise ValueError("footprint has repeated vertices; simplify it first")
    floor = np.column_stack([ring_xy, np.full(n, base_m)])
    roof = np.column_stack([ring_xy, np.full(n, height_m)])
    vertices = np.concatenate([floor, roof])  # floor vertex i, roof vertex n + i

    faces = []
    for tri in shapely.constrained_delaunay_triangles(polygon).geoms:
        xy = np.asarray(tri.exterior.coords, dtype=np.float64)[:3]
        ids = [index[(float(x), float(y))] for x, y in xy]
        cross = (xy[1, 0] - xy[0, 0]) * (xy[2, 1] - xy[0, 1]) - (xy[1, 1] - xy[0, 1]) * (xy[2, 0] - xy[0, 0])
        if cross < 0:
            ids = [ids[0], ids[2], ids[1]]
        faces.append([n + ids[0], n + ids[1], n + ids[2]])  # roof, normal +z
        faces.append([ids[0], ids[2], ids[1]])              # floor, normal -z
    start = 0
    for ring in rings:
        k = ring.shape[0]
        for j in range(k):
            a, b = start + j, start + (j + 1) % k
            # Exterior rings run counter-clockwise and holes clockwise, so the building is on
            # the left of a -> b and (a, b, b') faces outward.
            faces.append([a, b, n + b])
            faces.append([a, n + b, n + a])
        start += k
    return Mesh(vertices, np.asarray(faces, dtype=np.int64))


def rectangle(bounds: tuple[float, float, float, float], z_m: float = 0.0) -> Mesh:
    """Flat rectangle ``(x_min, y_min, x_max, y_max)`` at height ``z_m``, normal +z (the ground)."""
    x0, y0, x1, y1 = bounds
    v = np.array([[x0, y0, z_m], [x1, y0, z_m], [x1, y1, z_m], [x0, y1, z_m]], dtype=np.float64)
    return Mesh(v, np.array([[0, 1, 2], [0, 2, 3]], dtype=np.int64))


def ply_bytes(mesh: Mesh) -> bytes:
    """Binary little-endian PLY of a mesh: float32 vertices, int32 triangle indices."""
    v = np.round(mesh.vertices, COORD_DECIMALS).astype("<f4")
    f = np.zeros(mesh.faces.shape[0], dtype=[("n", "u1"), ("i", "<i4", (3,))])
    f["n"] = 3
    f["i"] = mesh.faces
    header = ("ply\nformat binary_little_endian 1.0\ncomment AirTwin\n"
              f"element vertex {v.shape[0]}\nproperty float x\nproperty float y\nproperty float z\n"
              f"element face {f.shape[0]}\nproperty list uchar int vertex_indices\nend_header\n")
    return header.encode("ascii") + v.tobytes() + f.tobytes()


def write_scene(folder: str | Path, meshes: dict[str, Mesh], ground: Mesh | None, ground_material: str,
                thickness_m: float = WALL_THICKNESS_M) -> Path:
    """Write a Sionna RT scene folder: ``scene.xml`` and ``meshes/*.ply``.

    Args:
        folder: output folder (created if needed).
        meshes: ``{itu_material: mesh}``, the buildings of each material merged into one mesh.
        ground: ground mesh, or None for no ground.
        ground_material: ITU material of the ground.
        thickness_m: slab thickness of every material [m].
    Returns:
        Path of ``scene.xml``. Files are written atomically (temporary name, then rename).
    """
    folder = Path(folder)
    (folder / "meshes").mkdir(parents=True, exist_ok=True)
    shapes = [(f"buildings-{m}", m, mesh) for m, mesh in meshes.items() if mesh.faces.size]
    if ground is not None:
        shapes.insert(0, ("ground", ground_material, ground))
    used = list(dict.fromkeys(m for _, m, _ in shapes))
    lines = ['<scene version="2.1.0">']
    for m in used:
        lines += [f'  <bsdf type="itu-radio-material" id="mat-{m}">',
                  f'    <string name="type" value="{m}"/>',
                  f'    <float name="thickness" value="{thickness_m:.3f}"/>',
                  "  </bsdf>"]
    for name, m, mesh in shapes:
        write_atomic(folder / "meshes" / f"{name}.ply", ply_bytes(mesh))
        lines += [f'  <shape type="ply" id="mesh-{name}">',
                  f'    <string name="filename" value="meshes/{name}.ply"/>',
                  '    <boolean name="face_normals" value="true"/>',
                  f'    <ref id="mat-{m}" name="bsdf"/>',
                  "  </shape>"]
    lines.append("</scene>")
    xml = folder / "scene.xml"
    write_atomic(xml, ("\n".join(lines) + "\n").encode())
    return xml


def write_buildings(folder: str | Path, polygons: Sequence, heights: Sequence[float], materials: Sequence[str],
                    ground_bounds: tuple[float, float, float, float] | None, ground_material: str,
                    bases: Sequence[float] | None = None) -> Path:
    """Extrude buildings and write them with a ground rectangle as a scene folder (see :func:`write_scene`).

    Args:
        polygons: footprints (``shapely.Polygon``) [m].
        heights: roof heights above the ground (z = 0) [m], one per footprint.
        materials: ITU material of each building.
        ground_bounds: ``(x_min, y_min, x_max, y_max)`` of the ground [m], or None for no ground.
        ground_material: ITU material of the ground.
        bases: height of each building's floor [m] (0 when None: standing on the ground).
    """
    bases = [0.0] * len(polygons) if bases is None else bases
    by_material: dict[str, list[Mesh]] = {}
    for poly, h, m, b in zip(polygons, heights, materials, bases, strict=True):
        by_material.setdefault(m, []).append(extrude(poly, float(h), float(b)))
    merged = {m: Mesh.concatenate(parts) for m, parts in by_material.items()}
    ground = rectangle(ground_bounds) if ground_bounds is not None else None
    return write_scene(folder, merged, ground, ground_material)


__all__ = ["WALL_THICKNESS_M", "COORD_DECIMALS", "Mesh", "extrude", "rectangle", "ply_bytes", "write_scene", "write_buildings"]

"""ITU-R P.2040 radio materials and the frequencies at which they are defined.

Sionna RT models building and ground materials with the ITU-R P.2040 table it ships in
``sionna/rt/radio_materials/itu.py`` (``ITU_MATERIALS_PROPERTIES``): each material has one
or more frequency ranges, and Sionna raises deep inside the tracer when the scene's carrier
leaves them. This module checks materials against a carrier when a spec is built, using
that same table. The table is read from Sionna's source file as a Python literal rather
than by importing ``sionna.rt``: importing it would set a Mitsuba variant and cost about a
second, which a spec check must not. ``tests/test_materials.py`` checks that the literal read
here equals the table Sionna uses at run time.

Defaults of generated scenes (procedural cities, footprint scenes): buildings draw from
:data:`DEFAULT_BUILDING_MATERIALS` over a :data:`DEFAULT_GROUND_MATERIAL` ground. Where the
table does not define one of these defaults at the carrier, :data:`FALLBACK_MATERIAL`
(concrete, defined 1-100 GHz: paved streets and concrete facades) stands in for it:

========================  ===================================  ==============
carrier                   buildings                            ground
========================  ===================================  ==============
1-10 GHz                  concrete, brick, glass, marble       medium_dry_ground
10-40 GHz                 concrete, brick, glass, marble       concrete
40 to <60 GHz             concrete, concrete, glass, marble    concrete
60 to <100 GHz            concrete, concrete, glass, concrete  concrete
100 GHz                   concrete, concrete, glass, marble    concrete
========================  ===================================  ==============

Materials named explicitly in a spec are never substituted: they must be defined at the
carrier, or the spec is rejected with the list of materials that are.
"""

from __future__ import annotations

import ast
import importlib.util
from functools import lru_cache
from pathlib import Path

#: Default building palette of generated scenes (drawn uniformly per building).
DEFAULT_BUILDING_MATERIALS = ("concrete", "brick", "glass", "marble")
#: Default ground of generated scenes.
DEFAULT_GROUND_MATERIAL = "medium_dry_ground"
#: Stands in for a default material that is not defined at the carrier.
FALLBACK_MATERIAL = "concrete"


def _sionna_rt_dir() -> Path:
    """Folder of the installed ``sionna.rt`` package, found without importing it."""
    spec = importlib.util.find_spec("sionna")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("sionna is not installed; AirTwin needs sionna==2.2.0 (see README.md)")
    for root in spec.submodule_search_locations:
        candidate = Path(root) / "rt"
        if (candidate / "radio_materials" / "itu.py").is_file():
            return candidate
    raise ImportError("sionna.rt (package sionna-rt) is not installed; AirTwin needs sionna==2.2.0")


@lru_cache(maxsize=1)
def itu_table() -> dict[str, tuple[tuple[float, float], ...]]:
    """``{material: ((f_min_ghz, f_max_ghz), ...)}`` from Sionna's ITU-R P.2040 table (frequency ranges only)."""
    source = (_sionna_rt_dir() / "radio_materials" / "itu.py").read_text()
    for node in ast.parse(source).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and getattr(node.targets[0], "id", None) == "ITU_MATERIALS_PROPERTIES"):
            table = ast.literal_eval(node.value)
            return {name: tuple(sorted(ranges)) for name, ranges in table.items()}
    raise ImportError("ITU_MATERIALS_PROPERTIES not found in Sionna's radio_materials/itu.py; "
                      "AirTwin is tested with sionna==2.2.0")


def itu_materials() -> tuple[str, ...]:
    """Names of all ITU materials Sionna knows, in the table's order."""
    return tuple(itu_table())


def is_defined(material: str, carrier_frequency_hz: float) -> bool:
    """Whether Sionna's table defines ``material`` at ``carrier_frequency_hz``.

    Ranges are inclusive, and the frequency is compared in float32 as Sionna does (its scene
    frequency is a ``mi.Float``): 60 GHz is 60.000004 GHz there, just outside marble's 1-60 GHz.
    """
    import numpy as np  # noqa: PLC0415

    f_ghz = float(np.float32(carrier_frequency_hz) / np.float32(1e9))
    return any(lo <= f_ghz <= hi for lo, hi in itu_table().get(material, ()))


def materials_defined_at(carrier_frequency_hz: float) -> tuple[str, ...]:
    """The ITU materials defined at ``carrier_frequency_hz``."""
    return tuple(m for m in itu_table() if is_defined(m, carrier_frequency_hz))


def _ranges_text(material: str) -> str:
    return ", ".join(f"{lo:g}-{hi:g} GHz" for lo, hi in itu_table()[material])


def check_known(where: str, material: str) -> None:
    """Raise ``ValueError`` naming ``where`` unless ``material`` is in Sionna's ITU table."""
    if material not in itu_table():
        raise ValueError(f"{where} = {material!r} is not an ITU material; allowed: {', '.join(itu_table())}")


def check_palette_names(where: str, buildings: tuple[str, ...] | None, ground: str | None) -> None:
    """Raise ``ValueError`` unless a palette (``None`` = defaults) and a ground name only known ITU materials."""
    if buildings is not None:
        if not buildings:
            raise ValueError(f"{where}.materials must name at least one material (or be left out for the defaults)")
        for i, m in enumerate(buildings):
            check_known(f"{where}.materials[{i}]", m)
    if ground is not None:
        check_known(f"{where}.ground_material", ground)


def check_defined(where: str, material: str, carrier_frequency_hz: float) -> None:
    """Raise ``ValueError`` unless ``material`` is defined at the carrier.

    The message names the field, the frequency, the material's own ranges and the
    materials that are defined at that frequency.
    """
    check_known(where, material)
    if not is_defined(material, carrier_frequency_hz):
        valid = materials_defined_at(carrier_frequency_hz)
        raise ValueError(
            f"{where} = {material!r} is not defined at {carrier_frequency_hz / 1e9:g} GHz "
            f"(ITU-R P.2040 defines it at {_ranges_text(material)}); materials defined there: "
            f"{', '.join(valid) if valid else 'none'}")


def resolve_palette(where: str, buildings: tuple[str, ...] | None, ground: str | None,
                    carrier_frequency_hz: float) -> tuple[tuple[str, ...], str]:
    """Building palette and ground material of a generated scene at a carrier.

    ``None`` means the defaults, with :data:`FALLBACK_MATERIAL` standing in for any default
    that the table does not define at the carrier (see the module docstring). Named
    materials are checked with :func:`check_defined` and kept as they are.

    Returns:
        ``(building materials, ground material)``; the palette keeps its length, so the
        buildings' material indices mean the same at every carrier.
    """
    def default(name: str, field: str) -> str:
        if is_defined(name, carrier_frequency_hz):
            return name
        if not is_defined(FALLBACK_MATERIAL, carrier_frequency_hz):
            raise ValueError(
                f"{where}.{field}: the defaults ({name!r}, fallback {FALLBACK_MATERIAL!r}) are not defined at "
                f"{carrier_frequency_hz / 1e9:g} GHz; name materials defined there: "
                f"{', '.join(materials_defined_at(carrier_frequency_hz)) or 'none'}")
        return FALLBACK_MATERIAL

    if buildings is None:
        palette = tuple(default(m, "materials") for m in DEFAULT_BUILDING_MATERIALS)
    else:
        for i, m in enumerate(buildings):
            check_defined(f"{where}.materials[{i}]", m, carrier_frequency_hz)
        palette = tuple(buildings)
    if ground is None:
        ground_material = default(DEFAULT_GROUND_MATERIAL, "ground_material")
    else:
        check_defined(f"{where}.ground_material", ground, carrier_frequency_hz)
        ground_material = ground
    return palette, ground_material


def scene_file_materials(xml_path: str | Path) -> tuple[str, ...]:
    """ITU material types used by a Mitsuba XML scene file, in order of first use.

    Finds ``itu-radio-material`` BSDFs (their ``type`` string) and BSDFs whose id follows
    Sionna's ``itu_<name>`` / ``mat-itu_<name>`` naming convention.
    """
    import xml.etree.ElementTree as ET  # noqa: PLC0415

    root = ET.parse(xml_path).getroot()
    found: list[str] = []
    for bsdf in root.iter("bsdf"):
        name = None
        if bsdf.get("type") == "itu-radio-material":
            typ = bsdf.find("string[@name='type']")
            name = typ.get("value") if typ is not None else None
        else:
            ident = (bsdf.get("id") or bsdf.get("name") or "").removeprefix("mat-")
            if ident.startswith(("itu_", "itu-")):
                name = ident[4:]
        if name and name not in found:
            found.append(name)
    return tuple(found)


def builtin_scene_file(name: str) -> Path:
    """Path of a built-in Sionna scene's XML file (``sionna.rt.scene.<name>``), found without importing Sionna."""
    return _sionna_rt_dir() / "scenes" / name / f"{name}.xml"


__all__ = [
    "DEFAULT_BUILDING_MATERIALS", "DEFAULT_GROUND_MATERIAL", "FALLBACK_MATERIAL", "itu_table", "itu_materials",
    "is_defined", "materials_defined_at", "check_known", "check_palette_names", "check_defined", "resolve_palette",
    "scene_file_materials", "builtin_scene_file",
]

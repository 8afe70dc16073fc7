"""Export a scenario as a self-contained Sionna RT scene folder, usable without AirTwin.

:func:`export_scene` writes::

    DIR/scene.xml        Mitsuba XML that ``sionna.rt.load_scene`` loads unchanged
    DIR/meshes/*.ply     every mesh it references (welded meshes for procedural and footprint scenes)
    DIR/sites.json       BS sites (position [m], orientation [deg and rad], array), the UE array, carrier,
                         bandwidth and subcarriers: what a Sionna user needs to place transmitters
    DIR/spec.json        the AirTwin scenario, pointing at ``scene.xml`` (``airtwin scenes show DIR/spec.json``)

Built-in Sionna scenes are copied from Sionna's package data, XML scenes with the files they
reference, and generated scenes are written for the scenario's carrier (materials resolved there).
"""

from __future__ import annotations

import math
import shutil
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

from airtwin.config import to_dict, write_atomic, write_json
from airtwin.scenes.layout import scene_layout
from airtwin.scenes.materials import builtin_scene_file
from airtwin.scenes.spec import ScenarioSpec, SceneSource


def _copy_xml_scene(xml: Path, out: Path) -> None:
    """Copy an XML scene and every file it references (relative ``filename`` strings) into ``out``."""
    root = ET.parse(xml).getroot()
    for node in root.iter("string"):
        if node.get("name") == "filename":
            rel = Path(node.get("value"))
            if rel.is_absolute() or ".." in rel.parts:
                raise ValueError(f"{xml}: cannot export {rel}: only files below the scene's folder are copied")
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(xml.parent / rel, out / rel)
    write_atomic(out / "scene.xml", xml.read_bytes())


def sites(spec: ScenarioSpec) -> dict:
    """BS sites, arrays and numerology of ``spec`` as plain JSON values (units in the key names)."""
    def array(a) -> dict:
        return {"num_rows": a.num_rows, "num_cols": a.num_cols, "vertical_spacing_wavelengths": a.vertical_spacing,
                "horizontal_spacing_wavelengths": a.horizontal_spacing, "pattern": a.pattern,
                "polarization": a.polarization}

    return {
        "scenario": spec.name,
        "carrier_frequency_hz": spec.radio.carrier_frequency_hz,
        "bandwidth_hz": spec.radio.bandwidth_hz,
        "num_subcarriers": spec.radio.num_subcarriers,
        "tx_power_dbm": spec.radio.tx_power_dbm,
        "base_stations": [{"name": b.name, "position_m": list(b.position),
                           "orientation_deg": list(b.orientation_deg),
                           "orientation_rad": [math.radians(v) for v in b.orientation_deg],
                           "array": array(b.array)} for b in spec.bs],
        "ue_array": array(spec.ue.array),
        "ue_height_m": spec.ue.height_m,
    }


def export_scene(spec: ScenarioSpec, out_dir: str | Path) -> Path:
    """Write ``spec`` as a self-contained scene folder (see the module docstring); returns ``scene.xml``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    source = spec.scene
    layout = scene_layout(source)
    if layout is not None:
        layout.write_scene(out, spec.radio.carrier_frequency_hz)
    elif source.kind == "builtin":
        _copy_xml_scene(builtin_scene_file(source.name), out)
    elif source.kind == "xml":
        _copy_xml_scene(Path(source.path), out)
    else:  # empty world
        write_atomic(out / "scene.xml", b'<scene version="2.1.0">\n</scene>\n')
    xml = out / "scene.xml"
    write_json(out / "sites.json", sites(spec))
    exported = replace(spec, scene=SceneSource(kind="xml", path=str(xml.resolve())),
                       bs=tuple(replace(b, rooftop=None) for b in spec.bs),  # positions are resolved already
                       description=f"{spec.description} (exported from {source.kind} scene)".strip())
    data = to_dict(exported)
    data["scene"]["path"] = "scene.xml"  # relative: the folder can be moved
    write_json(out / "spec.json", data, indent=2)
    return xml


__all__ = ["export_scene", "sites"]

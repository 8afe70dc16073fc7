"""Scene export: Sionna loads the exported folder unchanged and traces the same paths."""

import json

import numpy as np
import pytest

from airtwin.scenes import get_scenario, load_scenario
from airtwin.scenes.export import export_scene


def bare_sionna_paths(folder, sites, positions, tracing):
    """What a Sionna user without AirTwin writes: load the XML, place the sites from sites.json, trace."""
    from airtwin.twin.backend import sionna_rt

    rt, mi = sionna_rt()
    scene = rt.load_scene(str(folder / "scene.xml"))
    scene.frequency = sites["carrier_frequency_hz"]
    bs = sites["base_stations"][0]
    a, u = bs["array"], sites["ue_array"]
    scene.tx_array = rt.PlanarArray(num_rows=a["num_rows"], num_cols=a["num_cols"],
                                    vertical_spacing=a["vertical_spacing_wavelengths"],
                                    horizontal_spacing=a["horizontal_spacing_wavelengths"], pattern=a["pattern"],
                                    polarization=a["polarization"])
    scene.rx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern=u["pattern"], polarization=u["polarization"])
    scene.add(rt.Transmitter(name="bs", position=mi.Point3f(*bs["position_m"]),
                             orientation=mi.Point3f(*bs["orientation_rad"])))
    for i, p in enumerate(positions):
        scene.add(rt.Receiver(name=f"ue{i}", position=mi.Point3f(*map(float, p))))
    return rt.PathSolver(deterministic=tracing.deterministic)(
        scene, max_depth=tracing.max_depth, max_num_paths_per_src=tracing.max_num_paths_per_src,
        samples_per_src=tracing.samples_per_src, synthetic_array=True, los=tracing.los,
        specular_reflection=tracing.specular_reflection, diffuse_reflection=tracing.diffuse_reflection,
        refraction=tracing.refraction, diffraction=tracing.diffraction, seed=tracing.seed)


def path_table(paths):
    """Valid paths as sorted rows (delay, |a|^2) per receiver."""
    a_re, a_im = paths.a
    power = (np.asarray(a_re) ** 2 + np.asarray(a_im) ** 2)[:, 0, 0, 0, :]
    tau = np.asarray(paths.tau).reshape(power.shape)
    valid = np.asarray(paths.valid, dtype=bool).reshape(power.shape) & np.isfinite(power)
    return [np.array(sorted(zip(tau[i][valid[i]], power[i][valid[i]]))) for i in range(power.shape[0])]


@pytest.mark.parametrize("name", ["canyon-test", "city-tiny-00001", "footprints-example"])
def test_exported_scene_traces_the_same_paths_in_bare_sionna(tmp_path, name):
    from airtwin.twin.twin import Twin

    spec = get_scenario(name)
    if name != "canyon-test":  # keep the test fast: fewer rays on the larger scenes
        import dataclasses

        spec = dataclasses.replace(spec, tracing=dataclasses.replace(spec.tracing, samples_per_src=20_000))
    out = tmp_path / "export"
    xml = export_scene(spec, out)
    sites = json.loads((out / "sites.json").read_text())
    assert xml == out / "scene.xml" and sites["base_stations"][0]["position_m"] == list(spec.bs[0].position)
    twin = Twin(spec)
    positions = twin.sample_ue_positions(4, np.random.default_rng(0))
    ours = path_table(twin.trace_paths(positions))
    theirs = path_table(bare_sionna_paths(out, sites, positions, spec.tracing))
    assert sum(len(t) for t in ours) > 0
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=0)
    # The exported spec loads back into AirTwin (a relative scene path, so the folder can move).
    back = load_scenario(out / "spec.json")
    assert back.scene.kind == "xml" and back.bs[0].position == spec.bs[0].position


def test_export_through_the_cli(tmp_path, capsys):
    from airtwin.cli import main

    assert main(["scenes", "export", "free-space", "--out", str(tmp_path / "fs")]) == 0
    assert "sites.json" in capsys.readouterr().out
    assert (tmp_path / "fs" / "scene.xml").read_text().startswith("<scene")

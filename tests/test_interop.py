"""DeepMIMO v4 round trip: what DeepMIMO reads back is what the twin traced."""

from __future__ import annotations

import json

import numpy as np
import pytest

from airtwin.phy.ofdm import frequency_response


def _wrap(x):
    return (x + np.pi) % (2 * np.pi) - np.pi


def test_deepmimo_export_round_trips_paths_and_channels(make_twin, tmp_path):


    from airtwin.datagen.deepmimo import DEEPMIMO_MAX_PATHS, export_deepmimo, load_deepmimo

    twin = make_twin("canyon-test")
    folder = export_deepmimo(twin.spec, tmp_path, drops=6, seed=3, name="canyon", log=lambda m: None)
    record = json.loads((folder / "airtwin.json").read_text())
    assert record["num_ues"] == 6 and record["max_paths_per_ue"] == DEEPMIMO_MAX_PATHS
    ds = load_deepmimo(folder)

    # The twin's own trace of the same drops with the same seed.
    positions = np.asarray(ds.rx_pos, np.float64)
    np.testing.assert_allclose(positions, twin.sample_ue_positions(6, np.random.default_rng(3)), atol=1e-3)
    paths = twin.trace_paths(positions, seed=3)
    a = (np.asarray(paths.a[0]) + 1j * np.asarray(paths.a[1]))[:, 0, 0, 0, :]  # [N, P], BS element 0
    tau = np.asarray(paths.tau).reshape(len(positions), -1)
    valid = np.asarray(paths.valid, bool).reshape(len(positions), -1) & np.isfinite(a) & (np.abs(a) > 0)
    batch = twin.trace(positions, seed=3)

    power_db, phase = np.asarray(ds.power, np.float64), np.radians(np.asarray(ds.phase, np.float64))
    delay = np.asarray(ds.delay, np.float64)
    checked = 0
    for u in range(len(positions)):
        mine = np.flatnonzero(valid[u])
        strongest = mine[np.argsort(-np.abs(a[u, mine]))][:5]
        theirs = np.flatnonzero(np.isfinite(power_db[u]) & np.isfinite(delay[u]))
        for p in strongest:  # match on delay (and power): DeepMIMO reorders paths
            cost = np.abs(delay[u, theirs] - tau[u, p]) * 1e9 + np.abs(power_db[u, theirs] - 20 * np.log10(np.abs(a[u, p])))
            q = theirs[np.argmin(cost)]
            assert abs(power_db[u, q] - 20 * np.log10(np.abs(a[u, p]))) <= 0.5
            assert abs(_wrap(phase[u, q] - np.angle(a[u, p]))) <= 0.05
            checked += 1
        # The channel from DeepMIMO's paths (first BS element) is the twin's CSI, for UEs within the path cap.
        if len(mine) <= DEEPMIMO_MAX_PATHS and batch.has_paths[u]:
            amp = 10 ** (power_db[u, theirs] / 20) * np.exp(1j * phase[u, theirs])
            h = frequency_response(amp[None, None, :], delay[u, theirs][None], twin.spec.radio.carrier_frequency_hz,
                                   twin.frequencies_hz)[0, 0]
            ref = batch.csi[u, 0]
            err_db = np.abs(20 * np.log10(np.abs(h) / np.abs(ref)))
            assert np.median(err_db) <= 0.5, err_db
    assert checked >= 10


def test_deepmimo_export_refuses_bad_input(make_twin, tmp_path):
    from airtwin.datagen.deepmimo import export_deepmimo

    twin = make_twin("canyon-test")
    with pytest.raises(ValueError, match="exactly one of drops"):
        export_deepmimo(twin.spec, tmp_path, log=lambda m: None)
    with pytest.raises(ValueError, match="drops = 0"):
        export_deepmimo(twin.spec, tmp_path, drops=0, log=lambda m: None)


def test_deepmimo_scenario_imports_as_a_dataset_with_the_twins_channels(make_twin, tmp_path):
    from airtwin.datagen.deepmimo import DEEPMIMO_MAX_PATHS, export_deepmimo, import_deepmimo
    from airtwin.datagen.reader import AirTwinDataset

    twin = make_twin("canyon-test")
    folder = export_deepmimo(twin.spec, tmp_path / "dm", drops=8, seed=5, name="canyon", log=lambda m: None)
    manifest = import_deepmimo(folder, tmp_path / "data", split="train", shard_size=4, log=lambda m: None)
    assert len(manifest["shards"]) == 2
    ds = AirTwinDataset(tmp_path / "data", split="train")  # checksums, schema and numerology are checked on read
    data = ds.read_batch(np.arange(len(ds)), ("csi", "los", "path_loss_db", "ue_position", "best_beam", "height_map"))
    positions = data["ue_position"].astype(np.float64)
    batch = twin.trace(positions, seed=5)
    paths = twin.trace_paths(positions, seed=5)
    a = np.asarray(paths.a[0]) + 1j * np.asarray(paths.a[1])
    count = (np.isfinite(a).all(axis=(1, 3)) & (np.abs(np.nan_to_num(a)).sum(axis=(1, 3)) > 0)).reshape(len(positions), -1).sum(1)
    within = (count <= DEEPMIMO_MAX_PATHS) & batch.has_paths
    assert within.sum() >= 3
    ratio = data["csi"][within] / batch.csi[within]
    assert np.median(np.abs(20 * np.log10(np.abs(ratio)))) <= 0.5
    assert np.median(np.abs(np.angle(ratio))) <= 0.05
    np.testing.assert_array_equal(data["los"][within], batch.los[within])
    np.testing.assert_allclose(data["path_loss_db"][within], batch.path_loss_db[within], atol=0.5)
    np.testing.assert_array_equal(data["best_beam"][within], batch.best_beam[within])
    assert data["height_map"].max() > 5.0  # the street canyon's buildings, from DeepMIMO's scene objects

    # A DeepMIMO folder without AirTwin's record: DeepMIMO's carrier and bandwidth, a 1x8 array.
    (folder / "airtwin.json").unlink()
    import_deepmimo(folder, tmp_path / "plain", log=lambda m: None)
    plain = AirTwinDataset(tmp_path / "plain", split="test")
    shapes = plain.shapes()
    assert len(plain) == 8 and shapes.num_antennas == 8 and shapes.num_subcarriers == 64
    assert plain.manifest["scenarios"][0]["spec"]["radio"]["carrier_frequency_hz"] == twin.spec.radio.carrier_frequency_hz


def test_dataset_converts_to_hugging_face_datasets(tmp_path):
    from datasets import load_from_disk

    from airtwin.cli import main
    from airtwin.datagen.generate import generate
    from airtwin.datagen.plan import GenerateConfig
    from airtwin.datagen.reader import AirTwinDataset

    generate(GenerateConfig(suite="tiny", samples=16, shard_size=8, batch_size=8), tmp_path / "data")
    assert main(["export", "hf", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "hf"), "--split",
                 "train"]) == 0
    hf = load_from_disk(str(tmp_path / "hf"))
    ours = AirTwinDataset(tmp_path / "data", split="train")
    assert len(hf) == len(ours) == 8
    row, sample = hf[3], ours[3]
    csi = np.asarray(row["csi_re"]) + 1j * np.asarray(row["csi_im"])
    np.testing.assert_array_equal(csi, sample["csi"].numpy())
    np.testing.assert_array_equal(np.asarray(row["height_map"]), sample["height_map"].numpy())
    assert row["best_beam"] == int(sample["best_beam"]) and row["scenario"] == "city-tiny-00000"
    prev = ours.read_batch(np.array([3]), ("csi_prev",))["csi_prev"][0]  # the previous pilot travels too
    np.testing.assert_array_equal(np.asarray(row["csi_prev_re"]) + 1j * np.asarray(row["csi_prev_im"]), prev)

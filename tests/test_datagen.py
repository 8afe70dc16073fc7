"""Dataset generation: format, determinism, resume after a kill, Ray backend, corruption and bad input."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from airtwin.datagen.generate import DatasetError, generate, read_manifest
from airtwin.datagen.plan import GenerateConfig, plan_shards
from airtwin.datagen.reader import AirTwinDataset, TaskView
from airtwin.phy.tasks import TASK_NAMES as TASKS
from airtwin.scenes.suites import load_suite
from airtwin.datagen.schema import SAMPLE_FIELDS, SCHEMA_VERSION, schema_markdown

TINY = dict(suite="tiny", samples=48, shard_size=12, batch_size=12, seed=3)


def checksums(root) -> dict[str, str]:
    return {r["file"]: r["sha256"] for r in read_manifest(Path(root))["shards"]}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted single-process run of the TINY config."""
    root = tmp_path_factory.mktemp("ref")
    generate(GenerateConfig(**TINY), root)
    return root


def test_plan_is_deterministic_and_covers_all_samples():
    cfg = GenerateConfig(suite="procedural-train", samples=1000, shard_size=100)
    a, b = plan_shards(cfg), plan_shards(cfg)
    assert a == b
    assert sum(t.num_samples for t in a) == 1000
    assert len({t.seed for t in a}) == len(a)
    assert {t.scenario for t in a} == set(load_suite("procedural-train").scenarios)


def test_dataset_contents(reference):
    manifest = read_manifest(reference)
    assert manifest["complete"] and manifest["schema_version"] == SCHEMA_VERSION == 3
    assert {"sionna", "mitsuba", "drjit", "numpy"} <= set(manifest["versions"])
    assert manifest["splits"]["train"] == ["city-tiny-00000"] and manifest["splits"]["test"] == ["canyon-test"]
    ds = AirTwinDataset(reference)
    assert len(ds) == 48
    sample = ds[0]
    for f in SAMPLE_FIELDS:
        assert f.name in sample, f.name
    assert sample["csi"].dtype == torch.complex64 and sample["csi"].shape == (4, 16)  # canyon-test: 4 ant, 16 sc
    assert sample["height_map"].shape == (32, 32)
    # What the map covers is recorded: it reaches every drop of the shard (the UE region's farthest point).
    from airtwin.phy import envmap

    for split in ("train", "test"):
        part = AirTwinDataset(reference, split=split)
        fields = part.read_batch(np.arange(len(part)), ("map_range_m", "bs_position", "bs_orientation_deg",
                                                        "ue_position"))
        rng, _ = envmap.to_bs_frame(fields["bs_position"], fields["bs_orientation_deg"][:, 0], fields["ue_position"])
        assert envmap.covered(rng, fields["map_range_m"]).all(), split
    # The aged CSI is the same channel a few ms later: close in power, not identical for a moving UE.
    canyon = AirTwinDataset(reference, split="test")
    csi, aged = canyon.column("csi"), canyon.column("csi_aged")
    moving = np.linalg.norm(canyon.column("ue_velocity"), axis=-1) > 0.5
    has = canyon.column("has_paths")
    rel = np.linalg.norm((aged - csi).reshape(len(csi), -1), axis=1) / np.maximum(
        np.linalg.norm(csi.reshape(len(csi), -1), axis=1), 1e-30)
    # At up to 15 m/s and 5 ms (up to 0.9 wavelength) the phases decorrelate: aging is real, bounded.
    assert (rel[has & moving] > 0).all() and (rel[has & moving] < 2.5).all()
    assert (rel[has & ~moving] < 1e-5).all()
    # The previous pilot, 1 ms before the trace: the paths turned back by their Doppler (still UEs: the same).
    assert canyon.pilot_gap_s() == 1e-3 and float(canyon[0]["pilot_gap_s"]) == pytest.approx(1e-3)
    prev = canyon.read_batch(np.arange(len(canyon)), ("csi_prev",))["csi_prev"]
    np.testing.assert_allclose(prev[has & ~moving], csi[has & ~moving], rtol=1e-5, atol=1e-12)
    assert (np.abs(prev[has & moving] - csi[has & moving]).max(axis=(1, 2)) > 0).all()
    train = AirTwinDataset(reference, split="train")
    assert len(train) == 24 and set(train.column("scenario_index")) == {1}
    assert len(AirTwinDataset(reference, split="validation")) == 0


@pytest.mark.parametrize("task", TASKS)
def test_task_views(reference, task):
    view = TaskView(AirTwinDataset(reference, split="train"), task)
    assert 0 < len(view) <= 24
    inputs, target = view[0]
    if task in ("positioning", "los", "precoding"):
        assert set(inputs) == {"csi", "bs_orientation_deg", "subcarrier_frequencies_hz", "antenna_positions",
                               "bs_position", "ue_position"} and inputs["csi"].dtype == torch.complex64
        assert tuple(inputs["antenna_positions"].shape) == (16, 3)  # the 2x8 array, from the manifest's spec
    else:
        assert set(inputs) == {"height_map", "map_range_m", "bs_position", "bs_orientation_deg", "ue_position"}
        assert inputs["map_range_m"].ndim == 0 and float(inputs["map_range_m"]) > 0
    expected = {"positioning": (2,), "los": (), "precoding": (4, 16), "beam_selection": (), "path_loss": ()}[task]
    assert tuple(target.shape) == expected
    loader = torch.utils.data.DataLoader(view, batch_size=8)
    batch_inputs, batch_target = next(iter(loader))
    assert batch_target.shape[0] == 8


def test_same_command_same_bytes_with_two_workers(reference, tmp_path):
    generate(GenerateConfig(**TINY), tmp_path, workers=2)
    assert checksums(tmp_path) == checksums(reference)


def test_resume_after_kill_gives_the_same_dataset(reference, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "airtwin.cli", "generate", "--suite", TINY["suite"], "--samples", str(TINY["samples"]),
           "--shard-size", str(TINY["shard_size"]), "--batch-size", str(TINY["batch_size"]), "--seed",
           str(TINY["seed"]), "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        if (out / "manifest.json").exists() and read_manifest(out)["shards"]:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = read_manifest(out)
    assert not first["complete"] and 1 <= len(first["shards"]) < 4, "the kill came too late to test resuming"
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "resuming: " in done.stderr
    assert checksums(out) == checksums(reference)
    assert not list(out.glob("*.tmp"))


def test_ray_backend_equals_local(reference, tmp_path):
    pytest.importorskip("ray")
    generate(GenerateConfig(**TINY), tmp_path, workers=2, backend="ray")
    assert checksums(tmp_path) == checksums(reference)


def test_corrupted_shard_is_never_read(reference, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(reference, root)
    shard = root / "shard-00001.h5"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    ds = AirTwinDataset(root)
    ds[0]  # shard 0 is intact
    with pytest.raises(DatasetError, match="shard-00001.h5 is corrupted"):
        ds[12]
    with pytest.raises(DatasetError, match="corrupted"):
        generate(GenerateConfig(**TINY), root)


def test_other_settings_in_same_directory_are_refused(reference, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(reference, root)
    with pytest.raises(DatasetError, match="other settings"):
        generate(GenerateConfig(**{**TINY, "seed": 4}), root)


def test_data_without_a_previous_pilot_reads_and_resumes_as_before(tmp_path):
    import json

    root = tmp_path / "one-pilot"
    generate(GenerateConfig(**{**TINY, "samples": 24, "pilot_gap_s": 0.0}), root)
    ds = AirTwinDataset(root, split="test")
    assert ds.pilot_gap_s() == 0.0 and float(ds[0]["pilot_gap_s"]) == 0.0
    with pytest.raises(ValueError, match="no field 'csi_prev' .*generated without a previous pilot"):
        ds.read_batch(np.arange(2), ("csi", "csi_prev"))
    # Data written before the setting existed records none: it resumes as data without a previous pilot.
    manifest = json.loads((root / "manifest.json").read_text())
    del manifest["config"]["pilot_gap_s"]
    (root / "manifest.json").write_text(json.dumps(manifest))
    generate(GenerateConfig(**{**TINY, "samples": 24, "pilot_gap_s": 0.0}), root)
    with pytest.raises(DatasetError, match=r"other settings \(pilot_gap_s: 0.0 there, 0.001 asked\)"):
        generate(GenerateConfig(**{**TINY, "samples": 24}), root)
    with pytest.raises(ValueError, match="GenerateConfig.pilot_gap_s"):
        GenerateConfig(**{**TINY, "pilot_gap_s": -1e-3})


def test_a_run_folder_and_its_suite_file_can_move(tmp_path):
    import shutil

    suite = 'name = "mine"\nscenarios = ["canyon-test"]\n'
    (tmp_path / "a.toml").write_text(suite)
    cfg = {**TINY, "samples": 12}
    generate(GenerateConfig(**{**cfg, "suite": str(tmp_path / "a.toml")}), tmp_path / "one")
    shutil.copytree(tmp_path / "one", tmp_path / "two")
    (tmp_path / "b.toml").write_text(suite)
    before = checksums(tmp_path / "two")
    generate(GenerateConfig(**{**cfg, "suite": str(tmp_path / "b.toml")}), tmp_path / "two")  # resumes: nothing new
    assert checksums(tmp_path / "two") == before
    (tmp_path / "c.toml").write_text(suite.replace("canyon-test", "free-space"))
    with pytest.raises(DatasetError, match="other settings"):
        generate(GenerateConfig(**{**cfg, "suite": str(tmp_path / "c.toml")}), tmp_path / "two")


def test_unknown_suite_is_a_clear_error(capsys):
    from airtwin.cli import main

    with pytest.raises(ValueError, match="unknown suite 'nope'; allowed: .*tiny"):
        GenerateConfig(suite="nope", samples=10)
    assert main(["generate", "--suite", "nope", "--samples", "10", "--out", "/tmp/never"]) == 2
    assert "unknown suite 'nope'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="GenerateConfig.samples"):
        GenerateConfig(suite="tiny", samples=0)


def test_full_disk_gives_a_clear_error_and_loses_nothing(reference, tmp_path, monkeypatch):
    import airtwin.datagen.shard as shard_mod

    real_file = shard_mod.h5py.File
    calls = {"n": 0}

    def failing_file(path, mode="r", **kw):
        calls["n"] += 1
        if calls["n"] == 2:  # the second shard hits a full disk
            Path(path).write_bytes(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_file(path, mode, **kw)

    monkeypatch.setattr(shard_mod.h5py, "File", failing_file)
    with pytest.raises(OSError, match="disk full while writing shard-00001.h5"):
        generate(GenerateConfig(**TINY), tmp_path)
    assert not list(tmp_path.glob("*.tmp"))
    assert [r["file"] for r in read_manifest(tmp_path)["shards"]] == ["shard-00000.h5"]
    monkeypatch.setattr(shard_mod.h5py, "File", real_file)
    generate(GenerateConfig(**TINY), tmp_path)  # space freed: the same command resumes
    assert checksums(tmp_path) == checksums(reference)


def test_trajectories(tmp_path):
    cfg = GenerateConfig(suite="tiny", samples=32, shard_size=16, batch_size=16, trajectory_steps=4, step_s=0.5)
    generate(cfg, tmp_path)
    ds = AirTwinDataset(tmp_path, split="train")
    traj, t = ds.column("trajectory_id"), ds.column("time_s")
    pos, vel = ds.column("ue_position"), ds.column("ue_velocity")
    assert len(np.unique(traj)) == 4
    for k in np.unique(traj):
        rows = np.flatnonzero(traj == k)
        np.testing.assert_allclose(t[rows], [0.0, 0.5, 1.0, 1.5])
        step = np.linalg.norm(np.diff(pos[rows, :2], axis=0), axis=-1)
        speed = np.linalg.norm(vel[rows[:-1]], axis=-1)
        assert (step <= speed * 0.5 + 1e-3).all()


def test_schema_doc_is_in_sync():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "dataset.md").read_text()
    assert schema_markdown() in doc


def _generate_cmd(out, samples=48, workers=1):
    return [sys.executable, "-m", "airtwin.cli", "generate", "--suite", TINY["suite"], "--samples", str(samples),
            "--shard-size", str(TINY["shard_size"]), "--batch-size", str(TINY["batch_size"]), "--seed",
            str(TINY["seed"]), "--out", str(out), "--workers", str(workers)]


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_second_generate_on_the_same_out_is_refused_naming_the_holder(tmp_path):
    out = tmp_path / "busy"
    first = subprocess.Popen(_generate_cmd(out, samples=480), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not (out / ".airtwin-generate.lock.pid").exists():
            time.sleep(0.05)
        second = subprocess.run(_generate_cmd(out, samples=480), capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        assert f"--out {out} is in use by another `airtwin generate` (PID {first.pid})" in second.stderr
    finally:
        first.kill()
        first.wait()
    # The lock dies with its holder: the folder can be resumed at once.
    manifest = generate(GenerateConfig(**{**TINY, "samples": 24}), tmp_path / "other")
    assert manifest["complete"]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc to find the worker processes")
def test_workers_die_when_the_parent_is_killed(tmp_path):
    proc = subprocess.Popen(_generate_cmd(tmp_path / "w", samples=960, workers=2), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    workers: list[int] = []
    while time.time() < deadline and len(workers) < 2:
        # The pool's workers (spawned Python processes), not the resource tracker.
        workers = [c for c in _children(proc.pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
        time.sleep(0.1)
    assert len(workers) == 2, "the workers did not start"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 15
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    survivors = [w for w in workers if _alive(w)]
    for w in survivors:
        os.kill(w, signal.SIGKILL)
    assert not survivors


def test_plan_is_lazy_for_huge_sample_counts():
    import tracemalloc

    from airtwin.datagen.plan import iter_shards, num_shards

    cfg = GenerateConfig(suite="procedural-train", samples=10**12, shard_size=256)
    tracemalloc.start()
    first = [t for _, t in zip(range(5), iter_shards(cfg))]
    count = num_shards(cfg)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [t.index for t in first] == [0, 1, 2, 3, 4]
    assert count == 16 * -(-(10**12 // 16) // 256)
    assert peak < 5_000_000
    small = GenerateConfig(suite="procedural-train", samples=1000, shard_size=100)
    assert num_shards(small) == len(plan_shards(small))


def test_out_that_is_a_file_is_named(tmp_path):
    target = tmp_path / "afile"
    target.write_text("x")
    with pytest.raises(DatasetError, match=r"--out .*afile exists and is not a folder"):
        generate(GenerateConfig(**TINY), target)


def _edit_manifest(root, change):
    m = json.loads((root / "manifest.json").read_text())
    change(m)
    (root / "manifest.json").write_text(json.dumps(m))


def _symlink_shard_to(target):
    def corrupt(root):
        (root / "shard-00001.h5").unlink()
        (root / "shard-00001.h5").symlink_to(target)
    return corrupt


MANIFEST_CORRUPTIONS = {
    "duplicated shard record": (lambda r: _edit_manifest(r, lambda m: m["shards"].append(dict(m["shards"][0]))),
                                r"shard-00000.h5 \(index 0\) is recorded twice"),
    "raised num_samples": (lambda r: _edit_manifest(r, lambda m: m["shards"][0].update(num_samples=99)),
                           r"shard-00000.h5: its num_samples is 12, the manifest says 99"),
    "file outside the folder": (lambda r: _edit_manifest(r, lambda m: m["shards"][0].update(file="../x.h5")),
                                r"does not follow the dataset schema at shards/0/file"),
    "relabelled split": (lambda r: _edit_manifest(r, lambda m: m["shards"][0].update(split="train")),
                         r"shard-00000.h5 is labelled 'train', but its area canyon-test belongs to 'test'"),
    "truncated manifest": (lambda r: (r / "manifest.json").write_text((r / "manifest.json").read_text()[:200]),
                           r"manifest.json is not valid JSON"),
    "structurally wrong manifest": (lambda r: _edit_manifest(r, lambda m: m.pop("shards")),
                                    r"does not follow the dataset schema at \(top level\): 'shards' is a required"),
    "shard symlinked to /dev/zero": (_symlink_shard_to("/dev/zero"), r"shard-00001.h5 is not a regular file"),
    "shard symlinked outside": (_symlink_shard_to("/etc/hostname"), r"shard-00001.h5 is not a regular file"),
}


@pytest.mark.parametrize("case", list(MANIFEST_CORRUPTIONS))
def test_dataset_corruption_matrix(reference, tmp_path, case):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(reference, root)
    corrupt, match = MANIFEST_CORRUPTIONS[case]
    corrupt(root)
    with pytest.raises(DatasetError, match=match):
        ds = AirTwinDataset(root)
        for i in range(len(ds)):
            ds[i]


def test_documented_h5py_snippet_reads_a_dataset(reference):
    """docs/dataset.md shows how to read shards with h5py alone; run that exact code."""
    import re

    doc = (Path(__file__).resolve().parents[1] / "docs" / "dataset.md").read_text()
    section = doc[doc.index("## Reading with h5py alone"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    scope = {"DATA": str(reference)}
    exec(compile(code, "docs/dataset.md", "exec"), scope)  # noqa: S102 (our own documentation)
    assert scope["csi"].dtype == np.complex64 and scope["csi"].ndim == 3


def test_reader_keeps_few_shards_open(reference, monkeypatch):
    import airtwin.datagen.reader as reader

    monkeypatch.setattr(reader, "MAX_OPEN_SHARDS", 1)
    ds = AirTwinDataset(reference, split="train")
    assert len(ds.records) > 1
    every = ds.read_batch(np.arange(len(ds)), ("path_loss_db", "height_map"))
    assert len(ds._files) == 1 and len(ds._verified) == len(ds.records)  # each shard verified once
    again = AirTwinDataset(reference, split="train").read_batch(np.arange(len(ds)), ("path_loss_db", "height_map"))
    np.testing.assert_array_equal(every["path_loss_db"], again["path_loss_db"])

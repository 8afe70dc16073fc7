"""Run a generation plan: local worker processes or Ray tasks, resumable, with a manifest.

Every shard is written under a temporary name and renamed when complete, and the
manifest (``manifest.json``, rewritten atomically) records each finished shard with
its sha256. Re-running the same command resumes: recorded shards whose checksum
matches are kept, everything else is (re)generated. A recorded shard whose checksum
does not match is corruption and stops the run with an error naming the file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from importlib import metadata
from itertools import islice
from pathlib import Path

from airtwin.config import to_dict, write_json
from airtwin.datagen.plan import GenerateConfig, ShardTask, iter_shards, num_shards
from airtwin.datagen.schema import FORMAT_NAME, MANIFEST_NAME, MANIFEST_SCHEMA, SCHEMA_VERSION
from airtwin.datagen.shard import ShardRecord, file_sha256, shard_fields, trace_shard, write_shard
from airtwin.scenes.registry import area_split, get_scenario
from airtwin.scenes.suites import load_suite
from airtwin.twin.pool import TwinPool


class DatasetError(RuntimeError):
    """A dataset directory is inconsistent: corrupted shard, other settings, missing manifest."""


# ---------------------------------------------------------------------- one process's work
#: Twins a worker keeps (shards of one scenario follow each other in the plan).
WORKER_TWINS = 2


def _limit_threads(threads: int | None) -> None:
    if threads:
        import drjit

        drjit.set_thread_count(threads)


def run_task(task: ShardTask, cfg: GenerateConfig, out_dir: str, threads: int | None = None,
             pool: TwinPool | None = None) -> ShardRecord:
    """Generate, write and checksum one shard, with a twin from ``pool`` (a fresh twin if None)."""
    _limit_threads(threads)
    pool = pool if pool is not None else TwinPool(max_size=1)
    samples, batch = trace_shard(pool.get(task.scenario), task, cfg)
    digest = write_shard(Path(out_dir) / task.file_name, task, samples, batch, cfg.aging_delay_s, cfg.pilot_gap_s)
    return ShardRecord(task.file_name, task.index, task.scenario, task.split, task.num_samples, digest)


# ---------------------------------------------------------------------- backends
#: Seconds between a worker's checks that its parent is still alive.
PARENT_POLL_S = 0.5


class _Worker:
    """What one worker process owns: its twin pool. Made by the process initializer."""

    pool: TwinPool | None = None


def _init_worker(parent_pid: int) -> None:
    """Worker initializer: a twin pool for this process; exit as soon as the parent is gone (even after ``kill -9``)."""
    _Worker.pool = TwinPool(max_size=WORKER_TWINS)

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_S)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="airtwin-parent-watch", daemon=True).start()


def _worker_task(task: ShardTask, cfg: GenerateConfig, out_dir: str, threads: int) -> ShardRecord:
    return run_task(task, cfg, out_dir, threads, _Worker.pool)


def _run_local(tasks: Iterator[ShardTask], cfg: GenerateConfig, out_dir: Path, workers: int) -> Iterator[ShardRecord]:
    if workers == 1:
        pool = TwinPool(max_size=WORKER_TWINS)
        for task in tasks:
            yield run_task(task, cfg, str(out_dir), pool=pool)
        return
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    threads = max(1, (os.cpu_count() or 1) // workers)
    # "spawn": Dr.Jit and Mitsuba are not fork-safe. At most 2 tasks per worker are in flight,
    # so that the plan is consumed lazily.
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                             initializer=_init_worker, initargs=(os.getpid(),)) as executor:
        pending = {executor.submit(_worker_task, t, cfg, str(out_dir), threads) for t in islice(tasks, 2 * workers)}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            pending |= {executor.submit(_worker_task, t, cfg, str(out_dir), threads) for t in islice(tasks, len(done))}
            for fut in done:
                yield fut.result()


class _RayWorker:
    """A Ray actor: one worker process with its own twin pool."""

    def __init__(self, threads: int):
        self.pool, self.threads = TwinPool(max_size=WORKER_TWINS), threads

    def run(self, task: ShardTask, cfg: GenerateConfig, out_dir: str) -> ShardRecord:
        return run_task(task, cfg, out_dir, self.threads, self.pool)


def _run_ray(tasks: Iterator[ShardTask], cfg: GenerateConfig, out_dir: Path, workers: int) -> Iterator[ShardRecord]:
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError("--backend ray needs Ray: pip install -e '.[ray]'") from exc
    started_here = not ray.is_initialized()
    if started_here:
        # Connects to a running cluster when RAY_ADDRESS is set (after `ray start`), else starts a local one.
        kwargs = {} if os.environ.get("RAY_ADDRESS") else {"num_cpus": workers, "include_dashboard": False}
        ray.init(log_to_driver=False, **kwargs)
    try:
        from ray.util import ActorPool

        threads = max(1, (os.cpu_count() or 1) // workers)
        actor = ray.remote(num_cpus=1, max_restarts=2, max_task_retries=2)(_RayWorker)
        actors = ActorPool([actor.remote(threads) for _ in range(workers)])
        target = str(out_dir.resolve())

        def submit(n: int) -> None:
            for t in islice(tasks, n):
                actors.submit(lambda a, task: a.run.remote(task, cfg, target), t)

        submit(2 * workers)
        while actors.has_next():
            record = actors.get_next_unordered()
            submit(1)
            yield record
    finally:
        if started_here:
            ray.shutdown()


BACKENDS: dict[str, Callable[..., Iterator[ShardRecord]]] = {"local": _run_local, "ray": _run_ray}


# ---------------------------------------------------------------------- manifest
def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("airtwin", "sionna", "sionna-rt", "mitsuba", "drjit", "numpy", "h5py", "torch"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def new_manifest(cfg: GenerateConfig) -> dict:
    suite = load_suite(cfg.suite)
    scenarios = [{"index": i, "name": n, "split": area_split(n), "spec": get_scenario(n).to_dict()}
                 for i, n in enumerate(suite.scenarios)]
    splits = {s: [sc["name"] for sc in scenarios if sc["split"] == s] for s in ("train", "validation", "test")}
    return {"format": FORMAT_NAME, "schema_version": SCHEMA_VERSION, "config": to_dict(cfg),
            "suite": to_dict(suite), "scenarios": scenarios, "splits": splits,
            "versions": _versions(), "shards": [], "complete": False}


def write_manifest(out_dir: Path, manifest: dict) -> None:
    write_json(Path(out_dir) / MANIFEST_NAME, manifest)


def read_manifest(out_dir: Path) -> dict:
    """Read and validate ``manifest.json``: its JSON Schema, then the records against each other.

    Raises:
        DatasetError: naming the file, for a missing, truncated or malformed manifest, a duplicated
            shard record, a shard of an unlisted scenario, or a record whose split is not its area's.
    """
    import jsonschema  # noqa: PLC0415

    path = Path(out_dir) / MANIFEST_NAME
    if not path.exists():
        raise DatasetError(f"{out_dir} has no {MANIFEST_NAME}: not an AirTwin dataset (run `airtwin generate`)")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path} is not valid JSON ({exc}); it is truncated or corrupted") from None
    if isinstance(manifest, dict) and (manifest.get("format"), manifest.get("schema_version")) != (FORMAT_NAME,
                                                                                                 SCHEMA_VERSION):
        raise DatasetError(f"{path}: format {manifest.get('format')!r} v{manifest.get('schema_version')} is not "
                           f"{FORMAT_NAME!r} v{SCHEMA_VERSION}")
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(MANIFEST_SCHEMA).iter_errors(manifest))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise DatasetError(f"{path} does not follow the dataset schema at {where}: {error.message}")
    splits = {sc["name"]: sc["split"] for sc in manifest["scenarios"]}
    seen_files, seen_index = set(), set()
    for r in manifest["shards"]:
        if r["file"] in seen_files or r["index"] in seen_index:
            raise DatasetError(f"{path}: shard {r['file']} (index {r['index']}) is recorded twice")
        seen_files.add(r["file"])
        seen_index.add(r["index"])
        if r["file"] != f"shard-{r['index']:05d}.h5":
            raise DatasetError(f"{path}: shard record {r['file']} has index {r['index']}")
        if r["scenario"] not in splits:
            raise DatasetError(f"{path}: shard {r['file']} is of scenario {r['scenario']!r}, not listed in 'scenarios'")
        if r["split"] != splits[r["scenario"]]:
            raise DatasetError(f"{path}: shard {r['file']} is labelled {r['split']!r}, but its area "
                               f"{r['scenario']} belongs to {splits[r['scenario']]!r}")
    return manifest


def scenario_site(manifest: dict, scenario: str, bs_name: str | None = None):
    """``(ScenarioSpec, BSSite)`` of a scenario recorded in a manifest (BS ``bs_name``, else the first)."""
    from airtwin.scenes.spec import ScenarioSpec  # noqa: PLC0415

    spec = ScenarioSpec.from_dict(next(sc["spec"] for sc in manifest["scenarios"] if sc["name"] == scenario))
    return spec, next((b for b in spec.bs if b.name == bs_name), spec.bs[0])


def shard_bs_name(shard) -> str | None:
    """The serving BS's name recorded in an open shard's attributes (None when absent)."""
    name = shard.attrs.get("bs_name")
    return name.decode() if isinstance(name, bytes) else name


def scenario_numerology(manifest: dict, scenario: str, bs_name: str | None = None) -> tuple[int, int, int]:
    """``(BS antennas, subcarriers, height-map cells)`` of a scenario recorded in a manifest (BS ``bs_name``, else the first)."""
    spec, bs = scenario_site(manifest, scenario, bs_name)
    return bs.array.num_antennas, spec.radio.num_subcarriers, spec.environment.size_cells


def verify_shard(out_dir: Path, record: dict, manifest: dict | None = None) -> None:
    """Raise :class:`DatasetError` unless the shard is a regular file in ``out_dir`` that matches its record.

    Checks, in order: a regular file (no symlink, no device) inside the dataset folder; its
    sha256; then its own attributes against the record (scenario, split, index, sample count),
    every sample field with one row per sample, and, with ``manifest``, the CSI numerology
    (BS antennas, subcarriers) of the scenario's spec.
    """
    import stat  # noqa: PLC0415

    import h5py  # noqa: PLC0415

    root = Path(out_dir)
    path = root / record["file"]
    try:
        st = path.lstat()
    except FileNotFoundError:
        raise DatasetError(f"shard {path} is listed in the manifest but missing") from None
    if not stat.S_ISREG(st.st_mode) or path.resolve().parent != root.resolve():
        raise DatasetError(f"shard {path} is not a regular file inside {root}; refusing to read it")
    digest = file_sha256(path)
    if digest != record["sha256"]:
        raise DatasetError(f"shard {path} is corrupted: sha256 {digest[:12]}... does not match the manifest's "
                           f"{record['sha256'][:12]}...; delete it and re-run `airtwin generate` to regenerate it")
    with h5py.File(path, "r") as f:
        attrs = {k: f.attrs.get(k) for k in ("scenario", "split", "shard_index", "num_samples")}
        want = {"scenario": record["scenario"], "split": record["split"], "shard_index": record["index"],
                "num_samples": record["num_samples"]}
        for key, value in want.items():
            have = attrs[key].decode() if isinstance(attrs[key], bytes) else attrs[key]
            have = have.item() if hasattr(have, "item") else have  # numpy scalar -> Python
            if have != value:
                raise DatasetError(f"shard {path}: its {key} is {have!r}, the manifest says {value!r}")
        samples = f.get("samples")
        for spec in shard_fields(manifest["config"].get("pilot_gap_s", 0.0) if manifest is not None else 0.0):
            if samples is None or spec.name not in samples or samples[spec.name].shape[:1] != (record["num_samples"],):
                raise DatasetError(f"shard {path}: field samples/{spec.name} is missing or has not "
                                   f"{record['num_samples']} rows")
        if manifest is not None:
            try:
                antennas, subcarriers, _ = scenario_numerology(manifest, record["scenario"], shard_bs_name(f))
            except ValueError as exc:
                raise DatasetError(f"{root / MANIFEST_NAME}: the spec of {record['scenario']} is invalid ({exc})") from None
            if samples["csi"].shape[1:] != (antennas, subcarriers):
                raise DatasetError(f"shard {path}: CSI is {samples['csi'].shape[1:]} (antennas, subcarriers), the "
                                   f"scenario {record['scenario']} has ({antennas}, {subcarriers})")


# ---------------------------------------------------------------------- the run
LOCK_NAME = ".airtwin-generate.lock"


@contextlib.contextmanager
def _exclusive(out_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on a dataset folder; a second ``generate`` on it fails at once, naming the holder."""
    from filelock import FileLock, Timeout  # noqa: PLC0415

    pid_file = out_dir / (LOCK_NAME + ".pid")
    lock = FileLock(out_dir / LOCK_NAME, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        holder = pid_file.read_text().strip() if pid_file.exists() else "unknown"
        raise DatasetError(f"--out {out_dir} is in use by another `airtwin generate` (PID {holder}); "
                           "wait for it to finish, or use another --out") from None
    try:
        pid_file.write_text(f"{os.getpid()}\n")
        yield
    finally:
        pid_file.unlink(missing_ok=True)
        lock.release()


def generate(cfg: GenerateConfig, out_dir: str | Path, *, workers: int = 1, backend: str = "local",
             progress: bool | None = None, log: Callable[[str], None] | None = None) -> dict:
    """Generate (or resume) the dataset of ``cfg`` in ``out_dir``; returns the final manifest.

    Args:
        workers: worker processes (local) or Ray CPUs requested (ray).
        backend: ``"local"`` or ``"ray"``.
        progress: show a progress bar; default: only when stderr is a terminal.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend = {backend!r}; allowed: {', '.join(BACKENDS)}")
    if workers < 1:
        raise ValueError(f"workers = {workers}; allowed: an integer >= 1")
    log = log or (lambda msg: None)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DatasetError(f"--out {out_dir} exists and is not a folder; give a folder for the dataset")
    out_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(out_dir):
        return _generate(cfg, out_dir, workers, backend, progress, log)


def _settings(manifest: dict) -> dict:
    """A manifest's generation settings: the config with the suite by content (the manifest's ``suite``), not by
    path, so a run folder and its suite file can move; data written before ``pilot_gap_s`` existed had none."""
    config = {k: v for k, v in manifest["config"].items() if k != "suite"}
    return {"pilot_gap_s": 0.0, **config, "suite": manifest["suite"]}


def settings_diff(old: dict, new: dict) -> list[tuple[str, object, object]]:
    """``(setting, old value, new value)`` for every generation setting two manifests disagree on."""
    a, b = _settings(old), _settings(new)
    return [(k, a.get(k), b.get(k)) for k in dict.fromkeys((*a, *b)) if a.get(k) != b.get(k)]


def same_settings(old: dict, new: dict) -> bool:
    """Whether two manifests record the same generation settings (:func:`settings_diff` is empty)."""
    return not settings_diff(old, new)


def _generate(cfg: GenerateConfig, out_dir: Path, workers: int, backend: str, progress: bool | None,
              log: Callable[[str], None]) -> dict:
    manifest = new_manifest(cfg)
    done: dict[str, dict] = {}
    if (out_dir / MANIFEST_NAME).exists():
        old = read_manifest(out_dir)
        if not same_settings(old, manifest):
            differ = "; ".join(f"{k}: {v!r} there, {w!r} asked" for k, v, w in settings_diff(old, manifest))
            raise DatasetError(f"{out_dir} holds a dataset generated with other settings ({differ}); "
                               "use another --out directory or the same settings to resume")
        for record in old["shards"]:
            verify_shard(out_dir, record, old)
            done[record["file"]] = record
        manifest["shards"] = list(done.values())
        log(f"resuming: {len(done)} of {num_shards(cfg)} shards already complete")
    # Leftovers of an interrupted run (this process holds the folder's lock, so no other run writes them).
    for stale in (*out_dir.glob("shard-*.h5*.tmp"), *out_dir.glob(MANIFEST_NAME + "*.tmp")):
        stale.unlink()
    todo = (t for t in iter_shards(cfg) if t.file_name not in done)
    write_manifest(out_dir, manifest)

    total = cfg.samples
    already = sum(r["num_samples"] for r in done.values())
    show = sys.stderr.isatty() if progress is None else progress
    from tqdm import tqdm

    bar = tqdm(total=total, initial=already, unit="sample", disable=not show, dynamic_ncols=True,
               desc=f"generate {cfg.suite}")
    start = time.perf_counter()
    made_shards = 0
    try:
        for record in BACKENDS[backend](todo, cfg, out_dir, workers):
            manifest["shards"].append(dataclasses.asdict(record))
            write_manifest(out_dir, manifest)
            bar.update(record.num_samples)
            made_shards += 1
    finally:
        bar.close()
    manifest["shards"].sort(key=lambda r: r["index"])
    manifest["complete"] = True
    write_manifest(out_dir, manifest)
    elapsed = time.perf_counter() - start
    made = total - already
    log(f"{made} samples in {made_shards} shards, {elapsed:.1f} s ({made / max(elapsed, 1e-9):.1f} samples/s); "
        f"{total} samples in {out_dir}")
    return manifest


def iter_shard_records(manifest: dict, split: str | None = None) -> Iterable[dict]:
    """Shard records of a manifest, optionally of one split."""
    return [r for r in manifest["shards"] if split is None or r["split"] == split]

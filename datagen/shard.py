"""Generate one shard: trace its samples with a twin and write the HDF5 file atomically."""

from __future__ import annotations

import errno
import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from airtwin.datagen.plan import GenerateConfig, ShardTask
from airtwin.datagen.schema import BATCH_ATTRIBUTE, ENV_FIELDS, PILOT_FIELDS, SAMPLE_FIELDS, SCHEMA_VERSION


class DiskFullError(OSError):
    """The output file system ran out of space while a shard was written."""


@dataclass(frozen=True)
class ShardRecord:
    """A finished shard, as listed in the manifest."""

    file: str
    index: int
    scenario: str
    split: str
    num_samples: int
    sha256: str


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sample_columns(batch) -> dict[str, np.ndarray]:
    """The sample fields a ``ChannelBatch`` (traced with ``num_time_steps=2``) gives, ``{field: [num_ue, ...]}``:
    all of :data:`SAMPLE_FIELDS` but the bookkeeping ones (trace seed, trajectory, time, scenario index), and
    :data:`PILOT_FIELDS` when the batch has a previous pilot."""
    values = {f.name: getattr(batch, BATCH_ATTRIBUTE.get(f.name, f.name), None)
              for f in (*SAMPLE_FIELDS, *PILOT_FIELDS)}
    values["csi_aged"] = batch.csi_evolution[:, 1]
    return {k: v for k, v in values.items() if v is not None}


def trace_shard(twin, task: ShardTask, cfg: GenerateConfig) -> tuple[dict[str, np.ndarray], object]:
    """Trace the samples of ``task``; returns ``({field: [num_samples, ...]}, last ChannelBatch)``.

    UEs are drawn in groups of ``batch_size // trajectory_steps`` trajectories; each trajectory
    step traces the whole group in one call. Rows are ordered trajectory by trajectory.
    """
    rng = np.random.default_rng(task.seed)
    steps = cfg.trajectory_steps
    num_traj = math.ceil(task.num_samples / steps)
    group = max(1, cfg.batch_size // steps)
    names = shard_fields(cfg.pilot_gap_s)
    columns: dict[str, list[np.ndarray]] = {f.name: [] for f in names}
    batch = None
    for start in range(0, num_traj, group):
        nb = min(group, num_traj - start)
        state = twin.init_motion(nb, rng)
        per_step: dict[str, list[np.ndarray]] = {f.name: [] for f in names}
        for t in range(steps):
            trace_seed = int(rng.integers(0, 2**31 - 1))
            batch = twin.trace(state.positions, state.velocities, seed=trace_seed, num_time_steps=2,
                               time_step_s=cfg.aging_delay_s, pilot_gap_s=cfg.pilot_gap_s)
            values = sample_columns(batch)
            values["trace_seed"] = np.full(nb, trace_seed, dtype=np.int64)
            values["trajectory_id"] = (np.int64(task.index) << np.int64(24)) + start + np.arange(nb, dtype=np.int64)
            values["time_s"] = np.full(nb, t * cfg.step_s, dtype=np.float32)
            values["scenario_index"] = np.full(nb, task.scenario_index, dtype=np.int32)
            for name, v in values.items():
                per_step[name].append(v)
            if t + 1 < steps:
                state = twin.advance(state, cfg.step_s, rng)
        for name, chunks in per_step.items():
            stacked = np.stack(chunks, axis=1)  # [nb, steps, ...]
            columns[name].append(stacked.reshape(nb * steps, *stacked.shape[2:]))
    out = {}
    for f in names:
        out[f.name] = np.concatenate(columns[f.name])[: task.num_samples].astype(f.dtype, copy=False)
    return out, batch


def shard_fields(pilot_gap_s: float) -> tuple:
    """The sample fields of a shard: :data:`SAMPLE_FIELDS`, and :data:`PILOT_FIELDS` with a previous pilot."""
    return (*SAMPLE_FIELDS, *PILOT_FIELDS) if pilot_gap_s > 0 else SAMPLE_FIELDS


def write_shard(path: Path, task: ShardTask, samples: dict[str, np.ndarray], batch, aging_delay_s: float,
                pilot_gap_s: float = 0.0) -> str:
    """Write ``samples`` to ``path`` atomically (temporary name, fsync, rename); returns its sha256.

    Raises:
        DiskFullError: when the disk is full; the partial temporary file is removed.
    """
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # unique per process
    try:
        with h5py.File(tmp, "w", libver=("earliest", "v110"), track_order=True) as f:
            attrs = {"schema_version": SCHEMA_VERSION, "scenario": task.scenario,
                     "scenario_index": task.scenario_index, "bs_name": batch.bs_name, "shard_index": task.index,
                     "split": task.split, "num_samples": task.num_samples,
                     "aging_delay_s": aging_delay_s, "pilot_gap_s": pilot_gap_s}
            for k, v in attrs.items():
                f.attrs[k] = v
            g = f.create_group("samples", track_order=True)
            for spec in shard_fields(pilot_gap_s):
                g.create_dataset(spec.name, data=samples[spec.name], track_times=False)
            env = f.create_group("env", track_order=True)
            for spec in ENV_FIELDS:
                env.create_dataset(spec.name, data=np.asarray(getattr(batch, spec.name), dtype=spec.dtype),
                                   track_times=False)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        digest = file_sha256(tmp)
        os.replace(tmp, path)
        return digest
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC or "No space left" in str(exc):
            raise DiskFullError(errno.ENOSPC, f"disk full while writing {path.name} to {path.parent}: free some "
                                              "space and re-run the same command to resume") from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

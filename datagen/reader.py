"""Read an AirTwin dataset lazily: a PyTorch ``Dataset`` over HDF5 shards, with per-task views.

Shards are opened on first access in each process (DataLoader workers included) and
read sample by sample, so memory stays flat however large the dataset. Each shard's
sha256 is checked against the manifest before its first read: a corrupted shard
raises :class:`~datagen.generate.DatasetError` and is never read silently.
"""

from __future__ import annotations

from bisect import bisect_right
from pathlib import Path

import h5py
import numpy as np
import torch

from airtwin.datagen.generate import (
    iter_shard_records,
    read_manifest,
    scenario_numerology,
    scenario_site,
    shard_bs_name,
    verify_shard,
)
from airtwin.datagen.schema import PILOT_FIELDS, SAMPLE_FIELDS
from airtwin.phy.beams import element_positions
from airtwin.phy.tasks import PILOT_INPUT_FIELDS, DataShapes, DataSite, Numerology, get_task


PILOT_NAMES = tuple(f.name for f in PILOT_FIELDS)
#: Shard files a dataset keeps open at once (a dataset of 1000+ areas would exceed the usual 1024 descriptors).
MAX_OPEN_SHARDS = 128


class AirTwinDataset(torch.utils.data.Dataset):
    """All samples of a dataset directory (optionally one split), as dicts of tensors.

    ``dataset[i]`` holds every field of :data:`datagen.schema.SAMPLE_FIELDS` for sample ``i``
    plus the shard's environment fields (:data:`datagen.schema.ENV_FIELDS`: ``height_map`` ``[R, R]``,
    ``map_range_m`` ``[]``, ``bs_position`` and ``bs_orientation_deg`` ``[3]``, ``subcarrier_frequencies_hz``
    ``[K]``), ``antenna_positions`` ``[A, 3]`` [wavelengths] of the serving BS's array, derived from the
    scenario's spec in the manifest, and the shard's timing ``aging_delay_s`` and ``pilot_gap_s`` ``[]`` [s]
    (0 without a previous pilot). :meth:`read_batch` also reads ``csi_prev`` from data that has it
    (:data:`datagen.schema.PILOT_FIELDS`). Complex fields are complex64 tensors.

    Args:
        root: dataset directory (with ``manifest.json``).
        split: ``"train"``, ``"validation"``, ``"test"`` or None for all.
        verify: check shard checksums before the first read (default True).
    """

    def __init__(self, root: str | Path, split: str | None = None, *, verify: bool = True):
        if split not in (None, "train", "validation", "test"):
            raise ValueError(f"split = {split!r}; allowed: None, 'train', 'validation', 'test'")
        self.root = Path(root)
        self.manifest = read_manifest(self.root)
        if not self.manifest.get("complete"):
            raise ValueError(f"{self.root}: dataset generation is not complete; re-run `airtwin generate` to finish it")
        self.records = sorted(iter_shard_records(self.manifest, split), key=lambda r: r["index"])
        self.verify = verify
        sizes = [r["num_samples"] for r in self.records]
        self._offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self._files: dict[int, h5py.File] = {}
        self._verified: set[int] = set()
        self._env: dict[int, dict[str, torch.Tensor]] = {}
        self.numerologies = {name: scenario_numerology(self.manifest, name)
                             for name in dict.fromkeys(r["scenario"] for r in self.records)}
        """``{scenario: (BS antennas, subcarriers, map cells)}`` of the selected shards."""
        self._sites: dict[str, DataSite] | None = None

    def pilot_gap_s(self) -> float:
        """Time of the previous pilot before ``csi`` [s]; 0 when the data has none (no ``csi_prev``)."""
        return float(self.manifest["config"].get("pilot_gap_s", 0.0))

    def task_fields(self, task: str) -> tuple[str, ...]:
        """The fields task ``task`` reads from this data (``TaskSpec.fields``), and the previous pilot's where the
        task observes it and the data has one."""
        spec = get_task(task)
        return spec.fields + PILOT_INPUT_FIELDS if spec.pilot_input and self.pilot_gap_s() > 0 else spec.fields

    def require_uniform(self) -> None:
        """Raise ``ValueError`` when the selected samples mix numerologies (they cannot be batched)."""
        if len(set(self.numerologies.values())) > 1:
            shown = ", ".join(f"{n}: {a}x{k} (map {c})" for n, (a, k, c) in self.numerologies.items())
            raise ValueError(f"{self.root}: the selected samples mix numerologies (BS antennas x subcarriers) - "
                             f"{shown}; pick a split that holds one (--split), or a suite of one numerology")

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def shapes(self) -> DataShapes:
        """The tensor sizes of the selected samples (they must share one numerology)."""
        self.require_uniform()
        if len(self) == 0:
            raise ValueError(f"{self.root}: no samples selected, so no tensor sizes")
        first = self[0]
        return DataShapes(num_antennas=int(first["csi"].shape[0]), num_subcarriers=int(first["csi"].shape[1]),
                          num_subbands=int(first["precoders"].shape[0]), num_beams=int(first["beam_gain_db"].shape[0]),
                          map_cells=int(first["height_map"].shape[0]))

    def numerology(self) -> Numerology:
        """The physical numerology of the selected samples (array, subcarrier grid, codebook), from the manifest's
        spec of the first shard's scenario; the selected samples must share one (:meth:`require_uniform`)."""
        self.require_uniform()
        if not self.records:
            raise ValueError(f"{self.root}: no samples selected, so no numerology")
        spec, site = self._site(0)
        return Numerology.of_scenario(spec, spec.bs.index(site))

    def sites(self) -> dict[str, DataSite]:
        """``{scenario: DataSite}`` of the selected shards: carrier and serving BS (read from the first shard of each
        scenario, so the first call opens one file per scenario)."""
        if self._sites is None:
            first = {}
            for s, record in enumerate(self.records):
                first.setdefault(record["scenario"], s)
            self._sites = {}
            for name, s in first.items():
                spec, _ = scenario_site(self.manifest, name)
                self._sites[name] = DataSite(spec.radio.carrier_frequency_hz, shard_bs_name(self._file(s)))
        return self._sites

    def _site(self, s: int):
        """``(ScenarioSpec, BSSite)`` serving shard ``s``, from the manifest's spec."""
        return scenario_site(self.manifest, self.records[s]["scenario"], shard_bs_name(self._file(s)))

    def usable(self) -> np.ndarray:
        """Indices of the samples at least one path reached (no task has a target without one)."""
        return np.flatnonzero(self.column("has_paths"))

    def sample_indices(self, max_samples: int | None, seed: int) -> np.ndarray:
        """Evaluation samples: the usable ones, at most ``max_samples`` drawn with ``seed``, sorted.

        Everything scored on one split with one seed (models, baselines) sees the same samples.
        """
        if max_samples is not None and max_samples < 1:
            raise ValueError(f"max_samples = {max_samples}; allowed: an integer >= 1 (or None for all)")
        idx = self.usable()
        if max_samples is not None and len(idx) > max_samples:
            idx = np.sort(np.random.default_rng(seed).choice(idx, max_samples, replace=False))
        return idx

    def __getstate__(self):  # open files are per process
        state = self.__dict__.copy()
        state["_files"], state["_env"] = {}, {}
        return state

    def locate(self, index: int) -> tuple[int, int]:
        """``(shard position, row)`` of sample ``index``."""
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} out of range for {len(self)} samples")
        s = bisect_right(self._offsets, index) - 1
        return s, int(index - self._offsets[s])

    def _file(self, s: int) -> h5py.File:
        if s not in self._files:
            record = self.records[s]
            if self.verify and s not in self._verified:
                verify_shard(self.root, record, self.manifest)
                self._verified.add(s)
            if len(self._files) >= MAX_OPEN_SHARDS:  # close the least recently opened one
                self._files.pop(next(iter(self._files))).close()
            f = h5py.File(self.root / record["file"], "r")
            self._files[s] = f
            if s not in self._env:
                self._env[s] = {k: torch.from_numpy(np.asarray(v)) for k, v in f["env"].items()}
                site = scenario_site(self.manifest, record["scenario"], shard_bs_name(f))[1]
                self._env[s]["antenna_positions"] = torch.from_numpy(element_positions(site.array).astype(np.float32))
                for key in ("aging_delay_s", "pilot_gap_s"):  # absent in data from before the previous pilot: 0
                    self._env[s][key] = torch.tensor(float(f.attrs.get(key, 0.0)), dtype=torch.float32)
        return self._files[s]

    def column(self, name: str) -> np.ndarray:
        """One field for all samples, ``[len(self), ...]`` (small fields only: reads every shard)."""
        self.require_uniform()
        return np.concatenate([np.asarray(self._file(s)["samples"][name]) for s in range(len(self.records))])

    def read_batch(self, indices: np.ndarray, fields: tuple[str, ...]) -> dict[str, np.ndarray]:
        """Fields of many samples at once, ``{name: [len(indices), ...]}`` in the order of ``indices``.

        Reads each shard once with sorted row indices (fast, memory proportional to the batch).
        Environment fields (``height_map``, ``map_range_m``, ``bs_position``, ...) are repeated per sample.
        """
        self.require_uniform()
        indices = np.asarray(indices, dtype=np.int64)
        located = [self.locate(int(i)) for i in indices]
        out: dict[str, list] = {name: [None] * len(indices) for name in fields}
        by_shard: dict[int, list[tuple[int, int]]] = {}
        for pos, (s, row) in enumerate(located):
            by_shard.setdefault(s, []).append((row, pos))
        for s, rows in by_shard.items():
            f = self._file(s)
            rows.sort()
            unique_rows = sorted({r for r, _ in rows})
            where = {r: i for i, r in enumerate(unique_rows)}
            for name in fields:
                if name in self._env[s]:
                    value = self._env[s][name].numpy()
                    for _, pos in rows:
                        out[name][pos] = value
                    continue
                if name not in f["samples"]:
                    hint = (" (it was generated without a previous pilot: `airtwin generate --pilot-gap-s` > 0)"
                            if name in PILOT_NAMES else "")
                    raise ValueError(f"{self.root}: the data has no field {name!r}{hint}")
                block = f["samples"][name][unique_rows]
                for r, pos in rows:
                    out[name][pos] = block[where[r]]
        return {name: np.stack(values) for name, values in out.items()}

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        s, row = self.locate(int(index))
        samples = self._file(s)["samples"]
        out = {f.name: torch.as_tensor(np.asarray(samples[f.name][row])) for f in SAMPLE_FIELDS}
        out.update(self._env[s])
        return out

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()


class TaskView(torch.utils.data.Dataset):
    """``(inputs, target)`` pairs of one task (:data:`airtwin.phy.tasks.TASKS`) over an :class:`AirTwinDataset`.

    ``inputs`` are the raw fields the task observes: the true ``csi`` ``[A, K]`` for CSI tasks (make the
    estimate the model and the environments see with :func:`airtwin.phy.tasks.observe`), or
    ``height_map`` ``[H, W]``, ``bs_position`` and ``ue_position`` ``[3]`` [m] for environment tasks.
    ``target`` is the task's target in physical units (``TaskSpec.target``): for positioning the UE
    (x, y) relative to the serving BS [m]. Samples no path reached are left out.
    """

    def __init__(self, dataset: AirTwinDataset, task: str):
        self.dataset, self.task = dataset, get_task(task)
        self.indices = dataset.usable()

    def __len__(self) -> int:
        return int(self.indices.size)

    def __getitem__(self, i: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        fields = self.dataset.read_batch(self.indices[i:i + 1], self.task.fields)
        inputs = {k: torch.as_tensor(np.asarray(fields[k][0])) for k in self.task.input_fields}
        return inputs, torch.from_numpy(np.asarray(self.task.target(fields)[0]))

"""An AirTwin dataset as a Hugging Face ``datasets`` dataset (Arrow), to share it as it is.

    airtwin export hf --data DATA_DIR --out HF_DIR [--split train]

One row per sample with every field of :data:`airtwin.datagen.schema.SAMPLE_FIELDS`, plus the shard's
environment (:data:`airtwin.datagen.schema.ENV_FIELDS` but the subcarrier offsets) and the ``scenario`` name. Arrow has no complex numbers, so a complex
field ``x`` becomes two float32 columns, ``x_re`` and ``x_im``. Read it back with
``datasets.load_from_disk(HF_DIR)``. ``datasets`` is optional (``pip install -e '.[hf]'``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from airtwin.datagen.reader import AirTwinDataset
from airtwin.datagen.schema import ENV_FIELDS
from airtwin.datagen.shard import shard_fields

#: Shard-level fields repeated on every row.
ENV_COLUMNS = tuple(f.name for f in ENV_FIELDS if f.name != "subcarrier_frequencies_hz")


def _names(ds: AirTwinDataset) -> tuple[str, ...]:
    """The exported fields: every sample field (the previous pilot's where the data has one) and the env columns."""
    return tuple(f.name for f in shard_fields(ds.pilot_gap_s())) + ENV_COLUMNS


def _columns(ds: AirTwinDataset) -> list[tuple[str, str, tuple[int, ...]]]:
    """``(column, dtype, per-row shape)`` of every column, from the first sample."""
    first = ds.read_batch(np.array([0]), _names(ds))
    out = []
    for name, value in first.items():
        v = value[0]
        if np.iscomplexobj(v):
            out += [(f"{name}_re", "float32", v.shape), (f"{name}_im", "float32", v.shape)]
        else:
            out.append((name, str(v.dtype), v.shape))
    return out


def _features(columns):
    from datasets import Array2D, Array3D, Features, Sequence, Value

    feats = {"scenario": Value("string")}
    for name, dtype, shape in columns:
        dtype = "bool" if dtype == "bool" else dtype
        if len(shape) == 0:
            feats[name] = Value(dtype)
        elif len(shape) == 1:
            feats[name] = Sequence(Value(dtype), length=shape[0])
        elif len(shape) == 2:
            feats[name] = Array2D(shape=shape, dtype=dtype)
        else:
            feats[name] = Array3D(shape=shape, dtype=dtype)
    return Features(feats)


def to_hf_dataset(data_dir: str | Path, out_dir: str | Path, *, split: str | None = None, chunk: int = 256):
    """Write the samples of ``data_dir`` (one ``split``, or all) as a ``datasets.Dataset`` to ``out_dir``; returns it."""
    try:
        from datasets import Dataset
    except ImportError as exc:
        raise RuntimeError("the Hugging Face export needs the datasets package: pip install -e '.[hf]'") from exc
    ds = AirTwinDataset(data_dir, split=split)
    if len(ds) == 0:
        raise ValueError(f"{data_dir}: no samples in split {split!r}")
    ds.require_uniform()
    columns = _columns(ds)
    names = _names(ds)
    scenario_names = {int(s["index"]): s["name"] for s in ds.manifest["scenarios"]}

    def rows():
        for start in range(0, len(ds), chunk):
            batch = ds.read_batch(np.arange(start, min(len(ds), start + chunk)), names)
            for i in range(len(batch["csi"])):
                row = {"scenario": scenario_names[int(batch["scenario_index"][i])]}
                for name in names:
                    v = batch[name][i]
                    if np.iscomplexobj(v):
                        row[f"{name}_re"], row[f"{name}_im"] = v.real.astype(np.float32), v.imag.astype(np.float32)
                    else:
                        row[name] = v
                yield row

    import tempfile

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="airtwin-hf-", dir=out_dir.parent) as cache:  # no ~/.cache writes
        hf = Dataset.from_generator(rows, features=_features(columns), cache_dir=cache)
        hf.save_to_disk(str(out_dir))
    from datasets import load_from_disk

    return load_from_disk(str(out_dir))

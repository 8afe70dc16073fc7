"""Universal-model checkpoints: safetensors + peft adapter files + a JSON config; no pickles.

Layout of a checkpoint directory::

    config.json            format, ModelConfig, versions, parameter counts, training record
    weights.safetensors    encoders, adapters, prefix prompts, heads (everything but the backbone)
    lora/                  peft's save_pretrained output (adapter_config.json, adapter_model.safetensors)
    optimizer.safetensors  optional, for resuming training (+ optimizer.json)

The backbone itself is not copied: it is reloaded from ``config.backbone`` (and, for the
``rl`` variant, re-initialised from ``config.seed``). ``config.json`` records the sha256 of
every other file. A checkpoint is written into a temporary folder and renamed into place,
and never with a non-finite tensor. Loading checks the checksums, the format, the tensor
names, shapes and finiteness, the LoRA rank, and refuses pickled files.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from importlib import metadata
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from airtwin.config import from_dict, to_dict
from airtwin.datagen.shard import file_sha256
from airtwin.model.config import ModelConfig

CHECKPOINT_FORMAT = "airtwin-universal-v2"
"""v2: the encoders of ``airtwin-encoders-v2``, 4 radio tokens, the polar positioning head (issue 12)."""
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")


def default_checkpoint() -> Path:
    """The universal-model checkpoint shipped with AirTwin (trained on ``procedural-train``)."""
    from importlib import resources

    return Path(str(resources.files("airtwin.model") / "checkpoints" / "default"))


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupted, pickled, or does not match the model."""


def load_state_strict(module: torch.nn.Module, tensors: dict[str, torch.Tensor], what: str,
                      prefix_filter: str | None = None) -> None:
    """Load ``tensors`` into ``module``: every expected key present, no extra key, every shape equal."""
    expected = {k: v for k, v in module.state_dict().items() if prefix_filter is None or not k.startswith(prefix_filter)}
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise CheckpointError(f"{what}: missing tensors {missing[:5]}{'...' if len(missing) > 5 else ''}, "
                              f"unexpected tensors {extra[:5]}{'...' if len(extra) > 5 else ''}")
    for k, v in tensors.items():
        if tuple(v.shape) != tuple(expected[k].shape):
            raise CheckpointError(f"{what}: tensor {k} has shape {tuple(v.shape)}, the model needs "
                                  f"{tuple(expected[k].shape)}")
    module.load_state_dict(tensors, strict=False)


def _refuse_pickles(path: Path) -> None:
    bad = [p.name for p in path.rglob("*") if p.suffix in PICKLE_SUFFIXES]
    if bad:
        raise CheckpointError(f"{path}: refusing pickled files {bad}; AirTwin checkpoints hold safetensors only")


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("airtwin", "torch", "transformers", "peft"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _check_finite(tensors: dict[str, torch.Tensor], what: str) -> None:
    bad = [k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"{what}: non-finite values (NaN or inf) in {bad[:5]}{'...' if len(bad) > 5 else ''}")


def _as_written(path: Path) -> None:
    """Give ``path`` the mode any file this process writes gets (``0666`` less the umask): safetensors writes its
    files with mode 0600, which kept a shipped checkpoint's weights from other users of a machine."""
    mask = os.umask(0)
    os.umask(mask)
    path.chmod(0o666 & ~mask)


def save_tensors(tensors: dict[str, torch.Tensor], path: str | Path) -> None:
    """Write ``tensors`` as a safetensors file at ``path``, with the mode of any other file written
    (:func:`_as_written`)."""
    save_file(tensors, str(path))
    _as_written(Path(path))


def save_checkpoint(model, out_dir: str | Path, *, train: dict | None = None, optimizer=None) -> Path:
    """Write ``model`` (a :class:`model.universal.UniversalModel`) to ``out_dir``, atomically.

    Raises:
        CheckpointError: a parameter is NaN or infinite (nothing is written then).
    """
    out = Path(out_dir)
    _check_finite(dict(model.named_parameters()), f"refusing to write {out}")
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()
               if not k.startswith("backbone.")}
    save_tensors(tensors, tmp / "weights.safetensors")
    if model.backbone is not None and model.cfg.uses_lora:
        model.backbone.save_pretrained(str(tmp / "lora"), safe_serialization=True)
        for p in (tmp / "lora").rglob("*.safetensors"):  # peft's adapter, written by safetensors too
            _as_written(p)
    if optimizer is not None:
        save_optimizer(optimizer, tmp)
    trainable, total = model.parameter_counts()
    files = {p.relative_to(tmp).as_posix(): file_sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
    config = {"format": CHECKPOINT_FORMAT, "model": to_dict(model.cfg), "versions": _versions(),
              "parameters": {"trainable": trainable, "total": total}, "train": train or {}, "files": files}
    (tmp / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    old = out.with_name(f"{out.name}.{os.getpid()}.old")
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return out


def verify_files(ckpt_dir: Path, config: dict) -> None:
    """Raise :class:`CheckpointError` unless every file recorded in ``config["files"]`` matches its sha256."""
    files = config.get("files")
    if not isinstance(files, dict) or not files:
        raise CheckpointError(f"{ckpt_dir}/config.json records no file checksums; it was written by an older "
                              "AirTwin: re-save it with model.checkpoint.save_checkpoint")
    for rel, digest in files.items():
        path = ckpt_dir / rel
        if Path(rel).is_absolute() or ".." in Path(rel).parts or not path.is_file() or path.is_symlink():
            raise CheckpointError(f"{ckpt_dir}: {rel} is missing (or not a regular file inside the checkpoint)")
        if file_sha256(path) != digest:
            raise CheckpointError(f"{path} is corrupted: its sha256 does not match config.json")


def read_config(ckpt_dir: str | Path) -> tuple[ModelConfig, dict]:
    path = Path(ckpt_dir) / "config.json"
    if not path.exists():
        raise CheckpointError(f"{ckpt_dir}: no config.json (not an AirTwin model checkpoint)")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: corrupted JSON ({exc})") from exc
    if config.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: format {config.get('format')!r}, expected {CHECKPOINT_FORMAT!r}")
    return from_dict(ModelConfig, config["model"]), config


def load_checkpoint(ckpt_dir: str | Path, *, backbone: str | None = None, device: str = "auto"):
    """Rebuild a :class:`model.universal.UniversalModel` from ``ckpt_dir``, on ``device``.

    Args:
        backbone: override ``config.backbone`` (e.g. the same checkpoint in another folder).
        device: 'auto' (CUDA when present, else CPU), 'cpu', 'cuda', 'cuda:N' or 'mps'.
    Raises:
        CheckpointError: missing files, pickles, format or shape mismatches, corrupted tensors.
    """
    from airtwin.model.universal import UniversalModel

    ckpt = Path(ckpt_dir)
    if not ckpt.is_dir():
        raise CheckpointError(f"checkpoint {ckpt} does not exist (or is not a folder)")
    _refuse_pickles(ckpt)
    cfg, config = read_config(ckpt)
    verify_files(ckpt, config)
    if backbone is not None:
        cfg = replace(cfg, backbone=backbone)
    weights = ckpt / "weights.safetensors"
    if not weights.exists():
        raise CheckpointError(f"{ckpt}: weights.safetensors is missing")
    try:
        tensors = load_file(str(weights))
    except Exception as exc:  # safetensors raises its own error types for truncated or garbled files
        raise CheckpointError(f"{weights}: cannot be read as safetensors ({exc})") from exc
    _check_finite(tensors, str(weights))
    lora_dir = ckpt / "lora"
    if cfg.uses_lora:
        if not (lora_dir / "adapter_model.safetensors").exists():
            raise CheckpointError(f"{ckpt}: variant {cfg.variant!r} needs lora/adapter_model.safetensors")
        try:
            adapter = json.loads((lora_dir / "adapter_config.json").read_text())
            lora = load_file(str(lora_dir / "adapter_model.safetensors"))
        except Exception as exc:  # missing, truncated or garbled adapter files
            raise CheckpointError(f"{lora_dir}: the LoRA adapter cannot be read ({exc})") from exc
        if adapter.get("r") != cfg.lora_r:
            raise CheckpointError(f"{ckpt}: config.json says LoRA rank {cfg.lora_r}, the adapter has r = "
                                  f"{adapter.get('r')}")
        _check_finite(lora, str(lora_dir / "adapter_model.safetensors"))
    try:
        model = UniversalModel.build(cfg, *_blank_encoders(cfg), lora_dir=str(lora_dir) if cfg.uses_lora else None)
    except (RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{ckpt}: the LoRA adapter does not fit the backbone ({exc})") from exc
    load_state_strict(model, tensors, str(weights), prefix_filter="backbone.")
    from airtwin.model.device import resolve_device

    return model.to(resolve_device(device))


def _blank_encoders(cfg: ModelConfig):
    from airtwin.model.encoders import CSIEncoder, EnvEncoder

    return CSIEncoder(cfg.embed_dim), EnvEncoder(cfg.embed_dim)


def save_optimizer(optimizer: torch.optim.Optimizer, out: Path) -> None:
    """Optimizer state as safetensors (tensors) + JSON (hyper-parameters and scalar state)."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for pid, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{pid}.{key}"] = value
    save_tensors(tensors, out / "optimizer.safetensors")
    (out / "optimizer.json").write_text(json.dumps({"param_groups": state["param_groups"], "scalars": scalars}))


def load_optimizer(optimizer: torch.optim.Optimizer, ckpt_dir: Path) -> bool:
    """Restore optimizer state saved by :func:`save_optimizer`; False when there is none."""
    ckpt_dir = Path(ckpt_dir)
    if not (ckpt_dir / "optimizer.safetensors").exists():
        return False
    tensors = load_file(str(ckpt_dir / "optimizer.safetensors"))
    meta = json.loads((ckpt_dir / "optimizer.json").read_text())
    state: dict[int, dict] = {}
    for name, value in [*tensors.items(), *meta["scalars"].items()]:
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    return True

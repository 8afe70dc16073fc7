"""Universal-model checkpoints: safetensors + peft adapter files + a JSON config; no pickles.

Layout of a checkpoint directory::

    config.json            format, ModelConfig, versions, parameter counts, training record
    weights.safetensors    encoders, adapters, prefix prompts, heads (everything but the backbone)
    lora/                  peft's save_pretrained output (adapter_config.json, adapter_model.safetensors)
    optimizer.safetensors  optional, for resuming training (+ optimizer.json)

The backbone itself is not copied: it is reloaded from ``config.backbone`` (and, for the
``rl`` variant, re-initialised from ``config.seed``). Loading checks the format, the tensor
names and shapes, and refuses pickled files.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from airtwin.config import from_dict, to_dict
from model.config import ModelConfig

CHECKPOINT_FORMAT = "airtwin-universal-v1"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")


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


def save_checkpoint(model, out_dir: str | Path, *, train: dict | None = None, optimizer=None) -> Path:
    """Write ``model`` (a :class:`model.universal.UniversalModel`) to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items() if not k.startswith("backbone.")}
    save_file(tensors, str(out / "weights.safetensors"))
    if model.backbone is not None and model.cfg.uses_lora:
        model.backbone.save_pretrained(str(out / "lora"), safe_serialization=True)
    if optimizer is not None:
        save_optimizer(optimizer, out)
    trainable, total = model.parameter_counts()
    config = {"format": CHECKPOINT_FORMAT, "model": to_dict(model.cfg), "versions": _versions(),
              "parameters": {"trainable": trainable, "total": total}, "train": train or {}}
    (out / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    return out


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


def load_checkpoint(ckpt_dir: str | Path, *, backbone: str | None = None):
    """Rebuild a :class:`model.universal.UniversalModel` from ``ckpt_dir``.

    Args:
        backbone: override ``config.backbone`` (e.g. the same checkpoint in another folder).
    Raises:
        CheckpointError: missing files, pickles, format or shape mismatches, corrupted tensors.
    """
    from model.universal import UniversalModel

    ckpt = Path(ckpt_dir)
    _refuse_pickles(ckpt)
    cfg, _ = read_config(ckpt)
    if backbone is not None:
        cfg = ModelConfig(**{**asdict(cfg), "backbone": backbone, "shapes": cfg.shapes})
    weights = ckpt / "weights.safetensors"
    if not weights.exists():
        raise CheckpointError(f"{ckpt}: weights.safetensors is missing")
    try:
        tensors = load_file(str(weights))
    except Exception as exc:  # safetensors raises its own error types for truncated or garbled files
        raise CheckpointError(f"{weights}: cannot be read as safetensors ({exc})") from exc
    lora_dir = ckpt / "lora"
    if cfg.uses_lora and not (lora_dir / "adapter_model.safetensors").exists():
        raise CheckpointError(f"{ckpt}: variant {cfg.variant!r} needs lora/adapter_model.safetensors")
    try:
        model = UniversalModel.build(cfg, *_blank_encoders(cfg), lora_dir=str(lora_dir) if cfg.uses_lora else None)
    except (RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{ckpt}: the LoRA adapter does not fit the backbone ({exc})") from exc
    load_state_strict(model, tensors, str(weights), prefix_filter="backbone.")
    return model


def _blank_encoders(cfg: ModelConfig):
    from model.encoders import CSIEncoder, EnvEncoder

    return CSIEncoder(cfg.embed_dim), EnvEncoder(cfg.embed_dim)


def save_optimizer(optimizer: torch.optim.Optimizer, out: Path) -> None:
    """Optimizer state as safetensors (tensors) + JSON (hyper-parameters and scalar state)."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for pid, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{pid}.{key}"] = value.contiguous()
            else:
                scalars[f"{pid}.{key}"] = value
    save_file(tensors, str(out / "optimizer.safetensors"))
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

"""Multi-task training of the universal model, resumable, with per-evaluation JSON-lines logs.

    airtwin train --data DATA_DIR --encoders ENC_DIR --out RUN_DIR --tasks all --variant full

Every step takes one batch per task (samples with a path only), sums the task losses and
updates the trainable parameters (adapters, prompts, heads, LoRA; the encoders too for ``te``).
Batches are drawn from ``numpy.random.default_rng([seed, step])``, so a resumed run sees the
same batches as an uninterrupted one. ``RUN_DIR/last`` holds the latest checkpoint (with the
optimizer); ``RUN_DIR/metrics.jsonl`` one JSON line per evaluation.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from airtwin.datagen.reader import AirTwinDataset
from airtwin.model.checkpoint import load_checkpoint, load_optimizer, read_config, save_checkpoint
from airtwin.model.config import ModelConfig, TrainConfig
from airtwin.model.device import resolve_device
from airtwin.model.features import observation_batch
from airtwin.model.numerology import adapter_for, predict_on_site
from airtwin.model.pretrain import load_encoders
from airtwin.model.universal import UniversalModel, task_loss
from airtwin.phy.beams import fit_full_band_weight
from airtwin.phy.estimation import to_complex
from airtwin.phy.metrics import summarize
from airtwin.phy.tasks import TASKS, observe


def task_batch(model: UniversalModel, task: str, fields: dict[str, np.ndarray], rng: np.random.Generator
               ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """``(observation, target)`` tensors of one task from dataset fields (pilot noise from ``rng``)."""
    spec = TASKS[task]
    obs = observation_batch(spec.modality, fields, model.cfg.pilot_snr_db, rng)
    return obs, torch.from_numpy(np.ascontiguousarray(spec.target(fields)))


def check_fits(model: UniversalModel, ds: AirTwinDataset) -> None:
    """Raise ``ValueError`` unless the dataset's tensor sizes are the ones the model was built for."""
    have, need = ds.shapes(), model.cfg.shapes
    if have != need:
        diff = ", ".join(f"{k} {getattr(have, k)} (model: {getattr(need, k)})" for k in need.__dataclass_fields__
                         if getattr(have, k) != getattr(need, k))
        raise ValueError(f"{ds.root}: the data does not fit the checkpoint's numerology: {diff}")


@torch.no_grad()
def model_samples(model: UniversalModel, ds: AirTwinDataset, max_samples: int | None = None, seed: int = 0,
                  batch_size: int = 64, indices: np.ndarray | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Per-sample metrics of every task head, ``{task: {metric: [N]}}``, on ``indices`` (default:
    ``ds.sample_indices(max_samples, seed)``).

    Data of another numerology than the model's goes through :class:`airtwin.model.numerology.NumerologyAdapter`.

    Raises:
        ValueError: ``ds`` is empty, mixes numerologies, or its numerology is not the model's and the checkpoint
        records none to adapt from; or the model has a site memory of another scenario or numerology.
    """
    if len(ds) == 0:
        raise ValueError(f"{ds.root}: the selected split has no samples")
    idx = ds.sample_indices(max_samples, seed) if indices is None else np.asarray(indices)
    ds.require_uniform()
    if model.cfg.numerology is None:
        check_fits(model, ds)
    # Only a site-memory model needs the data's sites (reading them opens a shard per scenario).
    adapter = adapter_for(model, ds.numerology(), ds.sites() if model.memory is not None else None)
    was_training = model.training
    model.eval()
    rng = np.random.default_rng([seed, 1])
    out = {}
    for task in model.cfg.tasks:
        spec = TASKS[task]
        preds, fields = [], []
        for start in range(0, len(idx), batch_size):
            f = ds.read_batch(idx[start:start + batch_size], ds.task_fields(task))
            preds.append(predict_on_site(model, adapter, task, observe(spec.modality, f, model.cfg.pilot_snr_db, rng)))
            fields.append(f)
        out[task] = spec.samples(np.concatenate(preds), {k: np.concatenate([f[k] for f in fields]) for k in spec.fields})
    model.train(was_training)
    return out


def evaluate_model(model: UniversalModel, ds: AirTwinDataset, max_samples: int | None = None, seed: int = 0,
                   batch_size: int = 64) -> dict[str, float]:
    """Metrics of every task head on ``ds`` (at most ``max_samples`` samples with a path); see :func:`model_samples`."""
    per_task = model_samples(model, ds, max_samples, seed, batch_size)
    first_task = next(iter(per_task.values()))
    out: dict[str, float] = {"num_samples": len(next(iter(first_task.values())))}  # samples scored
    for samples in per_task.values():
        out |= summarize(samples)
    return out


def fit_precoder_smoothing(ds: AirTwinDataset, pilot_snr_db: float, seed: int, max_samples: int = 2048) -> float:
    """The full-band weight of the ``refine`` precoding head's eigen-precoder: the candidate of
    :func:`airtwin.phy.beams.fit_full_band_weight` that scores best on at most ``max_samples`` drops of ``ds``,
    from estimates at ``pilot_snr_db`` (samples and noise drawn with ``seed``)."""
    spec = TASKS["precoding"]
    fields = ds.read_batch(ds.sample_indices(max_samples, seed), spec.fields)
    obs = observe(spec.modality, fields, pilot_snr_db, np.random.default_rng([seed, 0]))
    return fit_full_band_weight(to_complex(obs["csi"]), spec.target(fields))


def build_model(cfg: TrainConfig, ds: AirTwinDataset) -> UniversalModel:
    """A fresh model for ``cfg`` and the dataset's numerology, on the CPU (move it with ``.to``)."""
    shapes = ds.shapes()
    smoothing = cfg.precoder_smoothing
    if smoothing is None:
        refine = cfg.precoder_head != "direct" and "precoding" in cfg.tasks
        smoothing = fit_precoder_smoothing(ds, ModelConfig.pilot_snr_db, cfg.seed) if refine else 0.0
    mcfg = ModelConfig(shapes=shapes, numerology=ds.numerology(), variant=cfg.variant, backbone=cfg.backbone,
                       seed=cfg.seed, tasks=cfg.tasks, precoder_head=cfg.precoder_head, position_head=cfg.position_head,
                       precoder_smoothing=smoothing)
    if mcfg.frozen_encoders:
        if cfg.encoders is None:
            raise ValueError(f"variant {cfg.variant!r} needs --encoders (run `airtwin pretrain-encoders` first)")
        csi_enc, env_enc, _ = load_encoders(cfg.encoders, shapes, mcfg.embed_dim)
        return UniversalModel.build(mcfg, csi_enc, env_enc)
    return UniversalModel.build(mcfg)


class NonFiniteLossError(RuntimeError):
    """A training loss came out NaN or infinite; the message names the step and the batch's shards."""


def training_step(model: UniversalModel, opt: torch.optim.Optimizer, params: list, ds: AirTwinDataset,
                  indices: np.ndarray, tasks: tuple[str, ...], batch_size: int, rng: np.random.Generator,
                  where: str = "") -> dict[str, float]:
    """One optimizer step on one batch per task drawn from ``indices`` of ``ds`` (batches and pilot noise from
    ``rng``); returns the task losses. A model with a site memory retrieves, for each drop, nothing from the
    drop's own square of the location split.

    Raises:
        NonFiniteLossError: a loss is NaN or infinite (nothing is updated).
    """
    total_loss = 0.0
    losses = {}
    for task in tasks:
        idx = rng.choice(indices, size=min(batch_size, len(indices)), replace=False)
        fields = ds.read_batch(idx, ds.task_fields(task))
        obs, target = task_batch(model, task, fields, rng)
        if model.uses_memory(task):  # a drop retrieves nothing from its own square (see airtwin.model.memory)
            obs["memory_exclude_cell"] = model.memory.cell_of(fields["ue_position"])
        loss = task_loss(model, task, obs, target)
        if not bool(torch.isfinite(loss)):
            shards = sorted({ds.records[ds.locate(int(i))[0]]["file"] for i in idx})
            raise NonFiniteLossError(
                f"{where}: the {task} loss is {loss.item()} on a batch from {', '.join(shards)} of "
                f"{ds.root}; stopped without writing a checkpoint for this step (check those shards for "
                "NaN or infinite values)")
        losses[task] = loss.item()
        total_loss = total_loss + loss
    opt.zero_grad()
    total_loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    return losses


def learning_rate_factor(step: int, steps: int) -> float:
    """Multiplier of the learning rate at ``step`` of ``steps``: linear warm-up over the first 5 %, then a
    cosine decay to 0.05 (a function of the step alone, so a resumed run continues the same schedule)."""
    warm = max(1, steps // 20)
    if step < warm:
        return (step + 1) / warm
    t = (step - warm) / max(1, steps - warm)
    return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


def train(cfg: TrainConfig, log=print, progress: bool | None = None) -> UniversalModel:
    """Train (or resume) the run in ``cfg.out``; returns the trained model."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    train_ds = AirTwinDataset(cfg.data, split="train")
    if len(train_ds) == 0:
        raise ValueError(f"{cfg.data} has no samples in its train split (splits: "
                         f"{ {s: len(n) for s, n in train_ds.manifest['splits'].items()} }); train on a dataset "
                         "generated from training areas, e.g. --suite procedural-train")
    val_ds = AirTwinDataset(cfg.data, split="validation")
    if len(val_ds) == 0:
        val_ds = train_ds
    last = out / "last"
    step = 0
    if (last / "config.json").exists():
        _, saved = read_config(last)
        if _settings(saved["train"].get("config") or {}) != _settings(_jsonable(cfg)):
            raise ValueError(f"{out} holds a run with other settings; use another --out or the same settings")
        model = load_checkpoint(last, device=cfg.device)
        step = int(saved["train"]["step"])
        log(f"resuming from step {step}")
    else:
        model = build_model(cfg, train_ds).to(resolve_device(cfg.device))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=1e-4)
    if step:
        load_optimizer(opt, last)
    (out / "run.json").write_text(json.dumps(_jsonable(cfg), indent=1) + "\n")
    trainable, total = model.parameter_counts()
    log(f"variant {cfg.variant}: {trainable:,} trainable of {total:,} parameters; {len(train_ds)} train samples; "
        f"on {model.device}")
    indices = train_ds.usable()
    tb = _tensorboard(out)
    from tqdm import tqdm

    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=cfg.steps, initial=step, unit="step", disable=not show, desc=f"train {cfg.variant}")
    start = time.perf_counter()
    losses: dict[str, list[float]] = {t: [] for t in cfg.tasks}
    model.train()
    while step < cfg.steps:
        for group in opt.param_groups:  # linear warm-up over 5 % of the steps, then cosine decay to 5 %
            group["lr"] = cfg.lr * learning_rate_factor(step, cfg.steps)
        step_losses = training_step(model, opt, params, train_ds, indices, cfg.tasks, cfg.batch_size,
                                    np.random.default_rng([cfg.seed, step]), where=f"step {step + 1}")
        for task, value in step_losses.items():
            losses[task].append(value)
        step += 1
        bar.update(1)
        if step % cfg.eval_every == 0 or step == cfg.steps:
            metrics = evaluate_model(model, val_ds, cfg.eval_samples, seed=cfg.seed)
            record = {"step": step, "seconds": time.perf_counter() - start,
                      "train_loss": {t: float(np.mean(v)) for t, v in losses.items() if v}, "validation": metrics}
            with open(out / "metrics.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")
            if tb is not None:
                for t, v in record["train_loss"].items():
                    tb.add_scalar(f"loss/{t}", v, step)
                for k, v in metrics.items():
                    tb.add_scalar(f"validation/{k}", v, step)
            losses = {t: [] for t in cfg.tasks}
            save_checkpoint(model, last, optimizer=opt, train={"step": step, "config": _jsonable(cfg)})
            log(f"step {step}: " + ", ".join(f"{k} {v:.3g}" for k, v in metrics.items()))
    bar.close()
    save_checkpoint(model, out / "final", train={"step": step, "config": _jsonable(cfg)})
    return model


def _jsonable(cfg: TrainConfig) -> dict:
    return json.loads(json.dumps(asdict(cfg)))


def _settings(saved: dict) -> dict:
    """The settings a resumed run must share with the saved one (the device may differ; a setting that is None
    equals one the saved run predates)."""
    return {k: v for k, v in saved.items() if k != "device" and v is not None}


def _tensorboard(out: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(out / "tensorboard"))

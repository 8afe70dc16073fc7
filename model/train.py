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

from airtwin.config import write_json
from airtwin.datagen.reader import AirTwinDataset
from airtwin.model.checkpoint import load_checkpoint, load_optimizer, read_config, save_checkpoint
from airtwin.model.config import ModelConfig, TrainConfig
from airtwin.model.device import resolve_device
from airtwin.model.features import observation_batch
from airtwin.model.numerology import adapter_for, predict_on_site
from airtwin.model.pretrain import load_encoders
from airtwin.model.universal import UniversalModel, switch_candidates, task_loss
from airtwin.phy.beams import fit_full_band_weight, sgcs
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


#: Drops the ``switch-refine`` head's switch is fitted on (training split) and selected on (validation split).
SWITCH_FIT_SAMPLES, SWITCH_SELECT_SAMPLES = 16384, 4096


def fits_precoder_switch(model: UniversalModel, ds: AirTwinDataset) -> bool:
    """Whether :func:`fit_precoder_switch` applies: a ``switch-refine`` precoding head, data with a previous pilot."""
    return model.cfg.precoder_head == "switch-refine" and "precoding" in model.cfg.tasks and ds.pilot_gap_s() > 0


def _switch_data(model: UniversalModel, ds: AirTwinDataset, idx: np.ndarray, seed: int
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(last tokens [N, width], switch features [N, F], the two candidates' SGCS [N, 2])`` of the precoding
    observations of the drops ``idx`` of ``ds`` (pilot noise from ``seed``), on the model's device."""
    rng = np.random.default_rng([seed, 2])
    num_subbands = model.cfg.shapes.num_subbands
    last, feats, scores = [], [], []
    with torch.no_grad():
        for start in range(0, len(idx), 256):
            fields = ds.read_batch(idx[start:start + 256], ds.task_fields("precoding"))
            obs = model.to_device(observation_batch("csi", fields, model.cfg.pilot_snr_db, rng))
            candidates, features = switch_candidates(obs, num_subbands)
            target = TASKS["precoding"].target(fields)
            last.append(model.last_token("precoding", obs))
            feats.append(features)
            scores.append(torch.from_numpy(sgcs(candidates.cpu().numpy(), target[:, None]).mean(axis=2)))
    return torch.cat(last), torch.cat(feats), torch.cat(scores).float().to(model.device)


def fit_precoder_switch(model: UniversalModel, fit_drops: tuple[AirTwinDataset, np.ndarray],
                        select_drops: tuple[AirTwinDataset, np.ndarray], *, seed: int = 0, steps: int = 2000,
                        batch_size: int = 512, lr: float = 1e-3, log=print) -> dict:
    """Fit the ``switch-refine`` precoding head's switch, the rest of the model fixed (after training: on
    :data:`SWITCH_FIT_SAMPLES` training drops, selected on :data:`SWITCH_SELECT_SAMPLES` validation drops of other
    areas; after a site fine-tune: on the site's drops).

    The last tokens, the classical features and both candidates' SGCS against the target are computed once for
    the drops ``(dataset, indices)`` of ``fit_drops`` and ``select_drops``. The switch's read of the last token and
    its MLP then minimise a logistic loss on which candidate scores higher, each drop weighted by how much
    higher. Every 100 steps the selection drops' mean SGCS of the pick is measured; the best state is kept, and
    the switch it started from unless a state beats it: after training, the classical switch (the correction
    starts at zero); after a site fine-tune, the general checkpoint's fitted switch.

    Returns a record for the checkpoint: sample counts, the best step (0: the switch it started from) and the
    selection drops' SGCS with the switch it started from and the fitted one.
    """
    s, a = model.cfg.shapes.num_subbands, model.cfg.shapes.num_antennas
    was_training = model.training
    model.eval()
    fit, select = (_switch_data(model, ds, idx, seed) for ds, idx in (fit_drops, select_drops))
    head, switch = model.heads["precoding"], model.precoder_switch
    rows = slice(2 * s * a, None)  # the head's outputs that the switch reads
    read = torch.nn.Linear(head.in_features, head.out_features - 2 * s * a).to(model.device)
    with torch.no_grad():
        read.weight.copy_(head.weight[rows])
        read.bias.copy_(head.bias[rows])

    def picked_sgcs() -> float:
        with torch.no_grad():
            logit = model.switch_logit(read(select[0]), select[1])
            return float(torch.where(logit > 0, select[2][:, 1], select[2][:, 0]).mean())

    params = [*read.parameters(), *switch.parameters()]
    best_state, best_step = [p.detach().clone() for p in params], 0
    best = start = picked_sgcs()  # the switch it starts from is the selection's reference
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(seed)
    last, feats, scores = fit
    gain = scores[:, 1] - scores[:, 0]
    for step in range(1, steps + 1):
        b = torch.randint(0, len(gain), (batch_size,), generator=gen).to(model.device)
        logit = model.switch_logit(read(last[b]), feats[b])
        weight = gain[b].abs()
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logit, (gain[b] > 0).float(), reduction="none")
        loss = (weight * bce).sum() / weight.sum().clamp_min(1e-9)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 and (value := picked_sgcs()) > best:
            best, best_step, best_state = value, step, [p.detach().clone() for p in params]
    with torch.no_grad():
        for p, v in zip(params, best_state):
            p.copy_(v)
        head.weight[rows] = read.weight
        head.bias[rows] = read.bias
    model.train(was_training)
    log(f"precoder switch: selection SGCS {start:.4f} with the switch it started from, {best:.4f} fitted "
        f"(step {best_step} of {steps}; {len(gain)} fitting and {len(select[2])} selection drops)")
    return {"fit_samples": len(gain), "select_samples": len(select[2]), "steps": steps, "best_step": best_step,
            "select_sgcs": {"start": start, "fitted": best}}


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
    write_json(out / "run.json", _jsonable(cfg))
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
    record = {"step": step, "config": _jsonable(cfg)}
    if fits_precoder_switch(model, train_ds):
        record["precoder_switch"] = fit_precoder_switch(
            model, (train_ds, train_ds.sample_indices(SWITCH_FIT_SAMPLES, cfg.seed)),
            (val_ds, val_ds.sample_indices(SWITCH_SELECT_SAMPLES, cfg.seed)), seed=cfg.seed, log=log)
    save_checkpoint(model, out / "final", train=record)
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

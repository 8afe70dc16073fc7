"""A vector environment that traces the UEs of all its sub-environments in one twin call.

``TwinVectorEnv(env_id, num_envs, scenario=...)`` runs ``num_envs`` copies of a registered
AirTwin environment in this process, sharing one twin. Each step, every sub-environment evaluates its action
and moves its UE, then a single ``Twin.trace`` call traces all UEs together, and each
sub-environment builds its observation from its slice. Episodes end by truncation after
the id's ``max_episode_steps``; finished sub-environments reset on the next step
(Gymnasium's ``NEXT_STEP`` autoreset, as ``SyncVectorEnv``).

Each sub-environment keeps its own ``np_random`` (seeded ``seed + i``), so drops and
mobility match the single environments; the channels differ in Monte-Carlo detail
because one batched trace uses one tracer seed (that of sub-environment 0).
For environments in several processes use ``gymnasium.vector.AsyncVectorEnv``
(``context="spawn"``): each worker builds its own twin.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array, iterate

from airtwin.envs.core import STAGES, trace_together
from airtwin.twin.pool import TwinPool


class TwinVectorEnv(VectorEnv):
    """``num_envs`` AirTwin environments of one id, stepped together with one ray-tracing call per step."""

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, env_id: str, num_envs: int, **env_kwargs: Any):
        if num_envs < 1:
            raise ValueError(f"num_envs = {num_envs}; allowed: >= 1")
        spec = gym.spec(env_id)
        pool = env_kwargs.pop("twin_pool", None) or TwinPool(max_size=1)  # all sub-environments share one twin
        self.envs: list = [gym.make(env_id, twin_pool=pool, **env_kwargs).unwrapped
                                    for _ in range(num_envs)]
        if not all(all(hasattr(e, stage) for stage in STAGES) for e in self.envs):
            raise ValueError(f"{env_id} is not an AirTwin environment with the stages {', '.join(STAGES)}")
        self.num_envs = num_envs
        self.max_episode_steps = spec.max_episode_steps
        self.twin = self.envs[0].twin
        self.single_observation_space = self.envs[0].observation_space
        self.single_action_space = self.envs[0].action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._steps = np.zeros(num_envs, dtype=np.int64)
        self._autoreset = np.zeros(num_envs, dtype=bool)
        self._obs = create_empty_array(self.single_observation_space, num_envs)
        self._needs_reset = True

    def _trace_all(self) -> list[dict[str, np.ndarray]]:
        args = [e.trace_request() for e in self.envs]
        seeds = [e.draw_trace_seed() for e in self.envs]
        return [e.receive(b) for e, b in zip(self.envs, trace_together(self.twin, args, seeds[0]))]

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        if seed is None:
            seeds = [None] * self.num_envs
        elif isinstance(seed, int):
            seeds = [seed + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
        infos: dict[str, Any] = {}
        for env, s in zip(self.envs, seeds):
            gym.Env.reset(env, seed=s)
            env.begin_episode(options)
        obs = self._trace_all()
        for i, env in enumerate(self.envs):
            infos = self._add_info(infos, env.info(), i)
        self._steps[:] = 0
        self._autoreset[:] = False
        self._needs_reset = False
        return concatenate(self.single_observation_space, obs, self._obs), infos

    def close_extras(self, **kwargs) -> None:
        for env in self.envs:
            env.close()

    def step(self, actions):
        if self._needs_reset:
            raise gym.error.ResetNeeded("TwinVectorEnv.step() was called before reset(); call reset(seed=...) first")
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        terminated = np.zeros(self.num_envs, dtype=bool)
        truncated = np.zeros(self.num_envs, dtype=bool)
        step_infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for i, (env, action) in enumerate(zip(self.envs, iterate(self.action_space, actions))):
            if self._autoreset[i]:
                env.begin_episode(None)
                self._steps[i] = 0
            else:
                rewards[i], step_infos[i] = env.apply(action)
                self._steps[i] += 1
                truncated[i] = self.max_episode_steps is not None and self._steps[i] >= self.max_episode_steps
        obs = self._trace_all()
        infos: dict[str, Any] = {}
        for i, env in enumerate(self.envs):
            infos = self._add_info(infos, {**env.info(), **step_infos[i]}, i)
        self._autoreset = terminated | truncated
        return concatenate(self.single_observation_space, obs, self._obs), rewards, terminated, truncated, infos

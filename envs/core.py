"""Closed-loop Gymnasium environments over the twin.

Each episode follows one UE along the streets of a scenario: at every step the agent
acts on the current channel (the reward comes from the true channel), then the UE moves
``step_s`` seconds and the twin re-traces. Randomness (drops, speeds, turns, estimation
noise, tracer seeds) comes from ``self.np_random`` after ``reset(seed=...)``.

A UE that walks into a spot no path reaches keeps going with a zero channel;
``info["has_paths"]`` is False there.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from airtwin.envs.tasks import TASK_IDS, BeamSelectionTask, EnvConfig, MultiTask, PositioningTask, PrecodingTask, Task
from airtwin.scenes.registry import get_scenario
from airtwin.scenes.spec import ScenarioSpec

_TWINS: dict[str, Any] = {}
_USERS: dict[str, int] = {}


def _key(scenario: str | ScenarioSpec) -> str:
    return repr(get_scenario(scenario) if isinstance(scenario, str) else scenario)


def shared_twin(scenario: str | ScenarioSpec):
    """One twin per scenario and process, shared by the environments of that process.

    Environments in one process step one after another, so sharing a Sionna scene is safe;
    across processes (``AsyncVectorEnv``) every worker builds its own. Environments hold the
    twin while they are open (:meth:`TwinEnv.close` lets go of it); the last one to close
    releases it from the cache.
    """
    from airtwin.twin.twin import Twin

    spec = get_scenario(scenario) if isinstance(scenario, str) else scenario
    key = repr(spec)
    if key not in _TWINS:
        _TWINS[key] = Twin(spec)
    return _TWINS[key]


def _hold(scenario: str | ScenarioSpec):
    twin = shared_twin(scenario)
    key = _key(twin.spec)
    _USERS[key] = _USERS.get(key, 0) + 1
    return twin


def _let_go(spec: ScenarioSpec) -> None:
    key = _key(spec)
    _USERS[key] = _USERS.get(key, 1) - 1
    if _USERS[key] <= 0:
        _USERS.pop(key, None)
        _TWINS.pop(key, None)


class TwinEnv(gym.Env):
    """A single-UE closed-loop episode driven by a :class:`envs.tasks.Task`.

    Args:
        scenario: scenario name or spec.
        step_s, pilot_snr_db, feedback_delay_s, reward: see :class:`envs.tasks.EnvConfig`.
    """

    metadata = {"render_modes": []}
    task_class: type[Task] = BeamSelectionTask

    def __init__(self, scenario: str | ScenarioSpec = "city-tiny-00000", *, step_s: float | None = None,
                 pilot_snr_db: float = 20.0, feedback_delay_s: float = 0.005, reward: str = "spectral_efficiency",
                 render_mode: str | None = None):
        self.config = EnvConfig(step_s=step_s, pilot_snr_db=pilot_snr_db, feedback_delay_s=feedback_delay_s,
                                reward=reward)
        if render_mode is not None:
            raise ValueError(f"render_mode = {render_mode!r}; allowed: None (use evaluation reports for pictures)")
        self.twin = _hold(scenario)
        self.task = self.make_task()
        self.observation_space = self.task.observation_space
        self.action_space = self.task.action_space
        self.step_s = self.config.step_s or self.twin.spec.mobility.time_step_s
        self._state = None
        self._batch = None
        self._t = 0

    def make_task(self) -> Task:
        return self.task_class(self.twin, self.config)

    # ------------------------------------------------------------------ the stages, also used by the vector env
    def _trace_seed(self) -> int:
        return int(self.np_random.integers(0, 2**31 - 1))

    def _begin_episode(self, options: dict | None) -> None:
        self._state = self.twin.init_motion(1, self.np_random)
        self._t = 0
        self.task.reset_memory()

    def _trace_args(self) -> dict[str, Any]:
        return {"positions": self._state.positions, "velocities": self._state.velocities,
                "num_time_steps": 2, "time_step_s": max(self.config.feedback_delay_s, 1e-6)}

    def _receive(self, batch) -> dict[str, np.ndarray]:
        self._batch = batch
        return self.task.observe(batch, self.np_random)

    def _info(self) -> dict[str, Any]:
        b = self._batch
        return {"has_paths": bool(b.has_paths[0]), "los": bool(b.los[0]), "path_loss_db": float(b.path_loss_db[0]),
                "ue_position": b.ue_positions[0].copy(), "time_s": self._t * self.step_s}

    def _act(self, action) -> tuple[float, dict[str, Any]]:
        self.task.check_action(action)
        reward, info = self.task.evaluate(action, self._batch)
        info = {**self._info(), **info}
        self._state = self.twin.advance(self._state, self.step_s, self.np_random)
        self._t += 1
        return float(reward), info

    # ------------------------------------------------------------------ Gymnasium API
    def close(self) -> None:
        """Let go of the shared twin (released from the cache when no open environment uses it)."""
        if getattr(self, "_holds_twin", True) and hasattr(self, "twin"):
            _let_go(self.twin.spec)
            self._holds_twin = False
        super().close()

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._begin_episode(options)
        batch = self.twin.trace(seed=self._trace_seed(), **self._trace_args())
        obs = self._receive(batch)
        return obs, self._info()

    def step(self, action):
        if self._batch is None:
            raise RuntimeError("call reset() before step()")
        reward, info = self._act(action)
        batch = self.twin.trace(seed=self._trace_seed(), **self._trace_args())
        obs = self._receive(batch)
        return obs, reward, False, False, info


class BeamSelectionEnv(TwinEnv):
    """Each step: pick a DFT beam for the moving UE; reward = dB loss against the best beam (<= 0)."""

    task_class = BeamSelectionTask


class PrecodingEnv(TwinEnv):
    """Each step: choose a precoder per subband from an estimated, aged CSI; reward = spectral efficiency."""

    task_class = PrecodingTask


class PositioningEnv(TwinEnv):
    """Each step: estimate the UE position from its CSI; reward = minus the error [m]."""

    task_class = PositioningTask


class AirInterfaceEnv(TwinEnv):
    """Multi-task: each episode draws a task (or takes ``options={"task": name}``); the task id is observed."""

    task_class = MultiTask

    def _begin_episode(self, options):
        task = (options or {}).get("task")
        if task is None:
            task = TASK_IDS[int(self.np_random.integers(len(TASK_IDS)))]
        if task not in TASK_IDS:
            raise ValueError(f"options['task'] = {task!r}; allowed: {', '.join(TASK_IDS)}")
        self.task.current = task
        super()._begin_episode(options)

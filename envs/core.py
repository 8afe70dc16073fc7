"""Closed-loop Gymnasium environments over the twin.

Each episode follows one UE along the streets of a scenario: at every step the agent
acts on the current channel (the reward comes from the true channel), then the UE moves
``step_s`` seconds and the twin re-traces. Randomness (drops, speeds, turns, tracer seeds) comes from
``self.np_random`` after ``reset(seed=...)``; the estimation noise of step ``t`` comes from a generator seeded
by ``(an episode seed drawn from np_random, t)``, so that how many noise draws an observation takes (one pilot
or two) moves neither the UE nor the next steps' noise: runs with and without the previous pilot follow the
same tracks with the same latest estimates.

A UE that walks into a spot no path reaches keeps going with a zero channel;
``info["has_paths"]`` is False there.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from airtwin.envs.tasks import (BeamSelectionTask, EnvConfig, MultiTask, PositioningTask, PrecodingTask, Task,
                                env_settings)
from airtwin.phy.tasks import ENV_TASKS
from airtwin.scenes.spec import ScenarioSpec
from airtwin.twin.channel import ChannelBatch
from airtwin.twin.pool import TwinPool


#: The stages of an environment step, driven by :class:`airtwin.envs.vector.TwinVectorEnv` (see ``TwinEnv``).
STAGES = ("begin_episode", "trace_request", "draw_trace_seed", "receive", "apply", "info")


def trace_together(twin, requests: list[dict[str, Any]], seed: int) -> list:
    """Trace the UEs of several environments' :meth:`TwinEnv.trace_request` in one twin call; one batch each.

    A request holds ``positions`` and ``velocities`` ``[n_i, 3]``, ``num_time_steps``, ``time_step_s``, optionally
    ``pilot_gap_s``, and,
    for multi-site environments, ``sites`` (then ``Twin.trace_sites`` traces them and each environment gets a
    ``SiteBatch``). The requests must agree on everything but the UEs.
    """
    first = requests[0]
    counts = [len(r["positions"]) for r in requests]
    pos = np.concatenate([r["positions"] for r in requests])
    vel = np.concatenate([r["velocities"] for r in requests])
    kw = {"seed": seed, "num_time_steps": first["num_time_steps"], "time_step_s": first["time_step_s"],
          "pilot_gap_s": first.get("pilot_gap_s", 0.0)}
    if first.get("sites") is not None:
        batch = twin.trace_sites(pos, vel, sites=first["sites"], **kw)
    else:
        batch = twin.trace(pos, vel, **kw)
    edges = np.concatenate([[0], np.cumsum(counts)])
    return [batch.select(np.arange(a, b)) for a, b in zip(edges[:-1], edges[1:])]


class StagedEnv(gym.Env):
    """Gymnasium ``reset``/``step`` built from the stages of a step (:data:`STAGES`), which subclasses define.

    ``reset``: ``begin_episode``, then trace (``trace_request``, ``draw_trace_seed``) and ``receive``.
    ``step``: ``apply`` (score on the true channel, move the UEs), then trace and ``receive``. The batch
    ``receive`` got is ``self._batch`` (genie access: :attr:`channel`).
    """

    twin = None
    _batch = None

    @property
    def channel(self):
        """Genie access: the true channel of the current step, which rewards are computed from.

        For oracles and baselines that stand for measurements (an exhaustive sweep), never for a
        deployable policy, which sees only the observation.
        """
        if self._batch is None:
            raise RuntimeError("no channel yet; call reset() first")
        return self._batch

    def draw_trace_seed(self) -> int:
        """A tracer seed from ``np_random``."""
        return int(self.np_random.integers(0, 2**31 - 1))

    def _trace_and_receive(self):
        return self.receive(trace_together(self.twin, [self.trace_request()], self.draw_trace_seed())[0])

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.begin_episode(options)
        return self._trace_and_receive(), self.info()

    def step(self, action):
        if self._batch is None:
            raise RuntimeError("call reset() before step()")
        reward, info = self.apply(action)
        return self._trace_and_receive(), reward, False, False, info


class TwinEnv(StagedEnv):
    """A single-UE closed-loop episode driven by a :class:`airtwin.envs.tasks.Task`.

    Args:
        scenario: scenario name, scenario file path, or spec.
        twin_pool: a :class:`airtwin.twin.pool.TwinPool` to take the twin from (environments of one
            process share it); None builds a twin for this environment alone.
        **config: fields of :class:`airtwin.envs.tasks.EnvConfig` (``step_s``, ``pilot_snr_db``,
            ``feedback_delay_s``, ``reward``).

    Besides the Gymnasium API, the stages of a step are public, for vector environments that
    trace many environments' UEs in one call: :meth:`begin_episode`, :meth:`trace_request`,
    :meth:`draw_trace_seed`, :meth:`receive`, :meth:`apply` and :meth:`info`.
    """

    metadata = {"render_modes": []}
    task_class: type[Task] = BeamSelectionTask

    def __init__(self, scenario: str | ScenarioSpec = "city-tiny-00000", *, twin_pool: TwinPool | None = None,
                 render_mode: str | None = None, **config: Any):
        self.config = env_settings(EnvConfig, config)
        if render_mode is not None:
            raise ValueError(f"render_mode = {render_mode!r}; allowed: None (use evaluation reports for pictures)")
        self.twin = (twin_pool if twin_pool is not None else TwinPool()).get(scenario)
        self.task = self.make_task()
        self.observation_space = self.task.observation_space
        self.action_space = self.task.action_space
        self.step_s = self.config.step_s or self.twin.spec.mobility.time_step_s
        self._state = None
        self._batch: ChannelBatch | None = None
        self._t = 0
        self._noise_seed = 0

    def make_task(self) -> Task:
        return self.task_class(self.twin, self.config)

    # ------------------------------------------------------------------ the stages of a step (public, see the class)
    def begin_episode(self, options: dict | None) -> None:
        """Drop a new UE (speed and heading from ``np_random``), seed the episode's estimation noise from it, and
        forget the previous episode."""
        self._noise_seed = int(self.np_random.integers(0, 2**63 - 1))
        self._state = self.twin.init_motion(1, self.np_random)
        self._t = 0
        self.task.reset_memory()

    def trace_request(self) -> dict[str, Any]:
        """Arguments of :meth:`airtwin.twin.twin.Twin.trace` for this environment's UE (without the seed)."""
        return {"positions": self._state.positions, "velocities": self._state.velocities,
                "num_time_steps": 2, "time_step_s": max(self.config.feedback_delay_s, 1e-6),
                "pilot_gap_s": self.config.pilot_gap_s}

    def receive(self, batch: ChannelBatch) -> dict[str, np.ndarray]:
        """Take the traced channel of this step's UE (a batch of one) and return the observation."""
        self._batch = batch
        return self.task.observe(batch, np.random.default_rng([self._noise_seed, self._t]))

    def info(self) -> dict[str, Any]:
        """Facts about the current step: coverage, LoS, path loss, UE position, time."""
        b = self.channel
        return {"has_paths": bool(b.has_paths[0]), "los": bool(b.los[0]), "path_loss_db": float(b.path_loss_db[0]),
                "ue_position": b.ue_positions[0].copy(), "time_s": self._t * self.step_s}

    def apply(self, action) -> tuple[float, dict[str, Any]]:
        """Score ``action`` on the true channel, then move the UE by ``step_s`` (no tracing)."""
        self.task.check_action(action)
        reward, info = self.task.evaluate(action, self.channel)
        info = {**self.info(), **info}
        self._state = self.twin.advance(self._state, self.step_s, self.np_random)
        self._t += 1
        return float(reward), info


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

    def begin_episode(self, options):
        task = (options or {}).get("task")
        if task is None:
            task = ENV_TASKS[int(self.np_random.integers(len(ENV_TASKS)))]
        if task not in ENV_TASKS:
            raise ValueError(f"options['task'] = {task!r}; allowed: {', '.join(ENV_TASKS)}")
        self.task.current = task
        super().begin_episode(options)

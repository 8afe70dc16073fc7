"""Task logic shared by the environments: spaces, observations, rewards and oracle actions from a ChannelBatch.

A task sees one UE's channel (a ``ChannelBatch`` of one UE) and knows nothing about
episodes; :class:`airtwin.envs.core.TwinEnv` and :class:`airtwin.envs.vector.TwinVectorEnv` drive it.
What a task observes is the task table's observation (:func:`airtwin.phy.tasks.observe`), exactly
what the universal model consumes; the link budget and the precoders are :mod:`airtwin.phy`'s.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from gymnasium import spaces

from airtwin.config import check_range
from airtwin.phy.beams import action_to_precoders, eigen_precoders, precoders_to_action, sgcs
from airtwin.phy.estimation import DEFAULT_FEEDBACK_DELAY_S, DEFAULT_PILOT_GAP_S, DEFAULT_PILOT_SNR_DB, NO_SIGNAL_DB
from airtwin.phy.link import LinkBudget, rate
from airtwin.phy.tasks import ENV_TASKS, PILOT_INPUT_FIELDS, TASKS, observe
from airtwin.twin.channel import ChannelBatch

#: Bound of the observation boxes for positions [m] and powers [dB].
POSITION_BOUND_M = 1e5
POWER_BOUND_DB = -NO_SIGNAL_DB
#: Bounds of the numerology in CSI observations: subcarrier offsets [Hz] and element positions [wavelengths].
FREQUENCY_BOUND_HZ, ARRAY_BOUND_WL = 1e10, 1e4
#: The serving BS's (yaw, pitch, roll) [deg], the frame of its array and of its environment map.
ORIENTATION_SPACE = spaces.Box(-360.0, 360.0, (3,), np.float32)


@dataclass(frozen=True)
class EnvConfig:
    """Settings of the AirTwin environments."""

    step_s: float | None = None
    """Time between steps [s]; None uses the scenario's ``mobility.time_step_s``."""
    pilot_snr_db: float = DEFAULT_PILOT_SNR_DB
    """SNR of the CSI estimate: noise power = mean |h|^2 / 10^(pilot_snr_db / 10) [dB]."""
    feedback_delay_s: float = DEFAULT_FEEDBACK_DELAY_S
    """Age of the CSI a precoder is chosen from; the channel evolves by per-path Doppler meanwhile [s]."""
    pilot_gap_s: float = DEFAULT_PILOT_GAP_S
    """Time of the previous pilot occasion before the CSI estimate: precoding then observes both estimates
    (``csi_prev`` and ``pilot_timing_s``, :func:`airtwin.phy.tasks.observe`), from which the channel can be
    predicted over the feedback delay (0: one pilot) [s]."""
    reward: Literal["spectral_efficiency", "sgcs"] = "spectral_efficiency"
    """Precoding reward."""

    def __post_init__(self) -> None:
        if self.step_s is not None:
            check_range("EnvConfig.step_s", self.step_s, 0.0, 3600.0, low_open=True)
        check_range("EnvConfig.pilot_snr_db", self.pilot_snr_db, -30.0, 100.0)
        check_range("EnvConfig.feedback_delay_s", self.feedback_delay_s, 0.0, 10.0)
        check_range("EnvConfig.pilot_gap_s", self.pilot_gap_s, 0.0, 0.1)
        if self.reward not in ("spectral_efficiency", "sgcs"):
            raise ValueError(f"EnvConfig.reward = {self.reward!r}; allowed: 'spectral_efficiency', 'sgcs'")


def env_settings(cls, config: dict[str, Any]):
    """``cls(**config)`` for an environment's settings dataclass, refusing unknown keys by name."""
    allowed = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(config) - set(allowed))
    if unknown:
        raise ValueError(f"unknown environment setting(s) {unknown}; allowed: {', '.join(allowed)}, twin_pool, "
                         "render_mode")
    return cls(**config)


def applied_channel(batch: ChannelBatch) -> np.ndarray:
    """``[A, K]``: the channel an action meets, ``feedback_delay_s`` after the observation (UE 0)."""
    return batch.csi_evolution[0, -1] if batch.csi_evolution is not None else batch.csi[0]


class Task:
    """Interface: spaces, what the agent sees, what its action earns, what the genie would do."""

    name: str

    def __init__(self, twin, config: EnvConfig):
        self.twin, self.config = twin, config
        self.budget = LinkBudget.of(twin.spec.radio)
        self.observation_space = spaces.Dict(self.observation_fields())
        self.action_space = self.make_action_space()

    def observation_fields(self) -> dict[str, spaces.Space]:
        raise NotImplementedError

    def make_action_space(self) -> spaces.Space:
        raise NotImplementedError

    def reset_memory(self) -> None:
        """Forget what the previous episode's last step measured."""

    def observe(self, batch: ChannelBatch, rng: np.random.Generator) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def evaluate(self, action: Any, batch: ChannelBatch) -> tuple[float, dict[str, Any]]:
        raise NotImplementedError

    def oracle_action(self, batch: ChannelBatch) -> Any:
        """The best action for the true channel ``batch`` (genie; for upper bounds, not deployable)."""
        raise NotImplementedError

    def check_action(self, action: Any) -> None:
        space = self.action_space
        if isinstance(space, spaces.Box):
            arr = np.asarray(action)
            if arr.shape != space.shape or arr.dtype.kind not in "fiu":
                raise ValueError(f"{self.name}: the action must be a real array of shape {space.shape} "
                                 f"(dtype {space.dtype}; other float dtypes are cast), got shape {arr.shape}, "
                                 f"dtype {arr.dtype}")
            action = arr.astype(space.dtype)  # e.g. float64 from a NumPy policy
        if not space.contains(action):
            raise ValueError(f"{self.name}: action {action!r} is not in the action space {space}")

    # shared observation pieces
    def environment_fields(self) -> dict[str, spaces.Space]:
        cells = self.twin.spec.environment.size_cells
        pos = spaces.Box(-POSITION_BOUND_M, POSITION_BOUND_M, (3,), np.float32)
        return {"height_map": spaces.Box(0.0, 2000.0, (cells, cells), np.float32),
                "map_range_m": spaces.Box(0.0, POSITION_BOUND_M, (1,), np.float32), "bs_position": pos,
                "bs_orientation_deg": ORIENTATION_SPACE, "ue_position": pos}

    def csi_fields(self, with_pilot: bool = False) -> dict[str, spaces.Space]:
        """The CSI observation's spaces; ``with_pilot``: also the previous pilot's estimate and the timing."""
        a = self.twin.spec.bs[self.twin.serving_bs].array.num_antennas
        k = self.twin.spec.radio.num_subcarriers
        # The estimate is normalised to unit mean power, so no entry exceeds sqrt(A * K).
        bound = float(np.sqrt(a * k))
        pilot = {"csi_prev": spaces.Box(-bound, bound, (2, a, k), np.float32),
                 "pilot_timing_s": spaces.Box(0.0, 10.0, (2,), np.float32)} if with_pilot else {}
        return {**pilot, "csi": spaces.Box(-bound, bound, (2, a, k), np.float32),
                "rx_power_db": spaces.Box(-POWER_BOUND_DB, POWER_BOUND_DB, (1,), np.float32),
                "bs_orientation_deg": ORIENTATION_SPACE,
                "subcarrier_frequencies_hz": spaces.Box(-FREQUENCY_BOUND_HZ, FREQUENCY_BOUND_HZ, (k,), np.float32),
                "antenna_positions": spaces.Box(-ARRAY_BOUND_WL, ARRAY_BOUND_WL, (a, 3), np.float32),
                "bs_height_above_ue_m": spaces.Box(-POSITION_BOUND_M, POSITION_BOUND_M, (1,), np.float32)}

    def observe_modality(self, batch: ChannelBatch, rng: np.random.Generator,
                         with_pilot: bool = False) -> dict[str, np.ndarray]:
        """The task table's observation of UE 0 (:func:`airtwin.phy.tasks.observe`), unbatched; the previous
        pilot only ``with_pilot``."""
        modality = TASKS[self.name].modality
        fields = {k: v[:1] for k, v in batch.observed_fields().items() if with_pilot or k not in PILOT_INPUT_FIELDS}
        return {k: v[0] for k, v in observe(modality, fields, self.config.pilot_snr_db, rng).items()}


class BeamSelectionTask(Task):
    """Pick a DFT beam from the environment (map, BS and UE positions) and last step's measurement.

    Reward: ``gain(chosen) - gain(best)`` [dB], <= 0. Info: best beam, beamformed SNRs, achievable rates.
    """

    name = "beam_selection"

    def observation_fields(self):
        b = self.twin.codebook.num_beams
        return {**self.environment_fields(), "prev_beam": spaces.Discrete(b + 1),
                "prev_rx_power_dbm": spaces.Box(-POWER_BOUND_DB, POWER_BOUND_DB, (1,), np.float32)}

    def make_action_space(self):
        return spaces.Discrete(self.twin.codebook.num_beams)

    def reset_memory(self):
        self._prev_beam = self.twin.codebook.num_beams  # "no beam yet"
        self._prev_power = -POWER_BOUND_DB

    def observe(self, batch, rng):
        return {**self.observe_modality(batch, rng), "prev_beam": np.int64(self._prev_beam),
                "prev_rx_power_dbm": np.array([self._prev_power], dtype=np.float32)}

    def oracle_action(self, batch):
        return int(batch.best_beam[0])

    def evaluate(self, action, batch):
        beam = int(action)
        gains = batch.beam_gain_db[0].astype(np.float64)
        best = int(batch.best_beam[0])
        has = bool(batch.has_paths[0])
        loss = float(gains[beam] - gains[best]) if has else 0.0
        snr = float(self.budget.snr_db(gains[beam])) if has else -POWER_BOUND_DB
        best_snr = float(self.budget.snr_db(gains[best])) if has else -POWER_BOUND_DB
        self._prev_beam = beam
        rx_dbm = self.twin.spec.radio.tx_power_dbm + gains[beam]
        self._prev_power = float(np.clip(rx_dbm, -POWER_BOUND_DB, POWER_BOUND_DB)) if has else -POWER_BOUND_DB
        info = {"best_beam": best, "snr_db": snr, "best_snr_db": best_snr,
                "rate": float(rate(snr)) if has else 0.0, "best_rate": float(rate(best_snr)) if has else 0.0,
                "beam_correct": beam == best}
        return loss, info


class PrecodingTask(Task):
    """Choose one precoder per subband from an estimated, aged CSI.

    The observation is the channel at the pilot instant plus estimation noise, and with ``pilot_gap_s > 0`` the
    previous pilot's estimate too; the precoder is applied ``feedback_delay_s`` later, on the channel evolved by
    Doppler.
    Reward: spectral efficiency [bit/s/Hz] (or the mean SGCS against the optimum).
    """

    name = "precoding"

    def observation_fields(self):
        return self.csi_fields(with_pilot=self.config.pilot_gap_s > 0)

    def make_action_space(self):
        s = self.twin.spec.codebook.num_subbands
        a = self.twin.spec.bs[self.twin.serving_bs].array.num_antennas
        return spaces.Box(-1.0, 1.0, (s, a, 2), np.float32)

    def observe(self, batch, rng):
        return self.observe_modality(batch, rng, with_pilot=self.config.pilot_gap_s > 0)

    def optimum(self, batch: ChannelBatch) -> np.ndarray:
        """``[S, A]``: the eigen-precoders of the applied channel."""
        return eigen_precoders(applied_channel(batch)[None], self.twin.spec.codebook.num_subbands)[0]

    def oracle_action(self, batch):
        return precoders_to_action(self.optimum(batch))

    def evaluate(self, action, batch):
        applied = applied_channel(batch)
        optimum = self.optimum(batch)
        w = action_to_precoders(action)
        se = self.budget.spectral_efficiency(applied, w)
        best_se = self.budget.spectral_efficiency(applied, optimum)
        similarity = float(np.mean(sgcs(w, optimum)))
        reward = se if self.config.reward == "spectral_efficiency" else similarity
        return reward, {"spectral_efficiency": se, "optimal_spectral_efficiency": best_se, "sgcs": similarity}


class PositioningTask(Task):
    """Estimate the UE's (x, y) from its CSI. Reward: minus the error [m]."""

    name = "positioning"

    def observation_fields(self):
        return self.csi_fields()

    def make_action_space(self):
        x0, y0, x1, y1 = self.twin.area_bounds
        return spaces.Box(np.array([x0, y0], np.float32), np.array([x1, y1], np.float32), dtype=np.float32)

    def observe(self, batch, rng):
        return self.observe_modality(batch, rng)

    def oracle_action(self, batch):
        space = self.action_space
        return np.clip(batch.ue_positions[0, :2], space.low, space.high).astype(np.float32)

    def evaluate(self, action, batch):
        truth = batch.ue_positions[0, :2].astype(np.float64)
        error = float(np.linalg.norm(np.asarray(action, dtype=np.float64) - truth))
        return -error, {"position_error_m": error, "true_position": truth}


TASK_CLASSES = {c.name: c for c in (BeamSelectionTask, PrecodingTask, PositioningTask)}
assert tuple(TASK_CLASSES) == ENV_TASKS, "one environment task class per ENV_TASKS entry, in its order"


class MultiTask(Task):
    """All tasks behind one interface; the task id is part of the observation.

    Observation: the union of the task observations plus ``task`` (Discrete, in the order of
    :data:`airtwin.phy.tasks.ENV_TASKS`: 0 beam selection, 1 precoding, 2 positioning). Fields a task does
    not use are zero; in particular the UE position is hidden (zero) during positioning. Action: a
    Dict with one entry per task (keys: the table's ``action_key``); only the current task's entry is used.
    """

    name = "air_interface"

    def __init__(self, twin, config):
        self.tasks = {name: TASK_CLASSES[name](twin, config) for name in ENV_TASKS}
        self.current = ENV_TASKS[0]
        super().__init__(twin, config)

    def observation_fields(self):
        fields = {"task": spaces.Discrete(len(ENV_TASKS))}
        for t in self.tasks.values():
            fields.update(t.observation_space.spaces)
        return fields

    def make_action_space(self):
        return spaces.Dict({TASKS[name].action_key: t.action_space for name, t in self.tasks.items()})

    def reset_memory(self):
        for t in self.tasks.values():
            t.reset_memory()

    def observe(self, batch, rng):
        obs = {k: np.zeros(s.shape, s.dtype) if isinstance(s, spaces.Box) else np.int64(0)
               for k, s in self.observation_space.spaces.items()}
        obs["prev_beam"] = np.int64(self.twin.codebook.num_beams)
        obs["prev_rx_power_dbm"] = np.array([-POWER_BOUND_DB], np.float32)
        obs["rx_power_db"] = np.array([-POWER_BOUND_DB], np.float32)
        obs.update(self.tasks[self.current].observe(batch, rng))
        if self.current == "positioning":
            obs.update({"height_map": batch.height_map.astype(np.float32),
                        "map_range_m": np.array([batch.map_range_m], np.float32),
                        "bs_position": batch.bs_position.astype(np.float32)})
        obs["task"] = np.int64(ENV_TASKS.index(self.current))
        return obs

    def wrap(self, action: Any) -> dict[str, Any]:
        """The Dict action with ``action`` for the current task (the other entries: valid placeholders)."""
        out: dict[str, Any] = {}
        for key, space in self.action_space.spaces.items():
            if isinstance(space, spaces.Discrete):
                out[key] = int(space.start)
            else:
                out[key] = np.clip(np.zeros(space.shape, space.dtype), space.low, space.high)
        out[TASKS[self.current].action_key] = action
        return out

    def oracle_action(self, batch):
        return self.wrap(self.tasks[self.current].oracle_action(batch))

    def evaluate(self, action, batch):
        reward, info = self.tasks[self.current].evaluate(action[TASKS[self.current].action_key], batch)
        return reward, {**info, "task": self.current}

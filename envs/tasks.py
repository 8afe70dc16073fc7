"""Task logic shared by the environments: spaces, observations and rewards from a ChannelBatch.

A task sees one UE's channel (a ``ChannelBatch`` of one UE) and knows nothing about
episodes; :class:`envs.core.TwinEnv` and :class:`envs.vector.TwinVectorEnv` drive it.

Conventions: downlink, BS transmits with total power ``P_tx``; per-subcarrier SNR of a
unit-norm precoder ``w`` is ``P_tx |h_k^T w|^2 / N`` with ``N`` the noise power over the
band (the same convention as ``ChannelBatch.snr_db``); spectral efficiency is
``mean_k log2(1 + SNR_k)`` [bit/s/Hz].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from gymnasium import spaces

from airtwin.config import check_range
from airtwin.twin.beams import sgcs, subband_slices
from airtwin.twin.channel import ChannelBatch

#: Bound of the observation boxes for positions [m] and powers [dB].
POSITION_BOUND_M = 1e5
POWER_BOUND_DB = 500.0


@dataclass(frozen=True)
class EnvConfig:
    """Settings of the AirTwin environments."""

    step_s: float | None = None
    """Time between steps [s]; None uses the scenario's ``mobility.time_step_s``."""
    pilot_snr_db: float = 20.0
    """SNR of the CSI estimate: noise power = mean |h|^2 / 10^(pilot_snr_db / 10)."""
    feedback_delay_s: float = 0.005
    """Age of the CSI a precoder is chosen from; the channel evolves by per-path Doppler meanwhile [s]."""
    reward: Literal["spectral_efficiency", "sgcs"] = "spectral_efficiency"
    """Precoding reward."""

    def __post_init__(self) -> None:
        if self.step_s is not None:
            check_range("EnvConfig.step_s", self.step_s, 0.0, 3600.0, low_open=True)
        check_range("EnvConfig.pilot_snr_db", self.pilot_snr_db, -30.0, 100.0)
        check_range("EnvConfig.feedback_delay_s", self.feedback_delay_s, 0.0, 10.0)
        if self.reward not in ("spectral_efficiency", "sgcs"):
            raise ValueError(f"EnvConfig.reward = {self.reward!r}; allowed: 'spectral_efficiency', 'sgcs'")


@dataclass(frozen=True)
class LinkBudget:
    tx_power_mw: float
    noise_mw: float

    @classmethod
    def of(cls, spec) -> LinkBudget:
        return cls(10 ** (spec.radio.tx_power_dbm / 10), 10 ** (spec.radio.noise_power_dbm / 10))

    def spectral_efficiency(self, csi: np.ndarray, precoders: np.ndarray) -> float:
        """``mean_k log2(1 + P |h_k^T w_s(k)|^2 / N)`` for csi ``[A, K]`` and precoders ``[S, A]`` [bit/s/Hz]."""
        num_sc = csi.shape[-1]
        se = []
        for s, sl in enumerate(subband_slices(num_sc, precoders.shape[0])):
            gain = np.abs(np.einsum("ak,a->k", csi[:, sl].astype(np.complex128), precoders[s])) ** 2
            se.append(np.log2(1.0 + self.tx_power_mw * gain / self.noise_mw))
        return float(np.mean(np.concatenate(se)))

    def snr_db(self, gain_db: float) -> float:
        return float(10 * np.log10(self.tx_power_mw / self.noise_mw) + gain_db)


def csi_estimate(csi: np.ndarray, pilot_snr_db: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Noisy CSI estimate, normalised to unit mean power.

    Returns:
        ``([2, A, K] float32 real/imag, mean received power of the estimate [dB])``; an all-zero
        channel gives zeros and ``-POWER_BOUND_DB`` (no signal, no noise estimate).
    """
    power = float(np.mean(np.abs(csi) ** 2))
    if power <= 0:
        return np.zeros((2, *csi.shape), dtype=np.float32), -POWER_BOUND_DB
    sigma = np.sqrt(power * 10 ** (-pilot_snr_db / 10) / 2)
    noisy = csi + sigma * (rng.standard_normal(csi.shape) + 1j * rng.standard_normal(csi.shape))
    est_power = float(np.mean(np.abs(noisy) ** 2))
    normalised = noisy / np.sqrt(est_power)
    return np.stack([normalised.real, normalised.imag]).astype(np.float32), float(10 * np.log10(est_power))


class Task:
    """Interface: spaces, what the agent sees, what its action earns."""

    name: str

    def __init__(self, twin, config: EnvConfig):
        self.twin, self.config = twin, config
        self.budget = LinkBudget.of(twin.spec)
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
        return {"height_map": spaces.Box(0.0, 2000.0, (cells, cells), np.float32), "bs_position": pos,
                "ue_position": pos}

    def csi_fields(self) -> dict[str, spaces.Space]:
        a = self.twin.spec.bs[self.twin.serving_bs].array.num_antennas
        k = self.twin.spec.radio.num_subcarriers
        # The estimate is normalised to unit mean power, so no entry exceeds sqrt(A * K).
        bound = float(np.sqrt(a * k))
        return {"csi": spaces.Box(-bound, bound, (2, a, k), np.float32),
                "rx_power_db": spaces.Box(-POWER_BOUND_DB, POWER_BOUND_DB, (1,), np.float32)}

    @staticmethod
    def environment_obs(batch: ChannelBatch) -> dict[str, np.ndarray]:
        return {"height_map": batch.height_map.astype(np.float32), "bs_position": batch.bs_position.astype(np.float32),
                "ue_position": batch.ue_positions[0].astype(np.float32)}


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
        return {**self.environment_obs(batch), "prev_beam": np.int64(self._prev_beam),
                "prev_rx_power_dbm": np.array([self._prev_power], dtype=np.float32)}

    def evaluate(self, action, batch):
        beam = int(action)
        gains = batch.beam_gain_db[0].astype(np.float64)
        best = int(batch.best_beam[0])
        has = bool(batch.has_paths[0])
        loss = float(gains[beam] - gains[best]) if has else 0.0
        snr = self.budget.snr_db(gains[beam]) if has else -POWER_BOUND_DB
        best_snr = self.budget.snr_db(gains[best]) if has else -POWER_BOUND_DB
        self._prev_beam = beam
        rx_dbm = self.twin.spec.radio.tx_power_dbm + gains[beam]
        self._prev_power = float(np.clip(rx_dbm, -POWER_BOUND_DB, POWER_BOUND_DB)) if has else -POWER_BOUND_DB
        info = {"best_beam": best, "snr_db": snr, "best_snr_db": best_snr,
                "rate": float(np.log2(1 + 10 ** (snr / 10))) if has else 0.0,
                "best_rate": float(np.log2(1 + 10 ** (best_snr / 10))) if has else 0.0,
                "beam_correct": beam == best}
        return loss, info


class PrecodingTask(Task):
    """Choose one precoder per subband from an estimated, aged CSI.

    The observation is the channel at the pilot instant plus estimation noise; the
    precoder is applied ``feedback_delay_s`` later, on the channel evolved by Doppler.
    Reward: spectral efficiency [bit/s/Hz] (or the mean SGCS against the optimum).
    """

    name = "precoding"

    def observation_fields(self):
        return self.csi_fields()

    def make_action_space(self):
        s = self.twin.spec.codebook.num_subbands
        a = self.twin.spec.bs[self.twin.serving_bs].array.num_antennas
        return spaces.Box(-1.0, 1.0, (s, a, 2), np.float32)

    def observe(self, batch, rng):
        csi, power = csi_estimate(batch.csi[0], self.config.pilot_snr_db, rng)
        return {"csi": csi, "rx_power_db": np.array([power], dtype=np.float32)}

    @staticmethod
    def to_complex(action: np.ndarray) -> np.ndarray:
        """Box action ``[S, A, 2]`` -> unit-norm complex precoders ``[S, A]`` (zero stays zero)."""
        w = np.asarray(action, dtype=np.float64)
        w = w[..., 0] + 1j * w[..., 1]
        norm = np.linalg.norm(w, axis=-1, keepdims=True)
        return np.where(norm > 0, w / np.where(norm > 0, norm, 1.0), 0.0)

    def evaluate(self, action, batch):
        applied = batch.csi_evolution[0, -1] if batch.csi_evolution is not None else batch.csi[0]
        from airtwin.twin.beams import eigen_precoders

        optimum = eigen_precoders(applied[None], self.twin.spec.codebook.num_subbands)[0]
        w = self.to_complex(action)
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
        csi, power = csi_estimate(batch.csi[0], self.config.pilot_snr_db, rng)
        return {"csi": csi, "rx_power_db": np.array([power], dtype=np.float32)}

    def evaluate(self, action, batch):
        truth = batch.ue_positions[0, :2].astype(np.float64)
        error = float(np.linalg.norm(np.asarray(action, dtype=np.float64) - truth))
        return -error, {"position_error_m": error, "true_position": truth}


TASK_CLASSES = {c.name: c for c in (BeamSelectionTask, PrecodingTask, PositioningTask)}
TASK_IDS = tuple(TASK_CLASSES)  # Discrete task id order of the multi-task env


class MultiTask(Task):
    """All tasks behind one interface; the task id is part of the observation.

    Observation: the union of the task observations plus ``task`` (Discrete: 0 beam selection,
    1 precoding, 2 positioning). Fields a task does not use are zero; in particular the UE
    position is hidden (zero) during positioning. Action: a Dict with one entry per task; only
    the current task's entry is used.
    """

    name = "air_interface"

    def __init__(self, twin, config):
        self.tasks = {name: cls(twin, config) for name, cls in TASK_CLASSES.items()}
        self.current = TASK_IDS[0]
        super().__init__(twin, config)

    def observation_fields(self):
        fields = {"task": spaces.Discrete(len(TASK_IDS))}
        for t in self.tasks.values():
            fields.update(t.observation_space.spaces)
        return fields

    def make_action_space(self):
        return spaces.Dict({"beam": self.tasks["beam_selection"].action_space,
                            "precoder": self.tasks["precoding"].action_space,
                            "position": self.tasks["positioning"].action_space})

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
            obs.update(Task.environment_obs(batch))
            obs["ue_position"] = np.zeros(3, np.float32)
        obs["task"] = np.int64(TASK_IDS.index(self.current))
        return obs

    def evaluate(self, action, batch):
        key = {"beam_selection": "beam", "precoding": "precoder", "positioning": "position"}[self.current]
        reward, info = self.tasks[self.current].evaluate(action[key], batch)
        return reward, {**info, "task": self.current}

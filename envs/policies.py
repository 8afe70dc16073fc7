"""Policies for the AirTwin environments: one interface, ``act(obs) -> action``.

- :class:`RandomPolicy`: uniform actions (seeded).
- :class:`OraclePolicy`: genie-aided upper bound from the environment's true channel:
  exhaustive beam sweep without cost, eigen-precoder of the true (applied) channel, true position.
- :class:`PeriodicSweepPolicy`: measures every beam once every ``period`` steps (with a time cost,
  ``overhead_fraction``) and keeps that beam in between.
- :class:`PositionLookupBeamPolicy`: nearest-neighbour lookup of the best beam from the UE position
  in a table of traced samples.

Genie policies read ``env.unwrapped`` (the current ``ChannelBatch``); they are baselines, not
deployable policies. :class:`UniversalModelPolicy` runs a trained universal-model checkpoint.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from gymnasium import spaces


class Policy(Protocol):
    def act(self, obs: Any) -> Any: ...

    def reset(self) -> None: ...


def _task_name(env) -> str:
    task = env.unwrapped.task
    return task.current if task.name == "air_interface" else task.name


def _wrap_multi(env, action_by_task: dict[str, Any]) -> Any:
    """For the multi-task env, put the current task's action into the Dict action (others: samples of zeros)."""
    task = env.unwrapped.task
    if task.name != "air_interface":
        return next(iter(action_by_task.values()))
    space = task.action_space
    out = {"beam": 0, "precoder": np.zeros(space["precoder"].shape, np.float32),
           "position": space["position"].low.copy()}
    key = {"beam_selection": "beam", "precoding": "precoder", "positioning": "position"}[task.current]
    out[key] = next(iter(action_by_task.values()))
    return out


class RandomPolicy:
    """Uniformly random actions from ``action_space``, seeded."""

    def __init__(self, action_space: spaces.Space, seed: int | None = None):
        self.action_space = action_space
        self.action_space.seed(seed)

    def reset(self) -> None:
        pass

    def act(self, obs: Any) -> Any:
        return self.action_space.sample()


class OraclePolicy:
    """Genie: the best action for the true current channel."""

    def __init__(self, env):
        self.env = env

    def reset(self) -> None:
        pass

    def act(self, obs: Any) -> Any:
        from airtwin.twin.beams import eigen_precoders

        base = self.env.unwrapped
        batch = base._batch
        task = _task_name(self.env)
        if task == "beam_selection":
            action = int(batch.best_beam[0])
        elif task == "precoding":
            applied = batch.csi_evolution[0, -1] if batch.csi_evolution is not None else batch.csi[0]
            action = precoder_action(eigen_precoders(applied[None], base.twin.spec.codebook.num_subbands)[0])
        else:
            pos_task = base.task.tasks["positioning"] if base.task.name == "air_interface" else base.task
            space = pos_task.action_space
            action = np.clip(batch.ue_positions[0, :2], space.low, space.high).astype(np.float32)
        return _wrap_multi(self.env, {task: action})


class PeriodicSweepPolicy:
    """Exhaustive beam sweep every ``period`` steps, the swept beam held in between.

    Args:
        env: a beam-selection environment (the sweep measures its true channel).
        period: steps between sweeps (1 = sweep every step).
        beam_measurement_s: air time to measure one beam [s] (e.g. one SSB burst slot).
    Attributes:
        overhead_fraction: share of air time spent sweeping, ``num_beams * beam_measurement_s / (period * step_s)``
            (capped at 1); multiply rates by ``1 - overhead_fraction`` for the net rate.
    """

    def __init__(self, env, period: int = 10, beam_measurement_s: float = 0.5e-3):
        if period < 1:
            raise ValueError(f"period = {period}; allowed: >= 1")
        self.env, self.period = env, period
        base = env.unwrapped
        self.overhead_fraction = min(1.0, base.twin.codebook.num_beams * beam_measurement_s / (period * base.step_s))
        self.reset()

    def reset(self) -> None:
        self._count = 0
        self._beam = 0

    def act(self, obs: Any) -> Any:
        if self._count % self.period == 0:
            self._beam = int(self.env.unwrapped._batch.best_beam[0])
        self._count += 1
        return _wrap_multi(self.env, {"beam_selection": self._beam})


class PositionLookupBeamPolicy:
    """Best beam of the nearest known position (k-NN majority vote), from the observed UE position.

    Build the table with :meth:`from_twin` (traced drops) or pass ``positions [N, 2]`` and
    ``beams [N]`` (e.g. from a dataset's ``ue_position`` and ``best_beam``).
    """

    def __init__(self, positions: np.ndarray, beams: np.ndarray, k: int = 1, env=None):
        positions = np.asarray(positions, dtype=np.float64)[:, :2]
        if positions.shape[0] != len(beams) or positions.shape[0] == 0:
            raise ValueError("positions and beams must be non-empty and of equal length")
        self.positions, self.beams, self.k, self.env = positions, np.asarray(beams, dtype=np.int64), k, env

    @classmethod
    def from_twin(cls, twin, num_samples: int, rng: np.random.Generator, k: int = 1, env=None,
                  batch_size: int = 64) -> PositionLookupBeamPolicy:
        pos, beams = [], []
        for start in range(0, num_samples, batch_size):
            drops = twin.sample_ue_positions(min(batch_size, num_samples - start), rng)
            batch = twin.trace(drops)
            keep = batch.has_paths
            pos.append(drops[keep])
            beams.append(batch.best_beam[keep])
        return cls(np.concatenate(pos), np.concatenate(beams), k, env)

    def reset(self) -> None:
        pass

    def beam_for(self, xy: np.ndarray) -> int:
        d = np.linalg.norm(self.positions - np.asarray(xy, dtype=np.float64)[:2], axis=1)
        nearest = self.beams[np.argsort(d, kind="stable")[: self.k]]
        return int(np.bincount(nearest).argmax())

    def act(self, obs: Any) -> Any:
        action = self.beam_for(obs["ue_position"])
        return _wrap_multi(self.env, {"beam_selection": action}) if self.env is not None else action


def precoder_action(w: np.ndarray) -> np.ndarray:
    """Complex precoders ``[S, A]`` -> the Box action ``[S, A, 2]`` in [-1, 1] (direction kept)."""
    x = np.stack([w.real, w.imag], axis=-1)
    return (x / max(float(np.abs(x).max()), 1e-12)).astype(np.float32)



class UniversalModelPolicy:
    """The universal model (``model/``) acting in an AirTwin environment.

    It reads only the observation: the beam from the environment
    fields, the precoder from the observed (estimated, aged) CSI, the position from the observed
    CSI (the model predicts it relative to the serving BS). The model's data shapes must match the
    environment's scenario (array, subcarriers, subbands, codebook, height map).

    Args:
        env: the environment (for the serving BS and the multi-task action layout).
        checkpoint: a checkpoint directory (``airtwin train`` output), or a loaded ``UniversalModel``.
    """

    def __init__(self, env, checkpoint):
        from airtwin.model.checkpoint import load_checkpoint

        self.env = env
        self.model = load_checkpoint(checkpoint) if not hasattr(checkpoint, "predict") else checkpoint
        self.model.eval()
        base = env.unwrapped
        spec, shapes = base.twin.spec, self.model.cfg.shapes
        mine = (spec.bs[base.twin.serving_bs].array.num_antennas, spec.radio.num_subcarriers,
                spec.codebook.num_subbands, base.twin.codebook.num_beams, spec.environment.size_cells,
                spec.environment.resolution_m)
        theirs = (shapes.num_antennas, shapes.num_subcarriers, shapes.num_subbands, shapes.num_beams,
                  shapes.map_cells, shapes.map_resolution_m)
        if mine != theirs:
            raise ValueError(f"the model was trained for (antennas, subcarriers, subbands, beams, map cells, map "
                             f"resolution) = {theirs}, scenario {spec.name} has {mine}")

    def reset(self) -> None:
        pass

    def act(self, obs: Any) -> Any:
        import torch

        base = self.env.unwrapped
        task = _task_name(self.env)
        with torch.no_grad():
            if task == "beam_selection":
                batch = {k: torch.as_tensor(np.asarray(obs[k]))[None] for k in ("height_map", "bs_position",
                                                                                 "ue_position")}
                action = int(self.model.predict(task, batch)[0].argmax())
            else:
                csi = obs["csi"][0] + 1j * obs["csi"][1]
                csi = csi * np.sqrt(10 ** (float(obs["rx_power_db"][0]) / 10))
                batch = {"csi": torch.as_tensor(csi.astype(np.complex64))[None], "csi_is_estimate": True}
                out = self.model.predict(task, batch)[0].numpy()
                if task == "precoding":
                    action = precoder_action(out)
                else:
                    pos_task = base.task.tasks["positioning"] if base.task.name == "air_interface" else base.task
                    xy = out + base.twin.bs_position[:2]
                    action = np.clip(xy, pos_task.action_space.low, pos_task.action_space.high).astype(np.float32)
        return _wrap_multi(self.env, {task: action})


__all__ = ["Policy", "RandomPolicy", "OraclePolicy", "PeriodicSweepPolicy", "PositionLookupBeamPolicy",
           "UniversalModelPolicy", "precoder_action"]

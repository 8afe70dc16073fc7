"""Classical policies for the AirTwin environments: one interface, ``act(obs) -> action``.

- :class:`RandomPolicy`: uniform actions (seeded).
- :class:`ClassicalPolicy`: training-free, from the observation and the site geometry: the geometric beam,
  the eigen-precoder of the estimate, the first-path position.
- :class:`OraclePolicy`: genie-aided upper bound from the environment's true channel
  (:attr:`airtwin.envs.core.TwinEnv.channel`): exhaustive beam sweep without cost, eigen-precoder
  of the applied channel, true position (the task's ``oracle_action``).
- :class:`PeriodicSweepPolicy`: measures every beam once every ``period`` steps (with a time cost,
  ``overhead_fraction``) and keeps that beam in between.
- :class:`PositionLookupBeamPolicy`: the best beam from the UE position in a table of traced samples: the
  nearest sample's (a lookup), or the beam strongest on average over the nearest samples.

For the multi-user and multi-cell environments (:mod:`airtwin.envs.multicell`):

- :class:`MultiUserPrecoderPolicy`: MRT, zero-forcing or regularised ZF (MMSE) on the estimated CSI, or on
  the true applied channel (``genie=True``, the bound).
- :class:`A3Policy`: the 3GPP A3 handover rule on the reported RSRP, with the reported best beam.
- :class:`CellGeniePolicy`: the best site and beam of each step on the true channel.

Genie policies are baselines, not deployable policies. The universal-model policy lives above
the environments, in :mod:`airtwin.model.policy`.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from gymnasium import spaces

from airtwin.config import check_range
from airtwin.phy.beams import DEFAULT_FULL_BAND_WEIGHT, eigen_precoders, precoders_to_action
from airtwin.phy.classical import estimate_position, geometric_beam_scores, nearest_beam_gains
from airtwin.phy.estimation import to_complex
from airtwin.phy.link import BEAM_MEASUREMENT_S, sweep_overhead
from airtwin.phy.prediction import PREDICTION_KEYS, has_previous_pilot, switch_inputs, switched_precoders


#: How :class:`PositionLookupBeamPolicy` picks a beam from its table.
LOOKUP_RULES = ("nearest", "gains")


class Policy(Protocol):
    def act(self, obs: Any) -> Any: ...

    def reset(self) -> None: ...


def current_task(env) -> str:
    """The task ``env`` asks for now (the current one of the multi-task environment)."""
    task = env.unwrapped.task
    return task.current if task.name == "air_interface" else task.name


def task_action(env, action: Any) -> Any:
    """``action`` for the current task as ``env`` takes it (wrapped into the Dict action of the multi-task env)."""
    task = env.unwrapped.task
    return task.wrap(action) if task.name == "air_interface" else action


def task_space(env, name: str) -> spaces.Space:
    """The action space of task ``name`` in ``env`` (its entry of the multi-task env's Dict space)."""
    task = env.unwrapped.task
    return task.tasks[name].action_space if task.name == "air_interface" else task.action_space


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
        base = self.env.unwrapped
        return base.task.oracle_action(base.channel)


class ClassicalPolicy:
    """What a base station does without learning, from the observation and its own site geometry.

    - beam selection: the DFT beam toward the observed UE position (line-of-sight direction);
    - precoding: with a previous pilot in the observation, the switched predictor
      (:func:`airtwin.phy.prediction.switched_precoders`, its threshold fitted on training areas): the
      eigen-precoder of the channel the two estimates extrapolate to when the precoder is applied, where that
      moves the precoder enough, else the latest estimate's; without a previous pilot, the
      eigen-precoder of the observed CSI estimate, each subband's covariance smoothed with the full band's by
      ``full_band_weight`` (:func:`airtwin.phy.beams.eigen_precoders`; the default is the weight fitted on
      training areas, which absorbs part of the channel's aging before the precoder is applied);
    - positioning: range from the first-path delay and azimuth from the beamspace peak of the observed
      estimate (known UE height), see :func:`airtwin.phy.classical.estimate_position`.
    """

    def __init__(self, env, full_band_weight: float = DEFAULT_FULL_BAND_WEIGHT):
        check_range("ClassicalPolicy.full_band_weight", full_band_weight, 0.0, 1.0)
        self.env = env
        self.full_band_weight = full_band_weight

    def reset(self) -> None:
        pass

    def act(self, obs: Any) -> Any:
        base = self.env.unwrapped
        twin, task = base.twin, current_task(self.env)
        site = twin.spec.bs[twin.serving_bs]
        if task == "beam_selection":
            scores = geometric_beam_scores(obs["bs_position"], np.asarray(obs["ue_position"])[None], site.array,
                                           site.orientation_deg, twin.codebook.weights)
            action = int(scores[0].argmax())
        elif task == "precoding":
            s = twin.spec.codebook.num_subbands
            if has_previous_pilot(obs):
                batch = {k: np.asarray(obs[k])[None] for k in PREDICTION_KEYS}
                action = precoders_to_action(switched_precoders(*switch_inputs(batch, s))[0])
            else:
                action = precoders_to_action(eigen_precoders(to_complex(obs["csi"])[None], s, self.full_band_weight)[0])
        else:
            xy = estimate_position(to_complex(obs["csi"])[None], twin.frequencies_hz, site.array,
                                   site.orientation_deg, twin.bs_position, twin.spec.ue.height_m)[0]
            space = task_space(self.env, task)
            action = np.clip(xy, space.low, space.high).astype(np.float32)
        return task_action(self.env, action)


class PeriodicSweepPolicy:
    """Exhaustive beam sweep every ``period`` steps, the swept beam held in between.

    Args:
        env: a beam-selection environment (the sweep measures its true channel).
        period: steps between sweeps (1 = sweep every step).
        beam_measurement_s: air time to measure one beam [s] (e.g. one SSB burst slot).
    Attributes:
        overhead_fraction: share of air time spent sweeping, ``num_beams * beam_measurement_s / (period * step_s)``
            (capped at 1, :func:`airtwin.phy.link.sweep_overhead`); multiply rates by ``1 - overhead_fraction``.
    """

    def __init__(self, env, period: int = 10, beam_measurement_s: float = BEAM_MEASUREMENT_S):
        if period < 1:
            raise ValueError(f"period = {period}; allowed: >= 1")
        self.env, self.period = env, period
        base = env.unwrapped
        self.overhead_fraction = sweep_overhead(base.twin.codebook.num_beams, period * base.step_s, beam_measurement_s)
        self.reset()

    def reset(self) -> None:
        self._count = 0
        self._beam = 0

    def act(self, obs: Any) -> Any:
        if self._count % self.period == 0:
            self._beam = int(self.env.unwrapped.channel.best_beam[0])
        self._count += 1
        return task_action(self.env, self._beam)


class PositionLookupBeamPolicy:
    """The best beam from the observed UE position, in a table of known drops (``positions [N, 2]`` [m], their
    best ``beams [N]`` and beam gains ``gains [N, num_beams]`` [dB]).

    ``rule``:

    - ``"nearest"``: the best beam of the nearest drop (of the ``k`` nearest, by majority vote);
    - ``"gains"``: the beam whose gain, averaged over the nearest drops, is highest
      (:func:`airtwin.phy.classical.neighbour_beam_gains`; the table needs ``gains``).

    Build the table with :meth:`from_twin` (traced drops) or pass it (e.g. from a dataset's ``ue_position``,
    ``best_beam`` and ``beam_gain_db``).
    """

    def __init__(self, positions: np.ndarray, beams: np.ndarray, k: int = 1, env=None, *,
                 gains: np.ndarray | None = None, rule: str = "nearest"):
        positions = np.asarray(positions, dtype=np.float64)[:, :2]
        if positions.shape[0] != len(beams) or positions.shape[0] == 0:
            raise ValueError("positions and beams must be non-empty and of equal length")
        if rule not in LOOKUP_RULES:
            raise ValueError(f"rule = {rule!r}; allowed: {', '.join(map(repr, LOOKUP_RULES))}")
        if rule == "gains" and (gains is None or len(gains) != len(beams)):
            raise ValueError("rule = 'gains' needs the table's beam gains, one row per drop")
        self.positions, self.beams, self.k, self.env = positions, np.asarray(beams, dtype=np.int64), k, env
        self.gains = None if gains is None else np.asarray(gains, dtype=np.float64)
        self.rule = rule

    @classmethod
    def from_twin(cls, twin, num_samples: int, rng: np.random.Generator, k: int = 1, env=None,
                  batch_size: int = 64, rule: str = "nearest") -> PositionLookupBeamPolicy:
        pos, beams, gains = [], [], []
        for start in range(0, num_samples, batch_size):
            drops = twin.sample_ue_positions(min(batch_size, num_samples - start), rng)
            batch = twin.trace(drops)
            keep = batch.has_paths
            pos.append(drops[keep])
            beams.append(batch.best_beam[keep])
            gains.append(batch.beam_gain_db[keep])
        return cls(np.concatenate(pos), np.concatenate(beams), k, env, gains=np.concatenate(gains), rule=rule)

    def reset(self) -> None:
        pass

    def beam_for(self, xy: np.ndarray) -> int:
        d = np.linalg.norm(self.positions - np.asarray(xy, dtype=np.float64)[:2], axis=1)
        if self.rule == "gains":
            return int(nearest_beam_gains(d[None], self.gains)[0].argmax())
        nearest = self.beams[np.argsort(d, kind="stable")[: self.k]]
        return int(np.bincount(nearest).argmax())

    def act(self, obs: Any) -> Any:
        action = self.beam_for(obs["ue_position"])
        return task_action(self.env, action) if self.env is not None else action


__all__ = ["Policy", "RandomPolicy", "ClassicalPolicy", "OraclePolicy", "PeriodicSweepPolicy", "PositionLookupBeamPolicy",
           "current_task", "task_action", "task_space"]


class MultiUserPrecoderPolicy:
    """Linear MU-MIMO precoding (:func:`airtwin.phy.multiuser.mu_precoders`) for ``AirTwin/MultiUserPrecoding-v0``.

    From the observation: each UE's estimate rescaled to its reported power, one channel per subband
    (the centre subcarrier's), then ``method`` (``"mrt"``, ``"zf"``, ``"rzf"``). With ``genie=True`` it
    uses the true channel the precoder meets (aged, noiseless) instead: the bound of that method.
    """

    def __init__(self, env, method: str = "zf", genie: bool = False):
        from airtwin.phy.multiuser import MU_PRECODERS

        if method not in MU_PRECODERS:
            raise ValueError(f"method = {method!r}; allowed: {', '.join(MU_PRECODERS)}")
        self.env, self.method, self.genie = env, method, genie

    def reset(self) -> None:
        pass

    def act(self, obs: Any) -> np.ndarray:
        from airtwin.envs.multicell import precoders_to_matrix_action
        from airtwin.phy.multiuser import mu_precoders, subband_channels

        base = self.env.unwrapped
        error = None
        if self.genie:
            csi = base.channel.csi_evolution[:, -1]  # [U, A, K]
        else:
            power = 10 ** (np.asarray(obs["rx_power_db"], dtype=np.float64) / 10)
            csi = to_complex(np.asarray(obs["csi"], dtype=np.float64)) * np.sqrt(power)[:, None, None]
            error = power / (1 + 10 ** (base.config.pilot_snr_db / 10))  # the pilot noise in the estimate
        h = np.swapaxes(subband_channels(csi, base.twin.spec.codebook.num_subbands), 0, 1)  # [S, U, A]
        return precoders_to_matrix_action(mu_precoders(h, self.method, base.snr, error_power=error))


class A3Policy:
    """The 3GPP A3 event rule (:class:`airtwin.phy.handover.A3Rule`) on the reported RSRP of
    ``AirTwin/CellBeamManagement-v0``; the beam is the serving site's reported best beam."""

    def __init__(self, env, config=None):
        from airtwin.phy.handover import A3Config, A3Rule

        self.env = env
        self.rule = A3Rule(config if config is not None else A3Config())
        self._fresh = True

    def reset(self) -> None:
        self._fresh = True

    def act(self, obs: Any) -> np.ndarray:
        if self._fresh:  # a new episode: the rule starts from the cell the UE attached to
            self.rule.reset(int(obs["serving"]))
            self._fresh = False
        serving = self.rule.update(np.asarray(obs["rsrp_dbm"]), self.env.unwrapped.step_s)
        return np.array([serving, int(obs["best_beam"][serving])], dtype=np.int64)


class CellGeniePolicy:
    """Genie for ``AirTwin/CellBeamManagement-v0``: each step's best site and beam on the true channel, handover
    cost included (exhaustive, free, myopic)."""

    def __init__(self, env):
        self.env = env

    def reset(self) -> None:
        pass

    def act(self, obs: Any) -> np.ndarray:
        site, beam, _ = self.env.unwrapped.genie()
        return np.array([site, beam], dtype=np.int64)

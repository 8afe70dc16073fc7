"""Multi-user and multi-cell environments: MU-MIMO precoding in one cell, serving-cell and beam management
across several sites. Both follow the single-UE environments' conventions (:mod:`airtwin.envs.core`): the
twin re-traces every step, rewards come from the true channel, randomness from ``self.np_random``.

- :class:`MultiUserPrecodingEnv` (``AirTwin/MultiUserPrecoding-v0``): ``num_users`` UEs move in one cell.
  Each step the agent sees their estimated CSI (pilot noise, as the single-user precoding env) and
  returns one precoding matrix per subband; the matrix is applied ``feedback_delay_s`` later, on the
  channel aged by Doppler, with total power normalised. Reward: the sum rate with inter-user
  interference, or proportional-fair utility (:mod:`airtwin.phy.multiuser`).
- :class:`CellBeamManagementEnv` (``AirTwin/CellBeamManagement-v0``): one UE drives through a multi-site
  scenario (``city-cellsK-NNNNN``, ``munich-cells``). Each step the agent picks the serving site and its
  beam, from the measurement reports of the previous step (best-beam RSRP and beam index per site, as
  a UE reports them). Reward: the spectral efficiency under interference from the other sites, which
  transmit on beams of their own with probability ``load``, less the air time a handover interrupts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from gymnasium import spaces

from airtwin.config import check_range
from airtwin.envs.core import StagedEnv
from airtwin.envs.tasks import POSITION_BOUND_M, POWER_BOUND_DB, env_settings
from airtwin.phy.estimation import DEFAULT_FEEDBACK_DELAY_S, DEFAULT_PILOT_SNR_DB, NO_SIGNAL_DB, estimate_csi
from airtwin.phy.link import LinkBudget
from airtwin.phy.multiuser import normalise_power, user_rates
from airtwin.scenes.registry import get_scenario
from airtwin.scenes.spec import ScenarioSpec
from airtwin.twin.channel import ChannelBatch, SiteBatch
from airtwin.twin.pool import TwinPool

#: Rate floor of the proportional-fair utility [bit/s/Hz] (log of a starved user stays finite).
PF_RATE_FLOOR = 1e-3


@dataclass(frozen=True)
class MultiUserConfig:
    """Settings of ``AirTwin/MultiUserPrecoding-v0``."""

    num_users: int = 4
    """UEs served together in the cell (K)."""
    step_s: float | None = None
    """Time between steps [s]; None uses the scenario's ``mobility.time_step_s``."""
    pilot_snr_db: float = DEFAULT_PILOT_SNR_DB
    """SNR of each UE's CSI estimate [dB]."""
    feedback_delay_s: float = DEFAULT_FEEDBACK_DELAY_S
    """Age of the CSI when the precoder is applied [s]."""
    utility: Literal["sum_rate", "proportional_fair"] = "sum_rate"
    """Reward: ``sum_u R_u``, or ``sum_u log(max(R_u, PF_RATE_FLOOR))`` (R_u in bit/s/Hz)."""
    load: float = 1.0
    """In a multi-site scenario, the probability that each other site transmits in a step (on a random beam of
    its own, at full power): inter-cell interference. Single-site scenarios have none."""

    def __post_init__(self) -> None:
        check_range("MultiUserConfig.num_users", self.num_users, 1, 64)
        if self.step_s is not None:
            check_range("MultiUserConfig.step_s", self.step_s, 0.0, 3600.0, low_open=True)
        check_range("MultiUserConfig.pilot_snr_db", self.pilot_snr_db, -30.0, 100.0)
        check_range("MultiUserConfig.feedback_delay_s", self.feedback_delay_s, 0.0, 10.0)
        if self.utility not in ("sum_rate", "proportional_fair"):
            raise ValueError(f"MultiUserConfig.utility = {self.utility!r}; allowed: 'sum_rate', 'proportional_fair'")
        check_range("MultiUserConfig.load", self.load, 0.0, 1.0)


@dataclass(frozen=True)
class CellConfig:
    """Settings of ``AirTwin/CellBeamManagement-v0``."""

    step_s: float | None = None
    """Time between steps (the measurement period) [s]; None uses the scenario's ``mobility.time_step_s``."""
    speed_mps: float | None = None
    """UE speed [m/s]; None draws it from the scenario's ``mobility.speed_mps``."""
    load: float = 1.0
    """Probability that another site transmits during a step (on a random beam of its own); 0: no interference."""
    handover_interruption_s: float = 0.03
    """Air time a handover interrupts [s] (the step's rate is scaled by ``1 - interruption / step_s``)."""

    def __post_init__(self) -> None:
        if self.step_s is not None:
            check_range("CellConfig.step_s", self.step_s, 0.0, 3600.0, low_open=True)
        if self.speed_mps is not None:
            check_range("CellConfig.speed_mps", self.speed_mps, 0.0, 100.0)
        check_range("CellConfig.load", self.load, 0.0, 1.0)
        check_range("CellConfig.handover_interruption_s", self.handover_interruption_s, 0.0, 10.0)


def precoders_to_matrix_action(w: np.ndarray) -> np.ndarray:
    """Complex precoding matrices ``[S, A, U]`` -> the real action ``[S, A, U, 2]`` in [-1, 1] (directions kept)."""
    x = np.stack([np.real(w), np.imag(w)], axis=-1)
    return (x / max(float(np.abs(x).max(initial=0.0)), 1e-12)).astype(np.float32)


def matrix_action_to_precoders(action: np.ndarray) -> np.ndarray:
    """Real action ``[S, A, U, 2]`` -> complex ``[S, A, U]`` with unit total power per subband."""
    a = np.asarray(action, dtype=np.float64)
    return normalise_power(a[..., 0] + 1j * a[..., 1])


class MultiUserPrecodingEnv(StagedEnv):
    """``num_users`` UEs in one cell; each step: one precoding matrix per subband from estimated, aged CSI.

    Observation: ``csi`` ``[U, 2, A, K]`` (each UE's estimate, unit mean power) and ``rx_power_db`` ``[U]``
    (its mean power [dB], so that ``to_complex(csi[u]) * 10**(rx_power_db[u] / 20)`` is UE u's channel
    estimate in the twin's units). Action: ``[S, A, U, 2]`` real (real, imaginary parts of ``W_s``; each
    subband's matrix is scaled to unit Frobenius norm, so any non-zero action is a valid precoder).
    Reward: see :class:`MultiUserConfig`. In a multi-site scenario the other sites interfere (``load``); the
    UEs are served by ``twin.serving_bs``. Info: ``user_rates`` ``[U]`` [bit/s/Hz], ``sum_rate``,
    ``has_paths`` ``[U]``. Genie access: ``channel``, the step's true ``ChannelBatch`` of the serving site
    (``csi_evolution[:, -1]`` is the channel the precoder meets).
    """

    metadata = {"render_modes": []}

    def __init__(self, scenario: str | ScenarioSpec = "city-tiny-00000", *, twin_pool: TwinPool | None = None,
                 render_mode: str | None = None, **config: Any):
        self.config = env_settings(MultiUserConfig, config)
        if render_mode is not None:
            raise ValueError(f"render_mode = {render_mode!r}; allowed: None")
        self.twin = (twin_pool if twin_pool is not None else TwinPool()).get(scenario)
        spec = self.twin.spec
        self.budget = LinkBudget.of(spec.radio)
        self.snr = 10 ** ((self.budget.tx_power_dbm - self.budget.noise_power_dbm) / 10)
        u, a = self.config.num_users, spec.bs[self.twin.serving_bs].array.num_antennas
        k, s = spec.radio.num_subcarriers, spec.codebook.num_subbands
        bound = float(np.sqrt(a * k))
        self.observation_space = spaces.Dict({
            "csi": spaces.Box(-bound, bound, (u, 2, a, k), np.float32),
            "rx_power_db": spaces.Box(-POWER_BOUND_DB, POWER_BOUND_DB, (u,), np.float32)})
        self.action_space = spaces.Box(-1.0, 1.0, (s, a, u, 2), np.float32)
        self.step_s = self.config.step_s or spec.mobility.time_step_s
        self._state = None
        self._batch: ChannelBatch | None = None

    # ------------------------------------------------------------------ the stages of a step (StagedEnv)
    def begin_episode(self, options: dict | None) -> None:
        """Drop ``num_users`` UEs (speeds and headings from ``np_random``)."""
        self._state = self.twin.init_motion(self.config.num_users, self.np_random)

    def trace_request(self) -> dict[str, Any]:
        """The UEs to trace; in a multi-site scenario with load, from every site (the others interfere)."""
        sites = None
        if len(self.twin.spec.bs) > 1 and self.config.load > 0:
            sites = (self.twin.serving_bs, *[j for j in range(len(self.twin.spec.bs)) if j != self.twin.serving_bs])
        return {"positions": self._state.positions, "velocities": self._state.velocities, "num_time_steps": 2,
                "time_step_s": max(self.config.feedback_delay_s, 1e-6), "sites": sites}

    def receive(self, batch: ChannelBatch | SiteBatch) -> dict[str, np.ndarray]:
        """Take this step's channels (a ``SiteBatch``, serving site first, when the other sites interfere) and
        return the observation (the interferers' activity and beams and the pilot noise from ``np_random``)."""
        self.other_cell_gain = None
        if isinstance(batch, SiteBatch):
            sb = batch
            self._batch = sb.site(0)
            n_bs = sb.num_bs
            active = self.np_random.random(n_bs) < self.config.load
            beams = self.np_random.integers(0, self.twin.codebook.num_beams, n_bs)
            gain = np.zeros((self.config.num_users, self._batch.num_subcarriers))
            for j in range(1, n_bs):
                if active[j]:
                    g = sb.site(j).csi_evolution[:, -1].astype(np.complex128)  # [U, A, K], when the data is sent
                    gain += np.abs(np.einsum("uak,a->uk", g, self.twin.codebook.weights[beams[j]])) ** 2
            self.other_cell_gain = gain
        else:
            self._batch = batch
        csi, power = estimate_csi(self._batch.csi, self.config.pilot_snr_db, self.np_random)
        return {"csi": csi, "rx_power_db": np.clip(power, -POWER_BOUND_DB, POWER_BOUND_DB).astype(np.float32)}

    def info(self) -> dict[str, Any]:
        return {"has_paths": self.channel.has_paths.copy(), "ue_positions": self.channel.ue_positions.copy()}

    def apply(self, action) -> tuple[float, dict[str, Any]]:
        """Score ``action`` on the true applied channel, then move the UEs by ``step_s`` (no tracing)."""
        arr = np.asarray(action)
        if arr.shape != self.action_space.shape or arr.dtype.kind not in "fiu":
            raise ValueError(f"the action must be a real array of shape {self.action_space.shape}, got shape "
                             f"{arr.shape}, dtype {arr.dtype}")
        r = self.rates(matrix_action_to_precoders(np.clip(arr, -1.0, 1.0)))
        if self.config.utility == "sum_rate":
            reward = float(r.sum())
        else:
            reward = float(np.log(np.maximum(r, PF_RATE_FLOOR)).sum())
        info = {**self.info(), "user_rates": r, "sum_rate": float(r.sum())}
        self._state = self.twin.advance(self._state, self.step_s, self.np_random)
        return reward, info


    def rates(self, w: np.ndarray) -> np.ndarray:
        """``[U]`` rates [bit/s/Hz] of complex precoders ``w`` ``[S, A, U]`` on the current applied channel."""
        return user_rates(self.channel.csi_evolution[:, -1], normalise_power(w), self.snr, self.other_cell_gain)



class CellBeamManagementEnv(StagedEnv):
    """One UE drives through several cells; each step the agent picks the serving site and its beam.

    Observation (the measurement report of the previous step, as a UE sends it): ``rsrp_dbm`` ``[num_bs]``
    (each site's best-beam RSRP, ``P_tx + max_b beam gain`` [dBm]; -500 where no path), ``best_beam``
    ``[num_bs]`` (that beam's index), ``serving`` (the current serving site), ``ue_position`` and
    ``ue_velocity`` ``[3]``. Action: ``[site, beam]`` (MultiDiscrete). Reward: the spectral efficiency
    of that beam at that site under interference [bit/s/Hz], times ``1 - handover_interruption_s / step_s``
    when the site changes. Info: ``sinr_db``, ``spectral_efficiency``, ``handover``, ``serving``, and the
    genie's best site and beam for this step. Genie access: ``channel``, the step's true ``SiteBatch``.
    """

    metadata = {"render_modes": []}

    def __init__(self, scenario: str | ScenarioSpec = "city-tiny-cells3-00000", *, twin_pool: TwinPool | None = None,
                 render_mode: str | None = None, **config: Any):
        self.config = env_settings(CellConfig, config)
        if render_mode is not None:
            raise ValueError(f"render_mode = {render_mode!r}; allowed: None")
        pool = twin_pool if twin_pool is not None else TwinPool()
        spec = get_scenario(scenario) if isinstance(scenario, str) else scenario
        if self.config.speed_mps is not None:
            v = self.config.speed_mps
            spec = dataclasses.replace(spec, name=f"{spec.name}@{v:g}mps",
                                       mobility=dataclasses.replace(spec.mobility, speed_mps=(v, v)))
        self.twin = pool.get(spec)
        if len(spec.bs) < 2:
            raise ValueError(f"scenario {spec.name} has {len(spec.bs)} site; CellBeamManagement needs >= 2 "
                             "(e.g. city-cells3-10000, city-tiny-cells3-00000, munich-cells)")
        self.num_bs, self.num_beams = len(spec.bs), self.twin.codebook.num_beams
        self.budget = LinkBudget.of(spec.radio)
        self.step_s = self.config.step_s or spec.mobility.time_step_s
        self.interruption = min(1.0, self.config.handover_interruption_s / self.step_s)
        pos = spaces.Box(-POSITION_BOUND_M, POSITION_BOUND_M, (3,), np.float32)
        self.observation_space = spaces.Dict({
            "rsrp_dbm": spaces.Box(-POWER_BOUND_DB, POWER_BOUND_DB, (self.num_bs,), np.float32),
            "best_beam": spaces.MultiDiscrete([self.num_beams] * self.num_bs),
            "serving": spaces.Discrete(self.num_bs),
            "ue_position": pos, "ue_velocity": spaces.Box(-1e3, 1e3, (3,), np.float32)})
        self.action_space = spaces.MultiDiscrete([self.num_bs, self.num_beams])
        self._batch: SiteBatch | None = None
        self._state = None

    def measurements(self) -> tuple[np.ndarray, np.ndarray]:
        """``(rsrp_dbm [num_bs], best_beam [num_bs])`` of the current step (what the next report carries)."""
        b = self.channel
        gains = b.beam_gain_db[0]  # [num_bs, num_beams]
        rsrp = np.where(b.has_paths[0], self.budget.tx_power_dbm + gains.max(axis=1), NO_SIGNAL_DB)
        return rsrp.astype(np.float32), b.best_beam[0].astype(np.int64)

    # ------------------------------------------------------------------ the stages of a step (StagedEnv)
    def begin_episode(self, options: dict | None) -> None:
        """Drop the UE (speed and heading from ``np_random``); it attaches to the strongest site when traced."""
        self._state = self.twin.init_motion(1, self.np_random)
        self._report = None

    def trace_request(self) -> dict[str, Any]:
        return {"positions": self._state.positions, "velocities": self._state.velocities, "num_time_steps": 1,
                "time_step_s": None, "sites": tuple(range(self.num_bs))}

    def receive(self, batch: SiteBatch) -> dict[str, np.ndarray]:
        """Take this step's channels from every site; draw the interferers (each other site transmits with
        probability ``load``, on a random beam) and return the observation."""
        self._batch = batch
        self.interferer_active = self.np_random.random(self.num_bs) < self.config.load
        self.interferer_beam = self.np_random.integers(0, self.num_beams, self.num_bs)
        self._sinr = self._sinr_table()
        if self._report is None:  # initial access: the strongest site, on its measurement
            self._report = self.measurements()
            self.serving = int(np.argmax(self._report[0]))
        return {"rsrp_dbm": self._report[0], "best_beam": self._report[1], "serving": np.int64(self.serving),
                "ue_position": self._state.positions[0].astype(np.float32),
                "ue_velocity": self._state.velocities[0].astype(np.float32)}

    def info(self) -> dict[str, Any]:
        return {"serving": self.serving}


    def _sinr_table(self) -> np.ndarray:
        """``[num_bs, num_beams, K]``: the SINR of every (site, beam) this step, the other sites' interferers
        (``interferer_active``, ``interferer_beam``) on, computed once per step."""
        csi = self.channel.csi[0].astype(np.complex128)  # [num_bs, A, K]
        p_tx = 10 ** (self.budget.tx_power_dbm / 10)
        noise = 10 ** (self.budget.noise_power_dbm / 10)
        power = p_tx * np.abs(np.einsum("jak,ba->jbk", csi, self.twin.codebook.weights)) ** 2  # received power
        emitted = power[np.arange(self.num_bs), self.interferer_beam]  # [num_bs, K]: each site's interferer
        others = self.interferer_active[None, :] & ~np.eye(self.num_bs, dtype=bool)  # [serving site, interferer]
        return power / (noise + (others.astype(np.float64) @ emitted)[:, None, :])

    def spectral_efficiency(self, site: int, beam: int) -> tuple[float, float]:
        """``(SE [bit/s/Hz], mean SINR [dB])`` of ``beam`` at ``site`` under this step's interferers."""
        sinr = self._sinr[site, beam]
        return float(np.mean(np.log2(1 + sinr))), float(10 * np.log10(max(float(np.mean(sinr)), 1e-30)))

    def rewards(self) -> np.ndarray:
        """``[num_bs, num_beams]``: the reward each ``[site, beam]`` would earn this step (handover
        interruption included for every site but the serving one)."""
        se = np.mean(np.log2(1 + self._sinr), axis=-1)
        scale = np.full(self.num_bs, 1 - self.interruption)
        scale[self.serving] = 1.0
        return se * scale[:, None]

    def reward_of(self, site: int, beam: int) -> float:
        """The reward ``[site, beam]`` would earn this step (handover interruption included)."""
        return float(self.rewards()[site, beam])

    def genie(self) -> tuple[int, int, float]:
        """``(site, beam, reward)`` of the best action this step on the true channel (exhaustive, no cost)."""
        table = self.rewards()
        site, beam = np.unravel_index(int(np.argmax(table)), table.shape)
        return int(site), int(beam), float(table[site, beam])

    def apply(self, action) -> tuple[float, dict[str, Any]]:
        """Score ``[site, beam]`` on the true channel, take this step's report, move the UE (no tracing)."""
        site, beam = (int(x) for x in np.asarray(action).reshape(-1))
        if not self.action_space.contains(np.array([site, beam], dtype=self.action_space.dtype)):
            raise ValueError(f"action {action!r} is not in {self.action_space} ([site, beam])")
        se, sinr_db = self.spectral_efficiency(site, beam)
        handover = site != self.serving
        reward = self.reward_of(site, beam)
        g_site, g_beam, g_reward = self.genie()
        info = {"spectral_efficiency": se, "sinr_db": sinr_db, "handover": handover, "serving": site, "beam": beam,
                "genie_site": g_site, "genie_beam": g_beam, "genie_reward": g_reward,
                "ue_position": self._state.positions[0].copy(), "has_paths": self.channel.has_paths[0].copy()}
        self.serving = site
        self._report = self.measurements()  # measured during this step, reported for the next decision
        self._state = self.twin.advance(self._state, self.step_s, self.np_random)
        return float(reward), info


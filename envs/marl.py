"""A PettingZoo ``ParallelEnv``: one agent per BS site, each steering the beam toward its own UE while the
other sites' beams interfere (coordinated beamforming across cells).

    from airtwin.envs.marl import CoordinatedBeamsEnv
    env = CoordinatedBeamsEnv("city-tiny-cells3-00000")
    obs, infos = env.reset(seed=0)
    obs, rewards, terms, truncs, infos = env.step({a: env.action_space(a).sample() for a in env.agents})

Each episode drops one UE per site in that site's cell (outdoor, nearest to that site, within
``cell_radius_m``); the UEs move and every step traces all of them from all sites in one
``Twin.trace_sites`` call. Agent ``i`` (named after site ``i``) picks a DFT beam of its site for its UE;
its reward is its UE's spectral efficiency [bit/s/Hz] with every other site transmitting on the beam its
agent chose. Observations (per agent): its UE's report of the previous step, best-beam RSRP and beam
index from every site, and its UE's position. Needs the ``marl`` extra (``pip install airtwin[marl]``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from airtwin.config import check_range
from airtwin.envs.tasks import POSITION_BOUND_M, POWER_BOUND_DB
from airtwin.phy.estimation import NO_SIGNAL_DB
from airtwin.phy.link import LinkBudget
from airtwin.scenes.spec import ScenarioSpec
from airtwin.twin.channel import SiteBatch
from airtwin.twin.mobility import init_motion
from airtwin.twin.pool import TwinPool


@dataclass(frozen=True)
class CoordinatedBeamsConfig:
    """Settings of :class:`CoordinatedBeamsEnv`."""

    max_steps: int = 50
    """Steps per episode (then every agent is truncated)."""
    step_s: float | None = None
    """Time between steps [s]; None uses the scenario's ``mobility.time_step_s``."""
    cell_radius_m: float = 80.0
    """A site's UE is dropped within this distance of it [m] (and nearer to it than to any other site)."""

    def __post_init__(self) -> None:
        check_range("CoordinatedBeamsConfig.max_steps", self.max_steps, 1, 1_000_000)
        if self.step_s is not None:
            check_range("CoordinatedBeamsConfig.step_s", self.step_s, 0.0, 3600.0, low_open=True)
        check_range("CoordinatedBeamsConfig.cell_radius_m", self.cell_radius_m, 1.0, 1e4)


class CoordinatedBeamsEnv(ParallelEnv):
    """One agent per site of a multi-site scenario (see the module docstring)."""

    metadata = {"name": "airtwin_coordinated_beams_v0", "render_modes": []}

    def __init__(self, scenario: str | ScenarioSpec = "city-tiny-cells3-00000", *, twin_pool: TwinPool | None = None,
                 **config: Any):
        self.config = CoordinatedBeamsConfig(**config)
        self.twin = (twin_pool if twin_pool is not None else TwinPool()).get(scenario)
        spec = self.twin.spec
        if len(spec.bs) < 2:
            raise ValueError(f"scenario {spec.name} has {len(spec.bs)} site; CoordinatedBeamsEnv needs >= 2 "
                             "(e.g. city-tiny-cells3-00000, city-cells3-10000, munich-cells)")
        self.possible_agents = [b.name for b in spec.bs]
        self.agents: list[str] = []
        self.num_bs, self.num_beams = len(spec.bs), self.twin.codebook.num_beams
        self.budget = LinkBudget.of(spec.radio)
        self.step_s = self.config.step_s or spec.mobility.time_step_s
        self.np_random, _ = seeding.np_random(None)
        self._batch: SiteBatch | None = None

    @functools.lru_cache(maxsize=None)
    def observation_space(self, agent: str) -> spaces.Space:
        return spaces.Dict({
            "rsrp_dbm": spaces.Box(-POWER_BOUND_DB, POWER_BOUND_DB, (self.num_bs,), np.float32),
            "best_beam": spaces.MultiDiscrete([self.num_beams] * self.num_bs),
            "ue_position": spaces.Box(-POSITION_BOUND_M, POSITION_BOUND_M, (3,), np.float32)})

    @functools.lru_cache(maxsize=None)
    def action_space(self, agent: str) -> spaces.Space:
        return spaces.Discrete(self.num_beams)

    @property
    def channel(self) -> SiteBatch:
        """Genie access: the true channels of the current step, ``[num_ue = num_bs UEs, num_bs sites, ...]``;
        UE ``i`` is agent ``i``'s."""
        if self._batch is None:
            raise RuntimeError("no channel yet; call reset() first")
        return self._batch

    def _drop(self) -> np.ndarray:
        """``[num_bs, 3]``: one outdoor UE per site, nearer to it than to any other site, within the cell radius."""
        sites = np.array([b.position for b in self.twin.spec.bs])[:, :2]
        out = np.zeros((self.num_bs, 3))
        for _ in range(50):
            cand = self.twin.sample_ue_positions(64 * self.num_bs, self.np_random)
            d = np.linalg.norm(cand[:, None, :2] - sites[None], axis=-1)  # [N, num_bs]
            nearest = np.argmin(d, axis=1)
            todo = [i for i in range(self.num_bs) if not out[i].any()]
            for i in todo:
                ok = np.flatnonzero((nearest == i) & (d[:, i] <= self.config.cell_radius_m))
                if ok.size:
                    out[i] = cand[ok[0]]
            if all(out[i].any() for i in range(self.num_bs)):
                return out
        raise ValueError(f"{self.twin.spec.name}: no outdoor UE spot within {self.config.cell_radius_m:g} m of some "
                         "site; raise cell_radius_m")

    def _trace(self) -> None:
        self._batch = self.twin.trace_sites(self._state.positions, self._state.velocities,
                                            seed=int(self.np_random.integers(0, 2**31 - 1)))

    def _reports(self) -> dict[str, dict[str, np.ndarray]]:
        b = self.channel
        rsrp = np.where(b.has_paths, self.budget.tx_power_dbm + b.beam_gain_db.max(axis=-1), NO_SIGNAL_DB)
        rsrp = np.clip(rsrp, -POWER_BOUND_DB, POWER_BOUND_DB).astype(np.float32)  # [num_ue, num_bs]
        return {a: {"rsrp_dbm": rsrp[i], "best_beam": b.best_beam[i].astype(np.int64),
                    "ue_position": b.ue_positions[i].astype(np.float32)} for i, a in enumerate(self.possible_agents)}

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self.np_random, _ = seeding.np_random(seed)
        self.agents = list(self.possible_agents)
        self._t = 0
        self._state = init_motion(self._drop(), self.twin.spec.mobility, self.np_random, self.twin.is_free)
        self._trace()
        self._obs = self._reports()
        return self._obs, {a: {} for a in self.agents}

    def rates(self, beams: np.ndarray) -> np.ndarray:
        """``[num_bs]`` spectral efficiency [bit/s/Hz] of each site's UE when site ``j`` transmits on ``beams[j]``."""
        w = self.twin.codebook.weights[np.asarray(beams)]  # [num_bs, A]
        csi = self.channel.csi.astype(np.complex128)  # [UE i, site j, A, K]
        p = np.abs(np.einsum("ijak,ja->ijk", csi, w)) ** 2 * 10 ** (self.budget.tx_power_dbm / 10)
        signal = np.einsum("iik->ik", p)
        interference = p.sum(axis=1) - signal
        sinr = signal / (10 ** (self.budget.noise_power_dbm / 10) + interference)
        return np.log2(1 + sinr).mean(axis=-1)

    def step(self, actions: dict[str, Any]):
        if not self.agents:
            raise RuntimeError("the episode is over; call reset()")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"actions: no beam for agents {missing}; give one Discrete({self.num_beams}) per agent")
        beams = np.array([int(actions[a]) for a in self.possible_agents])
        if ((beams < 0) | (beams >= self.num_beams)).any():
            raise ValueError(f"actions {dict(actions)}: beams must be in 0..{self.num_beams - 1}")
        r = self.rates(beams)
        selfish = self.rates(self.channel.best_beam[np.arange(self.num_bs), np.arange(self.num_bs)])
        rewards = {a: float(r[i]) for i, a in enumerate(self.possible_agents)}
        infos = {a: {"spectral_efficiency": float(r[i]), "selfish_spectral_efficiency": float(selfish[i])}
                 for i, a in enumerate(self.possible_agents)}
        self._t += 1
        self._state = self.twin.advance(self._state, self.step_s, self.np_random)
        self._trace()
        obs = self._reports()
        done = self._t >= self.config.max_steps
        terminations = {a: False for a in self.agents}
        truncations = {a: done for a in self.agents}
        if done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def render(self) -> None:
        return None

    def close(self) -> None:
        pass

"""The PettingZoo multi-agent environment: PettingZoo's own API test, seeding, and rewards against known answers."""

import numpy as np
import pytest

pytest.importorskip("pettingzoo")
from pettingzoo.test import parallel_api_test  # noqa: E402

from airtwin.envs.marl import CoordinatedBeamsEnv  # noqa: E402
from airtwin.phy.link import LinkBudget  # noqa: E402


@pytest.fixture(scope="module")
def pool():
    from airtwin.twin.pool import TwinPool

    return TwinPool()


def test_passes_pettingzoo_parallel_api_test(pool):
    env = CoordinatedBeamsEnv("city-tiny-cells3-00000", twin_pool=pool, max_steps=4)
    parallel_api_test(env, num_cycles=5)
    assert env.possible_agents == ["bs0", "bs1-rooftop", "bs2-mast"]


def play(env, seed, steps=3):
    obs, _ = env.reset(seed=seed)
    out = []
    for _ in range(steps):
        actions = {a: int(obs[a]["best_beam"][i]) for i, a in enumerate(env.possible_agents)}  # selfish beams
        obs, rewards, terms, truncs, infos = env.step(actions)
        out.append((rewards, infos))
    return out, terms, truncs


def test_selfish_beams_seeding_and_interference(pool):
    env = CoordinatedBeamsEnv("city-tiny-cells3-00000", twin_pool=pool, max_steps=3)
    a, terms, truncs = play(env, seed=2)
    b, _, _ = play(CoordinatedBeamsEnv("city-tiny-cells3-00000", twin_pool=pool, max_steps=3), seed=2)
    assert [r for r, _ in a] == [r for r, _ in b]  # same seed, same episode
    assert all(truncs.values()) and not any(terms.values()) and env.agents == []
    for rewards, infos in a:
        for agent, r in rewards.items():
            assert r == pytest.approx(infos[agent]["selfish_spectral_efficiency"])
    # Known answer: each UE's rate with interference is below its interference-free beamformed rate.
    obs, _ = env.reset(seed=5)
    b = env.channel
    beams = b.best_beam[np.arange(3), np.arange(3)]
    with_interference = env.rates(beams)
    budget = LinkBudget.of(env.twin.spec.radio)
    for i in range(3):
        w = np.repeat(env.twin.codebook.weights[beams[i]][None], env.twin.spec.codebook.num_subbands, axis=0)
        alone = budget.spectral_efficiency(b.csi[i, i], w)
        assert with_interference[i] <= alone + 1e-9
    with pytest.raises(ValueError, match="no beam for agents"):
        env.step({"bs0": 0})

"""The Gymnasium environments: API compliance, determinism, rewards, bad actions, vector envs, policies."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from airtwin import envs
from airtwin.envs.policies import OraclePolicy, PeriodicSweepPolicy, PositionLookupBeamPolicy, RandomPolicy
from airtwin.phy.classical import BEAM_NEIGHBOURS, BEAM_WIDTH_M
from airtwin.envs.vector import TwinVectorEnv

SCENARIO = "canyon-test"


@pytest.mark.parametrize("env_id", sorted(envs.SINGLE_UE_ENV_IDS))  # multi-UE/cell: tests/test_multicell.py
def test_registered_env_passes_checker(env_id):
    env = gym.make(env_id, scenario=SCENARIO)
    check_env(env.unwrapped, skip_render_check=True)
    assert env.spec.max_episode_steps == envs.EPISODE_STEPS


def rollout(env_id, seed, steps=6, **kwargs):
    env = gym.make(env_id, scenario=SCENARIO, **kwargs)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        out.append((obs, reward))
    return out


def _equal(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("env_id", sorted(envs.SINGLE_UE_ENV_IDS))  # multi-UE/cell: tests/test_multicell.py
def test_same_seed_same_rollout(env_id):
    assert _equal(rollout(env_id, 7), rollout(env_id, 7))
    assert not _equal(rollout(env_id, 7), rollout(env_id, 8))


def test_beam_rewards_match_the_channel():
    env = gym.make("AirTwin/BeamSelection-v0", scenario=SCENARIO)
    env.reset(seed=1)
    base = env.unwrapped
    oracle, rand = OraclePolicy(env), RandomPolicy(env.action_space, seed=0)
    for _ in range(5):
        batch = base.channel
        action = rand.act(None)
        _, reward, _, _, info = env.step(action)
        assert reward <= 0
        if info["has_paths"]:
            assert reward == pytest.approx(batch.beam_gain_db[0, action] - batch.beam_gain_db[0].max(), abs=1e-4)
            assert info["best_beam"] == batch.best_beam[0]
            assert info["best_rate"] >= info["rate"]
        assert info["beam_correct"] == (action == info["best_beam"])
        _, reward, _, _, info = env.step(oracle.act(None))
        assert reward == 0.0 and info["beam_correct"]


def test_precoding_oracle_reaches_the_optimum_and_random_does_not():
    env = gym.make("AirTwin/Precoding-v0", scenario=SCENARIO, pilot_snr_db=10.0)
    obs, _ = env.reset(seed=2)
    oracle, rand = OraclePolicy(env), RandomPolicy(env.action_space, seed=0)
    for _ in range(3):
        _, r_opt, _, _, info = env.step(oracle.act(obs))
        if info["has_paths"]:
            assert r_opt == pytest.approx(info["optimal_spectral_efficiency"], rel=1e-6)
            assert info["sgcs"] == pytest.approx(1.0, abs=1e-5)
        obs, r_rand, _, _, info = env.step(rand.act(obs))
        if info["has_paths"]:
            assert r_rand <= info["optimal_spectral_efficiency"] + 1e-9
    # The estimate is normalised to unit power.
    assert np.mean(obs["csi"] ** 2) * 2 == pytest.approx(1.0, rel=1e-4)


def test_positioning_reward_is_minus_the_error():
    env = gym.make("AirTwin/Positioning-v0", scenario=SCENARIO)
    env.reset(seed=3)
    truth = env.unwrapped.channel.ue_positions[0, :2]
    guess = np.clip(truth + np.array([3.0, 4.0]), env.action_space.low, env.action_space.high).astype(np.float32)
    _, reward, _, _, info = env.step(guess)
    assert reward == pytest.approx(-np.linalg.norm(guess - truth), abs=1e-4)
    _, reward, _, _, _ = env.step(OraclePolicy(env).act(None))
    assert reward == pytest.approx(0.0, abs=1e-4)


def test_multi_task_observes_its_task_and_hides_position_for_positioning():
    env = gym.make("AirTwin/AirInterface-v0", scenario=SCENARIO)
    for name, tid in (("beam_selection", 0), ("precoding", 1), ("positioning", 2)):
        obs, _ = env.reset(seed=4, options={"task": name})
        assert obs["task"] == tid and env.observation_space.contains(obs)
        if name == "positioning":
            assert not obs["ue_position"].any()
        _, _, _, _, info = env.step(OraclePolicy(env).act(obs))
        assert info["task"] == name
    with pytest.raises(ValueError, match="options\\['task'\\]"):
        env.reset(options={"task": "dance"})


@pytest.mark.parametrize("env_id, bad", [("AirTwin/BeamSelection-v0", 10_000),
                                         ("AirTwin/Precoding-v0", np.full((4, 4, 2), 5.0, np.float32)),
                                         ("AirTwin/Positioning-v0", np.array([1e6, 0.0], np.float32))])
def test_bad_action_is_a_clear_error(env_id, bad):
    env = gym.make(env_id, scenario=SCENARIO)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="not in the action space"):
        env.step(bad)


def test_bad_config_is_a_clear_error():
    with pytest.raises(ValueError, match="EnvConfig.reward"):
        gym.make("AirTwin/Precoding-v0", scenario=SCENARIO, reward="joy")
    with pytest.raises(ValueError, match="unknown scenario"):
        gym.make("AirTwin/BeamSelection-v0", scenario="mars")


def test_no_coverage_keeps_running_with_zero_channel():
    import dataclasses

    from airtwin.scenes import get_scenario

    spec = get_scenario("free-space")
    spec = dataclasses.replace(spec, tracing=dataclasses.replace(spec.tracing, los=False))  # nothing reaches anyone
    env = gym.make("AirTwin/Precoding-v0", scenario=spec)
    obs, info = env.reset(seed=0)
    assert not info["has_paths"] and not obs["csi"].any()
    for _ in range(3):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert not info["has_paths"] and reward == 0.0 and not terminated
        assert np.isfinite(obs["csi"]).all()


def test_vector_env_batches_and_autoresets():
    vec = TwinVectorEnv("AirTwin/BeamSelection-v0", 3, scenario=SCENARIO)
    vec.max_episode_steps = 2
    obs, info = vec.reset(seed=5)
    assert obs["height_map"].shape[0] == 3 and vec.observation_space.contains(obs)
    single = gym.make("AirTwin/BeamSelection-v0", scenario=SCENARIO)
    s_obs, _ = single.reset(seed=6)
    np.testing.assert_array_equal(obs["ue_position"][1], s_obs["ue_position"])  # same drop as the single env
    _, r, term, trunc, info = vec.step(np.array([0, 1, 2]))
    assert (r <= 0).all() and not trunc.any() and "best_beam" in info
    _, r, term, trunc, _ = vec.step(np.array([0, 1, 2]))
    assert trunc.all()
    _, r, term, trunc, _ = vec.step(np.array([0, 1, 2]))  # autoreset step
    assert (r == 0).all() and not trunc.any()


def test_async_vector_env():
    # "airtwin.envs:" makes each spawned worker import (and so register) the environments first.
    make = [lambda: gym.make("airtwin.envs:AirTwin/BeamSelection-v0", scenario=SCENARIO) for _ in range(2)]
    vec = gym.vector.AsyncVectorEnv(make, context="spawn")
    try:
        obs, _ = vec.reset(seed=0)
        _, r, _, _, _ = vec.step(np.array([0, 1]))
        assert obs["ue_position"].shape == (2, 3) and r.shape == (2,)
    finally:
        vec.close()


def test_sweep_and_lookup_policies():
    env = gym.make("AirTwin/BeamSelection-v0", scenario=SCENARIO)
    base = env.unwrapped
    sweep = PeriodicSweepPolicy(env, period=4, beam_measurement_s=1e-3)
    assert sweep.overhead_fraction == pytest.approx(base.twin.codebook.num_beams * 1e-3 / (4 * base.step_s))
    obs, _ = env.reset(seed=9)
    _, reward, _, _, _ = env.step(sweep.act(obs))
    assert reward == 0.0  # a sweep step finds the best beam
    lookup = PositionLookupBeamPolicy.from_twin(base.twin, 64, np.random.default_rng(0))
    assert lookup.beam_for(lookup.positions[5]) == lookup.beams[5]
    obs, _ = env.reset(seed=10)
    assert env.action_space.contains(lookup.act(obs))
    # The same table, the beam strongest over the nearest drops: at a stored drop far (> 4 widths) from all
    # others, that drop's own best beam; elsewhere the argmax of the Gaussian-weighted gains.
    gains = PositionLookupBeamPolicy(lookup.positions, lookup.beams, gains=lookup.gains, rule="gains", env=env)
    d = np.linalg.norm(lookup.positions[:, None] - lookup.positions[None], axis=-1) + np.eye(len(lookup.beams)) * 1e9
    alone = int(np.argmax(d.min(axis=1)))
    assert d[alone].min() > 4 * BEAM_WIDTH_M and gains.beam_for(lookup.positions[alone]) == lookup.beams[alone]
    xy = lookup.positions[:3].mean(axis=0)
    to = np.linalg.norm(lookup.positions - xy, axis=1)
    near = np.argsort(to, kind="stable")[:BEAM_NEIGHBOURS]
    w = np.exp(-(to[near] ** 2 - to[near].min() ** 2) / (2 * BEAM_WIDTH_M ** 2))
    assert gains.beam_for(xy) == int(np.argmax((w[:, None] * lookup.gains[near]).sum(axis=0)))
    assert env.action_space.contains(gains.act(obs))
    with pytest.raises(ValueError, match="rule = 'gains' needs the table's beam gains"):
        PositionLookupBeamPolicy(lookup.positions, lookup.beams, rule="gains")
    with pytest.raises(ValueError, match="rule = 'mode'; allowed: 'nearest', 'gains'"):
        PositionLookupBeamPolicy(lookup.positions, lookup.beams, rule="mode")


@pytest.mark.parametrize("env_id", sorted(envs.SINGLE_UE_ENV_IDS))  # multi-UE/cell: tests/test_multicell.py
def test_universal_model_policy_acts_in_every_env(env_id, tmp_path):
    from airtwin.model.checkpoint import save_checkpoint
    from airtwin.model.config import ModelConfig
    from airtwin.model.policy import UniversalModelPolicy
    from airtwin.model.universal import UniversalModel
    from airtwin.phy.tasks import DataShapes, Numerology

    env = gym.make(env_id, scenario=SCENARIO)
    base = env.unwrapped
    spec = base.twin.spec
    shapes = DataShapes.of_scenario(spec)
    assert shapes.num_beams == base.twin.codebook.num_beams
    from airtwin.model.encoders import CSIEncoder, EnvEncoder

    save_checkpoint(UniversalModel.build(ModelConfig(shapes=shapes, variant="wm"), CSIEncoder(), EnvEncoder()),
                    tmp_path / "ckpt")
    policy = UniversalModelPolicy(env, tmp_path / "ckpt")
    obs, _ = env.reset(seed=0)
    for _ in range(2):
        action = policy.act(obs)
        obs, reward, _, _, _ = env.step(action)
        assert np.isfinite(reward)
    other = gym.make(env_id, scenario="city-tiny-00000")
    with pytest.raises(ValueError, match="the model was trained for"):  # a checkpoint without a numerology
        UniversalModelPolicy(other, tmp_path / "ckpt")
    # With its numerology recorded, the same model plays the 2x8-array, 32-subcarrier city through the adapter.
    model = UniversalModel.build(ModelConfig(shapes=shapes, numerology=Numerology.of_scenario(spec), variant="wm"),
                                 CSIEncoder(), EnvEncoder())
    policy = UniversalModelPolicy(other, model)
    assert policy.adapter is not None
    obs, _ = other.reset(seed=0)
    for _ in range(2):
        action = policy.act(obs)
        assert other.action_space.contains(action)
        obs, reward, _, _, _ = other.step(action)
        assert np.isfinite(reward)


def test_environments_share_a_twin_only_through_an_explicit_pool():
    import dataclasses

    from airtwin.scenes import get_scenario
    from airtwin.twin.pool import TwinPool

    spec = dataclasses.replace(get_scenario("canyon-test"), description="twin pool test")
    pool = TwinPool(max_size=1)
    a = gym.make("AirTwin/BeamSelection-v0", scenario=spec, twin_pool=pool)
    b = gym.make("AirTwin/Precoding-v0", scenario=spec, twin_pool=pool)
    assert a.unwrapped.twin is b.unwrapped.twin and len(pool) == 1
    c = gym.make("AirTwin/BeamSelection-v0", scenario=spec)  # no pool: a twin of its own
    assert c.unwrapped.twin is not a.unwrapped.twin
    other = pool.get("city-tiny-00000")  # beyond max_size the least recently used twin is dropped
    assert len(pool) == 1 and pool.get("city-tiny-00000") is other
    a.reset(seed=0)  # a dropped twin stays usable by whoever holds it
    for env in (a, b, c):
        env.close()
        env.close()  # closing twice is harmless
    with pytest.raises(ValueError, match="max_size"):
        TwinPool(max_size=0)
    with pytest.raises(ValueError, match="unknown environment setting"):
        gym.make("AirTwin/BeamSelection-v0", scenario=spec, pilot_snr=3.0)


def test_vector_env_step_before_reset_and_float64_positions():
    from airtwin.envs.vector import TwinVectorEnv

    vec = TwinVectorEnv("AirTwin/Positioning-v0", 2, scenario="canyon-test")
    with pytest.raises(gym.error.ResetNeeded, match="before reset"):
        vec.step(vec.action_space.sample())
    vec.close()
    env = gym.make("AirTwin/Positioning-v0", scenario="canyon-test")
    env.reset(seed=0)
    _, reward, *_ = env.step(np.zeros(2, dtype=np.float64))  # float64 is cast to the space's float32
    assert np.isfinite(reward)
    with pytest.raises(ValueError, match=r"shape \(2,\) \(dtype float32; other float dtypes are cast\), got shape "
                                         r"\(3,\)"):
        env.step(np.zeros(3))
    env.close()


def test_classical_policy_acts_everywhere_and_is_the_oracle_beam_in_free_space():
    from airtwin.envs.policies import ClassicalPolicy

    env = gym.make("AirTwin/BeamSelection-v0", scenario="free-space")
    policy = ClassicalPolicy(env)
    obs, _ = env.reset(seed=0)
    for _ in range(4):
        obs, reward, _, _, info = env.step(policy.act(obs))
        assert info["has_paths"] and info["beam_correct"] and reward == 0.0
    multi = gym.make("AirTwin/AirInterface-v0", scenario=SCENARIO)
    policy = ClassicalPolicy(multi)
    for task in ("beam_selection", "precoding", "positioning"):
        obs, _ = multi.reset(seed=1, options={"task": task})
        action = policy.act(obs)
        assert multi.action_space.contains(action)
        _, reward, *_ = multi.step(action)
        assert np.isfinite(reward)


def test_precoding_sees_the_previous_pilot_and_the_classical_policy_predicts_the_aging():
    import dataclasses

    from airtwin.envs.policies import ClassicalPolicy
    from airtwin.phy.beams import action_to_precoders, eigen_precoders, sgcs
    from airtwin.phy.estimation import to_complex
    from airtwin.scenes.registry import get_scenario

    # A street canyon at 30 m/s and 3.5 GHz: over the 5 ms feedback delay the paths turn by up to 11 rad each, at
    # different rates. The two pilots 1 ms apart show the turns; near-noiseless pilots isolate the prediction.
    spec = get_scenario(SCENARIO)
    spec = dataclasses.replace(spec, mobility=dataclasses.replace(spec.mobility, speed_mps=(30.0, 30.0)))
    env = gym.make("AirTwin/Precoding-v0", scenario=spec, pilot_snr_db=60.0)
    policy, base = ClassicalPolicy(env), env.unwrapped
    predicted, latest = [], []
    for seed in range(5):  # five tracks: on one track the gain ranges from -0.01 to +0.12
        obs, _ = env.reset(seed=seed)
        assert {"csi_prev", "pilot_timing_s"} <= set(obs) and env.observation_space.contains(obs)
        np.testing.assert_allclose(obs["pilot_timing_s"], [1e-3, 5e-3], rtol=1e-6)
        for _ in range(8):
            optimum = base.task.optimum(base.channel)
            action = policy.act(obs)
            if base.channel.has_paths[0]:
                predicted.append(np.mean(sgcs(action_to_precoders(action), optimum)))
                latest.append(np.mean(sgcs(eigen_precoders(to_complex(obs["csi"])[None], len(optimum))[0], optimum)))
            obs, *_ = env.step(action)
    # A 1x4 array and 16 subcarriers resolve few paths, so the prediction is far from exact, but ahead (by 0.046
    # over these 40 steps).
    assert len(predicted) >= 20 and np.mean(predicted) > np.mean(latest) + 0.02
    one = gym.make("AirTwin/Precoding-v0", scenario=SCENARIO, pilot_gap_s=0.0)
    obs, _ = one.reset(seed=0)
    assert "csi_prev" not in obs and "csi_prev" not in one.observation_space.spaces
    # The previous pilot's noise comes from the episode's noise generator, not np_random: with and without it,
    # the same seed gives the same tracks and the same latest estimate, so the two settings compare paired.
    two = gym.make("AirTwin/Precoding-v0", scenario=SCENARIO)
    obs_two, _ = two.reset(seed=0)
    for _ in range(3):
        np.testing.assert_array_equal(obs_two["csi"], obs["csi"])
        np.testing.assert_array_equal(two.unwrapped.channel.ue_positions, one.unwrapped.channel.ue_positions)
        action = two.action_space.sample()
        obs, *_ = one.step(action)
        obs_two, *_ = two.step(action)
    with pytest.raises(ValueError, match="EnvConfig.pilot_gap_s"):
        gym.make("AirTwin/Precoding-v0", scenario=SCENARIO, pilot_gap_s=-1.0)

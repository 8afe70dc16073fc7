"""Multi-user precoding and cell/beam management: the baselines on known answers, the environments' API."""

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import airtwin.envs  # noqa: F401  (registers the environments)
from airtwin.envs.policies import A3Policy, CellGeniePolicy, MultiUserPrecoderPolicy
from airtwin.phy.handover import A3Config, A3Rule
from airtwin.phy.link import LinkBudget
from airtwin.phy.multiuser import mu_precoders, mu_sinr, user_rates


def flat_channels(u=3, a=8, k=4, seed=0, gain=1e-5):
    """``[U, A, K]`` channels constant over frequency (one subband sees one channel)."""
    g = np.random.default_rng(seed)
    h = (g.standard_normal((u, a)) + 1j * g.standard_normal((u, a))) * gain
    return np.repeat(h[:, :, None], k, axis=2)


def test_zero_forcing_nulls_the_interference_on_a_noiseless_channel():
    csi = flat_channels()
    h = csi[None, :, :, 0]  # one subband: [1, U, A]
    w = mu_precoders(h, "zf")
    assert np.linalg.norm(w[0]) == pytest.approx(1.0)
    cross = np.abs(h[0] @ w[0]) ** 2  # [U, V]: UE u's gain from stream v
    off = cross[~np.eye(3, dtype=bool)]
    assert off.max() < 1e-12 * np.diag(cross).min()
    # So SINR is the interference-free SNR of each stream, and ZF beats MRT at high SNR.
    snr = 1e13
    np.testing.assert_allclose(mu_sinr(csi, w, snr)[:, 0], snr * np.diag(cross), rtol=1e-9)
    assert user_rates(csi, w, snr).sum() > user_rates(csi, mu_precoders(h, "mrt"), snr).sum() + 5


def test_regularised_zf_tends_to_zf_and_to_mrt():
    h = flat_channels()[None, :, :, 0]
    sgcs = lambda x, y: abs(np.vdot(x.ravel(), y.ravel())) ** 2  # noqa: E731  both have unit norm
    assert sgcs(mu_precoders(h, "rzf", snr=1e20), mu_precoders(h, "zf")) == pytest.approx(1.0, abs=1e-9)
    assert sgcs(mu_precoders(h, "rzf", snr=1e-3), mu_precoders(h, "mrt")) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="rzf needs the linear P/N"):
        mu_precoders(h, "rzf")
    with pytest.raises(ValueError, match="allowed: mrt, zf, rzf"):
        mu_precoders(h, "svd")


def test_a3_hands_over_exactly_when_the_hysteresis_is_crossed():
    cfg = A3Config(hysteresis_db=2.0, offset_db=1.0, time_to_trigger_s=0.0)
    rule = A3Rule(cfg, serving=0)
    assert rule.update(np.array([-80.0, -77.0]), 0.01) == 0  # Mn - Hys = Ms + Off: not entered
    assert rule.update(np.array([-80.0, -76.99]), 0.01) == 1  # just above: hands over at once
    assert rule.update(np.array([-77.0, -80.0]), 0.01) == 1  # back: the old cell is exactly 3 dB better, not more
    assert rule.update(np.array([-76.99, -80.0]), 0.01) == 0
    # With a time-to-trigger the condition must hold for it, and a dip restarts the timer.
    rule = A3Rule(A3Config(hysteresis_db=2.0, offset_db=1.0, time_to_trigger_s=0.02), serving=0)
    better = np.array([-80.0, -70.0, -90.0])
    assert [rule.update(better, 0.01) for _ in range(2)] == [0, 0]
    assert rule.update(np.array([-80.0, -79.0, -90.0]), 0.01) == 0  # dip: the timer restarts
    assert [rule.update(better, 0.01) for _ in range(3)] == [0, 0, 1]
    with pytest.raises(ValueError, match="A3Config.hysteresis_db"):
        A3Config(hysteresis_db=-1.0)


@pytest.fixture(scope="module")
def pool():
    from airtwin.twin.pool import TwinPool

    return TwinPool()


def rollout(env, policy, seed, steps):
    obs, _ = env.reset(seed=seed)
    policy.reset()
    out = []
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(policy.act(obs))
        out.append((reward, info))
    return out


def test_multi_user_precoding_env(pool):
    env = gym.make("AirTwin/MultiUserPrecoding-v0", scenario="city-tiny-00000", num_users=3, twin_pool=pool)
    check_env(env.unwrapped, skip_render_check=True)
    assert env.action_space.shape == (4, 16, 3, 2) and env.observation_space["csi"].shape == (3, 2, 16, 32)
    again = gym.make("AirTwin/MultiUserPrecoding-v0", scenario="city-tiny-00000", num_users=3, twin_pool=pool)
    a = rollout(env, MultiUserPrecoderPolicy(env, "zf"), seed=3, steps=3)
    b = rollout(again, MultiUserPrecoderPolicy(again, "zf"), seed=3, steps=3)
    assert [r for r, _ in a] == [r for r, _ in b]  # same seed, same rollout
    genie = rollout(env, MultiUserPrecoderPolicy(env, "zf", genie=True), seed=3, steps=3)
    assert sum(r for r, _ in genie) > sum(r for r, _ in a)  # the estimate's noise costs rate
    for r, info in a:
        assert info["user_rates"].shape == (3,) and r == pytest.approx(info["sum_rate"])
    with pytest.raises(ValueError, match="MultiUserConfig.num_users"):
        gym.make("AirTwin/MultiUserPrecoding-v0", num_users=0, twin_pool=pool)
    with pytest.raises(ValueError, match="unknown environment setting"):
        gym.make("AirTwin/MultiUserPrecoding-v0", users=2, twin_pool=pool)
    pf = gym.make("AirTwin/MultiUserPrecoding-v0", scenario="city-tiny-00000", num_users=3, twin_pool=pool,
                  utility="proportional_fair")
    (r, info), = rollout(pf, MultiUserPrecoderPolicy(pf, "zf"), seed=3, steps=1)
    assert r == pytest.approx(np.log(np.maximum(info["user_rates"], 1e-3)).sum())


def test_cell_beam_management_env(pool):
    env = gym.make("AirTwin/CellBeamManagement-v0", scenario="city-tiny-cells3-00000", twin_pool=pool,
                   speed_mps=15.0, step_s=0.1)
    check_env(env.unwrapped, skip_render_check=True)
    base = env.unwrapped
    assert env.action_space.nvec.tolist() == [3, base.num_beams]
    again = gym.make("AirTwin/CellBeamManagement-v0", scenario="city-tiny-cells3-00000", twin_pool=pool,
                     speed_mps=15.0, step_s=0.1)
    a3 = rollout(env, A3Policy(env), seed=1, steps=4)
    assert [r for r, _ in a3] == [r for r, _ in rollout(again, A3Policy(again), seed=1, steps=4)]
    for reward, info in a3:
        assert info["genie_reward"] >= reward - 1e-9  # the genie's action is the step's best
    genie = rollout(env, CellGeniePolicy(env), seed=1, steps=4)
    assert all(r == pytest.approx(info["genie_reward"]) for r, info in genie)


def test_without_load_the_sinr_is_the_beamformed_snr(pool):
    env = gym.make("AirTwin/CellBeamManagement-v0", scenario="city-tiny-cells3-00000", twin_pool=pool, load=0.0,
                   handover_interruption_s=0.05, step_s=0.1)
    base = env.unwrapped
    obs, _ = env.reset(seed=0)
    site = int(np.argmax(obs["rsrp_dbm"]))
    beam = int(base.channel.best_beam[0, site])
    se, _ = base.spectral_efficiency(site, beam)
    budget = LinkBudget.of(base.twin.spec.radio)
    w = np.repeat(base.twin.codebook.weights[beam][None], base.twin.spec.codebook.num_subbands, axis=0)
    assert se == pytest.approx(budget.spectral_efficiency(base.channel.csi[0, site], w), rel=1e-9)
    other = (site + 1) % 3
    assert base.reward_of(other, beam) == pytest.approx(base.spectral_efficiency(other, beam)[0] * 0.5)
    with pytest.raises(ValueError, match="needs >= 2"):
        gym.make("AirTwin/CellBeamManagement-v0", scenario="city-tiny-00000", twin_pool=pool)


def test_evaluate_multicell_command_writes_the_tables(tmp_path, capsys):
    from airtwin.cli import main

    out = tmp_path / "mc"
    assert main(["evaluate-multicell", "--scenario", "city-tiny-cells3-00000", "--episodes", "2", "--steps", "2",
                 "--num-users", "2", "--out", str(out)]) == 0
    result = __import__("json").loads((out / "results.json").read_text())
    mu, cells = result["multi_user"], result["cells"]
    assert mu["reference"] in ("mrt", "zf", "rzf") and set(mu["policies"]) >= {"random", "zf", "zf (genie CSI)"}
    for name, row in mu["policies"].items():
        assert row["sum_rate"]["low"] <= row["sum_rate"]["value"] <= row["sum_rate"]["high"]
        if name != mu["reference"]:
            assert row["sum_rate"]["vs_reference"]["verdict"] in ("better", "worse", "not distinguishable")
    assert cells["reference"] != "genie" and "genie" in cells["policies"]
    assert cells["policies"]["genie"]["genie_site_agreement"]["value"] == 1.0
    assert (out / "report.md").read_text().startswith("# Multi-user and multi-cell")
    # The shipped checkpoint fits the tiny areas too (the map's extent is per site now, not a numerology).
    assert "skipped" not in result and "universal model" in cells["policies"]
    assert any(name.startswith("universal model") for name in mu["policies"])
    assert (out / "sum_rate_cdf.png").stat().st_size > 0 and (out / "cells_map.png").stat().st_size > 0
    track = cells["tracks"]["genie"]
    assert len(track["positions"]) == len(track["serving"]) == len(track["beam"]) == 2
    assert "Cell and beam management" in capsys.readouterr().out
    assert main(["evaluate-multicell", "--episodes", "1", "--out", str(out)]) == 2
    assert "MulticellEvalConfig.episodes = 1" in capsys.readouterr().err
    # A checkpoint of this numerology plays in both tables, compared with the strongest classical policy.
    from airtwin.model.checkpoint import save_checkpoint
    from airtwin.model.config import ModelConfig
    from airtwin.model.encoders import CSIEncoder, EnvEncoder
    from airtwin.model.universal import UniversalModel
    from airtwin.phy.tasks import DataShapes
    from airtwin.scenes import get_scenario

    shapes = DataShapes.of_scenario(get_scenario("city-tiny-cells3-00000"))
    save_checkpoint(UniversalModel.build(ModelConfig(shapes=shapes, variant="wm"), CSIEncoder(), EnvEncoder()),
                    tmp_path / "ckpt")
    assert main(["evaluate-multicell", "--scenario", "city-tiny-cells3-00000", "--episodes", "2", "--steps", "2",
                 "--num-users", "2", "--checkpoint", str(tmp_path / "ckpt"), "--out", str(tmp_path / "mc2")]) == 0
    result = __import__("json").loads((tmp_path / "mc2" / "results.json").read_text())
    assert "skipped" not in result
    row = result["cells"]["policies"]["universal model"]["reward"]
    assert row["vs_reference"]["verdict"] in ("better", "worse", "not distinguishable")
    assert "universal model (zf of its per-user precoders)" in result["multi_user"]["policies"]


def test_gymnasium_vector_env_steps_the_new_environments(pool):
    vec = gym.vector.SyncVectorEnv([
        lambda: gym.make("AirTwin/CellBeamManagement-v0", scenario="city-tiny-cells3-00000", twin_pool=pool,
                         step_s=0.1)
        for _ in range(2)])
    obs, _ = vec.reset(seed=[0, 1])
    assert obs["rsrp_dbm"].shape == (2, 3)
    obs, rewards, terms, truncs, infos = vec.step(vec.action_space.sample())
    assert rewards.shape == (2,) and np.isfinite(rewards).all()
    vec.close()



def test_universal_model_manages_cells_per_site(pool, tmp_path):
    from airtwin.model.checkpoint import save_checkpoint
    from airtwin.model.config import ModelConfig
    from airtwin.model.encoders import CSIEncoder, EnvEncoder
    from airtwin.model.policy import UniversalCellPolicy
    from airtwin.model.universal import UniversalModel
    from airtwin.phy.tasks import DataShapes

    env = gym.make("AirTwin/CellBeamManagement-v0", scenario="city-tiny-cells3-00000", twin_pool=pool, step_s=0.1)
    spec = env.unwrapped.twin.spec
    model = UniversalModel.build(ModelConfig(shapes=DataShapes.of_scenario(spec), variant="wm"), CSIEncoder(),
                                 EnvEncoder())
    save_checkpoint(model, tmp_path / "ckpt")
    policy = UniversalCellPolicy(env, tmp_path / "ckpt", device="cpu")
    obs, _ = env.reset(seed=0)
    pl, logits = policy.scores(obs["ue_position"])
    assert pl.shape == (3,) and logits.shape == (3, env.unwrapped.num_beams)
    action = policy.act(obs)
    assert env.action_space.contains(action)
    best = int(np.argmin(pl))  # the site: the lowest predicted path loss unless the serving one is within 2 dB
    expected = best if pl[best] < pl[int(obs["serving"])] - 2.0 else int(obs["serving"])
    assert action[0] == expected and action[1] == int(np.argmax(logits[expected]))
    shapes = dataclasses.replace(DataShapes.of_scenario(spec), num_subcarriers=16)  # another numerology
    save_checkpoint(UniversalModel.build(ModelConfig(shapes=shapes, variant="wm"), CSIEncoder(), EnvEncoder()),
                    tmp_path / "other")
    with pytest.raises(ValueError, match="site bs0 of city-tiny-cells3-00000: the model was trained for"):
        UniversalCellPolicy(env, tmp_path / "other", device="cpu")


def test_other_cells_interfere_with_the_multi_user_cell(pool):
    kw = dict(scenario="city-tiny-cells3-00000", twin_pool=pool, num_users=2)
    quiet = gym.make("AirTwin/MultiUserPrecoding-v0", load=0.0, **kw)
    loud = gym.make("AirTwin/MultiUserPrecoding-v0", load=1.0, **kw)
    # One step: the same drop and channel in both (the interferers are drawn after the trace).
    a = rollout(quiet, MultiUserPrecoderPolicy(quiet, "zf", genie=True), seed=4, steps=1)
    b = rollout(loud, MultiUserPrecoderPolicy(loud, "zf", genie=True), seed=4, steps=1)
    assert quiet.unwrapped.other_cell_gain is None and loud.unwrapped.other_cell_gain.shape == (2, 32)
    assert (loud.unwrapped.other_cell_gain > 0).any()
    assert sum(r for r, _ in b) < sum(r for r, _ in a)  # interference from the other sites costs rate
    # Known answer: with other-cell gain G the SINR is snr |h^T w|^2 / (1 + snr (intra + G)).
    csi = flat_channels(u=1, a=4, k=2)
    w = mu_precoders(csi[None, :, :, 0], "mrt")
    g = np.full((1, 2), 1e-10)
    expected = 1e12 * np.abs(csi[0, :, 0] @ w[0][:, 0]) ** 2 / (1 + 1e12 * 1e-10)
    np.testing.assert_allclose(mu_sinr(csi, w, 1e12, g)[0], expected, rtol=1e-9)


@pytest.mark.parametrize("env_id, kwargs", [
    ("AirTwin/MultiUserPrecoding-v0", {"scenario": "city-tiny-cells3-00000", "num_users": 2}),
    ("AirTwin/CellBeamManagement-v0", {"scenario": "city-tiny-cells3-00000", "step_s": 0.1}),
])
def test_batched_vector_env_traces_all_sub_environments_in_one_call(env_id, kwargs, pool):
    from airtwin.envs.vector import TwinVectorEnv

    vec = TwinVectorEnv(env_id, 3, twin_pool=pool, **kwargs)
    calls = []
    trace_sites = vec.twin.trace_sites
    vec.twin.trace_sites = lambda *a, **k: calls.append(len(a[0])) or trace_sites(*a, **k)
    try:
        obs, _ = vec.reset(seed=0)
        obs, rewards, terms, truncs, infos = vec.step(vec.action_space.sample())
    finally:
        vec.twin.trace_sites = trace_sites
    per_env = kwargs.get("num_users", 1)
    assert calls == [3 * per_env, 3 * per_env]  # one call per step for all sub-environments' UEs
    assert rewards.shape == (3,) and np.isfinite(rewards).all()
    assert vec.observation_space.contains(obs)



def test_universal_model_precodes_per_user(pool, tmp_path):
    from airtwin.envs.multicell import matrix_action_to_precoders
    from airtwin.model.config import ModelConfig
    from airtwin.model.encoders import CSIEncoder, EnvEncoder
    from airtwin.model.policy import UniversalMultiUserPolicy
    from airtwin.model.universal import UniversalModel
    from airtwin.phy.tasks import DataShapes

    env = gym.make("AirTwin/MultiUserPrecoding-v0", scenario="city-tiny-00000", twin_pool=pool, num_users=3)
    shapes = DataShapes.of_scenario(env.unwrapped.twin.spec)
    model = UniversalModel.build(ModelConfig(shapes=shapes, variant="wm", precoder_head="refine"), CSIEncoder(),
                                 EnvEncoder())
    obs, _ = env.reset(seed=0)
    mrt = UniversalMultiUserPolicy(env, model, combine="mrt")
    w = mrt.precoders(obs)  # [U, S, A]: an untrained refine head is the eigen-precoder of each UE's estimate
    assert w.shape == (3, shapes.num_subbands, shapes.num_antennas)
    matrix = matrix_action_to_precoders(mrt.act(obs))  # columns: each user's precoder, equal power
    for u in range(3):
        col = matrix[:, :, u] / np.linalg.norm(matrix[:, :, u], axis=-1, keepdims=True)
        np.testing.assert_allclose(np.abs(np.sum(np.conj(col) * w[u], axis=-1)), 1.0, atol=1e-5)
    zf = UniversalMultiUserPolicy(env, model, combine="zf")
    _, reward, _, _, info = env.step(zf.act(obs))
    assert np.isfinite(reward) and info["user_rates"].shape == (3,)
    with pytest.raises(ValueError, match="combine = 'svd'"):
        UniversalMultiUserPolicy(env, model, combine="svd")

"""A real RL client: Stable-Baselines3 PPO trains on AirTwin/BeamSelection-v0 without error."""

import gymnasium as gym
import numpy as np
import pytest

import airtwin.envs  # noqa: F401

sb3 = pytest.importorskip("stable_baselines3")


def test_ppo_trains_a_few_hundred_steps():
    env = gym.make("AirTwin/BeamSelection-v0", scenario="canyon-test")
    model = sb3.PPO("MultiInputPolicy", env, n_steps=128, batch_size=64, n_epochs=2, seed=0, device="cpu", verbose=0)
    model.learn(total_timesteps=256)
    assert model.num_timesteps >= 256
    obs, _ = env.reset(seed=1)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(int(action))
    _, reward, _, _, _ = env.step(int(action))
    assert np.isfinite(reward) and reward <= 0


def test_ppo_trains_on_cell_beam_management():
    env = gym.make("AirTwin/CellBeamManagement-v0", scenario="city-tiny-cells3-00000", speed_mps=15.0, step_s=0.1)
    model = sb3.PPO("MultiInputPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu", verbose=0)
    model.learn(total_timesteps=64)
    assert model.num_timesteps >= 64
    obs, _ = env.reset(seed=1)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(action)
    _, reward, _, _, info = env.step(action)
    assert np.isfinite(reward) and reward <= info["genie_reward"] + 1e-9

"""Train Stable-Baselines3 PPO on AirTwin/BeamSelection-v0 and plot its learning curve against random beams.

Reads top to bottom: arguments, seeding, training with evaluation every ``eval_every`` steps
(mean per-step beam loss in dB over ``eval_episodes`` short episodes, deterministic policy),
then the random policy's mean loss on the same evaluation seeds, a plot and a JSON record.

    .venv/bin/python examples/train_ppo_beam.py --total-steps 4000 --out out/ppo_beam
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np

import airtwin.envs  # noqa: F401  (registers the environments)
from airtwin.envs.policies import RandomPolicy


@dataclass
class Args:
    scenario: str = "city-tiny-00000"
    """Scenario the agent trains and is evaluated in."""
    total_steps: int = 4000
    """Environment steps of PPO training."""
    eval_every: int = 1000
    """Evaluate after this many training steps."""
    eval_episodes: int = 4
    """Evaluation episodes (fixed seeds) per evaluation."""
    eval_steps: int = 25
    """Steps per evaluation episode."""
    seed: int = 0
    out: str = "out/ppo_beam"


def parse_args() -> Args:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name, default in asdict(Args()).items():
        p.add_argument("--" + name.replace("_", "-"), type=type(default), default=default)
    return Args(**vars(p.parse_args()))


def evaluate(env: gym.Env, act, args: Args) -> float:
    """Mean per-step reward (beam loss [dB], <= 0) over the evaluation episodes."""
    rewards = []
    for episode in range(args.eval_episodes):
        obs, _ = env.reset(seed=10_000 + episode)
        for _ in range(args.eval_steps):
            obs, reward, _, _, _ = env.step(act(obs))
            rewards.append(reward)
    return float(np.mean(rewards))


def main() -> None:
    args = parse_args()
    from stable_baselines3 import PPO

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = gym.make("AirTwin/BeamSelection-v0", scenario=args.scenario)
    eval_env = gym.make("AirTwin/BeamSelection-v0", scenario=args.scenario)
    model = PPO("MultiInputPolicy", env, n_steps=256, batch_size=64, learning_rate=1e-3, gamma=0.5, seed=args.seed,
                device="cpu", verbose=0)

    curve = [(0, evaluate(eval_env, lambda o: int(model.predict(o, deterministic=True)[0]), args))]
    start = time.perf_counter()
    while model.num_timesteps < args.total_steps:
        model.learn(total_timesteps=args.eval_every, reset_num_timesteps=False)
        curve.append((model.num_timesteps,
                      evaluate(eval_env, lambda o: int(model.predict(o, deterministic=True)[0]), args)))
        print(f"step {model.num_timesteps:>6}: mean beam loss {curve[-1][1]:6.2f} dB "
              f"({time.perf_counter() - start:.0f} s)")
    random_policy = RandomPolicy(eval_env.action_space, seed=args.seed)
    random_loss = evaluate(eval_env, random_policy.act, args)
    print(f"random policy: mean beam loss {random_loss:6.2f} dB")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps, losses = zip(*curve)
    ax.plot(steps, losses, marker="o", label="PPO (deterministic)")
    ax.axhline(random_loss, color="grey", linestyle="--", label="random beam")
    ax.axhline(0.0, color="green", linestyle=":", label="oracle (best beam)")
    ax.set_xlabel("training steps")
    ax.set_ylabel("mean beam loss vs. best [dB]")
    ax.set_title(f"PPO on AirTwin/BeamSelection-v0 ({args.scenario})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "learning_curve.png", dpi=120)
    (out / "learning_curve.json").write_text(json.dumps({"args": asdict(args), "curve": curve,
                                                         "random_loss_db": random_loss}, indent=1))
    print(f"wrote {out / 'learning_curve.png'}")


if __name__ == "__main__":
    main()

"""Train Stable-Baselines3 PPO on AirTwin/CellBeamManagement-v0 and plot its learning curve against the A3 rule,
the strongest reported site, random actions and the genie.

Reads top to bottom: arguments, the environment (one UE driving through a multi-site city at
``speed_mps``), PPO training with an evaluation every ``eval_every`` steps (mean per-step reward, i.e. spectral
efficiency less the handover interruption, over ``eval_episodes`` fixed-seed episodes, deterministic policy),
the baselines on the same evaluation seeds, a plot and a JSON record.

    .venv/bin/python examples/train_ppo_cells.py --total-steps 3000 --out out/ppo_cells
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
from airtwin.envs.policies import A3Policy, CellGeniePolicy, RandomPolicy
from airtwin.phy.handover import A3Config
from airtwin.twin.pool import TwinPool


@dataclass
class Args:
    scenario: str = "city-tiny-cells3-00000"
    """Multi-site scenario the agent trains and is evaluated in."""
    speed_mps: float = 15.0
    """UE speed [m/s]."""
    step_s: float = 0.1
    """Decision period [s]."""
    total_steps: int = 3000
    """Environment steps of PPO training."""
    eval_every: int = 1000
    """Evaluate after this many training steps."""
    eval_episodes: int = 4
    """Evaluation episodes (fixed seeds) per evaluation."""
    eval_steps: int = 25
    """Steps per evaluation episode."""
    seed: int = 0
    out: str = "out/ppo_cells"


def parse_args() -> Args:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name, default in asdict(Args()).items():
        p.add_argument("--" + name.replace("_", "-"), type=type(default), default=default)
    return Args(**vars(p.parse_args()))


def evaluate(env: gym.Env, policy, args: Args) -> float:
    """Mean per-step reward [bit/s/Hz] over the evaluation episodes."""
    rewards = []
    for episode in range(args.eval_episodes):
        obs, _ = env.reset(seed=10_000 + episode)
        policy.reset()
        for _ in range(args.eval_steps):
            obs, reward, _, _, _ = env.step(policy.act(obs))
            rewards.append(reward)
    return float(np.mean(rewards))


class SB3Policy:
    """A trained SB3 model behind the ``act``/``reset`` interface of ``envs/policies.py``."""

    def __init__(self, model):
        self.model = model

    def reset(self) -> None:
        pass

    def act(self, obs):
        return self.model.predict(obs, deterministic=True)[0]


def main() -> None:
    args = parse_args()
    from stable_baselines3 import PPO

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pool = TwinPool()
    make = lambda: gym.make("AirTwin/CellBeamManagement-v0", scenario=args.scenario, twin_pool=pool,  # noqa: E731
                            speed_mps=args.speed_mps, step_s=args.step_s)
    env, eval_env = make(), make()
    model = PPO("MultiInputPolicy", env, n_steps=256, batch_size=64, learning_rate=3e-4, gamma=0.9, seed=args.seed,
                device="cpu", verbose=0)
    agent = SB3Policy(model)
    curve = [(0, evaluate(eval_env, agent, args))]
    start = time.perf_counter()
    while model.num_timesteps < args.total_steps:
        model.learn(total_timesteps=args.eval_every, reset_num_timesteps=False)
        curve.append((model.num_timesteps, evaluate(eval_env, agent, args)))
        print(f"step {model.num_timesteps:>6}: mean reward {curve[-1][1]:6.2f} bit/s/Hz "
              f"({time.perf_counter() - start:.0f} s)")
    baselines = {"A3 (3GPP)": A3Policy(eval_env, A3Config()),
                 "strongest reported site": A3Policy(eval_env, A3Config(0.0, 0.0, 0.0)),
                 "random": RandomPolicy(eval_env.action_space, seed=args.seed),
                 "genie": CellGeniePolicy(eval_env)}
    scores = {name: evaluate(eval_env, p, args) for name, p in baselines.items()}
    for name, score in scores.items():
        print(f"{name}: mean reward {score:6.2f} bit/s/Hz")

    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 3.8))
    ax = fig.subplots()
    steps, values = zip(*curve)
    ax.plot(steps, values, marker="o", label="PPO (deterministic)")
    for (name, score), style in zip(scores.items(), ("--", "-.", ":", "-")):
        ax.axhline(score, linestyle=style, color="grey" if name != "genie" else "green", label=name)
    ax.set_xlabel("training steps")
    ax.set_ylabel("mean reward [bit/s/Hz]")
    ax.set_title(f"PPO on AirTwin/CellBeamManagement-v0 ({args.scenario}, {args.speed_mps:g} m/s)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "learning_curve.png", dpi=120)
    (out / "learning_curve.json").write_text(json.dumps({"args": asdict(args), "curve": curve, "baselines": scores},
                                                        indent=1))
    print(f"wrote {out / 'learning_curve.png'}")


if __name__ == "__main__":
    main()

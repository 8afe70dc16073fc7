"""Universal-model training and inference speed on the CPU and on a CUDA GPU, measured side by side in one run.

Same model (the ``full`` variant with the MiniLM backbone, or ``--backbone DIR``), same seed, on each
device. A training step is what ``airtwin train`` does per step: one batch of ``--batch-size`` samples
per task for all five tasks (observations built with pilot noise on the CPU by ``task_batch``, as in training,
the previous pilot included), the summed
loss, backward, gradient clipping and an AdamW step; HDF5 reading is not included. Inference is one
``predict`` per task at batch 1 and 64 (the mean over tasks, and each task at batch 64). Devices alternate every
round; medians over rounds are reported, with the CPU/GPU ratio (> 1: the GPU is faster).

    python benchmarks/model_devices.py [--backbone minilm] [--batch-size 32] [--steps 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from airtwin.model.config import ModelConfig
from airtwin.model.encoders import CSIEncoder, EnvEncoder
from airtwin.model.train import task_batch
from airtwin.model.universal import UniversalModel, task_loss
from airtwin.phy.tasks import TASK_NAMES as TASKS
from model_latency import SHAPES, fields_of  # the same random samples in the procedural suites' numerology


def build(backbone: str, device: str) -> UniversalModel:
    model = UniversalModel.build(ModelConfig(shapes=SHAPES, backbone=backbone), CSIEncoder(), EnvEncoder())
    return model.to(device)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def train_steps(model: UniversalModel, device: str, batch_size: int, steps: int, seed: int) -> float:
    """Seconds per training step (median over ``steps`` after one warm-up step)."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3)
    model.train()
    times = []
    for step in range(steps + 1):
        rng = np.random.default_rng([seed, step])
        start = time.perf_counter()
        total = 0.0
        for task in TASKS:
            total = total + task_loss(model, task, *task_batch(model, task, fields_of(batch_size, rng), rng))
        opt.zero_grad()
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sync(device)
        if step:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


@torch.no_grad()
def predict_ms(model: UniversalModel, device: str, n: int, repeats: int, seed: int) -> dict[str, float]:
    """Milliseconds per ``predict`` call of each task (median over repeats), result copied to the CPU."""
    model.eval()
    rng = np.random.default_rng(seed)
    f = fields_of(n, rng)
    per_task = {}
    for task in TASKS:
        obs = task_batch(model, task, f, rng)[0]
        model.predict(task, obs).cpu()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model.predict(task, obs).cpu()
            times.append(time.perf_counter() - start)
        per_task[task] = 1e3 * statistics.median(times)
    return per_task


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backbone", default="minilm", help="'minilm' or a local Hugging Face checkpoint directory")
    p.add_argument("--batch-size", type=int, default=32, help="samples per task per training step")
    p.add_argument("--steps", type=int, default=10, help="timed training steps per round and device")
    p.add_argument("--rounds", type=int, default=3, help="rounds; the devices alternate within each")
    p.add_argument("--repeats", type=int, default=10, help="timed predict calls per task, batch size and round")
    args = p.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, GPU: {gpu}; backbone {args.backbone}")
    models = {d: build(args.backbone, d) for d in devices}
    res: dict[str, dict[str, list[float]]] = {d: {"train": [], "p1": [], "p64": []} for d in devices}
    tasks64: dict[str, dict[str, list[float]]] = {d: {t: [] for t in TASKS} for d in devices}
    for r in range(args.rounds):
        for d in devices if r % 2 == 0 else devices[::-1]:
            res[d]["train"].append(train_steps(models[d], d, args.batch_size, args.steps, seed=r))
            res[d]["p1"].append(statistics.mean(predict_ms(models[d], d, 1, args.repeats, seed=r).values()))
            per_task = predict_ms(models[d], d, 64, args.repeats, seed=r)
            res[d]["p64"].append(statistics.mean(per_task.values()))
            for t, ms in per_task.items():
                tasks64[d][t].append(ms)
    med = {d: {k: statistics.median(v) for k, v in m.items()} for d, m in res.items()}
    print(f"{'device':>6} | {'train step [s]':>14} | {'samples/s':>9} | {'predict b1 [ms]':>15} | {'predict b64 [ms]':>16}")
    for d in devices:
        m = med[d]
        print(f"{d:>6} | {m['train']:>14.4f} | {5 * args.batch_size / m['train']:>9.0f} | {m['p1']:>15.2f} | "
              f"{m['p64']:>16.2f}")
    print("predict batch 64 per task [ms]: " + "; ".join(
        f"{d}: " + ", ".join(f"{t} {statistics.median(v):.1f}" for t, v in tasks64[d].items()) for d in devices))
    if "cuda" in med:
        c, g = med["cpu"], med["cuda"]
        print(f"CPU/GPU time ratio: training step {c['train'] / g['train']:.2f}, predict batch 1 "
              f"{c['p1'] / g['p1']:.2f}, predict batch 64 {c['p64'] / g['p64']:.2f}")


if __name__ == "__main__":
    main()

"""Universal-model inference latency on the CPU (batch 1 and 64) and trainable vs. total parameters, per variant.

Shapes are those of the procedural suites (2x8 BS array, 32 subcarriers, 4 subbands, 16 beams,
64x64 height map). Latency is the median over repeats of one ``predict`` call per task, averaged
over the five tasks, divided by the batch size (per-sample latency).

    python benchmarks/model_latency.py [--variants full wm] [--repeats 5] [--threads 1]
    python benchmarks/model_latency.py --checkpoint model/checkpoints/default --int8 [--data TEST_DIR]

``--int8`` measures float32 and int8 (``UniversalModel.for_inference(int8=True)``) side by side, task by task
interleaved, and prints their ratio; with ``--data`` it also scores both on a dataset and prints int8 - float32 of
every metric with its paired-bootstrap 95 % interval.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from airtwin.model.config import VARIANTS, ModelConfig
from airtwin.model.encoders import CSIEncoder, EnvEncoder
from airtwin.model.features import to_tensors
from airtwin.model.universal import UniversalModel
from airtwin.phy.estimation import DEFAULT_PILOT_SNR_DB
from airtwin.phy.tasks import TASK_NAMES as TASKS
from airtwin.phy.beams import element_positions
from airtwin.phy.ofdm import subcarrier_offsets_hz
from airtwin.phy.tasks import DataShapes, Numerology, observe

SHAPES = DataShapes(num_antennas=16, num_subcarriers=32, num_subbands=4, num_beams=16, map_cells=64)
ARRAY = Numerology(num_rows=2, num_cols=8, vertical_spacing=0.5, horizontal_spacing=0.5, num_subcarriers=32,
                   subcarrier_spacing_hz=625e3, oversampling_h=1, oversampling_v=1, num_subbands=4, map_cells=64)


def fields_of(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Dataset fields of ``n`` random samples in the procedural suites' numerology, the previous pilot and the
    training targets included (what ``AirTwinDataset.read_batch`` gives): ``csi``/``csi_prev``/``csi_aged``
    ``[n, 16, 32]``, ``height_map`` ``[n, 64, 64]`` [m], positions [m], ``path_loss_db`` [dB]."""
    c = lambda *s: (rng.standard_normal(s) + 1j * rng.standard_normal(s)).astype(np.complex64)  # noqa: E731
    w = c(n, SHAPES.num_subbands, SHAPES.num_antennas)
    k, a = SHAPES.num_subcarriers, SHAPES.num_antennas
    return {"csi": c(n, a, k), "csi_prev": c(n, a, k), "csi_aged": c(n, a, k),
            "pilot_gap_s": np.full(n, 1e-3), "aging_delay_s": np.full(n, 5e-3),
            "subcarrier_frequencies_hz": np.tile(subcarrier_offsets_hz(k, 625e3), (n, 1)),
            "antenna_positions": np.tile(element_positions(ARRAY), (n, 1, 1)),
            "height_map": (rng.random((n, 64, 64)) * 30).astype(np.float32),
            "map_range_m": np.full(n, 260.0, np.float32),
            "bs_position": np.tile(np.array([0.0, 0.0, 25.0], np.float32), (n, 1)),
            "bs_orientation_deg": np.zeros((n, 3), np.float32),
            "ue_position": (rng.standard_normal((n, 3)) * 50 * [1, 1, 0] + [0, 0, 1.5]).astype(np.float32),
            "los": rng.random(n) < 0.5, "precoders": w / np.linalg.norm(w, axis=-1, keepdims=True),
            "best_beam": rng.integers(0, SHAPES.num_beams, n),
            "beam_gain_db": rng.standard_normal((n, SHAPES.num_beams)).astype(np.float32),
            "path_loss_db": (rng.random(n) * 60 + 80).astype(np.float32)}


def batch_of(n: int) -> dict[str, torch.Tensor]:
    """Observations of both modalities for ``n`` random samples (what the environments emit, the previous pilot
    included: precoding predicts the channel from both)."""
    g = np.random.default_rng(0)
    fields = fields_of(n, g)
    return to_tensors({**observe("csi", fields, DEFAULT_PILOT_SNR_DB, g), **observe("env", fields, 0.0, g)})


@torch.no_grad()
def latency_ms(model: UniversalModel, n: int, repeats: int) -> dict[str, float]:
    """Per-sample latency [ms] of each task's ``predict`` at batch ``n`` (median over ``repeats``)."""
    batch = batch_of(n)
    per_task = {}
    for task in TASKS:
        model.predict(task, batch)  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model.predict(task, batch)
            times.append(time.perf_counter() - start)
        per_task[task] = 1e3 * statistics.median(times) / n
    return per_task


@torch.no_grad()
def int8_side_by_side(checkpoint: str, repeats: int, data: str | None, max_samples: int | None) -> None:
    """Float32 and int8 copies of ``checkpoint``: batch-1 latency per task (interleaved repeats) and, with
    ``data``, each metric's int8 - float32 difference on the same samples."""
    from airtwin.model.checkpoint import load_checkpoint

    fp32 = load_checkpoint(checkpoint, device="cpu").for_inference()
    int8 = load_checkpoint(checkpoint, device="cpu").for_inference(int8=True)
    batch = batch_of(1)
    print(f"{checkpoint}: batch-1 latency [ms], median of {repeats}, float32 and int8 interleaved")
    ratios = []
    for task in TASKS:
        times = {"fp32": [], "int8": []}
        for model in (fp32, int8):
            model.predict(task, batch)  # warm-up
        for _ in range(repeats):
            for name, model in (("fp32", fp32), ("int8", int8)):
                start = time.perf_counter()
                model.predict(task, batch)
                times[name].append(time.perf_counter() - start)
        a, b = (1e3 * statistics.median(times[k]) for k in ("fp32", "int8"))
        ratios.append(a / b)
        print(f"{task:>15}: float32 {a:6.2f}  int8 {b:6.2f}  ratio {a / b:4.2f}")
    print(f"{'mean':>15}: ratio {statistics.mean(ratios):4.2f}")
    if data is None:
        return
    from airtwin.datagen.reader import AirTwinDataset
    from airtwin.model.train import model_samples
    from airtwin.phy.metrics import better, paired_difference, summarize

    ds = AirTwinDataset(data)
    scores = {name: {k: v for s in model_samples(m, ds, max_samples).values() for k, v in s.items()}
              for name, m in (("fp32", fp32), ("int8", int8))}
    diff = paired_difference(scores["int8"], scores["fp32"], np.random.default_rng(0))
    values = {name: summarize(s) for name, s in scores.items()}
    print(f"{data}: {len(next(iter(scores['fp32'].values())))} samples; int8 - float32 [95 % paired interval]")
    for metric, (d, lo, hi) in diff.items():
        print(f"{metric:>17}: float32 {values['fp32'][metric]:8.3f}  int8 {values['int8'][metric]:8.3f}  "
              f"{d:+.4f} [{lo:+.4f}, {hi:+.4f}] {better(metric, (d, lo, hi))}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--variants", nargs="+", default=list(VARIANTS))
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads (default: torch's, one per core); 1 suits batch-1 decisions")
    p.add_argument("--checkpoint", default=None, help="with --int8: the checkpoint to measure")
    p.add_argument("--int8", action="store_true", help="float32 against int8 dynamic quantisation, side by side")
    p.add_argument("--data", default=None, help="with --int8: a dataset to score both on")
    p.add_argument("--max-samples", type=int, default=None, help="with --data: at most this many samples")
    args = p.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.int8:
        from airtwin.model.checkpoint import default_checkpoint

        int8_side_by_side(args.checkpoint or str(default_checkpoint()), args.repeats, args.data, args.max_samples)
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; per-sample latency, mean over the 5 tasks")
    print(f"{'variant':>7} | {'trainable':>10} | {'total':>11} | {'batch 1 [ms]':>12} | {'batch 64 [ms/sample]':>20} | "
          f"batch 1 per task [ms]")
    for variant in args.variants:
        model = UniversalModel.build(ModelConfig(shapes=SHAPES, variant=variant), CSIEncoder(), EnvEncoder()).for_inference()
        trainable, total = model.parameter_counts()
        one, many = latency_ms(model, 1, args.repeats), latency_ms(model, 64, args.repeats)
        tasks = ", ".join(f"{t} {v:.1f}" for t, v in one.items())
        print(f"{variant:>7} | {trainable:>10,} | {total:>11,} | {statistics.mean(one.values()):>12.2f} | "
              f"{statistics.mean(many.values()):>20.3f} | {tasks}")


if __name__ == "__main__":
    main()

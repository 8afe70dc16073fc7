"""The benchmarks' synthetic samples stay in step with what the model reads (a field the model gained broke
``benchmarks/model_devices.py`` once, unnoticed, since no test ran it)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from airtwin.model.config import ModelConfig
from airtwin.model.encoders import CSIEncoder, EnvEncoder
from airtwin.model.train import task_batch
from airtwin.model.universal import UniversalModel
from airtwin.phy.tasks import OBSERVATION_KEYS, PILOT_KEYS, TASK_NAMES, TASKS


def _script(name: str, folder: str = "benchmarks"):
    """The module of ``FOLDER/NAME.py`` (benchmarks and scripts are files, not package modules)."""
    path = Path(__file__).parents[1] / folder / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{folder}_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmarks_samples_feed_every_task_of_the_default_heads():
    latency = _script("model_latency")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = UniversalModel.build(ModelConfig(shapes=latency.SHAPES, variant="wm"), CSIEncoder(), EnvEncoder())
    rng = np.random.default_rng(0)
    fields = latency.fields_of(3, rng)
    for task in TASK_NAMES:
        obs, target = task_batch(model, task, fields, rng)
        modality = TASKS[task].modality
        want = set(OBSERVATION_KEYS[modality]) | (set(PILOT_KEYS) if modality == "csi" else set())
        assert want <= set(obs), (task, want - set(obs))
        assert len(target) == 3
        with torch.no_grad():
            out = model.eval().predict(task, obs)
        assert len(out) == 3 and torch.isfinite(torch.view_as_real(out) if out.is_complex() else out).all(), task
    batch = latency.batch_of(2)
    assert set(batch) >= set(OBSERVATION_KEYS["csi"]) | set(PILOT_KEYS) | set(OBSERVATION_KEYS["env"])

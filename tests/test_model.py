"""The universal model: every variant trains a step, checkpoints round-trip, bad checkpoints are refused."""

import json
import re
import shutil

import numpy as np
import pytest
import torch

from airtwin.model.checkpoint import CheckpointError, load_checkpoint, read_config, save_checkpoint
from airtwin.model.config import VARIANTS, ModelConfig, TrainConfig
from airtwin.phy.tasks import TASK_NAMES as TASKS
from airtwin.phy.tasks import DataShapes
from airtwin.model.encoders import CSIEncoder, EnvEncoder
from airtwin.model.train import task_batch
from airtwin.model.universal import UniversalModel, task_loss

SHAPES = DataShapes(num_antennas=4, num_subcarriers=8, num_subbands=2, num_beams=4, map_cells=16)


def tiny_batch(n=4, seed=0):
    """Dataset fields of ``n`` samples (NumPy, as ``AirTwinDataset.read_batch`` gives them)."""
    g = np.random.default_rng(seed)
    c = lambda *s: (g.standard_normal(s) + 1j * g.standard_normal(s)).astype(np.complex64)  # noqa: E731
    w = c(n, 2, 4)
    return {"csi": c(n, 4, 8), "csi_aged": c(n, 4, 8), "height_map": (g.random((n, 16, 16)) * 30).astype(np.float32),
            "map_range_m": np.full(n, 40.0, np.float32), "bs_position": np.zeros((n, 3), np.float32),
            "bs_orientation_deg": np.tile(np.array([30.0, 0.0, 0.0], np.float32), (n, 1)),
            "ue_position": (g.standard_normal((n, 3)) * 10).astype(np.float32),
            "los": np.array([0, 1] * (n // 2), bool), "precoders": w / np.sqrt((np.abs(w) ** 2).sum(-1, keepdims=True)),
            "best_beam": np.arange(n) % 4, "beam_gain_db": g.standard_normal((n, 4)).astype(np.float32),
            "path_loss_db": (g.random(n) * 40 + 80).astype(np.float32),
            "subcarrier_frequencies_hz": np.tile((np.arange(8) - 4) * 625e3, (n, 1)),
            "antenna_positions": np.tile(np.stack([np.zeros(4), (np.arange(4) - 1.5) / 2, np.zeros(4)], 1), (n, 1, 1))}


def obs(model, task, batch, seed=0):
    """The task's observation of ``batch`` (pilot noise from ``seed``)."""
    return task_batch(model, task, batch, np.random.default_rng(seed))[0]


def total_loss(model, batch, seed=0):
    return sum(task_loss(model, t, *task_batch(model, t, batch, np.random.default_rng(seed))) for t in TASKS)


def build(variant, seed=0, **kw):
    """A tiny model whose random weights depend on ``seed`` only, not on the tests that ran before (torch's global
    RNG is forked, seeded and restored)."""
    cfg = ModelConfig(shapes=SHAPES, variant=variant, **kw)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return UniversalModel.build(cfg, CSIEncoder(), EnvEncoder())


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_forwards_and_trains_a_step(variant):
    model = build(variant)
    trainable_before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    frozen_before = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    batch = tiny_batch()
    loss = total_loss(model, batch)
    assert torch.isfinite(loss)
    opt.zero_grad()
    loss.backward()
    opt.step()
    changed = [n for n, p in model.named_parameters() if p.requires_grad and not torch.equal(p, trainable_before[n])]
    assert changed, "no trainable parameter moved"
    for n, p in model.named_parameters():
        if not p.requires_grad:
            assert torch.equal(p, frozen_before[n]), f"frozen parameter {n} changed"
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any(n.startswith("heads.") for n in names)
    assert any("lora_" in n for n in names) == (variant not in ("wl", "wm"))
    assert any(n.startswith("prefix") for n in names) == (variant not in ("fp", "wm"))
    assert any(n.startswith("csi_encoder.") for n in names) == (variant == "te")
    assert (model.backbone is None) == (variant == "wm")
    out = model.predict("precoding", obs(model, "precoding", batch))
    assert out.shape == (4, 2, 4) and torch.allclose(out.abs().pow(2).sum(-1), torch.ones(4, 2), atol=1e-5)
    assert model.predict("positioning", obs(model, "positioning", batch)).shape == (4, 2)
    assert model.predict("path_loss", obs(model, "path_loss", batch)).shape == (4,)


def test_rl_backbone_differs_from_pretrained():
    full, rl = build("full"), build("rl")
    w_full = dict(full.backbone.named_parameters())
    w_rl = dict(rl.backbone.named_parameters())
    key = next(k for k in w_full if "word_embeddings" in k)
    assert not torch.equal(w_full[key], w_rl[key])


@pytest.mark.parametrize("variant", ["full", "rl", "wm", "sp"])
def test_save_load_round_trip_gives_identical_outputs(tmp_path, variant):
    model = build(variant)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    batch = tiny_batch()
    loss = total_loss(model, batch)
    loss.backward()
    opt.step()  # so that LoRA B matrices are no longer zero
    model.eval()
    save_checkpoint(model, tmp_path / "ckpt")
    loaded = load_checkpoint(tmp_path / "ckpt", device="cpu")  # the device of ``model``
    loaded.eval()
    for task in TASKS:
        a = model.predict(task, obs(model, task, batch, seed=1))
        b = loaded.predict(task, obs(loaded, task, batch, seed=1))
        assert torch.equal(a, b), task
    assert (tmp_path / "ckpt" / "lora" / "adapter_model.safetensors").exists() == (variant not in ("wl", "wm"))
    from safetensors.torch import load_file

    keys = load_file(str(tmp_path / "ckpt" / "weights.safetensors")).keys()
    assert not [k for k in keys if "embeddings" in k or k.startswith("backbone.")]  # the backbone is never copied
    mode = (tmp_path / "ckpt" / "config.json").stat().st_mode & 0o777  # the umask's, as for any file written
    assert {p.stat().st_mode & 0o777 for p in (tmp_path / "ckpt").rglob("*.safetensors")} == {mode}


@pytest.fixture
def saved(tmp_path):
    model = build("full")
    save_checkpoint(model, tmp_path / "ckpt")
    return tmp_path / "ckpt"


def test_corrupted_weights_are_refused(saved):
    data = bytearray((saved / "weights.safetensors").read_bytes())
    (saved / "weights.safetensors").write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(CheckpointError, match=r"weights.safetensors is corrupted: its sha256"):
        load_checkpoint(saved)


def test_mismatched_shapes_are_refused(saved):
    cfg = json.loads((saved / "config.json").read_text())
    cfg["model"]["shapes"]["num_beams"] = 8
    (saved / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"heads.beam_selection.(weight|bias) has shape"):
        load_checkpoint(saved)


def test_wrong_format_missing_lora_and_pickles_are_refused(saved, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(saved, other)
    cfg = json.loads((other / "config.json").read_text())
    cfg["format"] = "something-else"
    (other / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="format"):
        load_checkpoint(other)
    nolora = tmp_path / "nolora"
    shutil.copytree(saved, nolora)
    shutil.rmtree(nolora / "lora")
    with pytest.raises(CheckpointError, match=r"lora/[A-Za-z_.]+ is missing"):
        load_checkpoint(nolora)
    pickled = tmp_path / "pickled"
    shutil.copytree(saved, pickled)
    (pickled / "lora" / "adapter_model.bin").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(CheckpointError, match="refusing pickled"):
        load_checkpoint(pickled)
    with pytest.raises(CheckpointError, match="nowhere does not exist"):
        load_checkpoint(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no config.json"):
        load_checkpoint(tmp_path / "empty")


def _rehash(ckpt):
    """Record the current sha256 of every file (what a careless tool would do after editing one)."""
    from airtwin.datagen.shard import file_sha256

    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["files"] = {rel: file_sha256(ckpt / rel) for rel in cfg["files"]}
    (ckpt / "config.json").write_text(json.dumps(cfg))


def _edit_config(ckpt, change):
    cfg = json.loads((ckpt / "config.json").read_text())
    change(cfg)
    (ckpt / "config.json").write_text(json.dumps(cfg))


def _flip_byte(path, offset=-100):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


CORRUPTIONS = {
    "flipped byte in weights": (lambda c: _flip_byte(c / "weights.safetensors"), r"weights.safetensors is corrupted"),
    "truncated adapter": (lambda c: (c / "lora" / "adapter_model.safetensors").write_bytes(
        (c / "lora" / "adapter_model.safetensors").read_bytes()[:100]), r"adapter_model.safetensors is corrupted"),
    "truncated adapter, rehashed": (lambda c: ((c / "lora" / "adapter_model.safetensors").write_bytes(
        (c / "lora" / "adapter_model.safetensors").read_bytes()[:100]), _rehash(c)),
        r"the LoRA adapter cannot be read"),
    "no checksums": (lambda c: (c / "config.json").write_text(json.dumps(
        {k: v for k, v in json.loads((c / "config.json").read_text()).items() if k != "files"})),
        r"records no file checksums"),
    "checksum of a file outside": (lambda c: (c / "config.json").write_text(json.dumps(
        {**json.loads((c / "config.json").read_text()), "files": {"../x": "0" * 64}})), r"\.\./x is missing"),
    "LoRA rank differs from the adapter": (lambda c: _edit_config(c, lambda cfg: cfg["model"].update(lora_r=4)),
                                           r"config.json says LoRA rank 4, the adapter has r = 8"),
}


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_checkpoint_corruption_matrix(saved, case):
    corrupt, match = CORRUPTIONS[case]
    corrupt(saved)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(saved)


def test_non_finite_tensors_are_never_written_nor_loaded(saved, tmp_path):
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(saved / "weights.safetensors"))
    name = next(k for k, v in tensors.items() if v.is_floating_point())
    tensors[name] = torch.full_like(tensors[name], float("nan"))
    save_file(tensors, str(saved / "weights.safetensors"))
    _rehash(saved)
    with pytest.raises(CheckpointError, match=r"non-finite values \(NaN or inf\) in \[" + re.escape(repr(name))):
        load_checkpoint(saved)
    model = build("full")
    with torch.no_grad():
        next(p for p in model.parameters() if p.requires_grad).fill_(float("inf"))
    with pytest.raises(CheckpointError, match="refusing to write"):
        save_checkpoint(model, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_bad_model_config():
    with pytest.raises(ValueError, match="ModelConfig.variant"):
        ModelConfig(shapes=SHAPES, variant="xl")
    with pytest.raises(ValueError, match="ModelConfig.tasks"):
        ModelConfig(shapes=SHAPES, tasks=("dancing",))
    with pytest.raises(ValueError, match="not 'minilm' and not a local"):
        UniversalModel.build(ModelConfig(shapes=SHAPES, backbone="/nowhere"), CSIEncoder(), EnvEncoder())
    with pytest.raises(ValueError, match="needs pretrained encoders"):
        UniversalModel.build(ModelConfig(shapes=SHAPES))


def test_pretrain_train_resume_and_baselines_end_to_end(tmp_path):
    """Tiny real pipeline: dataset -> contrastive encoders -> multi-task training (resumed) -> metrics."""
    from airtwin.datagen.generate import generate
    from airtwin.datagen.plan import GenerateConfig
    from airtwin.datagen.reader import AirTwinDataset
    from airtwin.model.baselines import evaluate_baselines
    from airtwin.model.pretrain import PretrainConfig, load_encoders, pretrain_encoders
    from airtwin.model.train import build_model, evaluate_model, fit_precoder_smoothing, train

    data = tmp_path / "data"
    generate(GenerateConfig(suite="tiny", samples=96, shard_size=24, batch_size=24), data)
    _, _, metrics = pretrain_encoders(data, tmp_path / "enc", PretrainConfig(steps=3, batch_size=16), log=lambda m: None)
    assert 0 <= metrics["heldout_retrieval_top1"] <= 1
    load_encoders(tmp_path / "enc")
    enc = tmp_path / "enc"
    assert (enc / "encoders.safetensors").stat().st_mode & 0o777 == (enc / "encoders.json").stat().st_mode & 0o777
    cfg = TrainConfig(data=str(data), out=str(tmp_path / "run"), encoders=str(tmp_path / "enc"), steps=2,
                      batch_size=8, eval_every=1, eval_samples=16)
    train(cfg, log=lambda m: None, progress=False)
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2 and "pos_cdf90_m" in json.loads(lines[-1])["validation"]
    cfg4 = TrainConfig(**{**cfg.__dict__, "steps": 3})
    with pytest.raises(ValueError, match="other settings"):
        train(cfg4, log=lambda m: None, progress=False)
    logs = []
    shutil.rmtree(tmp_path / "run" / "final")
    # same settings on a named device: resumes at step 2 and only finalises (a run may move between devices)
    train(TrainConfig(**{**cfg.__dict__, "device": "cpu"}), log=logs.append, progress=False)
    assert any("resuming from step 2" in m for m in logs)
    # The switch of the (default) switch-refine precoding head is fitted after the last step, and kept only
    # where it beats the classical switch on the validation drops.
    _, saved = read_config(tmp_path / "run" / "final")
    fitted = saved["train"]["precoder_switch"]
    assert fitted["fit_samples"] > 0 and fitted["select_sgcs"]["fitted"] >= fitted["select_sgcs"]["start"]
    assert (fitted["best_step"] == 0) == (fitted["select_sgcs"]["fitted"] == fitted["select_sgcs"]["start"])
    ds = AirTwinDataset(data, split="train")
    model = load_checkpoint(tmp_path / "run" / "final")
    assert model.cfg.precoder_smoothing == fit_precoder_smoothing(ds, model.cfg.pilot_snr_db, cfg.seed)  # recorded
    assert build_model(TrainConfig(**{**cfg.__dict__, "precoder_smoothing": 0.5}), ds).cfg.precoder_smoothing == 0.5
    m = evaluate_model(model, ds, 32)
    for key in ("pos_median_m", "los_accuracy", "sgcs", "beam_top1", "beam_top3", "beam_snr_loss_db", "pl_rmse_db"):
        assert np.isfinite(m[key]), key
    b = evaluate_baselines(ds, ds, max_test=32)
    assert b["beam_top1"] > 0.5  # fitted and evaluated on the same area: lookup finds its own samples
    assert b["pos_median_m"] < m["pos_median_m"] + 1e6


def test_training_stops_on_a_non_finite_loss_naming_step_and_shard(tmp_path):
    import h5py

    from airtwin.datagen.generate import generate, read_manifest, write_manifest
    from airtwin.datagen.plan import GenerateConfig
    from airtwin.datagen.shard import file_sha256
    from airtwin.model.train import NonFiniteLossError, TrainConfig, train

    data = tmp_path / "data"
    generate(GenerateConfig(suite="tiny", samples=48, shard_size=24, batch_size=24), data)
    manifest = read_manifest(data)
    record = next(r for r in manifest["shards"] if r["split"] == "train")
    with h5py.File(data / record["file"], "r+") as f:
        f["samples/ue_position"][...] = np.nan
    record["sha256"] = file_sha256(data / record["file"])  # a consistent but poisoned dataset
    write_manifest(data, manifest)
    cfg = TrainConfig(data=str(data), out=str(tmp_path / "run"), variant="te", tasks=("positioning",), steps=3,
                      batch_size=8, eval_every=1, eval_samples=8)
    with pytest.raises(NonFiniteLossError, match=r"step 1: the positioning loss is nan on a batch from "
                                                 + record["file"]):
        train(cfg, log=lambda m: None, progress=False)
    assert not (tmp_path / "run" / "final").exists() and not (tmp_path / "run" / "last").exists()

    # A dataset of held-out areas only has nothing to train on: say so.
    (tmp_path / "heldout-only.toml").write_text('name = "heldout-only"\nscenarios = ["canyon-test"]\n')
    generate(GenerateConfig(suite=str(tmp_path / "heldout-only.toml"), samples=8, shard_size=8, batch_size=8),
             tmp_path / "test")
    with pytest.raises(ValueError, match=r"no samples in its train split.*procedural-train"):
        train(TrainConfig(**{**cfg.__dict__, "data": str(tmp_path / "test"), "out": str(tmp_path / "r2")}),
              log=lambda m: None, progress=False)



def test_site_specific_protocol_end_to_end(tmp_path):
    """Trace a held-out tiny area, split by location, fine-tune the shipped checkpoint, compare with baselines."""
    from airtwin.cli import main
    from airtwin.scenes import get_scenario

    # The shipped checkpoint is for the full-size cities: a small model that fits the tiny area.
    shapes = DataShapes.of_scenario(get_scenario("city-tiny-10001"))
    save_checkpoint(UniversalModel.build(ModelConfig(shapes=shapes, variant="wm"), CSIEncoder(), EnvEncoder()),
                    tmp_path / "general")
    out = tmp_path / "site"
    argv = ["finetune", "--scenario", "city-tiny-10001", "--samples", "96", "--train-sizes", "24", "--steps", "2",
            "--batch-size", "8", "--cell-m", "15", "--checkpoint", str(tmp_path / "general"), "--out", str(out),
            "--site-memory", "both"]
    assert main(argv) == 0
    result = json.loads((out / "results.json").read_text())
    table = result["sizes"]["24"]
    rows = table["rows"]
    assert {"general checkpoint (zero-shot)", "fine-tuned on 24 site drops", "fine-tuned with site memory on 24 site "
            "drops", "geometric beam", "k-NN fingerprint", "k-NN fingerprint, densest match", "38.901 UMi + map LoS",
            "first-path position", "position lookup", "position k-NN beam gains", "position k-NN path loss",
            "kriging, map LoS", "switched prediction"} <= set(rows)
    for row in rows.values():
        for cell in row.values():
            assert cell["low"] <= cell["value"] <= cell["high"] or np.isclose(cell["low"], cell["high"])
    assert table["comparisons"]["fine-tuned on 24 site drops"]["beam_top1"]["verdict"] in (
        "better", "worse", "not distinguishable")
    assert (out / "finetuned" / "config.json").exists() and (out / "report.md").read_text().startswith("# Site")
    from airtwin.model.finetune import is_finetuned

    before = dict(load_checkpoint(tmp_path / "general").named_parameters())
    after = dict(load_checkpoint(out / "finetuned").named_parameters())
    moved = {n for n in before if not torch.equal(before[n], after[n])}
    assert moved and all(is_finetuned(n) for n in moved)  # encoders and adapters stay frozen
    # --finetune-seed redraws the batches alone: the memory (the baseline's pilot noise) stays, the weights move.
    from airtwin.datagen.reader import AirTwinDataset
    from airtwin.model.config import FinetuneConfig
    from airtwin.model.finetune import finetune_model

    cfg = FinetuneConfig(scenario="city-tiny-10001", out=str(out), steps=2, batch_size=8, cell_m=15)
    ds = AirTwinDataset(out / "data")
    drops = ds.usable()[:24]
    runs = [finetune_model(tmp_path / "general", ds, drops, cfg, seed=0, memory=True, train_seed=t) for t in (None, 0, 1)]
    weights = [dict(m.named_parameters()) for m in runs]
    assert all(torch.equal(weights[0][n], weights[1][n]) for n in weights[0])  # the default is the split's seed
    assert any(not torch.equal(weights[0][n], weights[2][n]) for n in weights[0])
    assert all(torch.equal(runs[0].memory.fingerprints, m.memory.fingerprints) for m in runs[1:])
    with pytest.raises(ValueError, match="FinetuneConfig.finetune_seed = -1"):
        FinetuneConfig(scenario="s", out="o", finetune_seed=-1)
    remembering = load_checkpoint(out / "finetuned-memory")
    assert remembering.cfg.memory.num_drops == 24 and remembering.cfg.memory.scenario == "city-tiny-10001"
    assert all(is_finetuned(n) for n, p in remembering.named_parameters() if n.startswith("memory_"))
    assert remembering.cfg.memory.carrier_frequency_hz == get_scenario("city-tiny-10001").radio.carrier_frequency_hz
    assert remembering.cfg.memory.bs_name == get_scenario("city-tiny-10001").bs[0].name

    # Closed loop on the site: the lookup table holds the memory's drops, and the model is paired with every
    # baseline (net rate after the sweep's air time included). On another area the memory model is refused.
    from airtwin.evaluation.runner import run_suite
    from airtwin.scenes.suites import EvaluationSettings, Suite

    settings = EvaluationSettings(episodes=2, steps=3, offline_samples=8, lookup_drops=16, render=False)
    metrics, _ = run_suite(Suite(name="site", scenarios=("city-tiny-10001",), evaluation=settings),
                           ("universal", "sweep", "lookup"), checkpoint=out / "finetuned-memory", log=lambda m: None)
    beams = metrics["scenarios"]["city-tiny-10001"]["beam_selection"]["3"]
    assert (beams["lookup"]["table_drops"], beams["lookup"]["table"]) == (24, "site memory")
    assert beams["sweep"]["net_rate"] == pytest.approx(beams["sweep"]["rate"] * (1 - beams["sweep"]["overhead_fraction"]))
    pairs = metrics["universal_vs_baselines"]["city-tiny-10001/beam_selection/3 m/s"]
    assert set(pairs) == {"sweep", "lookup"} and {"net_rate", "beam_accuracy"} <= set(pairs["lookup"])
    assert pairs["lookup"]["net_rate"]["low"] <= pairs["lookup"]["net_rate"]["difference"] <= pairs["lookup"]["net_rate"]["high"]
    metrics, _ = run_suite(Suite(name="elsewhere", scenarios=("city-tiny-00000",), evaluation=settings),
                           ("universal", "lookup"), checkpoint=out / "finetuned-memory", log=lambda m: None)
    assert "holds drops of 'city-tiny-10001', not of 'city-tiny-00000'" in metrics["skipped"]["city-tiny-00000/universal"]
    assert metrics["scenarios"]["city-tiny-00000"]["beam_selection"]["3"]["lookup"]["table"] == "traced"
    assert not metrics["universal_vs_baselines"]
    assert main(argv) == 0  # a re-run resumes: data and the size's result are reused
    assert len(list(out.glob("size-24-*.json"))) == 1
    assert load_checkpoint(out / "finetuned-memory").cfg.memory.num_drops == 24
    def with_sizes(sizes):
        changed = list(argv)
        changed[changed.index("--train-sizes") + 1] = sizes
        changed[changed.index("--site-memory") + 1] = "on"
        return changed

    assert main(with_sizes("12,24")) == 0  # 12 drops is new; the saved checkpoint stays the largest size's
    assert load_checkpoint(out / "finetuned-memory").cfg.memory.num_drops == 24
    assert main(with_sizes("12")) == 0  # 12 drops was done before, but the saved checkpoint was of 24: fine-tuned again
    assert load_checkpoint(out / "finetuned-memory").cfg.memory.num_drops == 12
    more = list(argv)
    more[more.index("--steps") + 1] = "3"  # other settings: the drops are reused, the result is not
    assert main(more) == 0
    results = [json.loads(p.read_text()) for p in sorted(out.glob("size-24-*.json"))]
    assert sorted(r["settings"]["steps"] for r in results if r["settings"]["site_memory"] == "both") == [2, 3]
    # --finetunes 2: the first fine-tune (seed 0) was done before and is read; seed 1 is new, and a row pools both.
    single = json.loads((out / "results.json").read_text())
    assert main(with_sizes("24") + ["--finetunes", "2"]) == 0
    assert len(list(out.glob("size-24-*.json"))) == len(results) + 1
    table = json.loads((out / "results.json").read_text())["sizes"]["24"]
    name = "fine-tuned with site memory on 24 site drops"
    runs = [f"{name}, fine-tune seed {s}" for s in (0, 1)]
    assert table["pooled"] == {f"{name}, mean of 2 fine-tunes": runs} and set(runs) <= set(table["rows"])
    assert name not in table["rows"]
    assert table["rows"]["k-NN fingerprint"] == single["sizes"]["24"]["rows"]["k-NN fingerprint"]
    pooled = table["rows"][f"{name}, mean of 2 fine-tunes"]["beam_top1"]
    assert pooled["value"] == pytest.approx(np.mean([table["rows"][r]["beam_top1"]["value"] for r in runs]))
    assert table["comparisons"][f"{name}, mean of 2 fine-tunes"]["beam_top1"]["verdict"] in (
        "better", "worse", "not distinguishable")
    report = (out / "report.md").read_text()
    assert "mean of 2 fine-tunes against the strongest baseline" in report and f"{runs[1]} against" not in report
    assert load_checkpoint(out / "finetuned-memory").cfg.memory.num_drops == 24  # the first fine-tune's, saved
    with pytest.raises(ValueError, match="FinetuneConfig.finetunes = 0"):
        FinetuneConfig(scenario="s", out="o", finetunes=0)


@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_refining_precoder_head_starts_at_the_eigen_precoder_of_the_estimate(smoothing):
    from airtwin.phy.beams import eigen_precoders, sgcs
    from airtwin.phy.estimation import to_complex

    model = build("wm", precoder_head="refine", precoder_smoothing=smoothing)
    batch = tiny_batch()
    o = obs(model, "precoding", batch)
    w = model.predict("precoding", o).detach().numpy()
    classical = eigen_precoders(to_complex(o["csi"].numpy()), SHAPES.num_subbands, smoothing)
    np.testing.assert_allclose(sgcs(w, classical), 1.0, atol=1e-5)
    if smoothing:  # and the smoothing changes it
        assert (sgcs(w, eigen_precoders(to_complex(o["csi"].numpy()), SHAPES.num_subbands)) < 1 - 1e-4).any()
    loss = task_loss(model, "precoding", *task_batch(model, "precoding", batch, np.random.default_rng(0)))
    loss.backward()  # the residual head learns from the SGCS loss
    assert model.heads["precoding"].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="precoder_head"):
        ModelConfig(shapes=SHAPES, precoder_head="magic")
    with pytest.raises(ValueError, match="ModelConfig.precoder_smoothing = 1.5"):
        ModelConfig(shapes=SHAPES, precoder_smoothing=1.5)


def two_pilot_batch() -> dict[str, np.ndarray]:
    """:func:`tiny_batch` with a previous pilot: the same paths, each entry's phase turned by up to 0.5 rad."""
    batch = tiny_batch()
    g = np.random.default_rng(5)
    batch.update(csi_prev=(batch["csi"] * np.exp(1j * g.uniform(-0.5, 0.5, batch["csi"].shape))).astype(np.complex64),
                 pilot_gap_s=np.full(4, 1e-3, np.float32), aging_delay_s=np.full(4, 5e-3, np.float32))
    return batch


def test_with_a_previous_pilot_the_refining_head_starts_at_the_predicted_channels_eigen_precoder():
    from airtwin.phy.beams import eigen_precoders, sgcs
    from airtwin.phy.prediction import predicted_estimate

    model = build("wm", precoder_head="refine", precoder_smoothing=0.25)
    batch = two_pilot_batch()
    o = obs(model, "precoding", batch)
    assert tuple(o["csi_prev"].shape) == (4, 2, 4, 8) and tuple(o["pilot_timing_s"].shape) == (4, 2)
    w = model.predict("precoding", o).detach().numpy()
    predicted = eigen_precoders(predicted_estimate({k: v.numpy() for k, v in o.items()}), SHAPES.num_subbands)
    np.testing.assert_allclose(sgcs(w, predicted), 1.0, atol=1e-5)
    loss = task_loss(model, "precoding", *task_batch(model, "precoding", batch, np.random.default_rng(0)))
    loss.backward()
    assert model.heads["precoding"].weight.grad.abs().sum() > 0


def test_the_switching_precoder_head_starts_at_the_classical_switchs_pick_and_its_residual_learns():
    from airtwin.model.universal import precoder_base
    from airtwin.phy.beams import sgcs
    from airtwin.phy.prediction import switch_inputs, switched_precoders

    model = build("wm", precoder_head="switch-refine", precoder_smoothing=0.25)
    batch = two_pilot_batch()
    o = obs(model, "precoding", batch)
    base, residual, switch = model.precoder_parts(model.forward("precoding", o), o)
    assert switch is not None and residual.abs().max() == 0  # the untrained residual is zero
    logit, candidates = switch
    expected, _ = switch_inputs({k: v.numpy() for k, v in o.items()}, SHAPES.num_subbands)
    picked = expected[np.arange(4), (logit.detach().numpy() > 0).astype(int)]
    w = model.predict("precoding", o).detach().numpy()
    np.testing.assert_allclose(sgcs(w, picked), 1.0, atol=1e-5)
    # Untrained, the switch is the classical one.
    np.testing.assert_allclose(sgcs(w, switched_precoders(*switch_inputs({k: v.numpy() for k, v in o.items()},
                                                                         SHAPES.num_subbands))), 1.0, atol=1e-5)
    # The residual learns from the SGCS of the result (the switch is fitted after training).
    loss = task_loss(model, "precoding", *task_batch(model, "precoding", batch, np.random.default_rng(0)))
    loss.backward()
    assert model.heads["precoding"].weight.grad[:2 * SHAPES.num_subbands * SHAPES.num_antennas].abs().sum() > 0
    # Without a previous pilot it is the refining head.
    o.pop("csi_prev"), o.pop("pilot_timing_s")
    w = model.predict("precoding", o).detach().numpy()
    np.testing.assert_allclose(sgcs(w, precoder_base(o, SHAPES.num_subbands, 0.25).numpy()), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="TrainConfig.precoder_head = 'magic'; allowed: direct, refine, switch-refine"):
        TrainConfig(data="d", out="o", precoder_head="magic")


def test_device_option_is_validated_and_resolved():
    from airtwin.model.config import FinetuneConfig, PretrainConfig, TrainConfig
    from airtwin.model.device import resolve_device

    for cls, kw in ((TrainConfig, {"data": "d", "out": "o"}), (FinetuneConfig, {"scenario": "s", "out": "o"}),
                    (PretrainConfig, {})):
        with pytest.raises(ValueError, match=rf"{cls.__name__}.device = 'gpu'; allowed: 'auto'.*'cpu'.*'cuda:N'"):
            cls(**kw, device="gpu")
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="sees no CUDA GPU"):
            resolve_device("cuda")


def test_checkpoint_loads_on_the_device_asked_for(saved):
    model = load_checkpoint(saved, device="cpu")
    assert model.device == torch.device("cpu")
    assert all(p.device.type == "cpu" for p in model.parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_predictions_and_a_training_step_match_on_cpu_and_cuda(tmp_path):
    """The same checkpoint gives the same outputs on both devices, and trains there; saving from CUDA works."""
    model = build("full")
    save_checkpoint(model, tmp_path / "ckpt")
    cpu, gpu = load_checkpoint(tmp_path / "ckpt", device="cpu"), load_checkpoint(tmp_path / "ckpt", device="cuda")
    cpu.eval()
    gpu.eval()
    batch = tiny_batch()
    for task in TASKS:
        a = cpu.predict(task, obs(cpu, task, batch, seed=1))
        b = gpu.predict(task, obs(gpu, task, batch, seed=1))
        assert b.device.type == "cuda"
        torch.testing.assert_close(b.cpu(), a, rtol=1e-3, atol=1e-3), task
    gpu.train()
    opt = torch.optim.AdamW([p for p in gpu.parameters() if p.requires_grad], lr=1e-2)
    loss = total_loss(gpu, batch)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    save_checkpoint(gpu, tmp_path / "moved")
    assert load_checkpoint(tmp_path / "moved", device="cpu").device.type == "cpu"


def test_merging_lora_for_inference_keeps_the_outputs():
    model = build("full")
    with torch.no_grad():  # non-zero LoRA B, so that merging has something to merge
        for name, p in model.backbone.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(1)) * 0.05)
    batch = tiny_batch()
    before = {t: model.eval().predict(t, obs(model, t, batch)) for t in ("los", "beam_selection")}
    assert model.for_inference() is model and not model.training
    for t, want in before.items():
        torch.testing.assert_close(model.predict(t, obs(model, t, batch)), want, atol=1e-4, rtol=1e-4)
    merged = [m for m in model.backbone.modules() if hasattr(m, "merged")]
    assert merged and all(m.merged for m in merged)


def test_int8_inference_stays_close_to_float32_and_is_cpu_only():
    import copy

    model = build("full")
    quantized = copy.deepcopy(model)  # quantisation is in place: a copy of the same weights
    batch = tiny_batch(8)
    want = {t: model.for_inference().predict(t, obs(model, t, batch)) for t in ("los", "path_loss", "beam_selection")}
    assert quantized.for_inference(int8=True) is quantized
    assert any("quantized" in type(m).__module__ for m in quantized.backbone.modules())
    for t, w in want.items():
        got = quantized.predict(t, obs(quantized, t, batch))
        assert got.shape == w.shape and torch.isfinite(got).all()
        assert float((got - w).abs().max()) < 0.1 * float(w.abs().max()) + 0.5, t  # int8 rounding, not garbage
    build("wm").for_inference(int8=True)  # no backbone: nothing to quantise
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="CPU only"):
            build("full").to("cuda").for_inference(int8=True)

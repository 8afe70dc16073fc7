"""The site-specific protocol (AI2MMUM's): trace one area unseen in training, fine-tune, test in that area.

    airtwin finetune --scenario city-10000 --samples 10000 --train-sizes 250,1000,4000 --out runs/site

1. Trace ``samples`` drops of the area with the twin (``OUT/data``, a resumable ``airtwin generate``).
2. Split them by location (:func:`airtwin.datagen.site.location_split`: whole squares to the test side,
   no test drop within ``guard_m`` of a training drop).
3. For each training size, fine-tune the general checkpoint on that many training drops (LoRA, prefix
   prompts and heads only; encoders and adapters stay frozen) and fit the site-specific baselines on the
   same drops. With ``--site-memory on`` (the default) those drops also become the model's site memory
   (:mod:`airtwin.model.memory`): its heads blend the classical estimates retrieved from them with their own
   by learnt gates; ``both`` fine-tunes with and without one, scored side by side.
4. Score the general checkpoint (zero-shot), each fine-tuned model and every baseline on the same test
   drops, with 95 % intervals and paired model-vs-strongest-baseline differences
   (``OUT/results.json``, ``OUT/report.md``). With ``--finetunes K`` (K >= 2) every size is fine-tuned K times,
   with fine-tune seeds that redraw the batches alone, and the report adds a row of their mean whose intervals
   hold the spread between fine-tunes as well as the test drops' (one fine-tune's paired interval holds only the
   latter, and on the location split fine-tunes differ by more than it).

Each training size's result is written as it completes (``OUT/size-N-KEY.json``, ``KEY`` a digest of the
settings it depends on: the general checkpoint's content, the fine-tuning and split settings, the fine-tune seed;
one file per fine-tune); a re-run with the same settings skips those, and one with other settings (another
checkpoint, more steps) reuses the traced drops but not the results. The largest size's models of the first
fine-tune seed are saved (``OUT/finetuned``, ``OUT/finetuned-memory``, their drops and settings key recorded); when
that size was done before but the saved checkpoints are of another size or settings, they are fine-tuned again, so
the checkpoints always match the run's largest size.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from airtwin.config import write_atomic
from airtwin.datagen.generate import generate
from airtwin.datagen.plan import GenerateConfig
from airtwin.datagen.reader import AirTwinDataset
from airtwin.datagen.shard import file_sha256
from airtwin.datagen.site import location_split
from airtwin.model.baselines import FINGERPRINT_COMPONENTS, baseline_samples
from airtwin.model.checkpoint import default_checkpoint, load_checkpoint, save_checkpoint
from airtwin.model.config import (DEFAULT_BEAM_PRIOR, DEFAULT_FINGERPRINT, DEFAULT_POSITION_MATCH, MEMORY_TASKS,
                                  FinetuneConfig)
from airtwin.model.memory import MEMORY_FIELDS, SiteMemory
from airtwin.model.numerology import adapter_for
from airtwin.model.train import fit_precoder_switch, fits_precoder_switch, model_samples, training_step

#: The row of the general checkpoint, zero-shot on the site's test drops.
GENERAL = "general checkpoint (zero-shot)"


def is_finetuned(name: str) -> bool:
    """Whether a site fine-tune updates the parameter ``name``: prefix prompts, heads, LoRA matrices and a site
    memory's gates."""
    return name == "prefix" or name.startswith(("heads.", "memory_hidden.", "memory_gates.")) or "lora_" in name


def _merge(per_task: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: v for samples in per_task.values() for k, v in samples.items()}


def _to_lists(samples: dict[str, np.ndarray]) -> dict[str, list[float]]:
    return {k: [float(x) for x in v] for k, v in samples.items()}


def site_data(cfg: FinetuneConfig, log=print) -> tuple[AirTwinDataset, np.ndarray, np.ndarray]:
    """Trace (or resume) the area's drops and split them by location; ``(dataset, train, test)`` indices."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    suite = out / "site-suite.toml"
    write_atomic(suite, f'name = "site"\nscenarios = [{json.dumps(cfg.scenario)}]\n'.encode())
    generate(GenerateConfig(suite=str(suite), samples=cfg.samples, seed=cfg.seed, pilot_gap_s=cfg.pilot_gap_s),
             out / "data", workers=cfg.workers, log=log)
    ds = AirTwinDataset(out / "data")
    usable = ds.usable()
    tr, te = site_split(ds.read_batch(usable, ("ue_position",))["ue_position"], cfg)
    return ds, usable[tr], usable[te]


def site_split(positions: np.ndarray, cfg: FinetuneConfig) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)`` indices of drops at UE ``positions`` ``[N, >=2]`` [m], split as the protocol splits them
    (:func:`airtwin.datagen.site.location_split` with ``cfg``'s squares, guard, test share and seed)."""
    return location_split(positions[:, :2], np.random.default_rng([cfg.seed, 7]), test_fraction=cfg.test_fraction,
                          cell_m=cfg.cell_m, guard_m=cfg.guard_m)


def site_memory(ds: AirTwinDataset, indices: np.ndarray, model, cfg: FinetuneConfig, seed: int) -> SiteMemory:
    """A site memory of the drops ``indices`` of ``ds`` for ``model`` (fingerprints at the model's pilot SNR)."""
    sites = ds.sites()
    if adapter_for(model, ds.numerology(), sites) is not None:
        raise ValueError(f"{cfg.scenario}: a site memory needs data of the model's numerology; fine-tune with "
                         "--site-memory off on sites of another numerology")
    if len(sites) != 1:
        raise ValueError(f"{ds.root}: a site memory holds drops of one scenario; the data has "
                         f"{', '.join(sites)}")
    (scenario, site), = sites.items()
    fields = ds.read_batch(np.asarray(indices), MEMORY_FIELDS)
    # The pilot noise of the k-NN baseline's fitting split (airtwin.model.baselines.baseline_samples): the memory's
    # fingerprints are that baseline's.
    return SiteMemory.from_fields(fields, model.cfg.pilot_snr_db, np.random.default_rng([seed, 0]),
                                  cell_m=cfg.cell_m, scenario=scenario, carrier_frequency_hz=site.carrier_frequency_hz,
                                  bs_name=site.bs_name or "")


def finetune_model(checkpoint: str | Path, ds: AirTwinDataset, indices: np.ndarray, cfg: FinetuneConfig, seed: int,
                   memory: bool = False, log=None, train_seed: int | None = None):
    """The checkpoint fine-tuned on ``indices`` of ``ds`` for ``cfg.steps`` steps (prefix, heads, LoRA only); with
    ``memory``, those drops become its site memory (:mod:`airtwin.model.memory`) and its gates train too, at
    ``cfg.memory_lr_factor`` times the learning rate. A ``switch-refine`` precoding head's switch is then fitted
    on the site (:func:`airtwin.model.train.fit_precoder_switch`: on 4/5 of the drops, selected on the rest).
    ``seed`` draws the memory's pilot noise (the k-NN baseline's); ``train_seed`` (default: ``seed``) the batches and
    the switch's fitting split."""
    train_seed = train_seed_of(seed, train_seed)
    model = load_checkpoint(checkpoint, device=cfg.device)
    if memory:
        model.attach_memory(site_memory(ds, indices, model, cfg, seed))
    params, gates = [], []
    for name, p in model.named_parameters():
        p.requires_grad_(is_finetuned(name))
        if p.requires_grad:
            (gates if name.startswith("memory_gates.") else params).append(p)
    groups = [{"params": params}] + ([{"params": gates, "lr": cfg.lr * cfg.memory_lr_factor}] if gates else [])
    opt = torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=1e-4)
    params = params + gates
    model.train()
    for step in range(cfg.steps):
        training_step(model, opt, params, ds, indices, model.cfg.tasks, cfg.batch_size,
                      np.random.default_rng([train_seed, step]), where=f"fine-tune step {step + 1}")
    if fits_precoder_switch(model, ds):
        order = np.random.default_rng([train_seed, 3]).permutation(np.asarray(indices))
        cut = len(order) * 4 // 5
        fit_precoder_switch(model, (ds, np.sort(order[:cut])), (ds, np.sort(order[cut:])), seed=train_seed,
                            log=log or (lambda m: None))
    model.eval()
    return model


def result_settings(cfg: FinetuneConfig, checkpoint: Path) -> dict:
    """What a training size's result depends on besides the traced drops: the general checkpoint (the sha256 of
    its ``config.json``, which records the sha256 of its other files), the fine-tuning settings, the split and
    the fingerprint the k-NN baseline and the memory match, how they turn matches into a position, the memory's
    beam estimate and the tasks it serves."""
    keep = ("steps", "batch_size", "lr", "seed", "finetune_seed", "test_fraction", "cell_m", "guard_m", "site_memory",
            "memory_lr_factor")
    return {"checkpoint_sha256": file_sha256(Path(checkpoint) / "config.json"), **{k: getattr(cfg, k) for k in keep},
            "fingerprint": DEFAULT_FINGERPRINT, "fingerprint_components": FINGERPRINT_COMPONENTS,
            "position_match": DEFAULT_POSITION_MATCH, "beam_prior": DEFAULT_BEAM_PRIOR,
            "memory_tasks": list(MEMORY_TASKS)}


def _checkpoint_name(memory: bool) -> str:
    return "finetuned-memory" if memory else "finetuned"


def _save(model, path: Path, cfg: FinetuneConfig, n: int, key: str) -> None:
    """Save a site fine-tune, recording its drops and the key of its settings (:func:`result_settings`)."""
    save_checkpoint(model, path, train={"step": cfg.steps, "config": asdict(cfg), "site_train_drops": int(n),
                                        "settings_key": key})


def _saved(path: Path, n: int, key: str) -> bool:
    """Whether ``path`` holds the site fine-tune of ``n`` drops under the settings ``key``."""
    try:
        train = json.loads((path / "config.json").read_text()).get("train", {})
    except (OSError, ValueError):
        return False
    return train.get("site_train_drops") == n and train.get("settings_key") == key


def train_seed_of(seed: int, finetune_seed: int | None) -> int:
    """The seed of a fine-tune's batches: ``finetune_seed``, or the drops' ``seed`` where it is None (the default,
    as settings record it)."""
    return seed if finetune_seed is None else finetune_seed


def finetune_seeds(cfg: FinetuneConfig) -> list[int | None]:
    """The fine-tune seed of each of ``cfg.finetunes`` runs per training size: ``cfg.finetune_seed`` (None: the
    drops' ``seed``), then ``seed + 1``, ``seed + 2``, ... from it; a run's settings (:func:`result_settings`) are
    ``cfg``'s with its seed, so a run done alone before (``--finetune-seed S``) is found again."""
    first = train_seed_of(cfg.seed, cfg.finetune_seed)
    return [cfg.finetune_seed, *(first + r for r in range(1, cfg.finetunes))]


def site_samples(cfg: FinetuneConfig, log=print) -> dict:
    """Run the protocol's data, fine-tuning and scoring steps; per-sample values of every row.

    Returns ``{"split": {"train", "test"}, "sizes": {N: {"models": {name: {metric: [values]}},
    "baselines": {...}, "pooled": {name: [model names]}}}}``; the test drops are the same for every row, in the same
    order. With ``cfg.finetunes`` >= 2 each fine-tuned row is one per fine-tune seed (``..., fine-tune seed S``), and
    ``pooled`` names the row that pools them (``..., mean of K fine-tunes``); else ``pooled`` is empty.
    """
    out = Path(cfg.out)
    ds, train_idx, test_idx = site_data(cfg, log)
    if len(train_idx) == 0 or len(test_idx) == 0:
        raise ValueError(f"{cfg.scenario}: {len(train_idx)} training and {len(test_idx)} test drops after the "
                         "location split; trace more samples (--samples) or lower --cell-m")
    checkpoint = Path(cfg.checkpoint) if cfg.checkpoint else default_checkpoint()
    log(f"{cfg.scenario}: {len(train_idx)} training and {len(test_idx)} test drops (location split, "
        f"{cfg.guard_m:g} m guard)")
    cache: dict[str, dict] = {}  # the general checkpoint's scores and each size's baselines, computed once
    runs = []  # (fine-tune seed, settings, key) per fine-tune
    for seed in finetune_seeds(cfg):
        settings = result_settings(replace(cfg, finetune_seed=seed), checkpoint)
        runs.append((seed, settings, hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]))
    sizes = sorted({min(n, len(train_idx)) for n in (cfg.train_sizes or (len(train_idx),))})
    result = {"split": {"train": int(len(train_idx)), "test": int(len(test_idx))}, "sizes": {}}
    variants = {"on": (True,), "off": (False,), "both": (False, True)}[cfg.site_memory]
    for n in sizes:
        subset = np.sort(np.random.default_rng([cfg.seed, n]).choice(train_idx, n, replace=False))
        entries = []
        for r, (seed, settings, key) in enumerate(runs):
            done = out / f"size-{n}-{key}.json"
            if done.exists():
                entries.append(json.loads(done.read_text()))
                log(f"{n} training drops{_run_label(cfg, seed)}: done before, read {done}")
                for memory in variants if n == sizes[-1] and r == 0 else ():  # the saved checkpoints: this size's
                    path = out / _checkpoint_name(memory)
                    if not _saved(path, n, key):
                        log(f"{path} is not of {n} drops and these settings: fine-tuning it again")
                        _save(finetune_model(checkpoint, ds, subset, cfg, seed=cfg.seed, memory=memory, log=log,
                                             train_seed=seed), path, cfg, n, key)
                continue
            start = time.perf_counter()
            if entries:  # an earlier fine-tune of this size scored them already
                cache.setdefault("general", entries[0]["models"][GENERAL])
                cache.setdefault(n, entries[0]["baselines"])
            if "general" not in cache:
                cache["general"] = _to_lists(_merge(model_samples(load_checkpoint(checkpoint, device=cfg.device), ds,
                                                                  indices=test_idx, seed=cfg.seed)))
            models = {GENERAL: cache["general"]}
            for memory in variants:
                model = finetune_model(checkpoint, ds, subset, cfg, seed=cfg.seed, memory=memory, log=log,
                                       train_seed=seed)
                if n == sizes[-1] and r == 0:
                    _save(model, out / _checkpoint_name(memory), cfg, n, key)
                models[model_row_name(memory, n)] = _to_lists(_merge(model_samples(model, ds, indices=test_idx,
                                                                                seed=cfg.seed)))
            if n not in cache:
                cache[n] = {k: _to_lists(v) for k, v in baseline_samples(
                    ds, ds, train_indices=subset, test_indices=test_idx, max_train=None, seed=cfg.seed).items()}
            entry = {"models": models, "baselines": cache[n], "seconds": time.perf_counter() - start,
                     "settings": settings}
            write_atomic(done, json.dumps(entry).encode())
            entries.append(entry)
            log(f"{n} training drops{_run_label(cfg, seed)}: fine-tuned and scored in {entry['seconds']:.0f} s")
        result["sizes"][n] = _pool_runs(entries, [seed for seed, _, _ in runs], cfg, variants, n)
    return result


def model_row_name(memory: bool, n: int) -> str:
    """The row of one fine-tune of ``n`` site drops, with a site memory or without one, in a size's result."""
    return f"fine-tuned with site memory on {n} site drops" if memory else f"fine-tuned on {n} site drops"


def _run_label(cfg: FinetuneConfig, seed: int | None) -> str:
    return f", fine-tune seed {train_seed_of(cfg.seed, seed)}" if cfg.finetunes > 1 else ""


def _pool_runs(entries: list[dict], seeds: list[int | None], cfg: FinetuneConfig, variants: tuple[bool, ...],
               n: int) -> dict:
    """One size's entry from its fine-tunes' (:func:`site_samples`): one fine-tune's as it is; several, each
    fine-tuned row renamed by its seed and a pooled row naming them (the general checkpoint's row and the
    baselines are the first's: no fine-tune seed changes them)."""
    if len(entries) == 1:
        return {**entries[0], "pooled": {}}
    first = entries[0]
    models = {GENERAL: first["models"][GENERAL]}
    pooled = {}
    for memory in variants:
        name = model_row_name(memory, n)
        members = []
        for entry, seed in zip(entries, seeds):
            members.append(f"{name}, fine-tune seed {train_seed_of(cfg.seed, seed)}")
            models[members[-1]] = entry["models"][name]
        pooled[f"{name}, mean of {len(entries)} fine-tunes"] = members
    return {"models": models, "baselines": first["baselines"], "pooled": pooled,
            "seconds": sum(e["seconds"] for e in entries), "settings": first["settings"]}

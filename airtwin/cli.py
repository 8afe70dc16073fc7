"""The ``airtwin`` command line.

Subcommands:
    airtwin scenes list                 named scenarios and suites
    airtwin scenes show NAME|FILE       a scenario's full spec (JSON) and a summary of its geometry
    airtwin scenes trace NAME|FILE [--drops N]   trace outdoor drops: coverage, LoS, path loss
    airtwin scenes export NAME|FILE --out DIR   self-contained Sionna scene folder (XML, meshes, sites.json)
    airtwin export deepmimo --scenario NAME --drops N|--grid M --out DIR   a DeepMIMO v4 scenario folder
    airtwin export hf --data DIR --out HF_DIR   a dataset as Hugging Face datasets (Arrow)
    airtwin import deepmimo --scenario-folder DIR --out DATA_DIR   a DeepMIMO v4 scenario as a dataset
    airtwin generate --suite S --samples N --out DIR [--workers K] [--backend local|ray] [--seed S]
                                        sharded HDF5 dataset of twin outputs (resumable); S: a suite name or file
    airtwin pretrain-encoders --data DIR --out ENC_DIR      contrastive CSI/environment encoders
    airtwin train --data DIR --encoders ENC_DIR --out RUN [--variant full|fp|sp|te|wl|rl|wm] [--tasks all]
    airtwin evaluate-model --data TEST_DIR --checkpoints RUN/final ... [--baselines-from TRAIN_DIR]
    airtwin finetune --scenario NAME --samples N --out DIR [--train-sizes 250,1000,4000]
                                        the site-specific protocol: trace, split by location, fine-tune, test
    airtwin evaluate --suite NAME|FILE [--policies universal,classical,oracle,sweep,random] --out DIR [--episodes N]
                                        (the same suites as generate; flags override their [evaluation] table)
    airtwin demo [--out DIR]                short closed-loop run with the shipped model; report with plots
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from airtwin.config import add_config_arguments, config_from_args, config_overrides, write_json

DEVICE_HELP = "torch device of the universal model: auto (CUDA when present, else CPU), cpu, cuda, cuda:N or mps"


def _cmd_scenes_list(args: argparse.Namespace) -> int:
    from airtwin.scenes.registry import get_scenario, list_scenarios
    from airtwin.scenes.suites import builtin_suites, load_suite

    print("Scenarios:")
    for name in list_scenarios():
        spec = get_scenario(name)
        print(f"  {name:<18} {spec.description}")
    print("  (city-NNNNN / city-tiny-NNNNN: any seed; seeds 0-9999 train, 10000-19999 held out;")
    print("   city-cellsK-NNNNN / city-tiny-cellsK-NNNNN: the same area with K = 2..16 sites)")
    print("\nSuites: (`airtwin generate --suite NAME` and `airtwin evaluate --suite NAME`; or a suite .toml file)")
    for name in builtin_suites():
        suite = load_suite(name)
        splits = "/".join(sorted(set(suite.splits.values())))
        print(f"  {suite.name:<18} [{splits}] {suite.description} ({len(suite.scenarios)} scenarios)")
    return 0


def _cmd_scenes_show(args: argparse.Namespace) -> int:
    from airtwin.scenes.layout import scene_layout
    from airtwin.scenes.registry import get_scenario

    spec = get_scenario(args.name)
    print(json.dumps(spec.to_dict(), indent=2))
    radio = spec.radio
    print(f"\n# {spec.name}: {spec.scene.kind} scene, {radio.carrier_frequency_hz / 1e9:g} GHz, "
          f"{radio.bandwidth_hz / 1e6:g} MHz over {radio.num_subcarriers} subcarriers "
          f"({radio.subcarrier_spacing_hz / 1e3:g} kHz spacing), noise {radio.noise_power_dbm:.1f} dBm")
    for bs in spec.bs:
        print(f"# BS {bs.name} at {bs.position} m: {bs.array.num_rows}x{bs.array.num_cols} {bs.array.pattern} array")
    layout = scene_layout(spec.scene)
    if layout is not None:
        x0, y0, x1, y1 = layout.bounds
        print(f"# {layout.num_buildings} buildings, heights {layout.heights.min():.1f}-{layout.heights.max():.1f} m, "
              f"area {x1 - x0:.0f} m x {y1 - y0:.0f} m")
    return 0


def _cmd_scenes_export(args: argparse.Namespace) -> int:
    from airtwin.scenes.export import export_scene
    from airtwin.scenes.registry import get_scenario

    xml = export_scene(get_scenario(args.name), args.out)
    print(f"{xml}: load it with sionna.rt.load_scene; BS sites in {xml.parent / 'sites.json'}, "
          f"the AirTwin scenario in {xml.parent / 'spec.json'}")
    return 0


def _cmd_scenes_trace(args: argparse.Namespace) -> int:
    import numpy as np

    from airtwin.scenes.registry import get_scenario
    from airtwin.twin import Twin
    from airtwin.twin.coverage import measure_coverage

    spec = get_scenario(args.name)
    twin = Twin(spec)
    stats = measure_coverage(twin, args.drops, np.random.default_rng(args.seed), args.batch_size)
    print(f"{spec.name}: {stats.drops} outdoor drops traced in {stats.seconds:.1f} s on {twin.variant}; "
          f"coverage {stats.coverage:.3f}, "
          f"LoS {stats.los:.3f}, median path loss {stats.median_path_loss_db:.1f} dB")
    if args.json:
        write_json(args.json, stats.to_dict())
    return 0


def _cmd_export_deepmimo(args: argparse.Namespace) -> int:
    from airtwin.datagen.deepmimo import export_deepmimo
    from airtwin.scenes.registry import get_scenario

    folder = export_deepmimo(get_scenario(args.scenario), args.out, drops=args.drops, grid_m=args.grid, seed=args.seed,
                             name=args.name, log=lambda m: print(f"airtwin export: {m}", file=sys.stderr))
    print(f"{folder}: DeepMIMO v4 scenario (read it with deepmimo.load or airtwin.datagen.deepmimo.load_deepmimo)")
    return 0


def _cmd_export_hf(args: argparse.Namespace) -> int:
    from airtwin.datagen.hf import to_hf_dataset

    hf = to_hf_dataset(args.data, args.out, split=args.split)
    print(f"{args.out}: {len(hf)} rows, {len(hf.column_names)} columns (datasets.load_from_disk reads it)")
    return 0


def _cmd_import_deepmimo(args: argparse.Namespace) -> int:
    from airtwin.datagen.deepmimo import import_deepmimo
    from airtwin.scenes.registry import get_scenario

    spec = get_scenario(args.spec) if args.spec else None
    manifest = import_deepmimo(args.scenario_folder, args.out, spec=spec, split=args.split,
                               log=lambda m: print(f"airtwin import: {m}", file=sys.stderr))
    print(f"{args.out}: {sum(r['num_samples'] for r in manifest['shards'])} samples in {len(manifest['shards'])} shards")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from airtwin.datagen.generate import generate
    from airtwin.datagen.plan import GenerateConfig

    cfg = config_from_args(GenerateConfig, args)
    manifest = generate(cfg, args.out, workers=args.workers, backend=args.backend,
                        log=lambda msg: print(f"airtwin generate: {msg}", file=sys.stderr))
    counts = {s: sum(r["num_samples"] for r in manifest["shards"] if r["split"] == s) for s in manifest["splits"]}
    print(f"{args.out}: {len(manifest['shards'])} shards; samples per split: {counts}")
    return 0


def _cmd_pretrain(args: argparse.Namespace) -> int:
    from airtwin.model.pretrain import PretrainConfig, pretrain_encoders

    cfg = config_from_args(PretrainConfig, args)
    pretrain_encoders(args.data, args.out, cfg, log=lambda m: print(f"airtwin pretrain-encoders: {m}", file=sys.stderr))
    print(f"encoders written to {args.out}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from airtwin.model.train import TrainConfig, train
    from airtwin.phy.tasks import TASK_NAMES

    cfg = config_from_args(TrainConfig, args, tasks=TASK_NAMES if args.tasks == ("all",) else args.tasks)
    train(cfg, log=lambda m: print(f"airtwin train: {m}", file=sys.stderr))
    print(f"checkpoint written to {Path(args.out) / 'final'}")
    return 0


def _cmd_evaluate_model(args: argparse.Namespace) -> int:
    from airtwin.datagen.reader import AirTwinDataset
    from airtwin.evaluation.offline import compare, markdown
    from airtwin.model.checkpoint import load_checkpoint
    from airtwin.model.train import model_samples

    split = None if args.split in (None, "none") else args.split
    if args.max_samples is not None and args.max_samples < 1:
        raise ValueError(f"--max-samples {args.max_samples}: allowed is an integer >= 1 (leave it out for all)")
    test = AirTwinDataset(args.data, split=split)
    if len(test) == 0:
        raise ValueError(f"--data {args.data} has no samples in split {args.split!r}; its splits: "
                         f"{ {s: len(n) for s, n in test.manifest['splits'].items()} }")
    fit = None
    if args.baselines_from:  # checked before any model is scored
        from airtwin.model.baselines import check_same_numerology

        fit = AirTwinDataset(args.baselines_from, split="train")
        check_same_numerology(fit, test)
    models = {}
    for ckpt in args.checkpoints:
        model = load_checkpoint(ckpt, device=args.device)
        per_task = model_samples(model, test, args.max_samples, args.seed)
        models[f"{model.cfg.variant} ({Path(ckpt).parent.name})"] = {k: v for s in per_task.values() for k, v in s.items()}
    baselines = {}
    if fit is not None:
        from airtwin.model.baselines import baseline_samples

        baselines = baseline_samples(fit, test, max_test=args.max_samples, seed=args.seed)
    result = compare(models, baselines, seed=args.seed)
    first = next(iter({**models, **baselines}.values()), None)
    result["num_samples"] = len(next(iter(first.values()))) if first else len(test.sample_indices(args.max_samples,
                                                                                                 args.seed))
    print(f"{result['num_samples']} test samples; values [95 % bootstrap interval]")
    print("\n".join(markdown(result)))
    if args.json:
        write_json(args.json, result)  # a half-written table is never read
    if args.plots:
        from airtwin.evaluation.plots import offline_comparison

        for path in offline_comparison(result, Path(args.plots)):
            print(f"figure: {path}")
    return 0


def _cmd_finetune(args: argparse.Namespace) -> int:
    from airtwin.evaluation.offline import markdown
    from airtwin.evaluation.site import run_site_protocol
    from airtwin.model.config import FinetuneConfig

    result = run_site_protocol(config_from_args(FinetuneConfig, args),
                               log=lambda m: print(f"airtwin finetune: {m}", file=sys.stderr))
    for n, table in result["sizes"].items():
        print(f"\n{n} site training drops ({result['split']['test']} test drops); values [95 % interval]")
        print("\n".join(markdown(table)))
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from airtwin.evaluation.report import write_report
    from airtwin.scenes.suites import EvaluationSettings, load_suite, with_evaluation

    suite = with_evaluation(load_suite(args.suite), **config_overrides(EvaluationSettings, args))
    from airtwin.evaluation.runner import DEFAULT_POLICIES

    policies = DEFAULT_POLICIES if args.policies is None else tuple(p.strip() for p in args.policies.split(",")
                                                                     if p.strip())
    write_report(suite, policies, args.out, checkpoint=args.checkpoint,
                 reference_checkpoint=args.reference_checkpoint, device=args.device,
                 log=lambda m: print(f"airtwin evaluate: {m}", file=sys.stderr))
    print(f"{args.out}: report.md, metrics.json, timing.json and figures")
    return 0


def _cmd_evaluate_multicell(args: argparse.Namespace) -> int:
    from airtwin.evaluation.multicell import MulticellEvalConfig, markdown, write_multicell_report

    result = write_multicell_report(config_from_args(MulticellEvalConfig, args), args.out,
                                    log=lambda m: print(f"airtwin evaluate-multicell: {m}", file=sys.stderr))
    print("\n".join(markdown(result)))
    print(f"{args.out}: report.md and results.json")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from airtwin.evaluation.demo import run_demo

    run_demo(args.out, log=lambda m: print(f"airtwin demo: {m}", file=sys.stderr))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="airtwin", description="AirTwin: a ray-traced digital twin for 6G air interfaces")
    sub = parser.add_subparsers(dest="command", required=True)
    scenes = sub.add_parser("scenes", help="list and inspect scenarios").add_subparsers(dest="scenes_cmd", required=True)
    scenes.add_parser("list", help="named scenarios and suites").set_defaults(func=_cmd_scenes_list)
    show = scenes.add_parser("show", help="a scenario's spec")
    show.add_argument("name", help="scenario name (see `airtwin scenes list`), a .toml/.json spec file, "
                                   "or a .geojson/.osm/.pbf footprint file")
    show.set_defaults(func=_cmd_scenes_show)
    trace = scenes.add_parser("trace", help="build a scenario's twin and trace outdoor UE drops (coverage, LoS, path loss)")
    trace.add_argument("name", help="scenario name, a .toml/.json spec file, or a .geojson/.osm/.pbf footprint file")
    trace.add_argument("--drops", type=int, default=64, help="outdoor UE drops (default 64)")
    trace.add_argument("--batch-size", type=int, default=64, help="UEs per ray-tracing call (default 64)")
    trace.add_argument("--seed", type=int, default=0, help="seed of the drops")
    trace.add_argument("--json", help="also write the figures as JSON here")
    trace.set_defaults(func=_cmd_scenes_trace)
    export = scenes.add_parser("export", help="write a self-contained Sionna scene folder (XML, meshes, BS sites)")
    export.add_argument("name", help="scenario name, a .toml/.json spec file, or a .geojson/.osm/.pbf footprint file")
    export.add_argument("--out", required=True, help="output folder")
    export.set_defaults(func=_cmd_scenes_export)

    export = sub.add_parser("export", help="export twin traces to other tools' formats").add_subparsers(
        dest="export_cmd", required=True)
    dm = export.add_parser("deepmimo", help="a DeepMIMO v4 scenario folder (needs the interop extra)")
    dm.add_argument("--scenario", required=True, help="scenario name, a .toml/.json spec file, or a footprint file")
    where = dm.add_mutually_exclusive_group(required=True)
    where.add_argument("--drops", type=int, help="random outdoor UE drops")
    where.add_argument("--grid", type=float, help="outdoor UE grid spacing [m]")
    dm.add_argument("--out", required=True, help="folder to write the scenario folder into")
    dm.add_argument("--name", default=None, help="scenario folder name (default: the scenario's name, lower case)")
    dm.add_argument("--seed", type=int, default=0, help="seed of the drops and the tracer")
    dm.set_defaults(func=_cmd_export_deepmimo)
    hf = export.add_parser("hf", help="a dataset as a Hugging Face datasets folder (Arrow; needs the hf extra)")
    hf.add_argument("--data", required=True, help="AirTwin dataset folder (airtwin generate --out)")
    hf.add_argument("--out", required=True, help="output folder (datasets.load_from_disk reads it)")
    hf.add_argument("--split", default=None, choices=("train", "validation", "test"), help="one split (default: all)")
    hf.set_defaults(func=_cmd_export_hf)
    imp = sub.add_parser("import", help="read other tools' data").add_subparsers(dest="import_cmd", required=True)
    dmi = imp.add_parser("deepmimo", help="a DeepMIMO v4 scenario folder as an AirTwin dataset")
    dmi.add_argument("--scenario-folder", required=True, help="DeepMIMO v4 scenario folder (with params.json)")
    dmi.add_argument("--out", required=True, help="dataset folder to write")
    dmi.add_argument("--split", default="test", choices=("train", "validation", "test"),
                     help="split of every imported sample (default: test)")
    dmi.add_argument("--spec", default=None, help="AirTwin scenario file giving the BS array and numerology "
                                                  "(default: the exporter's record, else a 1x8 array)")
    dmi.set_defaults(func=_cmd_import_deepmimo)

    from airtwin.datagen.plan import GenerateConfig
    from airtwin.model.config import FinetuneConfig, PretrainConfig, TrainConfig
    from airtwin.scenes.suites import EvaluationSettings

    gen = sub.add_parser("generate", help="generate a sharded HDF5 dataset over a scenario suite")
    add_config_arguments(gen, GenerateConfig)
    gen.add_argument("--out", required=True, help="output directory (re-run the same command to resume)")
    gen.add_argument("--workers", type=int, default=1, help="worker processes / Ray CPUs (default 1)")
    gen.add_argument("--backend", choices=("local", "ray"), default="local")
    gen.set_defaults(func=_cmd_generate)

    pre = sub.add_parser("pretrain-encoders", help="contrastive pretraining of the CSI and environment encoders")
    pre.add_argument("--data", required=True, help="dataset directory (its train split is used)")
    pre.add_argument("--out", required=True, help="output directory for the encoders")
    add_config_arguments(pre, PretrainConfig)
    pre.set_defaults(func=_cmd_pretrain)

    tr = sub.add_parser("train", help="multi-task training of the universal model (resumable)")
    add_config_arguments(tr, TrainConfig)
    tr.set_defaults(func=_cmd_train)

    ft = sub.add_parser("finetune", help="site-specific protocol: trace one unseen area, fine-tune, test there")
    add_config_arguments(ft, FinetuneConfig)
    ft.set_defaults(func=_cmd_finetune)

    ev = sub.add_parser("evaluate-model", help="task metrics of trained checkpoints (and baselines) on a dataset")
    ev.add_argument("--data", required=True, help="dataset directory (e.g. generated from procedural-heldout)")
    ev.add_argument("--split", default=None, choices=("train", "validation", "test", "none"),
                    help="train, validation, test or none (all; the default)")
    ev.add_argument("--checkpoints", nargs="*", default=[], help="checkpoint directories")
    ev.add_argument("--baselines-from", help="dataset whose train split fits the non-neural baselines")
    ev.add_argument("--max-samples", type=int, default=None, help="at most this many test samples (default: all)")
    ev.add_argument("--seed", type=int, default=0, help="seed of the sample choice, the pilot noise and the bootstrap")
    ev.add_argument("--json", help="also write the metrics as JSON here")
    ev.add_argument("--plots", help="also write one comparison figure per task into this folder")
    ev.add_argument("--device", default="auto", help=DEVICE_HELP)
    ev.set_defaults(func=_cmd_evaluate_model)

    em = sub.add_parser("evaluate-multicell", help="multi-user precoding and cell/beam management against their "
                        "classical baselines (MRT/ZF/RZF, A3), with 95 %% intervals")
    from airtwin.evaluation.multicell import MulticellEvalConfig

    add_config_arguments(em, MulticellEvalConfig)
    em.add_argument("--out", required=True, help="folder for report.md and results.json")
    em.set_defaults(func=_cmd_evaluate_multicell)

    es = sub.add_parser("evaluate", help="closed-loop evaluation of policies over a scenario suite, with a report")
    es.add_argument("--suite", default="default", help="a built-in suite (`airtwin scenes list`) or a suite TOML file")
    es.add_argument("--policies", default=None,
                    help="comma-separated: universal, reference, classical, oracle, sweep, lookup, lookup-gains, "
                         "random (default: universal,classical,oracle,sweep,random)")
    es.add_argument("--out", required=True)
    es.add_argument("--checkpoint", default=None, help="universal-model checkpoint (default: the shipped one)")
    es.add_argument("--reference-checkpoint", default=None,
                    help="a second universal-model checkpoint, played as the policy 'reference' and compared with "
                         "'universal' step by step (e.g. the previous shipped checkpoint)")
    es.add_argument("--device", default="auto", help=DEVICE_HELP)
    add_config_arguments(es.add_argument_group("overrides of the suite's [evaluation] settings"), EvaluationSettings,
                         override=True)
    es.set_defaults(func=_cmd_evaluate)

    demo = sub.add_parser("demo", help="short closed-loop demo with the shipped universal model")
    demo.add_argument("--out", default="out/demo")
    demo.set_defaults(func=_cmd_demo)
    return parser


def _check_out(args: argparse.Namespace) -> None:
    out = getattr(args, "out", None)
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise ValueError(f"--out {out} exists and is not a folder; give a folder for the output")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _check_out(args)
        return args.func(args)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"airtwin: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

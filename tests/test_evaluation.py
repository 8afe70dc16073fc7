"""End-to-end evaluation on the tiny suite: files, hand-checkable metrics, reproducibility, bad input."""

import json

import pytest

from airtwin.evaluation.report import write_report
from airtwin.scenes.suites import EvaluationSettings, Suite, builtin_suites, load_suite

POLICIES = ("oracle", "sweep", "lookup", "lookup-gains", "random")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    metrics = write_report(load_suite("tiny"), POLICIES, out, log=lambda m: None)
    return out, metrics


def test_report_and_figures_exist(run):
    out, _ = run
    for name in ("report.md", "metrics.json", "timing.json", "beam_selection.png", "snr_over_time.png",
                 "precoding.png", "positioning_cdf.png", "path_loss_scatter.png", "beams_canyon-test.png"):
        assert (out / name).stat().st_size > 1000 or name.endswith(".json"), name
    report = (out / "report.md").read_text()
    assert "## Beam selection" in report and "| canyon-test | 3 | oracle | 100.0 %" in report
    assert "![beam_selection](beam_selection.png)" in report


def test_oracle_is_perfect_and_others_are_not_better(run):
    _, metrics = run
    beams = metrics["scenarios"]["canyon-test"]["beam_selection"]["3"]
    assert beams["oracle"]["beam_accuracy"] == 1.0 and beams["oracle"]["snr_loss_db"] == 0.0
    for p in ("sweep", "lookup", "lookup-gains", "random"):
        assert beams[p]["snr_loss_db"] >= 0.0 and beams[p]["beam_accuracy"] <= 1.0
        assert beams[p]["rate"] <= beams["oracle"]["rate"] + 1e-9
    # Sweep every 10 steps with 4 beams of 0.5 ms each over 0.5 s steps: 0.04 % overhead, 90 % saved.
    assert beams["sweep"]["overhead_fraction"] == pytest.approx(4 * 0.5e-3 / (10 * 0.5))
    assert beams["sweep"]["overhead_saved_vs_exhaustive"] == pytest.approx(0.9)
    assert beams["sweep"]["beams"][0] == beams["sweep"]["best_beams"][0]  # a sweep step finds the best beam
    pre = metrics["scenarios"]["canyon-test"]["precoding"]["10"]
    assert pre["oracle"]["sgcs"] == pytest.approx(1.0, abs=1e-5)
    assert pre["oracle"]["spectral_efficiency"] == pytest.approx(pre["oracle"]["optimal_spectral_efficiency"])
    assert pre["random"]["sgcs"] < pre["oracle"]["sgcs"]
    assert metrics["scenarios"]["canyon-test"]["positioning"]["oracle"]["cdf90_m"] == pytest.approx(0.0, abs=1e-3)
    assert "canyon-test/universal" not in metrics["skipped"]  # not requested


def test_same_command_same_metrics(run, tmp_path):
    out, _ = run
    write_report(load_suite("tiny"), POLICIES, tmp_path, log=lambda m: None)
    assert (tmp_path / "metrics.json").read_bytes() == (out / "metrics.json").read_bytes()


def test_builtin_suites_load_and_bad_input_is_clear(tmp_path):
    assert {"default", "mobility", "snr", "tiny", "demo"} <= set(builtin_suites())
    for name in builtin_suites():
        assert load_suite(name).name == name
    with pytest.raises(ValueError, match="unknown suite 'nope'"):
        load_suite("nope")
    with pytest.raises(ValueError, match="unknown scenario"):
        Suite(name="x", scenarios=("atlantis",))
    (tmp_path / "s.toml").write_text('name = "s"\nscenarios = ["canyon-test"]\n[evaluation]\nsteps = 0\n')
    with pytest.raises(ValueError, match="EvaluationSettings.steps"):
        load_suite(str(tmp_path / "s.toml"))
    with pytest.raises(ValueError, match="allowed: a comma-separated subset"):
        write_report(load_suite("tiny"), ("telepathy",), tmp_path, log=lambda m: None)


def test_the_shipped_model_plays_every_numerology_and_a_legacy_one_is_skipped_with_a_reason(tmp_path):
    import dataclasses

    from airtwin.model.checkpoint import default_checkpoint, load_checkpoint, save_checkpoint

    # The shipped checkpoint (2x8 array, 32 subcarriers) plays canyon-test (1x4, 16) through the adapter.
    metrics = write_report(load_suite("tiny"), ("universal", "oracle"), tmp_path / "shipped", log=lambda m: None)
    assert not metrics["skipped"]
    rows = json.dumps(metrics)
    assert '"canyon-test"' in rows and "universal" in rows
    # A checkpoint that records no numerology cannot be adapted: skipped, with the reason in the report.
    legacy = load_checkpoint(default_checkpoint(), device="cpu")
    legacy.cfg = dataclasses.replace(legacy.cfg, numerology=None)
    save_checkpoint(legacy, tmp_path / "legacy")
    metrics = write_report(load_suite("tiny"), ("universal", "oracle"), tmp_path / "out", checkpoint=tmp_path / "legacy",
                           log=lambda m: None)
    assert "records no numerology" in metrics["skipped"]["canyon-test/universal"]
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["skipped"]


def test_a_reference_checkpoint_is_paired_with_the_universal_model(tmp_path):
    from airtwin.evaluation.runner import run_suite
    from airtwin.model.checkpoint import default_checkpoint

    settings = EvaluationSettings(pilot_snr_db=(10.0,), episodes=2, steps=3, offline_samples=8, render=False)
    suite = Suite(name="pair", scenarios=("canyon-test",), evaluation=settings)
    # The shipped model against itself: both play, and every paired difference is exactly zero.
    metrics = write_report(suite, ("universal", "sweep"), tmp_path / "self", reference_checkpoint=default_checkpoint(),
                           log=lambda m: None)
    assert metrics["policies"] == ["universal", "sweep", "reference"] and not metrics["skipped"]
    per = metrics["scenarios"]["canyon-test"]
    assert per["beam_selection"]["3"]["reference"]["beams"] == per["beam_selection"]["3"]["universal"]["beams"]
    assert per["path_loss"]["reference"]["rmse_db"] == per["path_loss"]["universal"]["rmse_db"]
    pairs = metrics["universal_vs_baselines"]
    assert set(pairs["canyon-test/beam_selection/3 m/s"]) == {"sweep", "reference"}
    for where in ("canyon-test/beam_selection/3 m/s", "canyon-test/precoding/10 dB", "canyon-test/positioning/10 dB"):
        for c in pairs[where]["reference"].values():
            assert (c["difference"], c["low"], c["high"]) == (0.0, 0.0, 0.0)
            assert c["verdict"] == "not distinguishable"
    report = (tmp_path / "self" / "report.md").read_text()
    assert "| canyon-test | 3 | reference |" in report and "| canyon-test | reference path loss | RMSE" in report
    with pytest.raises(ValueError, match="policy 'reference' needs reference_checkpoint"):
        run_suite(suite, ("universal", "reference"), log=lambda m: None)


@pytest.mark.slow
def test_demo_runs_from_a_fresh_command_line(tmp_path):
    import subprocess
    import sys
    import time

    start = time.time()
    proc = subprocess.run([sys.executable, "-m", "airtwin.cli", "demo", "--out", str(tmp_path)], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert "| city-10000 | 3 | universal |" in proc.stdout
    assert (tmp_path / "scene_city-10000.png").stat().st_size > 10_000
    assert time.time() - start < 180


def test_frequency_variants_are_separate_scenarios():
    from airtwin.evaluation.runner import scenario_variants

    suite = Suite(name="f", scenarios=("canyon-test",),
                  evaluation=EvaluationSettings(carrier_frequencies_hz=(3.5e9, 28e9)))
    variants = dict(scenario_variants(suite))
    assert list(variants) == ["canyon-test@3.5GHz", "canyon-test@28GHz"]
    assert variants["canyon-test@28GHz"].radio.carrier_frequency_hz == 28e9
    assert dict(scenario_variants(load_suite("tiny")))["canyon-test"].radio.carrier_frequency_hz == 3.5e9
    with pytest.raises(ValueError, match="carrier_frequencies_hz"):
        EvaluationSettings(carrier_frequencies_hz=(1.0,))


def test_a_checkpoint_that_cannot_be_loaded_is_an_error(tmp_path, capsys):
    from airtwin.cli import main

    code = main(["evaluate", "--suite", "tiny", "--policies", "universal,oracle", "--out", str(tmp_path / "r"),
                 "--checkpoint", str(tmp_path / "nonexistent"), "--no-render"])
    assert code == 2
    assert "nonexistent does not exist" in capsys.readouterr().err
    assert not (tmp_path / "r" / "report.md").exists()


def test_multi_site_scenarios_get_the_multi_user_and_cell_runs(tmp_path):
    suite_file = tmp_path / "cells.toml"
    suite_file.write_text('name = "cells"\ndescription = "test"\nscenarios = ["city-tiny-cells3-00000"]\n\n'
                          "[evaluation]\nspeeds_mps = [15.0]\npilot_snr_db = [20.0]\nepisodes = 2\nsteps = 2\n"
                          "offline_samples = 8\nrender = false\n")
    metrics = write_report(load_suite(str(suite_file)), ("classical", "random"), tmp_path / "r", log=lambda m: None)
    result = metrics["multicell"]["city-tiny-cells3-00000"]
    assert {"multi_user", "cells"} <= set(result) and "A3 (hys 2 dB, off 1 dB, TTT 160 ms)" in result["cells"]["policies"]
    report = (tmp_path / "r" / "report.md").read_text()
    assert "## Several users and several cells" in report and "#### Cell and beam management" in report
    assert (tmp_path / "r" / "cells_map_city-tiny-cells3-00000.png").exists()
    assert "multicell" in __import__("json").loads((tmp_path / "r" / "metrics.json").read_text())


def test_ablation_rows_are_pooled_over_seeds_with_t_intervals():
    import numpy as np

    from airtwin.evaluation.offline import across_seeds, seeds_markdown

    def row(top1, sgcs):
        return {"beam_top1": {"value": top1, "low": 0, "high": 1}, "sgcs": {"value": sgcs, "low": 0, "high": 1}}

    rows = {f"full (run_full_s{s})": row(t, 0.93 + 0.001 * s) for s, t in enumerate((0.50, 0.52, 0.51))}
    rows |= {f"wm (run_wm_s{s})": row(t, 0.93 + 0.001 * s) for s, t in enumerate((0.30, 0.33, 0.31))}
    rows |= {f"fp (run_fp_s{s})": row(t, 0.93 + 0.001 * s) for s, t in enumerate((0.51, 0.50, 0.52))}
    rows["geometric"] = row(0.4, 0.9)  # a baseline: not a seeded run, ignored
    table = across_seeds({"rows": rows})
    assert set(table) == {"full", "wm", "fp"} and table["full"]["seeds"] == [0, 1, 2]
    full = table["full"]["beam_top1"]
    assert full["mean"] == pytest.approx(0.51)
    half = 4.302653 * 0.01 / np.sqrt(3)  # t(0.975, 2) x sample std / sqrt(3)
    assert (full["low"], full["high"]) == (pytest.approx(0.51 - half), pytest.approx(0.51 + half))
    assert table["wm"]["beam_top1"]["verdict"] == "worse" and table["wm"]["beam_top1"]["difference"] == pytest.approx(-0.19667, abs=1e-4)
    assert table["fp"]["beam_top1"]["verdict"] == "not distinguishable"
    assert table["wm"]["sgcs"]["difference"] == pytest.approx(0.0)  # same values seed by seed
    assert "worse than full" in "\n".join(seeds_markdown(table))
    with pytest.raises(ValueError, match="reference variant 'te'; variants found: fp, full, wm"):
        across_seeds({"rows": rows}, reference="te")


def test_a_comparison_pools_runs_of_one_procedure_into_a_row_with_its_own_verdicts():
    import numpy as np

    from airtwin.evaluation.offline import compare, markdown

    rng = np.random.default_rng(0)
    truth_err = rng.exponential(5.0, 300)
    runs = {f"tuned, seed {s}": {"pos_median_m": truth_err * f, "beam_top1": (rng.random(300) < 0.8).astype(float)}
            for s, f in enumerate((0.9, 1.0, 1.1))}
    models = {"general": {"pos_median_m": truth_err * 3, "beam_top1": (rng.random(300) < 0.5).astype(float)}, **runs}
    baselines = {"k-NN": {"pos_median_m": truth_err * 2},
                 "lookup": {"beam_top1": (rng.random(300) < 0.6).astype(float)}}
    pooled = {"tuned, mean of 3": list(runs)}
    result = compare(models, baselines, pooled=pooled, num_resamples=200)
    assert list(result["rows"]) == ["general", *runs, "tuned, mean of 3", "k-NN", "lookup"]
    cell = result["rows"]["tuned, mean of 3"]["pos_median_m"]
    assert cell["value"] == pytest.approx(np.mean([result["rows"][r]["pos_median_m"]["value"] for r in runs]))
    assert cell["low"] < cell["value"] < cell["high"]
    verdict = result["comparisons"]["tuned, mean of 3"]["pos_median_m"]
    assert verdict["baseline"] == "k-NN" and verdict["verdict"] == "better"
    assert result["pooled"] == pooled and set(result["comparisons"]) == {"general", *runs, "tuned, mean of 3"}
    text = "\n".join(markdown(result))
    assert "tuned, mean of 3 against the strongest baseline of each metric (paired bootstrap over the test samples " \
           "and Student-t over the 3 runs, in quadrature, 95 %)" in text
    assert "tuned, seed 1 against" not in text and "general against the strongest baseline" in text  # runs: rows only
    # Without pooled rows, nothing changes: the same draws give the same table.
    plain = compare(models, baselines, num_resamples=200)
    assert plain["rows"]["tuned, seed 0"] == result["rows"]["tuned, seed 0"] and plain["pooled"] == {}
    with pytest.raises(ValueError, match="pooled row 'x' of \\['tuned, seed 0'\\]; allowed: two or more"):
        compare(models, baselines, pooled={"x": ["tuned, seed 0"]})
    with pytest.raises(ValueError, match="pooled row 'y'"):
        compare(models, baselines, pooled={"y": ["tuned, seed 0", "nobody"]})


def test_tables_of_one_test_set_merge_and_others_are_refused():
    from airtwin.evaluation.offline import across_seeds, merge_results

    def row(v):
        return {"beam_top1": {"value": v, "low": 0, "high": 1}}

    seed = [{"rows": {f"full (run_full_s{s})": row(0.5 + s / 100), f"wm (run_wm_s{s})": row(0.3),
                      "geometric": row(0.4)}, "num_samples": 10} for s in range(3)]
    merged = merge_results(seed)
    assert merged["num_samples"] == 10 and len(merged["rows"]) == 7  # the shared baseline row once
    assert across_seeds(merged)["full"]["seeds"] == [0, 1, 2]
    with pytest.raises(ValueError, match="scored on 10, 11 samples"):
        merge_results([seed[0], {**seed[1], "num_samples": 11}])
    with pytest.raises(ValueError, match="row 'geometric' differs"):
        merge_results([seed[0], {"rows": {"geometric": row(0.41)}, "num_samples": 10}])
    with pytest.raises(ValueError, match="no results"):
        merge_results([])

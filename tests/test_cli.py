import json
import subprocess
import sys

from airtwin.cli import main


def test_scenes_list(capsys):
    assert main(["scenes", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("canyon-test", "munich", "etoile", "city-00000", "procedural-heldout"):
        assert name in out


def test_scenes_show_prints_valid_json(capsys):
    assert main(["scenes", "show", "city-00012"]) == 0
    out = capsys.readouterr().out
    spec = json.loads(out[: out.index("\n#")])
    assert spec["scene"]["city"]["seed"] == 12
    assert "buildings" in out


def test_scenes_show_file(tmp_path, capsys):
    from airtwin.scenes import get_scenario

    get_scenario("canyon-test").save(tmp_path / "s.json")
    assert main(["scenes", "show", str(tmp_path / "s.json")]) == 0
    assert '"canyon-test"' in capsys.readouterr().out


def test_unknown_scenario_is_a_clear_error(capsys):
    assert main(["scenes", "show", "atlantis"]) == 2
    assert "unknown scenario 'atlantis'" in capsys.readouterr().err


def test_console_script_runs():
    proc = subprocess.run([sys.executable, "-m", "airtwin.cli", "scenes", "list"], capture_output=True, text=True,
                          check=True)
    assert "Suites:" in proc.stdout


def test_out_that_is_a_file_names_out(tmp_path, capsys):
    target = tmp_path / "afile"
    target.write_text("x")
    for argv in (["train", "--data", str(tmp_path), "--out", str(target)],
                 ["evaluate", "--suite", "tiny", "--out", str(target)],
                 ["generate", "--suite", "tiny", "--samples", "4", "--out", str(target)]):
        assert main(argv) == 2
        assert f"--out {target} exists and is not a folder" in capsys.readouterr().err


def test_evaluate_model_input_errors(tmp_path, capsys):
    """Empty split, --max-samples 0, --split none; another numerology is adapted."""
    from airtwin.datagen.generate import generate
    from airtwin.datagen.plan import GenerateConfig
    from airtwin.evaluation.runner import default_checkpoint

    data = tmp_path / "tiny"
    generate(GenerateConfig(suite="tiny", samples=24, shard_size=12, batch_size=12), data)
    ckpt = str(default_checkpoint())
    base = ["evaluate-model", "--data", str(data), "--checkpoints", ckpt]
    assert main([*base, "--split", "validation"]) == 2
    assert "has no samples in split 'validation'" in capsys.readouterr().err
    assert main([*base, "--max-samples", "0"]) == 2
    assert "--max-samples 0: allowed is an integer >= 1" in capsys.readouterr().err
    assert main([*base, "--split", "none"]) == 2  # accepted; the tiny suite mixes numerologies
    assert "mix numerologies" in capsys.readouterr().err
    # canyon-test: a 1x4 array and 16 subcarriers, scored through the numerology adapter (the shipped
    # checkpoint records the 2x8, 32-subcarrier numerology it was trained on).
    assert main([*base, "--split", "test", "--json", str(tmp_path / "table.json")]) == 0
    out = capsys.readouterr().out
    assert "12 test samples" in out and "| full (" in out and "pos_median_m" in out
    table = json.loads((tmp_path / "table.json").read_text())
    assert table["num_samples"] == 12 and any(name.startswith("full (") for name in table["rows"])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("table.json")] == ["table.json"]  # no temp file
    # Baselines fitted on the train split's numerology (city-tiny) cannot score canyon-test's.
    assert main([*base, "--split", "test", "--baselines-from", str(data)]) == 2
    assert "cannot score" in capsys.readouterr().err


def test_suite_without_pilot_snrs_is_refused(tmp_path):
    import pytest

    from airtwin.scenes.suites import load_suite

    (tmp_path / "s.toml").write_text('name = "s"\nscenarios = ["canyon-test"]\n[evaluation]\npilot_snr_db = []\n')
    with pytest.raises(ValueError, match=r"EvaluationSettings.pilot_snr_db must list at least one value"):
        load_suite(str(tmp_path / "s.toml"))


def test_every_help_page_formats():
    """`airtwin --help` and each subcommand's help render (a bare '%' in a help string breaks argparse)."""
    import argparse

    from airtwin.cli import build_parser

    pending = [build_parser()]
    seen = 0
    while pending:
        parser = pending.pop()
        assert "usage:" in parser.format_help()
        seen += 1
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                pending.extend(action.choices.values())
    assert seen > 10

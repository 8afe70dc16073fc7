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
    from scenes import get_scenario

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

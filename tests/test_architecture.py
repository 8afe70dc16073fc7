"""The layer order holds, imports are namespaced, and library code keeps no hidden global state.

Layers, lowest first; a module imports its own package and lower layers only, never a peer::

    airtwin.config -> phy -> scenes -> twin -> datagen | envs -> model -> evaluation -> airtwin.cli

Imports under ``if TYPE_CHECKING:`` (annotations only, never run) are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Import package -> (repository folder or file, layer).
PACKAGES = {
    "airtwin.config": ("airtwin/config.py", 0),
    "airtwin.phy": ("phy", 1),
    "airtwin.scenes": ("scenes", 2),
    "airtwin.twin": ("twin", 3),
    "airtwin.datagen": ("datagen", 4),
    "airtwin.envs": ("envs", 4),
    "airtwin.model": ("model", 5),
    "airtwin.evaluation": ("evaluation", 6),
    "airtwin.cli": ("airtwin/cli.py", 7),
    "airtwin": ("airtwin/__init__.py", 0),
}
FOLDERS = ("twin", "scenes", "phy", "datagen", "envs", "model", "evaluation")


def _files(where: str) -> list[Path]:
    path = ROOT / where
    return [path] if path.suffix == ".py" else sorted(path.rglob("*.py"))


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import in the file, function-local ones included."""
    out = []
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):  # drop `if TYPE_CHECKING:` blocks
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: relative import; use the airtwin.* name"
            out += [(node.lineno, node.module)] + [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def _package_of(module: str) -> str | None:
    for name in sorted(PACKAGES, key=len, reverse=True):
        if module == name or module.startswith(name + "."):
            return name
    return None


def test_no_import_goes_up_or_sideways():
    bad = []
    for package, (where, layer) in PACKAGES.items():
        for path in _files(where):
            for line, module in _imports(path):
                other = _package_of(module)
                if other is None or other == package or (package == "airtwin" and other == "airtwin.config"):
                    continue
                if other == "airtwin" or PACKAGES[other][1] >= layer:
                    bad.append(f"{path.relative_to(ROOT)}:{line} ({package}, layer {layer}) imports {module} "
                               f"({other}, layer {PACKAGES[other][1]})")
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_every_python_file_is_in_a_layer():
    covered = {p for where, _ in PACKAGES.values() for p in _files(where)}
    library = {p for folder in (*FOLDERS, "airtwin") for p in (ROOT / folder).rglob("*.py")}
    assert library <= covered, sorted(str(p.relative_to(ROOT)) for p in library - covered)


@pytest.mark.parametrize("folder", ["tests", "benchmarks", "scripts", "examples", *FOLDERS, "airtwin"])
def test_imports_are_namespaced(folder):
    bad = [f"{p.relative_to(ROOT)}:{line} imports {m}" for p in sorted((ROOT / folder).rglob("*.py"))
           for line, m in _imports(p) if m.split(".")[0] in FOLDERS]
    assert not bad, "import the installed package, airtwin.*:\n" + "\n".join(bad)


GLOBAL_STATE_CALLS = {("torch", "manual_seed"), ("random", "manual_seed"), ("np", "seed"), ("random", "seed"),
                      ("matplotlib", "use"), ("torch", "set_default_dtype")}


def test_library_code_sets_no_global_state():
    """No global seeding (explicit generators instead) and no matplotlib backend switch on import."""
    bad = []
    for folder in (*FOLDERS, "airtwin"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    owner = node.func.value
                    name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
                    if (name, node.func.attr) in GLOBAL_STATE_CALLS:
                        bad.append(f"{path.relative_to(ROOT)}:{node.lineno} calls {name}.{node.func.attr}")
    assert not bad, "\n".join(bad)


def test_tests_are_not_installed():
    import importlib.util

    assert importlib.util.find_spec("airtwin.tests") is None
    import airtwin.twin

    assert Path(airtwin.twin.__file__).parent == ROOT / "twin"

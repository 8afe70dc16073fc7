"""Shared fixtures: twins are cached per scenario for the whole session (loading a scene once)."""

from __future__ import annotations

import dataclasses

import pytest

from airtwin.scenes import get_scenario


@pytest.fixture(scope="session")
def make_twin():
    """``make_twin(name, **tracing_overrides) -> Twin``, cached per arguments."""
    from airtwin.twin.twin import Twin

    cache = {}

    def make(name: str, **tracing):
        key = (name, tuple(sorted(tracing.items())))
        if key not in cache:
            spec = get_scenario(name)
            if tracing:
                spec = dataclasses.replace(spec, tracing=dataclasses.replace(spec.tracing, **tracing))
            cache[key] = Twin(spec)
        return cache[key]

    return make


@pytest.fixture(scope="session", autouse=True)
def _temporary_files_under_pytest(tmp_path_factory):
    """Library code that writes throw-away files (scene folders for Sionna, spawned workers' temp files)
    writes them under pytest's tmp_path, not in the system temp folder."""
    import os
    import tempfile

    folder = str(tmp_path_factory.mktemp("tmp"))
    old_dir, old_env = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = folder
    os.environ["TMPDIR"] = folder
    yield
    tempfile.tempdir = old_dir
    if old_env is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = old_env

"""Shared fixtures: twins are cached per scenario for the whole session (loading a scene once)."""

from __future__ import annotations

import dataclasses

import pytest

from scenes import get_scenario


@pytest.fixture(scope="session")
def make_twin():
    """``make_twin(name, **tracing_overrides) -> Twin``, cached per arguments."""
    from twin.twin import Twin

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

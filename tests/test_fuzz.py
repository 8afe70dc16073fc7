"""Fuzzing with hypothesis: any scenario spec or generate command line gives a valid config or a
ValueError that names a field, never another exception."""

import copy
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airtwin.cli import build_parser
from airtwin.config import config_from_args
from airtwin.datagen.plan import GenerateConfig
from airtwin.scenes import ScenarioSpec, get_scenario

BASES = {name: get_scenario(name).to_dict() for name in ("canyon-test", "city-tiny-00000", "free-space")}

# A field named in the message: "RadioConfig.carrier_frequency_hz", "s.json.radio", "BSSite(bs0)...", ...
NAMES_A_FIELD = re.compile(r"[A-Z][A-Za-z]+(\.|\()[a-z_]+|ScenarioSpec|[a-z_]+\[\d+\]|unknown key")

values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-(2**70), max_value=2**70), st.booleans(),
    st.none(), st.text(max_size=12), st.lists(st.floats(allow_nan=True), max_size=4),
    st.lists(st.integers(-5, 5), max_size=4), st.dictionaries(st.text(max_size=6), st.integers(), max_size=2))


def leaves(d, path=()):
    """Every (path, value) of a nested dict/list."""
    if isinstance(d, dict):
        for k, v in d.items():
            yield from leaves(v, (*path, k))
    elif isinstance(d, list) and d and isinstance(d[0], dict):
        for i, v in enumerate(d):
            yield from leaves(v, (*path, i))
    else:
        yield path, d


def set_path(d, path, value):
    for p in path[:-1]:
        d = d[p]
    d[path[-1]] = value


@st.composite
def mutated_specs(draw):
    base = copy.deepcopy(BASES[draw(st.sampled_from(sorted(BASES)))])
    paths = [p for p, _ in leaves(base)]
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        path = draw(st.sampled_from(paths))
        if action == "replace":
            set_path(base, path, draw(values))
        elif action == "delete":
            parent = base
            for p in path[:-1]:
                parent = parent[p]
            if isinstance(parent, dict):
                parent.pop(path[-1], None)
        else:
            parent = base
            for p in path[:-1]:
                parent = parent[p]
            if isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=8))] = draw(values)
        paths = [p for p, _ in leaves(base)] or [("name",)]
    return base


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_specs())
def test_any_spec_is_valid_or_a_value_error_naming_a_field(data):
    try:
        ScenarioSpec.from_dict(data)
    except ValueError as exc:
        assert NAMES_A_FIELD.search(str(exc)), str(exc)


NUMERIC_FLAGS = ["--samples", "--seed", "--shard-size", "--batch-size", "--trajectory-steps", "--step-s",
                 "--aging-delay-s"]
tokens = st.one_of(st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1e309", "3", "12", "0.5", "abc", "", "1e3"]),
                   st.integers(-10**12, 10**12).map(str), st.floats(allow_nan=True).map(repr))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(NUMERIC_FLAGS), tokens, max_size=len(NUMERIC_FLAGS)))
def test_generate_command_line_is_parsed_or_refused_naming_the_field(flags):
    argv = ["generate", "--suite", "tiny", "--out", "unused"]
    if "--samples" not in flags:
        argv += ["--samples", "8"]
    for k, v in flags.items():
        argv += [k, v]
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse: a value of the wrong type, reported on stderr with the flag
        assert exc.code == 2
        return
    try:
        config_from_args(GenerateConfig, args)
    except ValueError as exc:
        assert re.search(r"GenerateConfig\.[a-z_]+", str(exc)), str(exc)


@pytest.mark.parametrize("argv", [["scenes", "show"], ["generate"], ["evaluate", "--policies"], ["nope"]])
def test_incomplete_command_lines_exit_2(argv):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2

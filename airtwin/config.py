"""Typed configuration I/O: nested dataclasses to and from JSON/TOML dictionaries.

Every configuration in AirTwin is a dataclass validated in ``__post_init__``. This
module converts plain dictionaries (parsed JSON or TOML) into those dataclasses,
rejecting unknown keys and wrong types with an error that names the field path and
what is allowed, and converts them back for saving.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
import tomllib
import types
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value is missing, unknown or of the wrong type."""


def _describe(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if dataclasses.is_dataclass(tp):
        return f"a table of {tp.__name__} fields"
    return getattr(tp, "__name__", str(tp))


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = get_origin(tp)
    args = get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{where}: {value!r} matches none of the allowed types ({'; '.join(errors)})")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not allowed; expected {_describe(tp)}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected {_describe(tp)}, got {type(value).__name__}")
        return from_dict(tp, value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
        return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"{where}: unsupported annotation {tp!r}")


def from_dict(cls: type[T], data: dict[str, Any], where: str | None = None) -> T:
    """Build dataclass ``cls`` from a dictionary, recursively.

    Raises:
        ConfigError: for unknown keys (the message lists the allowed ones), missing
            required keys and values of the wrong type; ``__post_init__`` validation
            errors propagate as ``ValueError``.
    """
    where = where or cls.__name__
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed keys are {sorted(fields)}")
    kwargs = {name: _convert(hints[name], value, f"{where}.{name}") for name, value in data.items()}
    missing = [
        n for n, f in fields.items()
        if n not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{where}: missing required key(s) {missing}")
    return cls(**kwargs)


def to_dict(obj: Any) -> Any:
    """Dataclass (or nested containers of them) to JSON/TOML-ready plain values; ``None`` fields are dropped."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if value is not None:
                out[f.name] = to_dict(value)
        return out
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj


def load_file(cls: type[T], path: str | Path) -> T:
    """Load dataclass ``cls`` from a ``.json`` or ``.toml`` file."""
    path = Path(path)
    if path.suffix == ".toml":
        data = tomllib.loads(path.read_text())
    elif path.suffix == ".json":
        data = json.loads(path.read_text())
    else:
        raise ConfigError(f"{path}: unsupported file type {path.suffix!r}; allowed are '.toml' and '.json'")
    return from_dict(cls, data, where=f"{path.name}")


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary name unique to this process, fsync, rename."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: str | Path, obj: Any, *, indent: int = 1, sort_keys: bool = False) -> None:
    """Write ``obj`` as indented JSON with a final newline, atomically (:func:`write_atomic`): a reader never sees
    half a file, and a file that exists is whole."""
    write_atomic(path, (json.dumps(obj, indent=indent, sort_keys=sort_keys) + "\n").encode())


def save_json(obj: Any, path: str | Path) -> None:
    """Write a configuration dataclass as indented JSON (atomically, see :func:`write_atomic`)."""
    write_json(path, to_dict(obj), indent=2)


def check_range(where: str, value: float, low: float | None = None, high: float | None = None,
                *, low_open: bool = False) -> None:
    """Raise ``ValueError`` naming ``where`` unless ``low <= value <= high`` (``low < value`` when ``low_open``).

    NaN and infinities are rejected whatever the bounds (comparisons with NaN are all false).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{where} = {value!r} must be a finite number")
    bad = (low is not None and (value <= low if low_open else value < low)) or (high is not None and value > high)
    if bad:
        lo = "" if low is None else (f"> {low}" if low_open else f">= {low}")
        hi = "" if high is None else f"<= {high}"
        allowed = " and ".join(s for s in (lo, hi) if s)
        raise ValueError(f"{where} = {value!r} is out of range; allowed: {allowed}")


def check_interval(where: str, interval: tuple[float, float], low: float | None = None,
                   high: float | None = None) -> None:
    """Raise ``ValueError`` unless ``interval`` is ``(a, b)`` with ``low <= a <= b <= high``."""
    a, b = interval
    check_range(f"{where}[0]", a, low, high)
    check_range(f"{where}[1]", b, low, high)
    if a > b:
        raise ValueError(f"{where} = {interval!r}: the first value must not exceed the second")



# ---------------------------------------------------------------------- command-line flags from dataclasses
def field_docs(cls: type) -> dict[str, str]:
    """The attribute docstrings of a dataclass (the string literal after each field), by field name."""
    import ast
    import inspect
    import textwrap

    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body
        for node, nxt in zip(body, body[1:]):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(nxt, ast.Expr)
                    and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str)):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def _flag_type(tp: Any) -> tuple[Any, dict[str, Any]]:
    """``(parse function, extra add_argument kwargs)`` for a field annotation."""
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _flag_type(inner[0]) if len(inner) == 1 else (str, {})
    if origin is Literal:
        return type(args[0]), {"choices": list(args)}
    if origin is tuple:
        item = args[0]

        def parse(text: str, item=item):
            return tuple(item(v.strip()) for v in text.split(",") if v.strip())

        return parse, {"metavar": f"{getattr(item, '__name__', 'V').upper()},..."}
    return tp, {}


def add_config_arguments(parser, cls: type, *, exclude: tuple[str, ...] = (), override: bool = False,
                         required: tuple[str, ...] = ()) -> None:
    """Add one ``--flag-name`` per field of dataclass ``cls``, with its type, default and docstring as help.

    Args:
        exclude: fields without a flag.
        override: every flag defaults to None, meaning "keep the configuration's value" (for
            settings read from a file and overridden on the command line).
        required: fields whose flag must be given.
    """
    import argparse

    hints = get_type_hints(cls)
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        if f.name in exclude or not f.init:
            continue
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else None
        help_text = docs.get(f.name, "")
        if hints[f.name] is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None if override else default,
                                help=help_text + ("" if override else f" (default: {default})"))
            continue
        parse, extra = _flag_type(hints[f.name])
        must = f.name in required or (f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        if isinstance(default, tuple):
            shown = ",".join(map(str, default))
        else:
            shown = default
        note = "" if override or must else f" (default: {shown})"
        parser.add_argument(flag, type=parse, default=None if override or must else default, required=must,
                            dest=f.name, help=(help_text + note).strip() or None, **extra)


def config_from_args(cls: type[T], args, **values: Any) -> T:
    """Build ``cls`` from the parsed flags of :func:`add_config_arguments` (``values`` take precedence)."""
    kwargs = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if f.init and hasattr(args, f.name)}
    return cls(**{**kwargs, **values})


def config_overrides(cls: type, args) -> dict[str, Any]:
    """The flags of an ``override=True`` group that were given: ``{field: value}``."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
            if f.init and getattr(args, f.name, None) is not None}


__all__ = ["ConfigError", "from_dict", "to_dict", "load_file", "write_atomic", "save_json", "check_range", "check_interval",
           "field_docs", "add_config_arguments", "config_from_args", "config_overrides"]

"""Suites: named lists of scenarios, one concept for generating data and for evaluating policies.

A suite is a TOML file::

    name = "mobility"
    description = "..."
    scenarios = ["city-10002", "my_district.geojson"]   # registered names or scenario files

    [evaluation]                                         # how `airtwin evaluate` runs it (all optional)
    speeds_mps = [1.0, 5.0, 15.0, 30.0]
    episodes = 2

``airtwin generate --suite S`` traces the scenarios of ``S``; ``airtwin evaluate --suite S`` runs
policies on the same scenarios with the ``[evaluation]`` settings. Built-in suites live in
``scenes/suite_files/``; :func:`load_suite` takes a built-in name or a path to a TOML file. Relative
scenario file paths are resolved against the suite file's folder.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from airtwin.config import ConfigError, check_range, from_dict
from airtwin.phy.estimation import DEFAULT_PILOT_SNR_DB
from airtwin.scenes.registry import SCENARIO_FILE_SUFFIXES, area_split, get_scenario


@dataclass(frozen=True)
class EvaluationSettings:
    """How ``airtwin evaluate`` runs a suite's scenarios."""

    speeds_mps: tuple[float, ...] = (3.0,)
    """UE speeds of the closed-loop beam-selection runs [m/s] (one run per speed)."""
    pilot_snr_db: tuple[float, ...] = (DEFAULT_PILOT_SNR_DB,)
    """Pilot SNRs of the precoding and positioning runs [dB] (one run per SNR)."""
    carrier_frequencies_hz: tuple[float, ...] = ()
    """Carrier frequencies to evaluate each scenario at [Hz]; empty: the scenario's own. Each frequency
    is reported as a scenario of its own, ``NAME@F GHz``."""
    episodes: int = 2
    """Episodes per run."""
    steps: int = 20
    """Steps per episode."""
    offline_samples: int = 128
    """UE drops per scenario for the offline path-loss test set."""
    lookup_drops: int = 256
    """Traced drops of the area in the position lookup table's beam policy. When the universal policy runs with a
    site-memory checkpoint of the area (``airtwin finetune``), the lookup gets the memory's drops instead, so both
    know the same drops."""
    render: bool = True
    """Render each scenario with Sionna (radio map, trajectory, paths)."""
    multicell: bool = True
    """Scenarios with several sites also get the multi-user precoding and cell/beam management runs against
    their baselines (``airtwin evaluate-multicell``; at least 2 episodes)."""
    seed: int = 0
    """Seed of the episodes and the offline drops."""

    def __post_init__(self) -> None:
        for name in ("speeds_mps", "pilot_snr_db"):
            if not getattr(self, name):
                raise ValueError(f"EvaluationSettings.{name} must list at least one value (one run per value)")
        for v in self.speeds_mps:
            check_range("EvaluationSettings.speeds_mps[]", v, 0.0, 100.0)
        for v in self.pilot_snr_db:
            check_range("EvaluationSettings.pilot_snr_db[]", v, -30.0, 100.0)
        for v in self.carrier_frequencies_hz:
            check_range("EvaluationSettings.carrier_frequencies_hz[]", v, 1e8, 3e11)
        check_range("EvaluationSettings.episodes", self.episodes, 1, 10_000)
        check_range("EvaluationSettings.steps", self.steps, 1, 100_000)
        check_range("EvaluationSettings.offline_samples", self.offline_samples, 1, 1_000_000)
        check_range("EvaluationSettings.lookup_drops", self.lookup_drops, 1, 1_000_000)


@dataclass(frozen=True)
class Suite:
    """A named list of scenarios (registered names or scenario files) and how to evaluate them."""

    name: str
    scenarios: tuple[str, ...]
    description: str = ""
    evaluation: EvaluationSettings = field(default_factory=EvaluationSettings)

    def __post_init__(self) -> None:
        if not self.scenarios:
            raise ValueError(f"Suite {self.name!r}: scenarios must name at least one scenario")
        for name in self.scenarios:
            get_scenario(name)  # raises with the allowed names

    @property
    def splits(self) -> dict[str, str]:
        """``{scenario: split}`` (see :func:`airtwin.scenes.registry.area_split`)."""
        return {s: area_split(s) for s in self.scenarios}


def _builtin_dir():
    return resources.files("airtwin.scenes") / "suite_files"


def builtin_suites() -> list[str]:
    """Names of the built-in suites."""
    return sorted(p.name[:-5] for p in _builtin_dir().iterdir() if p.name.endswith(".toml"))


def load_suite(name_or_path: str | Path) -> Suite:
    """A built-in suite by name, or a suite TOML file. Raises ``ValueError`` naming the allowed suites."""
    path = Path(name_or_path)
    if path.suffix == ".toml":
        if not path.is_file():
            raise ValueError(f"suite file {path} does not exist")
        return _read(path.read_text(), path.name, path.resolve().parent)
    if str(name_or_path) not in builtin_suites():
        raise ValueError(f"unknown suite {str(name_or_path)!r}; allowed: {', '.join(builtin_suites())} "
                         "or a path to a .toml suite file")
    return _read((_builtin_dir() / f"{name_or_path}.toml").read_text(), f"{name_or_path}.toml", None)


_RANGE_RE = re.compile(r"\{(\d+)\.\.(\d+)\}")


def expand_ranges(names: list) -> list:
    """Scenario entries with one brace range expanded, as in a shell: ``"city-mix-{00000..01023}"`` gives
    ``city-mix-00000`` ... ``city-mix-01023`` (zero-padded to the width of the first bound)."""
    out = []
    for name in names:
        match = _RANGE_RE.search(name) if isinstance(name, str) else None
        if match is None:
            out.append(name)
            continue
        lo, hi = int(match.group(1)), int(match.group(2))
        if hi < lo or hi - lo >= 100_000:
            raise ConfigError(f"scenario range {name!r}: allowed is {{LO..HI}} with LO <= HI and at most "
                              "100000 names")
        width = len(match.group(1))
        out += [name[:match.start()] + f"{i:0{width}d}" + name[match.end():] for i in range(lo, hi + 1)]
    return out


def _read(text: str, where: str, folder: Path | None) -> Suite:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc})") from exc
    if isinstance(data.get("scenarios"), list):
        data["scenarios"] = expand_ranges(data["scenarios"])
    if folder is not None and isinstance(data.get("scenarios"), list):
        data["scenarios"] = [str(folder / s) if isinstance(s, str) and Path(s).suffix in SCENARIO_FILE_SUFFIXES
                             and not Path(s).is_absolute() else s for s in data["scenarios"]]
    return from_dict(Suite, data, where=where)


def with_evaluation(suite: Suite, **overrides) -> Suite:
    """``suite`` with some :class:`EvaluationSettings` replaced (None values are ignored)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return dataclasses.replace(suite, evaluation=dataclasses.replace(suite.evaluation, **given))

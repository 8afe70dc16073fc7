"""Evaluation suites: which scenarios, speeds, pilot SNRs and episode lengths a policy comparison covers.

Suites are TOML files; the built-in ones live in ``evaluation/suite_files/`` (``default``, ``mobility``,
``snr``, ``tiny``). ``load_suite`` takes a built-in name or a path to a TOML file.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from airtwin.config import check_range, load_file
from airtwin.scenes.registry import get_scenario


@dataclass(frozen=True)
class EvalSuite:
    name: str
    scenarios: tuple[str, ...]
    description: str = ""
    speeds_mps: tuple[float, ...] = (3.0,)
    """UE speeds of the closed-loop beam-selection runs [m/s] (one run per speed)."""
    pilot_snr_db: tuple[float, ...] = (20.0,)
    """Pilot SNRs of the precoding and positioning runs [dB] (one run per SNR)."""
    carrier_frequencies_hz: tuple[float, ...] = ()
    """Carrier frequencies to evaluate each scenario at [Hz]; empty: the scenario's own. Each frequency
    is reported as a scenario of its own, ``NAME@F GHz``."""
    episodes: int = 2
    steps: int = 20
    offline_samples: int = 128
    """UE drops per scenario for the offline path-loss test set."""
    render: bool = True
    """Render each scenario with Sionna (radio map, trajectory, paths)."""
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.scenarios:
            raise ValueError("EvalSuite.scenarios must name at least one scenario")
        for name in self.scenarios:
            get_scenario(name)  # raises with the allowed names
        for field in ("speeds_mps", "pilot_snr_db"):
            if not getattr(self, field):
                raise ValueError(f"EvalSuite.{field} must list at least one value (one run per value)")
        for v in self.speeds_mps:
            check_range("EvalSuite.speeds_mps[]", v, 0.0, 100.0)
        for v in self.pilot_snr_db:
            check_range("EvalSuite.pilot_snr_db[]", v, -30.0, 100.0)
        for v in self.carrier_frequencies_hz:
            check_range("EvalSuite.carrier_frequencies_hz[]", v, 1e8, 3e11)
        check_range("EvalSuite.episodes", self.episodes, 1, 10_000)
        check_range("EvalSuite.steps", self.steps, 1, 100_000)
        check_range("EvalSuite.offline_samples", self.offline_samples, 1, 1_000_000)


def builtin_suites() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("airtwin.evaluation.suite_files").iterdir() if p.name.endswith(".toml"))


def load_suite(name_or_path: str) -> EvalSuite:
    """A built-in suite by name, or a suite TOML file."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        return load_file(EvalSuite, path)
    if name_or_path not in builtin_suites():
        raise ValueError(f"unknown evaluation suite {name_or_path!r}; allowed: {', '.join(builtin_suites())} "
                         "or a path to a .toml file")
    with resources.as_file(resources.files("airtwin.evaluation.suite_files") / f"{name_or_path}.toml") as p:
        return load_file(EvalSuite, p)

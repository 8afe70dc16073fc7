"""What the world is: scenario specs, built-in, procedural and footprint scenes, the scenario registry, suites
(:mod:`airtwin.scenes.suites`)."""

from airtwin.scenes.procedural import CityLayout, generate_city
from airtwin.scenes.registry import HELDOUT_SEEDS, TRAIN_SEEDS, get_scenario, list_scenarios
from airtwin.scenes.spec import (
    ArraySpec,
    BSSite,
    CityParams,
    CodebookConfig,
    EnvironmentMapConfig,
    Mobility,
    RadioConfig,
    ScenarioSpec,
    SceneSource,
    TracingConfig,
    UERegion,
    load_scenario,
)

__all__ = [
    "ArraySpec", "BSSite", "CityParams", "CodebookConfig", "EnvironmentMapConfig", "Mobility", "RadioConfig",
    "ScenarioSpec", "SceneSource", "TracingConfig", "UERegion", "load_scenario", "CityLayout", "generate_city",
    "get_scenario", "list_scenarios", "TRAIN_SEEDS", "HELDOUT_SEEDS",
]

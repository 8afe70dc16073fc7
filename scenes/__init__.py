"""What the world is: scenario specs, built-in and procedural scenes, the scenario registry."""

from airtwin.scenes.procedural import CityLayout, generate_city
from airtwin.scenes.registry import HELDOUT_SEEDS, SUITES, TRAIN_SEEDS, ScenarioSuite, get_scenario, get_suite, list_scenarios
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
    "SUITES", "ScenarioSuite", "get_scenario", "get_suite", "list_scenarios", "TRAIN_SEEDS", "HELDOUT_SEEDS",
]

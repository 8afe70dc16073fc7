"""Gymnasium environments over the twin, registered on import as ``AirTwin/<Name>-v0``.

    import gymnasium, envs
    env = gymnasium.make("AirTwin/BeamSelection-v0", scenario="city-tiny-00000")

Sionna is imported when the first environment is built, not on import.
"""

from gymnasium.envs.registration import register, registry

EPISODE_STEPS = 100

#: One UE, one serving BS (:mod:`airtwin.envs.core`): the universal model's tasks.
SINGLE_UE_ENV_IDS = {
    "AirTwin/BeamSelection-v0": "airtwin.envs.core:BeamSelectionEnv",
    "AirTwin/Precoding-v0": "airtwin.envs.core:PrecodingEnv",
    "AirTwin/Positioning-v0": "airtwin.envs.core:PositioningEnv",
    "AirTwin/AirInterface-v0": "airtwin.envs.core:AirInterfaceEnv",
}
#: Several UEs or several cells (:mod:`airtwin.envs.multicell`); CellBeamManagement needs a multi-site scenario.
MULTI_ENV_IDS = {
    "AirTwin/MultiUserPrecoding-v0": "airtwin.envs.multicell:MultiUserPrecodingEnv",
    "AirTwin/CellBeamManagement-v0": "airtwin.envs.multicell:CellBeamManagementEnv",
}
ENV_IDS = {**SINGLE_UE_ENV_IDS, **MULTI_ENV_IDS}

for _id, _entry in ENV_IDS.items():
    if _id not in registry:
        register(id=_id, entry_point=_entry, max_episode_steps=EPISODE_STEPS)

__all__ = ["ENV_IDS", "EPISODE_STEPS", "MULTI_ENV_IDS", "SINGLE_UE_ENV_IDS"]

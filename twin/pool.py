"""An explicit pool of twins: one :class:`~airtwin.twin.twin.Twin` per scenario, built on first use.

Building a twin loads a Sionna scene (seconds for a city), so code that makes many environments
or traces many shards of one scenario passes one pool around instead of building twins again::

    pool = TwinPool()
    envs = [gymnasium.make("AirTwin/BeamSelection-v0", scenario="city-tiny-00000", twin_pool=pool)
            for _ in range(4)]        # one twin, shared

A twin owns a Sionna scene, which must not be used from two threads at once: share a pool
between objects that step one after another in one thread (environments of one process do),
never across processes. There is no process-wide pool: whoever needs sharing makes one.
"""

from __future__ import annotations

from collections import OrderedDict

from airtwin.scenes.registry import get_scenario
from airtwin.scenes.spec import ScenarioSpec


class TwinPool:
    """Twins keyed by scenario spec, least recently used dropped beyond ``max_size``.

    Args:
        max_size: twins kept at most (None: no limit). A dropped twin stays usable by whoever holds it.
    """

    def __init__(self, max_size: int | None = None):
        if max_size is not None and max_size < 1:
            raise ValueError(f"TwinPool.max_size = {max_size}; allowed: an integer >= 1 or None")
        self.max_size = max_size
        self._twins: OrderedDict[str, object] = OrderedDict()

    def get(self, scenario: str | ScenarioSpec):
        """The twin of ``scenario`` (a name, a scenario file path or a spec), built on first use."""
        from airtwin.twin.twin import Twin

        spec = get_scenario(scenario) if isinstance(scenario, str) else scenario
        key = repr(spec)
        if key in self._twins:
            self._twins.move_to_end(key)
            return self._twins[key]
        while self.max_size is not None and len(self._twins) >= self.max_size:
            self._twins.popitem(last=False)
        twin = self._twins[key] = Twin(spec)
        return twin

    def __deepcopy__(self, memo) -> TwinPool:
        """A pool is shared, never copied (Gymnasium deep-copies ``make`` keyword arguments, e.g. when
        ``check_env`` re-creates an environment from its spec)."""
        return self

    def __len__(self) -> int:
        return len(self._twins)

    def clear(self) -> None:
        """Drop every twin (they are freed once nobody else holds them)."""
        self._twins.clear()

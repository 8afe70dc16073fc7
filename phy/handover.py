"""Handover: the 3GPP A3 event rule (TS 38.331, 5.5.4.4), the classical serving-cell policy.

A3 ("neighbour becomes offset better than serving") enters when ``Mn - Hys > Ms + Off`` (cell-individual
offsets and frequency offsets zero), with ``Mn``, ``Ms`` the neighbour's and the serving cell's RSRP [dBm],
``Hys`` the hysteresis and ``Off`` the a3-Offset [dB]. The UE reports, and the network hands over, once the
condition has held for ``time_to_trigger_s`` without interruption; a different best neighbour restarts
the timer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from airtwin.config import check_range


@dataclass(frozen=True)
class A3Config:
    """Settings of the A3 rule."""

    hysteresis_db: float = 2.0
    """Hys [dB] (3GPP: 0 to 15 dB in 0.5 dB steps)."""
    offset_db: float = 1.0
    """a3-Offset [dB] (3GPP: -15 to 15 dB)."""
    time_to_trigger_s: float = 0.16
    """TimeToTrigger [s] (3GPP: 0 to 5.12 s, e.g. 0.04, 0.064, 0.08, 0.1, 0.128, 0.16, 0.256, 0.32, ...)."""

    def __post_init__(self) -> None:
        check_range("A3Config.hysteresis_db", self.hysteresis_db, 0.0, 15.0)
        check_range("A3Config.offset_db", self.offset_db, -15.0, 15.0)
        check_range("A3Config.time_to_trigger_s", self.time_to_trigger_s, 0.0, 5.12)


class A3Rule:
    """Stateful A3 decision over a stream of RSRP measurements, one call per measurement period.

    Example::

        rule = A3Rule(A3Config(hysteresis_db=2, offset_db=1, time_to_trigger_s=0.1), serving=0)
        serving = rule.update(rsrp_dbm, dt_s=0.02)   # rsrp_dbm: [num_cells]
    """

    def __init__(self, config: A3Config, serving: int = 0):
        self.config = config
        self.reset(serving)

    def reset(self, serving: int) -> None:
        self.serving = int(serving)
        self._candidate: int | None = None
        self._held_s = 0.0

    def entering(self, rsrp_dbm: np.ndarray) -> int | None:
        """The best neighbour if it satisfies the entering condition now, else None."""
        rsrp = np.asarray(rsrp_dbm, dtype=np.float64)
        others = rsrp.copy()
        others[self.serving] = -np.inf
        best = int(np.argmax(others))
        if not np.isfinite(others[best]):
            return None
        c = self.config
        return best if rsrp[best] - c.hysteresis_db > rsrp[self.serving] + c.offset_db else None

    def update(self, rsrp_dbm: np.ndarray, dt_s: float) -> int:
        """Take one measurement ``[num_cells]`` [dBm] made ``dt_s`` after the previous one; return the serving
        cell after it (a handover happens when the condition has held for ``time_to_trigger_s``)."""
        candidate = self.entering(rsrp_dbm)
        if candidate is None:
            self._candidate, self._held_s = None, 0.0
            return self.serving
        if candidate != self._candidate:
            self._candidate, self._held_s = candidate, 0.0
        else:
            self._held_s += dt_s
        if self._held_s >= self.config.time_to_trigger_s - 1e-12:
            self.reset(candidate)
        return self.serving

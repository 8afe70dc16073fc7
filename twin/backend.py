"""Lazy access to Sionna RT and Mitsuba: the only import site of ``sionna.rt`` in AirTwin.

Importing ``sionna.rt`` sets the Mitsuba variant and costs about a second, so it is
done on first use, after :func:`twin.llvm.configure_llvm` has pointed Dr.Jit at a
usable libLLVM.
"""

from __future__ import annotations

import threading
from types import ModuleType

from airtwin.twin.llvm import configure_llvm

_lock = threading.Lock()
_modules: tuple[ModuleType, ModuleType] | None = None


def sionna_rt() -> tuple[ModuleType, ModuleType]:
    """Return ``(sionna.rt, mitsuba)``, importing them on first call."""
    global _modules
    with _lock:
        if _modules is None:
            configure_llvm()
            import mitsuba as mi  # noqa: PLC0415 (lazy by design)
            import sionna.rt as rt  # noqa: PLC0415

            _modules = (rt, mi)
        return _modules

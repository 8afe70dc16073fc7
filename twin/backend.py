"""Lazy access to Sionna RT and Mitsuba: the only import site of ``sionna.rt`` in AirTwin.

Importing ``sionna.rt`` sets the Mitsuba variant and costs about a second, so it is
done on first use, after :func:`twin.llvm.configure_llvm` has pointed Dr.Jit at a
usable libLLVM. Sionna picks ``cuda_ad_mono_polarized`` when a GPU is usable, else
``llvm_ad_mono_polarized`` (CPU); the environment variable ``AIRTWIN_MITSUBA_VARIANT``
chooses one instead (``llvm_ad_mono_polarized`` forces the CPU), once per process.
"""

from __future__ import annotations

import threading
import os
from types import ModuleType

from airtwin.twin.llvm import configure_llvm

#: Environment variable that chooses the Mitsuba variant (e.g. ``llvm_ad_mono_polarized`` for the CPU).
VARIANT_ENV = "AIRTWIN_MITSUBA_VARIANT"

_lock = threading.Lock()
_modules: tuple[ModuleType, ModuleType] | None = None


def sionna_rt() -> tuple[ModuleType, ModuleType]:
    """Return ``(sionna.rt, mitsuba)``, importing them on first call."""
    global _modules
    with _lock:
        if _modules is None:
            configure_llvm()
            import mitsuba as mi  # noqa: PLC0415 (lazy by design)

            wanted = os.environ.get(VARIANT_ENV)
            if wanted:
                allowed = [v for v in mi.variants() if v.endswith("_ad_mono_polarized")]
                if wanted not in allowed:
                    raise ValueError(f"{VARIANT_ENV}={wanted!r}; allowed: {', '.join(allowed)}")
                mi.set_variant(wanted)  # sionna.rt keeps a variant that is already set
            import sionna.rt as rt  # noqa: PLC0415

            _modules = (rt, mi)
        return _modules

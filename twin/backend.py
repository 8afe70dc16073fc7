"""Lazy access to Sionna RT and Mitsuba: the only import site of ``sionna.rt`` in AirTwin.

Importing ``sionna.rt`` sets the Mitsuba variant and costs about a second, so it is
done on first use, after :func:`twin.llvm.configure_llvm` has pointed Dr.Jit at a
usable libLLVM. Sionna picks ``cuda_ad_mono_polarized`` when a GPU is usable, else
``llvm_ad_mono_polarized`` (CPU); the environment variable ``AIRTWIN_MITSUBA_VARIANT``
chooses one instead (``llvm_ad_mono_polarized`` forces the CPU), once per process. A machine
without libLLVM >= 16 can still run the CUDA variant.
"""

from __future__ import annotations

import os
import threading
from types import ModuleType

from airtwin.twin.llvm import LLVMNotFoundError, configure_llvm

#: Environment variable that chooses the Mitsuba variant (e.g. ``llvm_ad_mono_polarized`` for the CPU).
VARIANT_ENV = "AIRTWIN_MITSUBA_VARIANT"

_lock = threading.Lock()
_modules: tuple[ModuleType, ModuleType] | None = None


def sionna_rt() -> tuple[ModuleType, ModuleType]:
    """Return ``(sionna.rt, mitsuba)``, importing them on first call."""
    global _modules
    with _lock:
        if _modules is None:
            wanted = os.environ.get(VARIANT_ENV)
            try:
                configure_llvm()
            except LLVMNotFoundError:
                if not _cuda_variant_runs(wanted):  # the CUDA variant needs no libLLVM
                    raise
            import mitsuba as mi  # noqa: PLC0415 (lazy by design)

            if wanted:
                allowed = [v for v in mi.variants() if v.endswith("_ad_mono_polarized")]
                if wanted not in allowed:
                    raise ValueError(f"{VARIANT_ENV}={wanted!r}; allowed: {', '.join(allowed)}")
                mi.set_variant(wanted)  # sionna.rt keeps a variant that is already set
            import sionna.rt as rt  # noqa: PLC0415

            _modules = (rt, mi)
        return _modules


def _cuda_variant_runs(wanted: str | None) -> bool:
    """Whether the variant Sionna will run is a CUDA one: asked for, or picked because Dr.Jit sees a GPU."""
    if wanted:
        return wanted.startswith("cuda")
    import drjit as dr  # noqa: PLC0415

    return bool(dr.has_backend(dr.JitBackend.CUDA))

"""Locate a libLLVM that Dr.Jit's CPU backend can use, before Sionna RT is imported.

Dr.Jit's LLVM backend needs libLLVM >= 16. With Debian 12's default LLVM 15 the
process aborts inside LLVM (``LLVM ERROR: Cannot select ... fminimum``), which no
Python code can catch. :func:`configure_llvm` therefore points Dr.Jit at a recent
libLLVM through ``DRJIT_LIBLLVM_PATH`` and raises :class:`LLVMNotFoundError`, naming
the package to install, when there is none.
"""

from __future__ import annotations

import glob
import os
import re

MIN_LLVM_MAJOR = 16
ENV_VAR = "DRJIT_LIBLLVM_PATH"

#: Directories searched for ``libLLVM*.so*`` (Debian/Ubuntu multiarch and LLVM's own prefixes).
SEARCH_GLOBS = (
    "/usr/lib/*-linux-gnu/libLLVM*.so*",
    "/usr/lib/libLLVM*.so*",
    "/usr/lib64/libLLVM*.so*",
    "/usr/local/lib/libLLVM*.so*",
    "/usr/lib/llvm-*/lib/libLLVM*.so*",
)

_INSTALL_HINT = (
    "Install it with `apt-get install -y libllvm19` (Debian/Ubuntu), or run ./scripts/setup.sh, "
    f"or set {ENV_VAR} to the path of a libLLVM.so of version >= {MIN_LLVM_MAJOR}."
)


class LLVMNotFoundError(RuntimeError):
    """No libLLVM >= 16 was found for Dr.Jit's CPU backend."""


def llvm_major_version(path: str) -> int | None:
    """Major LLVM version encoded in a library file name, e.g. ``libLLVM.so.19.1`` -> 19.

    Recognises ``libLLVM-19.so``, ``libLLVM-19.so.1``, ``libLLVM.so.19.1`` and
    ``libLLVM-14.0.6.so.1``. Returns ``None`` when the name carries no version.
    """
    name = os.path.basename(path)
    match = re.match(r"libLLVM-(\d+)", name) or re.match(r"libLLVM\.so\.(\d+)", name)
    return int(match.group(1)) if match else None


def find_libllvm(min_major: int = MIN_LLVM_MAJOR, globs: tuple[str, ...] = SEARCH_GLOBS) -> str | None:
    """Path of the newest libLLVM with major version >= ``min_major``, or ``None``."""
    candidates: list[tuple[int, str]] = []
    for pattern in globs:
        for path in glob.glob(pattern):
            major = llvm_major_version(path)
            if major is not None and major >= min_major and os.path.isfile(path):
                candidates.append((major, path))
    if not candidates:
        return None
    # Newest major first; among equals prefer the shortest (canonical) name.
    candidates.sort(key=lambda c: (-c[0], len(c[1]), c[1]))
    return candidates[0][1]


def configure_llvm() -> str:
    """Set ``DRJIT_LIBLLVM_PATH`` to a usable libLLVM and return its path.

    A value already in the environment is kept when it names an existing file of a
    recent enough version (or of unknown version: the user chose it deliberately).

    Raises:
        LLVMNotFoundError: when no libLLVM >= 16 exists, or the environment variable
            points to a missing or too old library.
    """
    chosen = os.environ.get(ENV_VAR)
    if chosen:
        if not os.path.isfile(chosen):
            raise LLVMNotFoundError(f"{ENV_VAR}={chosen!r} does not exist. {_INSTALL_HINT}")
        major = llvm_major_version(chosen)
        if major is not None and major < MIN_LLVM_MAJOR:
            raise LLVMNotFoundError(
                f"{ENV_VAR}={chosen!r} is LLVM {major}; Dr.Jit needs LLVM >= {MIN_LLVM_MAJOR}. {_INSTALL_HINT}"
            )
        return chosen
    path = find_libllvm()
    if path is None:
        raise LLVMNotFoundError(
            f"No libLLVM >= {MIN_LLVM_MAJOR} found (Dr.Jit's CPU backend aborts with older versions). {_INSTALL_HINT}"
        )
    os.environ[ENV_VAR] = path
    return path

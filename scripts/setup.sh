#!/usr/bin/env bash
# AirTwin set-up on a fresh Debian machine with Python 3.11.
#   ./scripts/setup.sh            # system packages, .venv, torch (CPU), the project + dev extras
#   EXTRAS=dev,ray ./scripts/setup.sh   # other extras
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
EXTRAS=${EXTRAS:-dev}

# Dr.Jit's CPU backend needs libLLVM >= 16 (Debian 12 ships 15 by default).
if ! ls /usr/lib/*/libLLVM*.so.1[6-9]* /usr/lib/*/libLLVM-1[6-9]*.so* /usr/lib/*/libLLVM.so.[2-9]* >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libllvm19 >/dev/null
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# CPU build first: an unpinned torch would pull a multi-GB CUDA build.
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[${EXTRAS}]"
echo "AirTwin installed in .venv (extras: ${EXTRAS}). Run the tests with: .venv/bin/python -m pytest"

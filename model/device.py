"""Where the universal model runs: ``"auto"`` (CUDA when PyTorch sees a GPU, else the CPU), ``"cpu"``,
``"cuda"``, ``"cuda:N"`` or ``"mps"``.

Parameters are always created on the CPU from an explicit generator (:mod:`airtwin.model.init`) and
moved afterwards, so a seed gives the same initial model on every device. Observations stay NumPy/CPU
until :meth:`airtwin.model.universal.UniversalModel.forward` moves them; predictions come back on
the model's device (``.cpu()`` before ``.numpy()``).
"""

from __future__ import annotations

import torch

from airtwin.model.config import check_device


def resolve_device(name: str = "auto") -> torch.device:
    """The ``torch.device`` for a device option (see the module docstring).

    Raises:
        ValueError: ``name`` is not a device option, or names a device PyTorch cannot use here.
    """
    check_device("device", name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device = {name!r}: PyTorch sees no CUDA GPU here (torch {torch.__version__}); "
                         "allowed: 'auto' or 'cpu'")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device = {name!r}: there are {torch.cuda.device_count()} CUDA devices")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device = {name!r}: the MPS backend is not available here; allowed: 'auto' or 'cpu'")
    return device

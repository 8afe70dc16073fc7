"""The only place that talks to Sionna RT: scenario -> ray-traced channels (:class:`ChannelBatch`).

Importing this package is cheap; Sionna RT is imported on the first :class:`Twin`.
"""

from airtwin.twin.channel import NO_PATH_LOSS_DB, ChannelBatch
from airtwin.twin.llvm import LLVMNotFoundError, configure_llvm
from airtwin.twin.pool import TwinPool


def __getattr__(name: str):
    if name == "Twin":
        from airtwin.twin.twin import Twin

        return Twin
    if name in ("RadioMap", "compute_radio_map"):
        from airtwin.twin import radio_map

        return getattr(radio_map, name)
    raise AttributeError(name)


__all__ = ["Twin", "TwinPool", "ChannelBatch", "NO_PATH_LOSS_DB", "LLVMNotFoundError", "configure_llvm", "RadioMap",
           "compute_radio_map"]

"""The only place that talks to Sionna RT: scenario -> ray-traced channels (:class:`ChannelBatch`).

Importing this package is cheap; Sionna RT is imported on the first :class:`Twin`.
"""

from twin.channel import NO_PATH_LOSS_DB, ChannelBatch
from twin.llvm import LLVMNotFoundError, configure_llvm


def __getattr__(name: str):
    if name == "Twin":
        from twin.twin import Twin

        return Twin
    if name in ("RadioMap", "compute_radio_map"):
        from twin import radio_map

        return getattr(radio_map, name)
    raise AttributeError(name)


__all__ = ["Twin", "ChannelBatch", "NO_PATH_LOSS_DB", "LLVMNotFoundError", "configure_llvm", "RadioMap",
           "compute_radio_map"]

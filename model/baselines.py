"""Simple non-neural baselines, fitted on training areas and evaluated on others.

- positioning and LoS: k-nearest-neighbour fingerprinting on the angle-delay magnitude profile of the
  (noisy) CSI; position = mean of the neighbours' positions relative to their BS, LoS = majority;
- precoding: the eigen-precoder of the noisy, aged CSI estimate (what a BS does without learning);
- beam selection: the best beam of the nearest training UE position relative to the BS (top-3 from the
  3 nearest distinct beams);
- path loss: a log-distance fit ``PL = a + 10 n log10(d_3D)``.
"""

from __future__ import annotations

import numpy as np
import torch

from airtwin.datagen.reader import AirTwinDataset
from airtwin.model.features import csi_features
from airtwin.model.metrics import beam_metrics, los_metrics, path_loss_metrics, positioning_metrics, precoding_metrics
from airtwin.twin.beams import eigen_precoders

FIELDS = ("csi", "csi_aged", "los", "ue_position", "bs_position", "precoders", "best_beam", "beam_gain_db",
          "path_loss_db")


def _load(ds: AirTwinDataset, max_samples: int | None, seed: int) -> dict[str, np.ndarray]:
    idx = np.flatnonzero(ds.column("has_paths"))
    if max_samples is not None and len(idx) > max_samples:
        idx = np.sort(np.random.default_rng(seed).choice(idx, max_samples, replace=False))
    return ds.read_batch(idx, FIELDS)


def fingerprint(csi: np.ndarray, pilot_snr_db: float, seed: int) -> np.ndarray:
    """``[N, A*K + 1]``: normalised angle-delay magnitudes of the noisy estimate, plus its log power."""
    x, log_power = csi_features(torch.from_numpy(csi), pilot_snr_db, torch.Generator().manual_seed(seed))
    h = torch.complex(x[:, 0], x[:, 1]).numpy()
    profile = np.abs(np.fft.ifft(np.fft.fft(h, axis=1), axis=2)).reshape(len(h), -1)
    profile /= np.maximum(np.linalg.norm(profile, axis=1, keepdims=True), 1e-12)
    return np.concatenate([profile, log_power.numpy()], axis=1)


def _knn(train: np.ndarray, test: np.ndarray, k: int) -> np.ndarray:
    d = (test ** 2).sum(1)[:, None] + (train ** 2).sum(1)[None, :] - 2 * test @ train.T
    return np.argsort(d, axis=1, kind="stable")[:, :k]


def evaluate_baselines(train_ds: AirTwinDataset, test_ds: AirTwinDataset, *, pilot_snr_db: float = 20.0,
                       k: int = 5, max_train: int | None = 4096, max_test: int | None = None, seed: int = 0
                       ) -> dict[str, float]:
    tr, te = _load(train_ds, max_train, seed), _load(test_ds, max_test, seed + 1)
    out: dict[str, float] = {"num_samples": int(len(te["csi"]))}
    # Positioning and LoS: fingerprints.
    f_tr, f_te = fingerprint(tr["csi"], pilot_snr_db, seed), fingerprint(te["csi"], pilot_snr_db, seed + 1)
    nn = _knn(f_tr, f_te, k)
    rel_tr = tr["ue_position"][:, :2] - tr["bs_position"][:, :2]
    rel_te = te["ue_position"][:, :2] - te["bs_position"][:, :2]
    out |= positioning_metrics(rel_tr[nn].mean(axis=1), rel_te)
    out |= los_metrics(tr["los"][nn].mean(axis=1) > 0.5, te["los"])
    # Precoding: eigen-precoder of the noisy aged estimate.
    x, _ = csi_features(torch.from_numpy(te["csi_aged"]), pilot_snr_db, torch.Generator().manual_seed(seed + 2))
    est = torch.complex(x[:, 0], x[:, 1]).numpy()
    out |= precoding_metrics(eigen_precoders(est, te["precoders"].shape[1]), te["precoders"])
    # Beam lookup from the relative position: score = -distance of the nearest training UE with that beam.
    d = np.linalg.norm(rel_te[:, None, :] - rel_tr[None, :, :], axis=-1)
    num_beams = te["beam_gain_db"].shape[1]
    scores = np.full((len(rel_te), num_beams), -np.inf)
    for b in range(num_beams):
        mask = tr["best_beam"] == b
        if mask.any():
            scores[:, b] = -d[:, mask].min(axis=1)
    out |= beam_metrics(scores, te["beam_gain_db"])
    # Path loss: log-distance least squares.
    def dist(s):
        return np.maximum(np.linalg.norm(s["ue_position"] - s["bs_position"], axis=1), 1.0)

    a_mat = np.stack([np.ones(len(tr["path_loss_db"])), 10 * np.log10(dist(tr))], axis=1)
    coef, *_ = np.linalg.lstsq(a_mat, tr["path_loss_db"].astype(np.float64), rcond=None)
    out |= path_loss_metrics(coef[0] + coef[1] * 10 * np.log10(dist(te)), te["path_loss_db"])
    out["pl_exponent"] = float(coef[1])
    return out

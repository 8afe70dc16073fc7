"""Simple non-neural baselines, fitted on training areas and evaluated on others, scored by the task table.

- positioning and LoS: k-nearest-neighbour fingerprinting on the angle-delay magnitude profile of the
  CSI estimate; position = mean of the neighbours' positions relative to their BS, LoS = majority;
- precoding: the eigen-precoder of the CSI estimate at the pilot instant (what a BS does without learning);
- beam selection: the best beam of the nearest training UE position relative to the BS (top-3 from the
  3 nearest distinct beams);
- path loss: a log-distance fit ``PL = a + 10 n log10(d_3D)``.

They see the same observations as the universal model (:func:`airtwin.phy.tasks.observe`).
"""

from __future__ import annotations

import numpy as np

from airtwin.datagen.reader import AirTwinDataset
from airtwin.phy.beams import eigen_precoders
from airtwin.phy.estimation import DEFAULT_PILOT_SNR_DB, power_feature, to_complex
from airtwin.phy.tasks import TASKS, observe

FIELDS = tuple(dict.fromkeys(f for t in TASKS.values() for f in t.fields))


def _load(ds: AirTwinDataset, max_samples: int | None, seed: int) -> dict[str, np.ndarray]:
    idx = ds.usable()
    if max_samples is not None and len(idx) > max_samples:
        idx = np.sort(np.random.default_rng(seed).choice(idx, max_samples, replace=False))
    return ds.read_batch(idx, FIELDS)


def fingerprint(obs: dict[str, np.ndarray]) -> np.ndarray:
    """``[N, A*K + 1]``: normalised angle-delay magnitudes of a CSI observation, plus its rescaled power."""
    h = to_complex(obs["csi"])
    profile = np.abs(np.fft.ifft(np.fft.fft(h, axis=1), axis=2)).reshape(len(h), -1)
    profile /= np.maximum(np.linalg.norm(profile, axis=1, keepdims=True), 1e-12)
    return np.concatenate([profile, power_feature(obs["rx_power_db"])], axis=1)


def _knn(train: np.ndarray, test: np.ndarray, k: int) -> np.ndarray:
    d = (test ** 2).sum(1)[:, None] + (train ** 2).sum(1)[None, :] - 2 * test @ train.T
    return np.argsort(d, axis=1, kind="stable")[:, :k]


def evaluate_baselines(train_ds: AirTwinDataset, test_ds: AirTwinDataset, *,
                       pilot_snr_db: float = DEFAULT_PILOT_SNR_DB, k: int = 5, max_train: int | None = 4096,
                       max_test: int | None = None, seed: int = 0) -> dict[str, float]:
    tr, te = _load(train_ds, max_train, seed), _load(test_ds, max_test, seed + 1)
    out: dict[str, float] = {"num_samples": int(len(te["csi"]))}
    obs_tr = observe("csi", tr, pilot_snr_db, np.random.default_rng([seed, 0]))
    obs_te = observe("csi", te, pilot_snr_db, np.random.default_rng([seed, 1]))
    # Positioning and LoS: fingerprints.
    nn = _knn(fingerprint(obs_tr), fingerprint(obs_te), k)
    rel_tr = TASKS["positioning"].target(tr)
    out |= TASKS["positioning"].score(rel_tr[nn].mean(axis=1), te)
    los_votes = tr["los"][nn].mean(axis=1) > 0.5
    out |= TASKS["los"].score(np.stack([~los_votes, los_votes], axis=1).astype(np.float64), te)
    # Precoding: eigen-precoder of the estimate at the pilot instant.
    est = to_complex(obs_te["csi"])
    out |= TASKS["precoding"].score(eigen_precoders(est, te["precoders"].shape[1]), te)
    # Beam lookup from the relative position: score = -distance of the nearest training UE with that beam.
    rel_te = TASKS["positioning"].target(te)
    d = np.linalg.norm(rel_te[:, None, :] - rel_tr[None, :, :], axis=-1)
    num_beams = te["beam_gain_db"].shape[1]
    scores = np.full((len(rel_te), num_beams), -np.inf)
    for b in range(num_beams):
        mask = tr["best_beam"] == b
        if mask.any():
            scores[:, b] = -d[:, mask].min(axis=1)
    out |= TASKS["beam_selection"].score(scores, te)
    # Path loss: log-distance least squares.
    def dist(s):
        return np.maximum(np.linalg.norm(s["ue_position"] - s["bs_position"], axis=1), 1.0)

    a_mat = np.stack([np.ones(len(tr["path_loss_db"])), 10 * np.log10(dist(tr))], axis=1)
    coef, *_ = np.linalg.lstsq(a_mat, tr["path_loss_db"].astype(np.float64), rcond=None)
    out |= TASKS["path_loss"].score(coef[0] + coef[1] * 10 * np.log10(dist(te)), te)
    out["pl_exponent"] = float(coef[1])
    return out

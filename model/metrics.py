"""Task metrics of the universal model and the non-neural baselines on a dataset split.

- positioning: median and 90th-percentile (CDF90) error [m] of the UE (x, y) relative to the BS;
- los: accuracy; precoding: mean SGCS against the eigen-precoder of the true channel;
- beam_selection: top-1 / top-3 accuracy and mean SNR loss [dB] of the chosen beam against the best;
- path_loss: RMSE [dB].
"""

from __future__ import annotations

import numpy as np


def positioning_metrics(pred_xy: np.ndarray, true_xy: np.ndarray) -> dict[str, float]:
    err = np.linalg.norm(pred_xy - true_xy, axis=-1)
    return {"pos_median_m": float(np.median(err)), "pos_cdf90_m": float(np.percentile(err, 90))}


def los_metrics(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    return {"los_accuracy": float(np.mean(pred.astype(bool) == truth.astype(bool)))}


def precoding_metrics(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """``pred``, ``truth``: ``[N, S, A]`` complex."""
    from airtwin.twin.beams import sgcs

    return {"sgcs": float(np.mean(sgcs(pred, truth)))}


def beam_metrics(scores: np.ndarray, beam_gain_db: np.ndarray) -> dict[str, float]:
    """``scores``: ``[N, B]`` (higher = better); ``beam_gain_db``: ``[N, B]`` from the twin."""
    best = beam_gain_db.argmax(axis=1)
    order = np.argsort(-scores, axis=1)
    chosen = order[:, 0]
    top3 = (order[:, :3] == best[:, None]).any(axis=1)
    loss = beam_gain_db[np.arange(len(best)), best] - beam_gain_db[np.arange(len(best)), chosen]
    return {"beam_top1": float(np.mean(chosen == best)), "beam_top3": float(np.mean(top3)),
            "beam_snr_loss_db": float(np.mean(loss))}


def path_loss_metrics(pred_db: np.ndarray, true_db: np.ndarray) -> dict[str, float]:
    return {"pl_rmse_db": float(np.sqrt(np.mean((pred_db - true_db) ** 2)))}

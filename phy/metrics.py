"""Metrics of the five tasks, and the error statistics every report uses.

- positioning: median and 90th-percentile (CDF90) error [m];
- los: accuracy; precoding: mean SGCS against the optimal precoder;
- beam_selection: top-1 / top-3 accuracy and mean SNR loss [dB] of the chosen beam against the best;
- path_loss: RMSE [dB].
"""

from __future__ import annotations

import numpy as np

from airtwin.phy.beams import sgcs


def error_summary(errors: np.ndarray) -> dict[str, float]:
    """``{"median", "cdf90"}`` of non-negative errors (0 for none)."""
    errors = np.asarray(errors, dtype=np.float64)
    if errors.size == 0:
        return {"median": 0.0, "cdf90": 0.0}
    return {"median": float(np.median(errors)), "cdf90": float(np.percentile(errors, 90))}


def rmse(pred: np.ndarray, truth: np.ndarray) -> float:
    """Root-mean-square error (0 for empty inputs)."""
    d = np.asarray(pred, np.float64) - np.asarray(truth, np.float64)
    return float(np.sqrt(np.mean(d ** 2))) if d.size else 0.0


def positioning_metrics(pred_xy: np.ndarray, true_xy: np.ndarray) -> dict[str, float]:
    """``pred_xy``, ``true_xy``: ``[N, 2]`` [m]."""
    s = error_summary(np.linalg.norm(np.asarray(pred_xy, np.float64) - true_xy, axis=-1))
    return {"pos_median_m": s["median"], "pos_cdf90_m": s["cdf90"]}


def los_metrics(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """``pred``, ``truth``: ``[N]`` (anything truthy is LoS)."""
    return {"los_accuracy": float(np.mean(np.asarray(pred).astype(bool) == np.asarray(truth).astype(bool)))}


def precoding_metrics(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """``pred``, ``truth``: ``[N, S, A]`` complex."""
    return {"sgcs": float(np.mean(sgcs(pred, truth)))}


def beam_metrics(scores: np.ndarray, beam_gain_db: np.ndarray) -> dict[str, float]:
    """``scores``: ``[N, B]`` (higher = better); ``beam_gain_db``: ``[N, B]`` from the twin."""
    best = beam_gain_db.argmax(axis=1)
    order = np.argsort(-scores, axis=1)
    chosen = order[:, 0]
    top3 = (order[:, :3] == best[:, None]).any(axis=1)
    rows = np.arange(len(best))
    loss = beam_gain_db[rows, best] - beam_gain_db[rows, chosen]
    return {"beam_top1": float(np.mean(chosen == best)), "beam_top3": float(np.mean(top3)),
            "beam_snr_loss_db": float(np.mean(loss))}


def path_loss_metrics(pred_db: np.ndarray, true_db: np.ndarray) -> dict[str, float]:
    return {"pl_rmse_db": rmse(pred_db, true_db)}

"""Compare the site-specific k-NN estimators on validation splits of a site's drops: the CSI fingerprint kinds,
the rules that turn fingerprint matches into a position, and the beam estimates from the nearest stored drops.

    .venv/bin/python scripts/site_validation.py runs/site/data

The drops are first split as ``airtwin finetune`` splits them (20 m squares, 2 m guard, its seed); the test side
is never read. The training side is split again, by 1 m squares without a guard (nearly a random split) and by
20 m squares with a 2 m guard, under a few seeds; each estimator is fitted on one part and scored on the other.
Four tables:

1. positioning, k-NN (k = 5, positions averaged) with each fingerprint kind
   (:func:`airtwin.model.baselines.fingerprint`), whole, and with the default kind projected on the fitting
   part's principal directions (:func:`airtwin.model.baselines.fingerprint_basis`, what the baseline and site
   memories use): median and CDF90 of the position error [m];
2. positioning from the k best matches of the projected default fingerprint, by each rule of
   :func:`airtwin.model.baselines.matched_position` (and the nearest match alone; ``"densest-linear"`` reads the
   40 best): median / CDF90 [m];
3. beam selection from the UE position: the position lookup against the nearest drops' beam gains
   (:func:`airtwin.phy.classical.nearest_beam_gains`): top-1, top-3 and mean SNR loss [dB];
4. how often two drops of the training side a given distance apart share their best beam (:func:`beam_agreement`):
   what a beam estimate from the position alone can reach from stored drops that far apart;
5. path loss from the UE position: the mean of the k nearest drops' against the kriging of
   :func:`airtwin.model.baselines.kriging_path_loss` (and its trend alone): RMSE [dB].
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from airtwin.datagen.reader import AirTwinDataset
from airtwin.datagen.site import location_split
from airtwin.model.baselines import (FINGERPRINT_COMPONENTS, LOCAL_CANDIDATES, _knn, _nearest, bs_frame_xy,
                                     fingerprint, fingerprint_basis, kriging_path_loss, matched_position,
                                     project_fingerprints)
from airtwin.model.config import DEFAULT_FINGERPRINT, FINGERPRINT_KINDS, POSITION_MATCHES, FinetuneConfig
from airtwin.model.finetune import site_split
from airtwin.phy.classical import (BEAM_NEIGHBOURS, fit_path_loss_trend, nearest_beam_gains, path_loss_trend_features,
                                   path_loss_trend_inputs, position_lookup_scores)
from airtwin.phy.estimation import DEFAULT_PILOT_SNR_DB
from airtwin.phy.tasks import MODALITY_FIELDS, observe

SPLITS = (("1 m squares, no guard", 1.0, 0.0), ("20 m squares, 2 m guard", 20.0, 2.0))


def _errors(estimate: np.ndarray, truth: np.ndarray) -> str:
    err = np.linalg.norm(estimate - truth, axis=1)
    return f"{np.median(err):.2f} / {np.percentile(err, 90):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="a site's traced drops (the data folder of an `airtwin finetune` run)")
    parser.add_argument("--k", type=int, default=5, help="fingerprint matches kept")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of the validation splits")
    args = parser.parse_args()
    ds = AirTwinDataset(args.data)
    fields = ds.read_batch(ds.usable(), tuple(dict.fromkeys((*MODALITY_FIELDS["csi"], *MODALITY_FIELDS["env"],
                                                             "best_beam", "beam_gain_db", "los", "path_loss_db"))))
    xy = fields["ue_position"][:, :2].astype(np.float64)
    local = bs_frame_xy(fields)
    gains = fields["beam_gain_db"].astype(np.float64)
    obs = observe("csi", fields, DEFAULT_PILOT_SNR_DB, np.random.default_rng(0))
    prints = {kind: fingerprint(obs, kind) for kind in FINGERPRINT_KINDS}
    train, _ = site_split(xy, FinetuneConfig(scenario="site", out="unused"))  # the protocol's defaults
    splits = [(name, seed, *(train[i] for i in location_split(xy[train], np.random.default_rng([seed, 11]),
                                                               cell_m=cell_m, guard_m=guard_m)))
              for name, cell_m, guard_m in SPLITS for seed in args.seeds]
    print(f"{len(train)} drops on the protocol's training side; k = {args.k}")

    print("\n1. Fingerprint kinds, k-NN positions averaged: median / CDF90 [m]\n")
    shipped = f"{DEFAULT_FINGERPRINT}, {FINGERPRINT_COMPONENTS} components"
    print(f"| validation split | seed | {shipped} | {' | '.join(FINGERPRINT_KINDS)} |")
    print(f"|---|---|---|{'---|' * len(FINGERPRINT_KINDS)}")
    matches = {}
    for name, seed, fit, val in splits:
        basis = fingerprint_basis(prints[DEFAULT_FINGERPRINT][fit])
        projected = project_fingerprints(prints[DEFAULT_FINGERPRINT], *basis)
        matches[name, seed] = (projected, *_nearest(projected[fit], projected[val], max(args.k, LOCAL_CANDIDATES)))
        neighbours = [matches[name, seed][2][:, :args.k], *(_knn(prints[kind][fit], prints[kind][val], args.k)
                                                for kind in FINGERPRINT_KINDS)]
        cells = [_errors(xy[fit][nn].mean(axis=1), xy[val]) for nn in neighbours]
        print(f"| {name} | {seed} | {' | '.join(cells)} |", flush=True)

    print(f"\n2. Position from the {args.k} best matches ({shipped}; the local linear rule refines with the "
          f"{LOCAL_CANDIDATES} best): median / CDF90 [m]\n")
    print(f"| validation split | seed | nearest match | {' | '.join(POSITION_MATCHES)} |")
    print(f"|---|---|---|{'---|' * len(POSITION_MATCHES)}")
    for name, seed, fit, val in splits:
        projected, dist, nn = matches[name, seed]
        cells = [_errors(xy[fit][nn[:, 0]], xy[val])]
        # In the scene's frame: one area, one BS, a rigid map from the BS's frame.
        found = dict(distances=torch.from_numpy(dist), positions=torch.from_numpy(xy[fit][nn]), k=args.k,
                     prints=torch.from_numpy(projected[fit][nn]).double(),
                     query=torch.from_numpy(projected[val]).double())
        for rule in POSITION_MATCHES:
            cells.append(_errors(matched_position(rule=rule, **found).numpy(), xy[val]))
        print(f"| {name} | {seed} | {' | '.join(cells)} |", flush=True)

    print("\n3. Best beam from the UE position: top-1 / top-3 / SNR loss [dB]\n")
    print(f"| validation split | seed | position lookup | {BEAM_NEIGHBOURS} nearest drops' beam gains |")
    print("|---|---|---|---|")
    for name, seed, fit, val in splits:
        d = np.linalg.norm(local[val][:, None] - local[fit][None], axis=-1)
        cells = []
        for scores in (position_lookup_scores(d, fields["best_beam"][fit], gains.shape[1]),
                       nearest_beam_gains(d, gains[fit])):
            ranked = np.argsort(-scores, axis=1, kind="stable")
            best = fields["best_beam"][val]
            loss = gains[val].max(axis=1) - gains[val][np.arange(len(val)), ranked[:, 0]]
            cells.append(f"{np.mean(ranked[:, 0] == best):.3f} / {np.mean((ranked[:, :3] == best[:, None]).any(1)):.3f}"
                         f" / {loss.mean():.2f}")
        print(f"| {name} | {seed} | {' | '.join(cells)} |", flush=True)

    print("\n4. How often two drops of the training side a given distance apart share their best beam\n")
    print("| distance [m] | pairs | same best beam | LoS drops | NLoS drops | SNR loss of the other's beam [dB] |")
    print("|---|---|---|---|---|---|")
    for lo, hi, pairs in beam_agreement(local[train], fields["best_beam"][train], gains[train], fields["los"][train]):
        same, los = pairs["same"], pairs["los"]
        print(f"| {lo:g}-{hi:g} | {len(pairs)} | {same.mean():.3f} | {same[los].mean():.3f} | {same[~los].mean():.3f} "
              f"| {pairs['loss'].mean():.2f} |", flush=True)

    print("\n5. Path loss from the UE position: RMSE [dB]\n")
    print(f"| validation split | seed | mean of the {args.k} nearest | trend alone | kriging (shipped) |")
    print("|---|---|---|---|---|")
    pl = fields["path_loss_db"].astype(np.float64)
    for name, seed, fit, val in splits:
        known, query = ({key: fields[key][rows] for key in (*MODALITY_FIELDS["env"], "path_loss_db")}
                        for rows in (fit, val))
        coef = fit_path_loss_trend(*path_loss_trend_inputs(known), pl[fit])
        estimates = (pl[fit][_knn(local[fit], local[val], args.k)].mean(axis=1),
                     path_loss_trend_features(*path_loss_trend_inputs(query)) @ coef,
                     kriging_path_loss(known, local[fit], query, local[val]))
        print(f"| {name} | {seed} | {' | '.join(f'{np.sqrt(np.mean((e - pl[val]) ** 2)):.2f}' for e in estimates)} |",
              flush=True)


DISTANCE_BINS_M = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def beam_agreement(xy: np.ndarray, best: np.ndarray, gains: np.ndarray, los: np.ndarray):
    """For each distance bin of :data:`DISTANCE_BINS_M`: ``(low, high, pairs)``, where ``pairs`` is a structured
    array over the ordered pairs of drops (positions ``xy`` ``[M, 2]`` [m]) that far apart, with ``same`` (they share
    their best beam), ``los`` (the first drop's LoS) and ``loss`` (the first drop's SNR loss [dB] under the second's
    best beam). Any beam estimate from the position alone that interpolates between stored drops this far apart
    inherits this agreement."""
    d = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    out = []
    for lo, hi in zip(DISTANCE_BINS_M[:-1], DISTANCE_BINS_M[1:]):
        i, j = np.nonzero((d >= lo) & (d < hi))
        pairs = np.empty(len(i), dtype=[("same", bool), ("los", bool), ("loss", np.float64)])
        pairs["same"], pairs["los"] = best[i] == best[j], np.asarray(los, bool)[i]
        pairs["loss"] = gains[i].max(axis=1) - gains[i, best[j]]
        out.append((lo, hi, pairs))
    return out


if __name__ == "__main__":
    main()

"""Compare the CSI fingerprint kinds of the k-NN positioning baseline on validation splits of a site's drops.

    .venv/bin/python scripts/fingerprint_validation.py runs/site/data

The drops are first split as ``airtwin finetune`` splits them (20 m squares, 2 m guard, its seed); the test side
is never read. The training side is split again, by 1 m squares without a guard (nearly a random split) and by
20 m squares with a 2 m guard, under a few seeds; the k-NN baseline (k = 5, positions averaged) is fitted on one
part with each fingerprint kind (:func:`airtwin.model.baselines.fingerprint`), whole, and with the default kind
projected on the fitting part's principal directions (:func:`airtwin.model.baselines.fingerprint_basis`, what the
baseline and site memories use), and scored on the other part: median and CDF90 of the position error [m].
"""

from __future__ import annotations

import argparse

import numpy as np

from airtwin.datagen.reader import AirTwinDataset
from airtwin.datagen.site import location_split
from airtwin.model.baselines import (FINGERPRINT_COMPONENTS, _knn, fingerprint, fingerprint_basis,
                                     project_fingerprints)
from airtwin.model.config import DEFAULT_FINGERPRINT, FINGERPRINT_KINDS, FinetuneConfig
from airtwin.model.finetune import site_split
from airtwin.phy.estimation import DEFAULT_PILOT_SNR_DB
from airtwin.phy.tasks import MODALITY_FIELDS, observe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="a site's traced drops (the data folder of an `airtwin finetune` run)")
    parser.add_argument("--k", type=int, default=5, help="neighbours averaged")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of the validation splits")
    args = parser.parse_args()
    ds = AirTwinDataset(args.data)
    fields = ds.read_batch(ds.usable(), MODALITY_FIELDS["csi"])
    xy = fields["ue_position"][:, :2].astype(np.float64)
    obs = observe("csi", fields, DEFAULT_PILOT_SNR_DB, np.random.default_rng(0))
    prints = {kind: fingerprint(obs, kind) for kind in FINGERPRINT_KINDS}
    train, _ = site_split(xy, FinetuneConfig(scenario="site", out="unused"))  # the protocol's defaults
    print(f"{len(train)} drops on the protocol's training side; k = {args.k}; median / CDF90 [m]")
    shipped = f"{DEFAULT_FINGERPRINT}, {FINGERPRINT_COMPONENTS} components"
    print(f"| validation split | seed | {shipped} | {' | '.join(FINGERPRINT_KINDS)} |")
    print(f"|---|---|---|{'---|' * len(FINGERPRINT_KINDS)}")
    for name, cell_m, guard_m in (("1 m squares, no guard", 1.0, 0.0), ("20 m squares, 2 m guard", 20.0, 2.0)):
        for seed in args.seeds:
            fit, val = location_split(xy[train], np.random.default_rng([seed, 11]), cell_m=cell_m, guard_m=guard_m)
            fit, val = train[fit], train[val]
            cells = []
            basis = fingerprint_basis(prints[DEFAULT_FINGERPRINT][fit])
            projected = project_fingerprints(prints[DEFAULT_FINGERPRINT], *basis)
            for keys in (projected, *(prints[kind] for kind in FINGERPRINT_KINDS)):
                nn = _knn(keys[fit], keys[val], args.k)
                err = np.linalg.norm(xy[fit][nn].mean(axis=1) - xy[val], axis=1)
                cells.append(f"{np.median(err):.2f} / {np.percentile(err, 90):.1f}")
            print(f"| {name} | {seed} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    main()

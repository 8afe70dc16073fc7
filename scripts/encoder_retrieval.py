"""CSI-to-environment retrieval of pretrained encoders on any dataset (held-out test areas, say): top-1 among
``--drops`` drops, over ``--draws`` draws. The draws and their pilot noise depend on ``--seed`` only, so two
encoders scored with the same arguments see the same drops.

    python scripts/encoder_retrieval.py ENCODERS_OR_CHECKPOINT DATA [DATA ...] [--drops 256] [--draws 4]

ENCODERS_OR_CHECKPOINT is an ``airtwin pretrain-encoders`` folder or a model checkpoint (its frozen encoders).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def encoders_of(path: Path, shapes):
    """``(CSI encoder, environment encoder)`` of an encoders folder or of a checkpoint, in eval mode."""
    if (path / "encoders.safetensors").exists():
        from airtwin.model.pretrain import load_encoders

        csi, env, _ = load_encoders(path, shapes)
    else:
        from airtwin.model.checkpoint import load_checkpoint

        model = load_checkpoint(path, device="cpu")
        csi, env = model.csi_encoder, model.env_encoder
    return csi.eval(), env.eval()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("encoders", type=Path)
    p.add_argument("data", nargs="+")
    p.add_argument("--drops", type=int, default=256, help="drops per draw (the candidates of each retrieval)")
    p.add_argument("--draws", type=int, default=4)
    p.add_argument("--pilot-snr-db", type=float, default=20.0)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    from airtwin.datagen.reader import AirTwinDataset
    from airtwin.model.pretrain import retrieval_accuracy

    for data in args.data:
        ds = AirTwinDataset(data)
        shapes = ds.shapes()
        csi, env = encoders_of(args.encoders, shapes)
        usable = ds.usable()
        if len(usable) < args.drops:
            raise SystemExit(f"{data}: {len(usable)} usable drops, fewer than --drops {args.drops}")
        rng = np.random.default_rng(args.seed)
        accs = [retrieval_accuracy(csi, env, ds, np.sort(rng.choice(usable, args.drops, replace=False)), shapes,
                                   args.pilot_snr_db, seed=args.seed + d) for d in range(args.draws)]
        print(f"{data}: top-1 {', '.join(f'{a:.3f}' for a in accs)} (mean {np.mean(accs):.3f}) among {args.drops} "
              f"drops per draw (chance {1 / args.drops:.4f})")


if __name__ == "__main__":
    main()

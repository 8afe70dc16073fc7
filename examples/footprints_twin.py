"""A twin of your own site from building footprints: GeoJSON (or OSM XML) in, traced channels and a picture out.

Reads the footprint file, puts the BS on a named rooftop, drops UEs outdoors, traces them, prints
coverage, LoS and path loss, and renders the scene with the radio map and the paths to one UE.

    python examples/footprints_twin.py [--file scenes/data/example_footprints.geojson] [--rooftop B13]
                                       [--drops 64] [--out out/footprints]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Args:
    file: str = ""
    """Footprint file (.geojson, .json or .osm); the shipped example when empty."""
    rooftop: str | None = "B13"
    """Building that carries the BS (name or id); the tallest one when empty."""
    drops: int = 64
    """Outdoor UE drops to trace."""
    out: str = "out/footprints"
    """Folder for the picture."""
    seed: int = 0
    """Seed of the drops."""


def parse_args() -> Args:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--file", default=Args.file)
    p.add_argument("--rooftop", default=Args.rooftop)
    p.add_argument("--drops", type=int, default=Args.drops)
    p.add_argument("--out", default=Args.out)
    p.add_argument("--seed", type=int, default=Args.seed)
    a = p.parse_args()
    return Args(a.file, a.rooftop or None, a.drops, a.out, a.seed)


def main() -> None:
    args = parse_args()
    from airtwin.scenes.registry import EXAMPLE_FOOTPRINTS, footprint_scenario
    from airtwin.twin import Twin
    from airtwin.twin.render import render_scene

    path = args.file or str(EXAMPLE_FOOTPRINTS)
    spec = footprint_scenario(path, rooftop=args.rooftop, mast_height_m=6.0)
    twin = Twin(spec)
    layout = twin.layout
    print(f"{layout.num_buildings} footprints from {path}; origin {layout.origin_lat_lon} (lat, lon); "
          f"BS at {tuple(round(float(v), 1) for v in twin.bs_position)} m")

    rng = np.random.default_rng(args.seed)
    ues = twin.sample_ue_positions(args.drops, rng)
    batch = twin.trace(ues)
    covered = batch.has_paths
    print(f"{args.drops} drops: coverage {covered.mean():.3f}, LoS {batch.los.mean():.3f}, "
          f"median path loss {np.median(batch.path_loss_db[covered]):.1f} dB, "
          f"median SNR {np.median(batch.snr_db[covered]):.1f} dB")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target = ues[int(np.argmax(np.where(covered, batch.path_gain_db, -np.inf)))]
    picture = render_scene(twin, out / "scene.png", trajectory=target[None], samples_per_tx=200_000)
    print(f"picture: {picture}")


if __name__ == "__main__":
    main()

"""Twin throughput vs. the bare Sionna RT calls it wraps, measured side by side in one run.

For each batch size, UE drops are traced (a) by bare Sionna code
(move receivers, ``PathSolver`` with the scenario's settings, ``Paths.cfr`` to NumPy)
and (b) by ``Twin.trace`` (which computes the CSI itself in NumPy from the paths, in a
canonical path order, and adds LoS, path gain, per-path tables, DFT beam gains,
eigen-precoders and the environment map). The "of it cfr" column is the part of the
bare call spent in Sionna's ``Paths.cfr``, which the twin replaces. Runs alternate between (a) and (b),
swapping which goes first every repeat, each method on fresh drops of its own (as in use, where every
call brings new positions: a call that reuses the previous call's positions can skip Dr.Jit's kernel
compilation); the median over repeats is reported as UE samples per second, and their ratio.

    python benchmarks/twin_throughput.py [--scenario munich] [--batch-sizes 1 16 64] [--repeats 7]

With ``--sites 1 3 7`` it measures instead what several BS sites cost: the first N sites of a multi-site
scenario (``--scenario city-cells7-10000``) traced in one ``Twin.trace_sites`` call against N single-site
``Twin.trace`` calls (one per site), alternating, each on fresh drops; it prints the cost per UE and site,
the one-call cost relative to one site, and the one-call / separate-calls ratio.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from dataclasses import dataclass

import numpy as np


@dataclass
class Args:
    scenario: str = "munich"
    """Scenario name from the registry."""
    batch_sizes: tuple[int, ...] = (1, 16, 64)
    """UEs per trace call."""
    repeats: int = 7
    """Timed calls per batch size and method (after one warm-up call each)."""
    seed: int = 0
    """Seed of the UE drops."""
    sites: tuple[int, ...] = ()
    """Site counts to compare (the sites table); empty: the bare-Sionna table."""


def parse_args() -> Args:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scenario", default=Args.scenario)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=list(Args.batch_sizes))
    p.add_argument("--repeats", type=int, default=Args.repeats)
    p.add_argument("--seed", type=int, default=Args.seed)
    p.add_argument("--sites", type=int, nargs="*", default=list(Args.sites))
    a = p.parse_args()
    return Args(a.scenario, tuple(a.batch_sizes), a.repeats, a.seed, tuple(a.sites))


def sites_table(args: Args) -> None:
    """One multi-transmitter call for N sites vs. N single-site calls, per UE (see the module docstring)."""
    from airtwin.scenes import get_scenario
    from airtwin.twin.twin import Twin

    spec = get_scenario(args.scenario)
    if max(args.sites) > len(spec.bs):
        raise SystemExit(f"--sites {max(args.sites)}: {spec.name} has {len(spec.bs)} sites (try city-cells7-10000)")
    twin = Twin(spec)
    rng = np.random.default_rng(args.seed)
    t = spec.tracing
    print(f"scenario {spec.name}: {spec.bs[0].array.num_antennas} BS antennas, {spec.radio.num_subcarriers} "
          f"subcarriers, max_depth {t.max_depth}, samples_per_src {t.samples_per_src:.0e}, variant {twin.variant}")
    print(f"{'sites':>5} | {'UEs/call':>8} | {'one call [ms/UE]':>16} | {'vs 1 site':>9} | "
          f"{'separate [ms/UE]':>16} | {'one/separate':>12}")
    for n in args.batch_sizes:
        base = None
        for k in args.sites:
            sites = tuple(range(k))
            drops = {m: [twin.sample_ue_positions(n, rng) for _ in range(args.repeats + 1)] for m in ("one", "separate")}
            twin.trace_sites(drops["one"][0], sites=sites, seed=0)  # warm-up (JIT) for this shape
            twin.trace(drops["separate"][0], seed=0)
            one, separate = [], []
            for rep in range(1, args.repeats + 1):
                for method in ("one", "separate") if rep % 2 == 1 else ("separate", "one"):
                    pos = drops[method][rep]
                    start = time.perf_counter()
                    if method == "one":
                        twin.trace_sites(pos, sites=sites, seed=0)
                        one.append(time.perf_counter() - start)
                    else:
                        for i in sites:
                            twin.serving_bs = i
                            twin.trace(pos, seed=0)
                        twin.serving_bs = 0
                        separate.append(time.perf_counter() - start)
            m1, ms = statistics.median(one), statistics.median(separate)
            base = m1 if k == args.sites[0] else base
            print(f"{k:>5} | {n:>8} | {1e3 * m1 / n:>16.2f} | {m1 / base:>9.2f} | {1e3 * ms / n:>16.2f} | "
                  f"{m1 / ms:>12.2f}")


class BareSionna:
    """The minimal Sionna RT code a user would write for the same CSI."""

    def __init__(self, spec):
        from airtwin.twin.backend import sionna_rt

        rt, mi = sionna_rt()
        self.rt, self.mi, self.spec = rt, mi, spec
        src = spec.scene
        if src.kind == "builtin":
            self.scene = rt.load_scene(getattr(rt.scene, src.name))
        elif src.kind == "procedural":
            import tempfile

            from airtwin.scenes.procedural import generate_city

            with tempfile.TemporaryDirectory() as folder:
                xml = generate_city(src.city).write_scene(folder, spec.radio.carrier_frequency_hz)
                self.scene = rt.load_scene(str(xml))
        else:
            raise SystemExit(f"bare benchmark supports builtin and procedural scenes, not {src.kind!r}")
        self.scene.frequency = spec.radio.carrier_frequency_hz
        bs = spec.bs[0]
        a = bs.array
        self.scene.tx_array = rt.PlanarArray(num_rows=a.num_rows, num_cols=a.num_cols,
                                             vertical_spacing=a.vertical_spacing,
                                             horizontal_spacing=a.horizontal_spacing,
                                             pattern=a.pattern, polarization=a.polarization)
        self.scene.rx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="V")
        yaw, pitch, roll = (math.radians(v) for v in bs.orientation_deg)
        self.scene.add(rt.Transmitter("bs", position=mi.Point3f(*bs.position), orientation=mi.Point3f(yaw, pitch, roll)))
        self.solver = rt.PathSolver(deterministic=spec.tracing.deterministic)
        self.rx = []
        self.freqs = rt.subcarrier_frequencies(spec.radio.num_subcarriers, spec.radio.subcarrier_spacing_hz)

    def __call__(self, positions: np.ndarray) -> tuple[np.ndarray, float]:
        """CSI ``[num_rx, 1, 1, num_tx_ant, 1, num_subcarriers]`` and the seconds spent in ``cfr`` alone."""
        rt, mi, t = self.rt, self.mi, self.spec.tracing
        while len(self.rx) > len(positions):
            self.scene.remove(self.rx.pop().name)
        for i, p in enumerate(positions):
            if i < len(self.rx):
                self.rx[i].position = mi.Point3f(*map(float, p))
            else:
                self.rx.append(rt.Receiver(f"ue{i}", position=mi.Point3f(*map(float, p))))
                self.scene.add(self.rx[-1])
        paths = self.solver(self.scene, max_depth=t.max_depth, max_num_paths_per_src=t.max_num_paths_per_src,
                            samples_per_src=t.samples_per_src, los=t.los, specular_reflection=t.specular_reflection,
                            diffuse_reflection=t.diffuse_reflection, refraction=t.refraction,
                            diffraction=t.diffraction, seed=t.seed)
        start = time.perf_counter()
        h = paths.cfr(frequencies=self.freqs, normalize_delays=False, out_type="numpy")
        return h, time.perf_counter() - start


def main() -> None:
    args = parse_args()
    if args.sites:
        sites_table(args)
        return
    from airtwin.scenes import get_scenario
    from airtwin.twin.twin import Twin

    spec = get_scenario(args.scenario)
    twin = Twin(spec)
    bare = BareSionna(spec)
    rng = np.random.default_rng(args.seed)
    t = spec.tracing
    print(f"scenario {spec.name}: {spec.bs[0].array.num_antennas} BS antennas, {spec.radio.num_subcarriers} subcarriers, "
          f"max_depth {t.max_depth}, samples_per_src {t.samples_per_src:.0e}, diffraction {t.diffraction}, "
          f"deterministic {t.deterministic}")
    print(f"{'UEs/batch':>9} | {'bare Sionna [UE/s]':>18} | {'twin [UE/s]':>12} | {'twin/bare':>9} | "
          f"{'bare s/call':>11} | {'of it cfr':>9} | {'twin s/call':>11}")
    for n in args.batch_sizes:
        drops = {m: [twin.sample_ue_positions(n, rng) for _ in range(args.repeats + 1)] for m in ("bare", "twin")}
        bare(drops["bare"][0])
        twin.trace(drops["twin"][0])  # warm-up: JIT compile for this batch size
        tb, tt, tc = [], [], []
        for rep in range(1, args.repeats + 1):
            for method in ("bare", "twin") if rep % 2 == 1 else ("twin", "bare"):
                pos = drops[method][rep]
                s = time.perf_counter()
                if method == "bare":
                    _, cfr_s = bare(pos)
                    tb.append(time.perf_counter() - s)
                    tc.append(cfr_s)
                else:
                    twin.trace(pos)
                    tt.append(time.perf_counter() - s)
        mb, mt = statistics.median(tb), statistics.median(tt)
        mc = statistics.median(tc)
        print(f"{n:>9} | {n / mb:>18.1f} | {n / mt:>12.1f} | {mb / mt:>9.3f} | {mb:>11.4f} | {mc:>9.4f} | {mt:>11.4f}")


if __name__ == "__main__":
    main()

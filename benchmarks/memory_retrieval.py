"""Site-memory retrieval per decision: the cached matrix-product distances against per-call ``torch.cdist``, side by side.

A site memory (:class:`airtwin.model.memory.SiteMemory`) ranks its stored drops by Euclidean distance at every
decision: CSI fingerprints ``[M, A*K + 1]`` for positioning, BS-frame positions ``[M, 2]`` for beams and path loss.
``SiteMemory._distances`` takes ``|q|^2 + |k|^2 - 2 q.k`` by one float64 matrix product, with the keys in float64
and their norms cached per buffer content. The reference is what it replaced: ``torch.cdist`` of the query with
the keys converted to float64 at every call. Both run on the same random memory and queries, interleaved; the
script prints the median time of each [ms], their ratio, and the largest difference between the two distances.

    python benchmarks/memory_retrieval.py [--drops 1000 7664] [--batch 1 64] [--repeats 50] [--threads 1]

Defaults: the shipped numerology (2x8 array, 32 subcarriers: fingerprints of 513 values).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from airtwin.model.config import SiteMemoryConfig
from airtwin.model.memory import SiteMemory


def reference(keys: torch.Tensor, query: np.ndarray) -> torch.Tensor:
    """``[B, M]`` distances as the memory computed them before: ``torch.cdist``, keys converted at every call."""
    return torch.cdist(torch.from_numpy(query).double(), keys.double())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drops", type=int, nargs="+", default=[1000, 7664], help="stored drops M")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 64], help="queries per decision B")
    parser.add_argument("--dim", type=int, default=256,
                        help="stored fingerprint size (256 principal components; older memories: antennas x "
                             "subcarriers + 1, 513 for 16 antennas and 32 subcarriers)")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    g = np.random.default_rng(0)
    print(f"torch threads: {args.threads}; median of {args.repeats} interleaved repeats")
    print("| keys | drops M | batch B | cached matmul [ms] | cdist, per-call float64 [ms] | ratio | max |diff| |")
    print("|---|---|---|---|---|---|---|")
    for m in args.drops:
        memory = SiteMemory(SiteMemoryConfig(num_drops=m, fingerprint_dim=args.dim, num_beams=16))
        with torch.no_grad():
            memory.fingerprints.copy_(torch.from_numpy(g.standard_normal((m, args.dim)).astype(np.float32)))
            memory.local_xy.copy_(torch.from_numpy(g.uniform(-250, 250, (m, 2)).astype(np.float32)))
        for name, buffer in (("fingerprints", "fingerprints"), ("positions", "local_xy")):
            keys = getattr(memory, buffer)
            for b in args.batch:
                query = g.standard_normal((b, keys.shape[1])).astype(np.float32) * float(keys.std())
                new, old = [], []
                memory._distances(buffer, query, {})  # warm-up (fills the cache)
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    mine = memory._distances(buffer, query, {})
                    new.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    theirs = reference(keys, query)
                    old.append(time.perf_counter() - start)
                t_new, t_old = 1e3 * statistics.median(new), 1e3 * statistics.median(old)
                diff = float((mine - theirs).abs().max())
                print(f"| {name} | {m} | {b} | {t_new:.3f} | {t_old:.3f} | {t_old / t_new:.1f} | {diff:.1e} |")


if __name__ == "__main__":
    main()

"""What bounds the universal model's two zero-shot ties with classical baselines, on a test dataset.

- ``positioning``: the first-path head's gate, per LoS and NLoS drops: the median error of the classical
  first-path estimate, of that estimate corrected by the ``first-path-refine`` head, of the model's own polar
  estimate, of their blend, and of the better of the last two per drop (what a perfect gate would reach); the
  first path's range and bearing errors.
- ``precoding``: SGCS against the eigen-precoder of the channel when the precoder is applied (``csi_aged``)
  of the eigen-precoder of the noise-free channel at the pilot instant (the bound of any single-snapshot
  precoder that does not know the Doppler), of the noisy estimate, and of subband covariances smoothed
  with the full-band one; with a previous pilot in the data, of the channel predicted from two noisy and from
  two noise-free pilots (:mod:`airtwin.phy.prediction`) at oversampling 1, 2 and 4, and the share of each
  that fast (>= 10 m/s) and slow (< 5 m/s) UEs reach.

    python scripts/diagnose_limits.py --data TEST --checkpoint model/checkpoints/default [--samples 1024]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from airtwin.datagen.reader import AirTwinDataset
from airtwin.model.checkpoint import load_checkpoint
from airtwin.model.features import first_path_prior, observation_batch
from airtwin.model.universal import range_bearing_local, rotate_by_yaw
from airtwin.phy.beams import eigen_precoders
from airtwin.phy.estimation import to_complex
from airtwin.phy.metrics import paired_difference
from airtwin.phy.prediction import predict_channel
from airtwin.phy.tasks import TASKS, observe


def positioning(model, ds: AirTwinDataset, idx: np.ndarray, seed: int) -> None:
    f = ds.read_batch(idx, (*TASKS["positioning"].fields, "los"))
    rng = np.random.default_rng([seed, 1])
    raw_xy, prior_xy, own_xy, gate = [], [], [], []
    with torch.no_grad():
        for s in range(0, len(idx), 128):
            obs = observation_batch("csi", {k: v[s:s + 128] for k, v in f.items()}, model.cfg.pilot_snr_db, rng)
            yaw = obs["bs_orientation_deg"][:, 0]
            prior, own, g = model.position_parts(model.forward("positioning", obs), obs)
            raw_xy.append(rotate_by_yaw(range_bearing_local(first_path_prior(obs)), yaw).numpy())
            prior_xy.append(rotate_by_yaw(prior, yaw).numpy())
            own_xy.append(rotate_by_yaw(own, yaw).numpy())
            gate.append(g.numpy())
    raw_xy, prior_xy, own_xy, gate = map(np.concatenate, (raw_xy, prior_xy, own_xy, gate))
    true = TASKS["positioning"].target(f)
    err = lambda xy: np.linalg.norm(xy - true, axis=1)  # noqa: E731
    e_raw, e_prior, e_own = err(raw_xy), err(prior_xy), err(own_xy)
    e_blend = err(gate[:, None] * prior_xy + (1 - gate[:, None]) * own_xy)
    range_err = np.linalg.norm(raw_xy, axis=1) - np.linalg.norm(true, axis=1)
    bearing_err = np.degrees(np.abs((np.arctan2(raw_xy[:, 1], raw_xy[:, 0]) - np.arctan2(true[:, 1], true[:, 0])
                                     + np.pi) % (2 * np.pi) - np.pi))
    los = f["los"].astype(bool)
    print("positioning, median error [m]: first path | corrected by the head | the model's polar estimate | "
          "blend (the model) | better of the last two")
    for name, m in (("all", np.ones_like(los)), ("LoS", los), ("NLoS", ~los)):
        print(f"  {name:4s} ({m.sum():4d} drops, gate {gate[m].mean():.2f}): {np.median(e_raw[m]):6.1f} | "
              f"{np.median(e_prior[m]):6.1f} | {np.median(e_own[m]):6.1f} | {np.median(e_blend[m]):6.1f} | "
              f"{np.median(np.minimum(e_prior, e_own)[m]):6.1f}   first path: range error median "
              f"{np.median(range_err[m]):+.1f} m, |bearing error| median {np.median(bearing_err[m]):.1f} deg")


def precoding(ds: AirTwinDataset, idx: np.ndarray, pilot_snr_db: float, seed: int) -> None:
    f = ds.read_batch(idx, ds.task_fields("precoding") + ("ue_velocity",))
    target = TASKS["precoding"].target(f)
    num_subbands = target.shape[1]
    sgcs = lambda w: np.mean(np.abs(np.sum(w.conj() * target, axis=-1)) ** 2, axis=-1)  # noqa: E731
    obs = observe("csi", f, pilot_snr_db, np.random.default_rng([seed, 1]))
    est = to_complex(obs["csi"])
    base = sgcs(eigen_precoders(est, num_subbands))
    print(f"precoding, SGCS against the applied channel's eigen-precoder ({len(idx)} drops):")
    print(f"  eigen of the noise-free channel at the pilot instant: {sgcs(eigen_precoders(f['csi'], num_subbands)).mean():.4f}")
    print(f"  eigen of the {pilot_snr_db:g} dB estimate:                   {base.mean():.4f}")
    for alpha in (0.25, 0.5):
        smoothed = sgcs(eigen_precoders(est, num_subbands, alpha))
        d, low, high = paired_difference({"sgcs": smoothed}, {"sgcs": base}, np.random.default_rng(seed))["sgcs"]
        print(f"  subband covariance + {alpha:g} x full band:        {smoothed.mean():.4f} "
              f"(difference {d:+.4f} [{low:+.4f}, {high:+.4f}])")
    if "csi_prev" not in f:
        return
    speed = np.linalg.norm(f["ue_velocity"], axis=1)
    gap, ahead, positions = ds.pilot_gap_s(), float(f["aging_delay_s"][0]), f["antenna_positions"][0]
    print(f"  the channel {ahead * 1e3:g} ms ahead, predicted from two pilots {gap * 1e3:g} ms apart "
          "(all / slow < 5 m/s / fast >= 10 m/s):")
    for oversampling in (1, 2, 4):
        for label, prev, last in (("noisy", to_complex(obs["csi_prev"]), est), ("noise-free", f["csi_prev"], f["csi"])):
            v = sgcs(eigen_precoders(predict_channel(prev, last, positions, gap, ahead, oversampling), num_subbands))
            print(f"    oversampling {oversampling}, {label:10s} pilots: {v.mean():.4f} / {v[speed < 5].mean():.4f} / "
                  f"{v[speed >= 10].mean():.4f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="test dataset directory")
    p.add_argument("--checkpoint", required=True, help="a checkpoint with the first-path positioning head")
    p.add_argument("--samples", type=int, default=1024)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    model = load_checkpoint(args.checkpoint, device="cpu").eval()
    if model.cfg.position_head not in ("first-path", "first-path-refine"):
        raise SystemExit(f"--checkpoint {args.checkpoint}: position_head is {model.cfg.position_head!r}; "
                         "this diagnosis needs 'first-path' or 'first-path-refine'")
    ds = AirTwinDataset(args.data)
    idx = ds.sample_indices(args.samples, args.seed)
    positioning(model, ds, idx, args.seed)
    precoding(ds, idx, model.cfg.pilot_snr_db, args.seed)


if __name__ == "__main__":
    main()

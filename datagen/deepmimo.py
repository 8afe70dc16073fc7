"""DeepMIMO v4 interoperability: twin traces exported as a DeepMIMO scenario, through the ``deepmimo`` package.

    airtwin export deepmimo --scenario city-10000 --drops 2000 --out exports/

The export traces UEs (random outdoor drops, or an outdoor grid) with the twin's own ``PathSolver``
settings, then hands Sionna's paths and scene to DeepMIMO's exporter (``deepmimo.exporters.
sionna_exporter``) and converter (``sionna_rt_converter``), which write the scenario folder:
per-path power [dB], phase [deg], delay [s], angles, interactions and positions, the scene geometry
and the materials, with ``params.json``. ``deepmimo.load(path)`` reads it back. ``airtwin.json``
beside it records the AirTwin scenario and the trace seed.

Limits (DeepMIMO's, written down here and warned about when they bite):

- at most :data:`DEEPMIMO_MAX_PATHS` (25) paths per receiver. DeepMIMO's converter keeps the *first* 25
  non-zero paths in Sionna's order; the export hands it the paths strongest first, so that it keeps the
  25 strongest, and zeroes the paths the twin drops (NaN coefficients of Sionna's deterministic candidate
  generator, gains under ``MIN_PATH_GAIN_DB``; :func:`airtwin.twin.twin.kept_paths`), so that both see
  the same paths;
- the path coefficients are those of the BS array's first element (DeepMIMO applies its own array model
  when it computes channels);
- one trace call holds every receiver, so very large exports need the memory of one call.

``deepmimo`` is an optional dependency (``pip install -e '.[interop]'``; the dev extra has it).
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import warnings
from pathlib import Path

import numpy as np

from airtwin.config import write_json
from airtwin.scenes.spec import ScenarioSpec

#: DeepMIMO v4 keeps at most this many paths per receiver (``deepmimo.consts.MAX_PATHS``).
DEEPMIMO_MAX_PATHS = 25


def _require_deepmimo():
    try:
        import deepmimo
    except ImportError as exc:
        raise RuntimeError("DeepMIMO export needs the deepmimo package: pip install -e '.[interop]'") from exc
    return deepmimo


def _kept(a: np.ndarray) -> np.ndarray:
    """The paths the twin keeps (:func:`airtwin.twin.twin.kept_paths`), ``a`` ``[rx, 1, tx, tx_ant, P]`` -> ``[rx, tx, P]``."""
    from airtwin.twin.twin import kept_paths

    return np.stack([kept_paths(a[:, 0, t]) for t in range(a.shape[2])], axis=1)


def _strongest_first(paths: dict) -> dict:
    """DeepMIMO's dict of Sionna paths with the paths the twin drops zeroed and every receiver's paths
    sorted strongest first (the converter keeps the first :data:`DEEPMIMO_MAX_PATHS` non-zero ones)."""
    a = np.asarray(paths["a"])
    keep = _kept(a)  # [rx, tx, P]
    power = np.where(keep, np.mean(np.abs(np.nan_to_num(a)) ** 2, axis=(1, 3)), -1.0)
    order = np.argsort(-power, axis=-1, kind="stable")  # [rx, tx, P]
    out = dict(paths)
    out["a"] = np.take_along_axis(np.where(keep[:, None, :, None, :], a, 0.0), order[:, None, :, None, :], axis=-1)
    for key in ("tau", "phi_r", "phi_t", "theta_r", "theta_t"):
        out[key] = np.take_along_axis(np.asarray(paths[key]), order, axis=-1)
    out["interactions"] = np.take_along_axis(np.asarray(paths["interactions"]), order[None], axis=-1)
    out["vertices"] = np.take_along_axis(np.asarray(paths["vertices"]), order[None, ..., None], axis=-2)
    return out


def grid_positions(twin, spacing_m: float) -> np.ndarray:
    """Outdoor UE positions ``[N, 3]`` on a square grid of ``spacing_m`` over the twin's UE region [m]."""
    if spacing_m <= 0:
        raise ValueError(f"grid spacing = {spacing_m}; allowed: > 0 m")
    x0, y0, x1, y1 = twin.area_bounds
    gx, gy = np.meshgrid(np.arange(x0 + spacing_m / 2, x1, spacing_m), np.arange(y0 + spacing_m / 2, y1, spacing_m))
    xy = np.stack([gx.ravel(), gy.ravel()], axis=1)
    xy = xy[twin.is_free(xy)]
    return np.concatenate([xy, np.full((len(xy), 1), twin.spec.ue.height_m)], axis=1)


def export_deepmimo(spec: ScenarioSpec, out_dir: str | Path, *, drops: int | None = None,
                    grid_m: float | None = None, seed: int = 0, name: str | None = None, log=print) -> Path:
    """Trace ``spec`` and write a DeepMIMO v4 scenario folder ``out_dir/name``; returns its path.

    Args:
        drops: number of random outdoor UE drops (from ``seed``); or
        grid_m: spacing of an outdoor UE grid [m]. Exactly one of the two.
        seed: seed of the drops and of the tracer.
        name: scenario folder name (lower case, DeepMIMO's rule; default: the scenario's name).
    """
    if (drops is None) == (grid_m is None):
        raise ValueError("give exactly one of drops (random UE drops) or grid_m (an outdoor grid spacing)")
    if drops is not None and drops < 1:
        raise ValueError(f"drops = {drops}; allowed: an integer >= 1")
    _require_deepmimo()
    from deepmimo.converters.sionna_rt.sionna_converter import sionna_rt_converter
    from deepmimo.exporters.sionna_exporter import export_paths, sionna_exporter

    from airtwin.twin.twin import Twin

    name = (name or spec.name).lower()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    twin = Twin(spec)
    rng = np.random.default_rng(seed)
    positions = twin.sample_ue_positions(drops, rng) if drops is not None else grid_positions(twin, grid_m)
    if len(positions) == 0:
        raise ValueError(f"{spec.name}: no outdoor UE position on a {grid_m} m grid")
    arguments = twin.solver_arguments(seed)
    paths = twin.trace_paths(positions, seed=seed)
    over = int((_kept(np.asarray(paths.a[0]) + 1j * np.asarray(paths.a[1])).reshape(len(positions), -1).sum(axis=1)
                > DEEPMIMO_MAX_PATHS).sum())
    if over:
        msg = (f"{over} of {len(positions)} UEs have more than {DEEPMIMO_MAX_PATHS} paths; DeepMIMO keeps their "
               f"{DEEPMIMO_MAX_PATHS} strongest")
        warnings.warn(msg, stacklevel=2)
        log(msg)
    with tempfile.TemporaryDirectory(prefix="airtwin-deepmimo-") as rt_folder:
        sionna_exporter(twin.scene, [_strongest_first(export_paths([paths])[0])], arguments, rt_folder)
        sionna_rt_converter(rt_folder, overwrite=True, vis_scene=False, scenario_name=name,
                            parent_folder=str(out_dir))
    folder = out_dir / name
    record = {"scenario": spec.to_dict(), "seed": seed, "num_ues": int(len(positions)),
              "max_paths_per_ue": DEEPMIMO_MAX_PATHS, "ues_truncated": over}
    write_json(folder / "airtwin.json", record)
    log(f"{folder}: DeepMIMO v4 scenario of {len(positions)} UEs ({spec.name}); load it with deepmimo.load")
    return folder


def load_deepmimo(folder: str | Path, *, max_paths: int = DEEPMIMO_MAX_PATHS):
    """``deepmimo.load`` of a scenario folder anywhere on disk (DeepMIMO looks scenarios up by name under its
    configured scenarios folder; this points it at ``folder``'s parent for the call and restores it)."""
    deepmimo = _require_deepmimo()
    folder = Path(folder).resolve()
    if not (folder / "params.json").is_file():
        raise ValueError(f"{folder} is not a DeepMIMO v4 scenario folder (no params.json)")
    if folder.name != folder.name.lower():
        raise ValueError(f"{folder}: DeepMIMO scenario names are lower case; rename the folder")
    before = deepmimo.config.get("scenarios_folder")
    deepmimo.config.set("scenarios_folder", str(folder.parent))
    try:
        return deepmimo.load(folder.name, max_paths=max_paths)
    finally:
        deepmimo.config.set("scenarios_folder", before)


# ---------------------------------------------------------------------- import
def _interactions(codes: np.ndarray) -> np.ndarray:
    """DeepMIMO interaction codes (one digit per interaction, 0 = line of sight) -> number of interactions."""
    c = np.nan_to_num(np.asarray(codes, np.float64), nan=0.0).astype(np.int64)
    return np.where(c > 0, np.floor(np.log10(np.maximum(c, 1))).astype(np.int64) + 1, 0)


def _building_height_map(scene, bs_position, yaw_deg: float, size_cells: int, map_range_m: float) -> np.ndarray:
    """Height map ``[R, R]`` [m] of DeepMIMO's building objects (each a convex hull) in the BS's frame
    (:mod:`airtwin.phy.envmap`)."""
    from shapely import contains_xy
    from shapely.geometry import MultiPoint

    from airtwin.phy.envmap import grid_points

    points = grid_points(bs_position, yaw_deg, size_cells, map_range_m)
    gx, gy = points[..., 0], points[..., 1]
    out = np.zeros(gx.shape, np.float32)
    for obj in (scene.objects if scene is not None else []):
        if getattr(obj, "label", "") != "buildings":
            continue
        v = np.asarray(obj.vertices, np.float64)
        hull = MultiPoint(v[:, :2]).convex_hull
        if hull.area > 0:
            out = np.where(contains_xy(hull, gx, gy), np.maximum(out, float(v[:, 2].max())), out)
    return out


def import_deepmimo(folder: str | Path, out_dir: str | Path, *, spec: ScenarioSpec | None = None,
                    split: str = "test", shard_size: int = 256, log=print) -> dict:
    """An AirTwin dataset (manifest + HDF5 shards, :mod:`airtwin.datagen.schema`) from a DeepMIMO v4 scenario.

    Per UE, the per-path power, phase, delay and departure angles of DeepMIMO's first BS element are
    spread over the BS array of ``spec`` (plane waves, the array geometry of :mod:`airtwin.phy.beams`)
    and turned into the OFDM channel of ``spec.radio`` (:func:`airtwin.phy.ofdm.frequency_response`); LoS,
    path loss, beam gains, the best beam and eigen-precoders follow as for traced data. The height map
    is rasterised from DeepMIMO's building objects. DeepMIMO keeps no velocities, so ``csi_aged`` equals
    ``csi`` (no Doppler).

    Args:
        spec: the numerology and BS array to build (default: the AirTwin scenario recorded in
            ``airtwin.json`` by :func:`export_deepmimo`, else a 1x8 array at DeepMIMO's carrier, with
            64 subcarriers over DeepMIMO's bandwidth).
        split: the split every imported sample belongs to.
    Returns:
        The manifest written to ``out_dir``.
    """
    from airtwin.datagen.generate import _versions, write_manifest
    from airtwin.datagen.plan import ShardTask
    from airtwin.datagen.schema import FORMAT_NAME, SAMPLE_FIELDS, SCHEMA_VERSION
    from airtwin.datagen.shard import ShardRecord, sample_columns, write_shard
    from airtwin.phy.beams import beam_gains, dft_codebook, eigen_precoders, element_positions, to_db
    from airtwin.phy.classical import steering_vectors
    from airtwin.phy.link import LinkBudget
    from airtwin.phy.ofdm import frequency_response, subcarrier_offsets_hz
    from airtwin.scenes.spec import ArraySpec, BSSite, RadioConfig, SceneSource
    from airtwin.twin.channel import NO_PATH_LOSS_DB, ChannelBatch

    if split not in ("train", "validation", "test"):
        raise ValueError(f"split = {split!r}; allowed: 'train', 'validation', 'test'")
    folder = Path(folder).resolve()
    ds = load_deepmimo(folder)
    tx = np.asarray(ds.tx_pos, np.float64).reshape(-1, 3)[0]
    if spec is None and (folder / "airtwin.json").is_file():
        spec = ScenarioSpec.from_dict(json.loads((folder / "airtwin.json").read_text())["scenario"])
    if spec is None:
        rt = ds.rt_params

        def scalar(x) -> float:
            return float(np.asarray(x, np.float64).reshape(-1)[0])

        spec = ScenarioSpec(name=f"deepmimo-{folder.name}", description=f"Imported from DeepMIMO scenario {folder}",
                            scene=SceneSource(kind="empty"),
                            bs=(BSSite(name="bs0", position=tuple(map(float, tx)), array=ArraySpec(num_rows=1, num_cols=8)),),
                            radio=RadioConfig(carrier_frequency_hz=scalar(rt["frequency"]),
                                              bandwidth_hz=scalar(rt.get("raw_params", {}).get("bandwidth", 20e6))))
    site = spec.bs[0]
    name = spec.name
    power_db = np.asarray(ds.power, np.float64)
    ok = np.isfinite(power_db)
    amp = np.where(ok, 10 ** (np.nan_to_num(power_db) / 20) * np.exp(1j * np.radians(np.nan_to_num(np.asarray(ds.phase, np.float64)))), 0)
    tau = np.nan_to_num(np.asarray(ds.delay, np.float64))
    theta, phi = np.radians(np.nan_to_num(np.asarray(ds.aod_theta, np.float64))), np.radians(np.nan_to_num(np.asarray(ds.aod_phi, np.float64)))
    dirs = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], axis=-1)  # [N, P, 3]
    steer = steering_vectors(site.array, site.orientation_deg, dirs)  # [N, P, A]
    a = (amp[..., None] * steer / steer[..., :1]).transpose(0, 2, 1)  # [N, A, P], element 0 as DeepMIMO's
    offsets = subcarrier_offsets_hz(spec.radio.num_subcarriers, spec.radio.subcarrier_spacing_hz)
    csi = frequency_response(a, tau, spec.radio.carrier_frequency_hz, offsets)
    n, m = len(csi), spec.tracing.max_paths
    order = np.argsort(-np.where(ok, power_db, -np.inf), axis=1, kind="stable")[:, :m]

    def pad(x, dtype):
        out = np.zeros((n, m), dtype)
        k = min(m, x.shape[1])
        out[:, :k] = np.take_along_axis(np.asarray(x), order[:, :k], axis=1)
        return out

    gain = np.sum(np.abs(amp) ** 2, axis=1)
    has = gain > 0
    path_gain_db = np.where(has, to_db(gain), -NO_PATH_LOSS_DB)
    inter = _interactions(np.asarray(ds.inter))
    book = dft_codebook(site.array, spec.codebook.oversampling_h, spec.codebook.oversampling_v)
    gains = beam_gains(csi, book.weights)
    f32 = np.float32
    rx = np.asarray(ds.rx_pos, np.float64).reshape(-1, 3)
    yaw = float(site.orientation_deg[0])
    map_range = spec.environment.range_m or float(np.ceil(max(1.0, np.max(np.linalg.norm(rx[:, :2] - tx[:2], axis=1),
                                                                          initial=1.0))))
    hmap = _building_height_map(getattr(ds, "scene", None), tx, yaw, spec.environment.size_cells, map_range)
    batch = ChannelBatch(
        csi=csi, csi_evolution=np.stack([csi, csi], axis=1), los=(ok & (inter == 0)).any(axis=1), has_paths=has,
        path_gain_db=path_gain_db.astype(f32), path_loss_db=(-path_gain_db).astype(f32),
        snr_db=LinkBudget.of(spec.radio).snr_db(path_gain_db).astype(f32), path_valid=pad(ok, bool),
        path_delay_s=pad(tau, f32), path_power_db=pad(np.where(ok, power_db, 0.0), f32),
        path_aod_theta=pad(theta, f32), path_aod_phi=pad(phi, f32),
        path_aoa_theta=pad(np.radians(np.nan_to_num(np.asarray(ds.aoa_theta, np.float64))), f32),
        path_aoa_phi=pad(np.radians(np.nan_to_num(np.asarray(ds.aoa_phi, np.float64))), f32),
        path_doppler_hz=np.zeros((n, m), f32), path_num_interactions=pad(inter, np.int8),
        beam_gain_db=to_db(gains).astype(f32), best_beam=np.where(has, gains.argmax(axis=1), 0).astype(np.int64),
        precoders=eigen_precoders(csi, spec.codebook.num_subbands), ue_positions=rx.astype(f32),
        ue_velocities=np.zeros((n, 3), f32), bs_position=tx.astype(f32),
        bs_orientation_deg=np.asarray(site.orientation_deg, f32), height_map=hmap, map_range_m=map_range,
        subcarrier_frequencies_hz=offsets.astype(np.float64),
        antenna_positions=element_positions(site.array).astype(f32), scenario=name, bs_name=site.name, seed=0, time_step_s=0.0)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for index, start in enumerate(range(0, n, shard_size)):
        rows = np.arange(start, min(n, start + shard_size))
        part = batch.select(rows)
        samples = sample_columns(part)
        samples |= {"trace_seed": np.zeros(len(rows), np.int64), "trajectory_id": rows.astype(np.int64),
                    "time_s": np.zeros(len(rows), np.float32), "scenario_index": np.zeros(len(rows), np.int32)}
        samples = {f.name: np.asarray(samples[f.name]).astype(f.dtype, copy=False) for f in SAMPLE_FIELDS}
        task = ShardTask(index, name, 0, split, len(rows), 0)
        digest = write_shard(out_dir / task.file_name, task, samples, part, 0.0)
        records.append(dataclasses.asdict(ShardRecord(task.file_name, index, name, split, len(rows), digest)))
    manifest = {"format": FORMAT_NAME, "schema_version": SCHEMA_VERSION,
                "config": {"suite": f"deepmimo:{folder}", "samples": n, "seed": 0, "shard_size": shard_size},
                "suite": {"name": f"deepmimo:{folder.name}", "scenarios": [name]},
                "scenarios": [{"index": 0, "name": name, "split": split, "spec": spec.to_dict()}],
                "splits": {s: [name] if s == split else [] for s in ("train", "validation", "test")},
                "versions": _versions(), "shards": records, "complete": True}
    write_manifest(out_dir, manifest)
    log(f"{out_dir}: {n} samples from DeepMIMO {folder.name} in {len(records)} shards ({split} split)")
    return manifest

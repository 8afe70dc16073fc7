"""The dataset schema: one row per UE sample, plus per-shard environment data.

A shard ``shard-NNNNN.h5`` holds samples of one scenario and one serving BS:

- ``/samples/<field>``: ``[num_samples, ...]`` arrays listed in :data:`SAMPLE_FIELDS`.
- ``/env/<field>``: the per-shard arrays listed in :data:`ENV_FIELDS`: the height map in the BS's frame
  (range x bearing, :mod:`airtwin.phy.envmap`) and the range it covers, the BS's position and
  orientation, the subcarrier offsets.
- root attributes: ``schema_version``, ``scenario``, ``scenario_index``, ``bs_name``, ``shard_index``,
  ``split``, ``num_samples``, ``aging_delay_s``, ``pilot_gap_s`` (0, or absent, in data without a previous pilot).

Symbols: ``A`` BS antennas, ``K`` subcarriers, ``S`` precoder subbands, ``B`` codebook beams,
``M`` kept paths per UE. The full description lives in ``docs/dataset.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = 3
"""3: the height map in the BS's frame (range x bearing) out to the UE region's farthest point, with
``map_range_m`` and ``bs_orientation_deg`` (issue 12); 2: a BS-centred square map of fixed extent, which
missed half the drops of a city; 2 and 3: the twin with welded meshes and carrier-phase CSI (issue 9)."""
FORMAT_NAME = "airtwin-dataset"
MANIFEST_NAME = "manifest.json"

_SPLIT = {"enum": ["train", "validation", "test"]}
_COUNT = {"type": "integer", "minimum": 0}
#: JSON Schema of ``manifest.json`` (checked with ``jsonschema`` on every read).
MANIFEST_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["format", "schema_version", "config", "suite", "scenarios", "splits", "versions", "shards",
                 "complete"],
    "properties": {
        "format": {"const": FORMAT_NAME},
        "schema_version": {"const": SCHEMA_VERSION},
        "config": {"type": "object", "required": ["suite", "samples", "seed", "shard_size"]},
        "suite": {"type": "object", "required": ["name", "scenarios"]},
        "scenarios": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["index", "name", "split", "spec"],
            "properties": {"index": _COUNT, "name": {"type": "string"}, "split": _SPLIT, "spec": {"type": "object"}}}},
        "splits": {"type": "object", "required": ["train", "validation", "test"], "additionalProperties": False,
                   "properties": {s: {"type": "array", "items": {"type": "string"}}
                                  for s in ("train", "validation", "test")}},
        "versions": {"type": "object"},
        "shards": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "required": ["file", "index", "scenario", "split", "num_samples", "sha256"],
            "properties": {"file": {"type": "string", "pattern": r"^shard-[0-9]{5,}\.h5$"}, "index": _COUNT,
                           "scenario": {"type": "string"}, "split": _SPLIT,
                           "num_samples": {"type": "integer", "minimum": 1},
                           "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}}},
        "complete": {"type": "boolean"},
    },
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    dtype: str
    shape: str
    unit: str
    description: str


SAMPLE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("csi", "complex64", "[A, K]", "-", "true channel frequency response at the trace instant"),
    FieldSpec("csi_aged", "complex64", "[A, K]", "-",
              "the same channel aging_delay_s later, evolved by per-path Doppler (what stale feedback sees)"),
    FieldSpec("los", "bool", "[]", "-", "a valid path without interactions exists"),
    FieldSpec("has_paths", "bool", "[]", "-", "any path reached the UE (False: zero channel)"),
    FieldSpec("path_gain_db", "float32", "[]", "dB", "sum over paths of mean-over-antennas |a_p|^2"),
    FieldSpec("path_loss_db", "float32", "[]", "dB", "-path_gain_db (300 when no path)"),
    FieldSpec("snr_db", "float32", "[]", "dB", "single-antenna SNR: P_tx + path gain - noise power"),
    FieldSpec("path_valid", "bool", "[M]", "-", "per-path mask (strongest first)"),
    FieldSpec("path_delay_s", "float32", "[M]", "s", "absolute propagation delay"),
    FieldSpec("path_power_db", "float32", "[M]", "dB", "mean-over-antennas path power"),
    FieldSpec("path_aod_theta", "float32", "[M]", "rad", "zenith angle of departure"),
    FieldSpec("path_aod_phi", "float32", "[M]", "rad", "azimuth angle of departure"),
    FieldSpec("path_aoa_theta", "float32", "[M]", "rad", "zenith angle of arrival"),
    FieldSpec("path_aoa_phi", "float32", "[M]", "rad", "azimuth angle of arrival"),
    FieldSpec("path_doppler_hz", "float32", "[M]", "Hz", "Doppler shift from the UE velocity"),
    FieldSpec("path_num_interactions", "int8", "[M]", "-", "bounces (0: LoS path)"),
    FieldSpec("beam_gain_db", "float32", "[B]", "dB", "mean-over-subcarrier gain of each DFT beam"),
    FieldSpec("best_beam", "int64", "[]", "-", "argmax of beam_gain_db"),
    FieldSpec("precoders", "complex64", "[S, A]", "-", "unit-norm eigen-precoder per subband"),
    FieldSpec("ue_position", "float32", "[3]", "m", "UE position"),
    FieldSpec("ue_velocity", "float32", "[3]", "m/s", "UE velocity"),
    FieldSpec("trace_seed", "int64", "[]", "-", "ray-tracer seed of the sample's batch"),
    FieldSpec("trajectory_id", "int64", "[]", "-", "UE trajectory (unique in the dataset)"),
    FieldSpec("time_s", "float32", "[]", "s", "time along the trajectory"),
    FieldSpec("scenario_index", "int32", "[]", "-", "index into the manifest's scenario list"),
)

#: Sample fields of data generated with a previous pilot (``GenerateConfig.pilot_gap_s > 0``) only.
PILOT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("csi_prev", "complex64", "[A, K]", "-",
              "the channel pilot_gap_s before csi, the previous pilot occasion, by per-path Doppler (data generated "
              "with pilot_gap_s > 0 only)"),
)

#: ChannelBatch attribute feeding each sample field (where the names differ).
BATCH_ATTRIBUTE = {"ue_position": "ue_positions", "ue_velocity": "ue_velocities"}

ENV_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("height_map", "float32", "[R, R]", "m",
              "building heights in the serving BS's frame: row = range, column = bearing from boresight"),
    FieldSpec("map_range_m", "float32", "[]", "m", "largest range height_map covers (the UE region's farthest point)"),
    FieldSpec("bs_position", "float32", "[3]", "m", "serving BS position"),
    FieldSpec("bs_orientation_deg", "float32", "[3]", "deg", "serving BS (yaw, pitch, roll)"),
    FieldSpec("subcarrier_frequencies_hz", "float64", "[K]", "Hz", "baseband subcarrier offsets"),
)


def schema_markdown() -> str:
    """The field tables of ``docs/dataset.md`` (generated from this module)."""
    rows = ["| field | dtype | shape per sample | unit | meaning |", "|---|---|---|---|---|"]
    rows += [f"| `{f.name}` | {f.dtype} | {f.shape} | {f.unit} | {f.description} |"
             for f in (*SAMPLE_FIELDS, *PILOT_FIELDS)]
    env = ["| field | dtype | shape | unit | meaning |", "|---|---|---|---|---|"]
    env += [f"| `{f.name}` | {f.dtype} | {f.shape} | {f.unit} | {f.description} |" for f in ENV_FIELDS]
    return "\n".join(rows) + "\n\n" + "\n".join(env) + "\n"

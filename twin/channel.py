"""The twin's result type: :class:`ChannelBatch`, everything the ray tracer says about a batch of UEs."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

#: Path loss reported for a UE that no path reaches [dB] (path gain is ``-NO_PATH_LOSS_DB``).
NO_PATH_LOSS_DB = 300.0


@dataclass
class ChannelBatch:
    """Channels from one serving BS to ``num_ue`` single-antenna UEs at one time instant.

    All arrays are NumPy; angles are in radians in the world frame (zenith ``theta``
    from +z, azimuth ``phi`` from +x towards +y), delays in seconds, powers in dB.
    A UE with no path has an all-zero channel, ``has_paths = False``, path gain
    ``-NO_PATH_LOSS_DB``, zero precoders, and no NaN anywhere.

    Attributes:
        csi: ``[num_ue, num_bs_ant, num_subcarriers]`` complex64, channel frequency response
            ``h[u, a, k]`` (unitless, includes path loss and antenna patterns; absolute
            propagation delay kept, not normalised).
        csi_evolution: ``[num_ue, num_time_steps, num_bs_ant, num_subcarriers]`` complex64 or None:
            the same paths evolved by their Doppler shifts at ``t = i * time_step_s``
            (geometry frozen at the trace; see ``Twin.trace``).
        los: ``[num_ue]`` bool, a valid path without any interaction exists.
        has_paths: ``[num_ue]`` bool.
        path_gain_db: ``[num_ue]`` float32, ``10 log10(sum_p mean_ant |a_p|^2)`` [dB].
        path_loss_db: ``[num_ue]`` float32, ``-path_gain_db`` [dB].
        snr_db: ``[num_ue]`` float32, single-antenna-equivalent SNR ``P_tx + PG - N`` [dB]
            (add a beam's array gain, ``beam_gain_db - path_gain_db``, for the beamformed SNR).
        path_valid: ``[num_ue, max_paths]`` bool; per-path arrays below are zero where invalid.
        path_delay_s: ``[num_ue, max_paths]`` float32 [s].
        path_power_db: ``[num_ue, max_paths]`` float32, ``mean_ant |a_p|^2`` [dB] (floored).
        path_aod_theta, path_aod_phi, path_aoa_theta, path_aoa_phi: ``[num_ue, max_paths]`` float32 [rad].
        path_doppler_hz: ``[num_ue, max_paths]`` float32 [Hz].
        path_num_interactions: ``[num_ue, max_paths]`` int8, bounces (0 for the LoS path).
        beam_gain_db: ``[num_ue, num_beams]`` float32, ``10 log10 mean_k |h_k^T w_b|^2`` [dB].
        best_beam: ``[num_ue]`` int64, argmax of ``beam_gain_db`` (0 for no-path UEs).
        precoders: ``[num_ue, num_subbands, num_bs_ant]`` complex64, unit-norm eigen-precoders.
        ue_positions: ``[num_ue, 3]`` float32 [m].
        ue_velocities: ``[num_ue, 3]`` float32 [m/s].
        bs_position: ``[3]`` float32 [m].
        bs_orientation_deg: ``[3]`` float32 (yaw, pitch, roll) of the BS [deg].
        height_map: ``[map_cells (range), map_cells (bearing)]`` float32 building heights [m] in the BS's
            frame (:mod:`airtwin.phy.envmap`).
        map_range_m: largest range ``height_map`` covers [m].
        subcarrier_frequencies_hz: ``[num_subcarriers]`` float64, baseband offsets from the carrier [Hz].
        antenna_positions: ``[num_bs_ant, 3]`` float32, the serving BS's element positions in its array frame
            [wavelengths] (:func:`airtwin.phy.beams.element_positions`).
        time_step_s: spacing of ``csi_evolution`` [s] (0 when absent).
        csi_prev: ``[num_ue, num_bs_ant, num_subcarriers]`` complex64 or None: the channel ``pilot_gap_s``
            before the trace instant, the previous pilot occasion (the same paths rotated back by their
            Doppler shifts); with ``csi`` it shows how the channel turns, which a predictor extrapolates.
        pilot_gap_s: time from the previous pilot to ``csi`` [s] (0 when ``csi_prev`` is absent).
        scenario: scenario name; ``bs_name``: serving BS; ``seed``: tracer seed used.
    """

    csi: np.ndarray
    los: np.ndarray
    has_paths: np.ndarray
    path_gain_db: np.ndarray
    path_loss_db: np.ndarray
    snr_db: np.ndarray
    path_valid: np.ndarray
    path_delay_s: np.ndarray
    path_power_db: np.ndarray
    path_aod_theta: np.ndarray
    path_aod_phi: np.ndarray
    path_aoa_theta: np.ndarray
    path_aoa_phi: np.ndarray
    path_doppler_hz: np.ndarray
    path_num_interactions: np.ndarray
    beam_gain_db: np.ndarray
    best_beam: np.ndarray
    precoders: np.ndarray
    ue_positions: np.ndarray
    ue_velocities: np.ndarray
    bs_position: np.ndarray
    bs_orientation_deg: np.ndarray
    height_map: np.ndarray
    map_range_m: float
    subcarrier_frequencies_hz: np.ndarray
    antenna_positions: np.ndarray
    scenario: str
    bs_name: str
    seed: int
    csi_evolution: np.ndarray | None = None
    time_step_s: float = 0.0
    csi_prev: np.ndarray | None = None
    pilot_gap_s: float = 0.0

    @property
    def num_ue(self) -> int:
        return int(self.csi.shape[0])

    @property
    def num_bs_ant(self) -> int:
        return int(self.csi.shape[1])

    @property
    def num_subcarriers(self) -> int:
        return int(self.csi.shape[2])

    def arrays(self) -> dict[str, np.ndarray]:
        """All array-valued fields by name (``csi_evolution`` only when present)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                out[f.name] = value
        return out

    def observed_fields(self) -> dict[str, np.ndarray]:
        """Per-UE views ``{field: [num_ue, ...]}`` of what the task table observes
        (:data:`airtwin.phy.tasks.MODALITY_FIELDS`): ``csi``, ``ue_position`` and the serving BS's environment
        (``height_map``, ``map_range_m``, ``bs_position``, ``bs_orientation_deg``) and numerology
        (``subcarrier_frequencies_hz``, ``antenna_positions``) broadcast to every UE; with a previous pilot
        also ``csi_prev``, and ``pilot_gap_s`` and ``aging_delay_s`` ``[num_ue]`` [s] (the time from ``csi`` to the
        last instant of ``csi_evolution``, 0 without one)."""
        n = self.num_ue
        per_bs = {"height_map": self.height_map, "map_range_m": np.float32(self.map_range_m),
                  "bs_position": self.bs_position, "bs_orientation_deg": self.bs_orientation_deg,
                  "subcarrier_frequencies_hz": self.subcarrier_frequencies_hz, "antenna_positions": self.antenna_positions}
        out = {k: np.broadcast_to(np.asarray(v), (n, *np.shape(v))) for k, v in per_bs.items()}
        prev = {}
        if self.csi_prev is not None:
            ahead = 0.0 if self.csi_evolution is None else (self.csi_evolution.shape[1] - 1) * self.time_step_s
            prev = {"csi_prev": self.csi_prev, "pilot_gap_s": np.full(n, self.pilot_gap_s, np.float32),
                    "aging_delay_s": np.full(n, ahead, np.float32)}
        return {"csi": self.csi, "ue_position": self.ue_positions, **out, **prev}

    def select(self, index: np.ndarray | slice) -> ChannelBatch:
        """The sub-batch of UEs ``index`` (per-UE arrays indexed, shared ones kept)."""
        per_ue = {name for name, v in self.arrays().items() if v.ndim >= 1 and v.shape[0] == self.num_ue
                  and name not in ("bs_position", "bs_orientation_deg", "height_map", "subcarrier_frequencies_hz",
                                            "antenna_positions")}
        kwargs = {}
        for f in fields(self):
            value = getattr(self, f.name)
            kwargs[f.name] = value[index] if f.name in per_ue else value
        return ChannelBatch(**kwargs)


#: Per-UE fields of :class:`ChannelBatch` that :class:`SiteBatch` stacks along a BS axis (axis 1).
SITE_FIELDS = ("csi", "csi_evolution", "csi_prev", "los", "has_paths", "path_gain_db", "path_loss_db", "snr_db",
               "beam_gain_db", "best_beam", "precoders", "path_valid", "path_delay_s", "path_power_db",
               "path_aod_theta", "path_aod_phi", "path_aoa_theta", "path_aoa_phi", "path_doppler_hz",
               "path_num_interactions")


@dataclass
class SiteBatch:
    """Channels from ``num_bs`` BS sites to the same ``num_ue`` UEs, traced together (``Twin.trace_sites``).

    ``sites[i]`` is the :class:`ChannelBatch` of site ``i`` alone (what ``Twin.trace`` gives with that site
    serving). The per-UE fields are also available stacked along a BS axis after the UE axis
    (:meth:`stacked`, or as attributes), e.g.:

    - ``csi``: ``[num_ue, num_bs, num_bs_ant, num_subcarriers]`` complex64;
    - ``csi_evolution``: ``[num_ue, num_bs, num_time_steps, num_bs_ant, num_subcarriers]`` or None;
    - ``los``, ``has_paths``: ``[num_ue, num_bs]`` bool; ``path_loss_db``, ``path_gain_db``, ``snr_db``:
      ``[num_ue, num_bs]`` float32 [dB];
    - ``beam_gain_db``: ``[num_ue, num_bs, num_beams]`` [dB]; ``best_beam``: ``[num_ue, num_bs]``;
    - ``precoders``: ``[num_ue, num_bs, num_subbands, num_bs_ant]``.

    ``bs_positions`` is ``[num_bs, 3]`` [m]; ``ue_positions``/``ue_velocities`` ``[num_ue, 3]``.
    """

    sites: tuple[ChannelBatch, ...]

    def __post_init__(self) -> None:
        if not self.sites:
            raise ValueError("SiteBatch needs at least one site")

    @property
    def num_bs(self) -> int:
        return len(self.sites)

    @property
    def num_ue(self) -> int:
        return self.sites[0].num_ue

    @property
    def bs_names(self) -> tuple[str, ...]:
        return tuple(b.bs_name for b in self.sites)

    @property
    def bs_positions(self) -> np.ndarray:
        return np.stack([b.bs_position for b in self.sites])

    @property
    def ue_positions(self) -> np.ndarray:
        return self.sites[0].ue_positions

    @property
    def ue_velocities(self) -> np.ndarray:
        return self.sites[0].ue_velocities

    def stacked(self, name: str) -> np.ndarray | None:
        """Field ``name`` of every site stacked along axis 1 (the BS axis); None where the sites have none."""
        if name not in SITE_FIELDS:
            raise ValueError(f"field = {name!r}; allowed: {', '.join(SITE_FIELDS)}")
        values = [getattr(b, name) for b in self.sites]
        return None if values[0] is None else np.stack(values, axis=1)

    def __getattr__(self, name: str):
        if name in SITE_FIELDS:
            return self.stacked(name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def site(self, i: int) -> ChannelBatch:
        return self.sites[i]

    def select(self, index: np.ndarray | slice) -> SiteBatch:
        """The sub-batch of UEs ``index`` at every site."""
        return SiteBatch(tuple(b.select(index) for b in self.sites))

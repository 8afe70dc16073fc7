"""The digital twin: one scenario, one Sionna RT scene, batched ray tracing to :class:`ChannelBatch`."""

from __future__ import annotations

import math
import tempfile
from functools import cached_property

import numpy as np

from airtwin.phy import envmap
from airtwin.phy.beams import Codebook, beam_gains, dft_codebook, eigen_precoders, element_positions, to_db
from airtwin.phy.link import LinkBudget
from airtwin.phy.ofdm import frequency_response, subcarrier_offsets_hz
from airtwin.scenes.layout import scene_layout
from airtwin.scenes.spec import ScenarioSpec
from airtwin.twin.backend import sionna_rt
from airtwin.twin.channel import NO_PATH_LOSS_DB, ChannelBatch, SiteBatch
from airtwin.twin.geometry import OutdoorRaster, surface_height
from airtwin.twin.mobility import MotionState, init_motion, sample_drops, step_motion

#: Resolution of the outdoor raster used to place UEs in non-procedural scenes [m].
OUTDOOR_RASTER_M = 1.0
#: Minimum clearance between a UE and a building wall [m].
UE_WALL_MARGIN_M = 1.0
#: Paths with a smaller gain [dB] are dropped (far below thermal noise at any bandwidth and power).
MIN_PATH_GAIN_DB = -250.0


class Twin:
    """A ray-traced digital twin of one scenario.

    The scene is loaded once; one BS (``serving_bs``) is placed as Sionna transmitter
    and every call to :meth:`trace` traces a whole batch of UEs (Sionna receivers) in
    one ``PathSolver`` call. A ``Twin`` owns a Sionna scene, which must not be shared
    across threads: use one twin per process (or per thread).

    Example::

        twin = Twin(get_scenario("canyon-test"))
        rng = np.random.default_rng(0)
        ue = twin.sample_ue_positions(16, rng)
        batch = twin.trace(ue)          # batch.csi: [16, num_bs_ant, num_subcarriers]
    """

    def __init__(self, spec: ScenarioSpec, *, serving_bs: int | str = 0):
        rt, mi = sionna_rt()
        self.rt, self.mi = rt, mi
        """The ``sionna.rt`` and ``mitsuba`` modules the scene was built with (for radio maps and rendering)."""
        self.variant: str = mi.variant()
        """The Mitsuba variant tracing runs on: ``cuda_...`` on a GPU, ``llvm_...`` on the CPU (see
        :mod:`airtwin.twin.backend` to force one)."""
        self.spec = spec
        self.layout = scene_layout(spec.scene)
        """Building layout of procedural and footprint scenes (``scenes.layout.scene_layout``), else None."""
        self.scene = self._load_scene()
        self.scene.frequency = spec.radio.carrier_frequency_hz
        self.scene.bandwidth = spec.radio.bandwidth_hz
        ue_arr = spec.ue.array
        self.scene.rx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern=ue_arr.pattern,
                                             polarization=ue_arr.polarization)
        self._solver = rt.PathSolver(deterministic=spec.tracing.deterministic)
        self._receivers: list = []
        self._placed: tuple[int, ...] = ()  # the sites that are the scene's transmitters, in order
        self._height_maps: dict[int, np.ndarray] = {}
        self.frequencies_hz = subcarrier_offsets_hz(spec.radio.num_subcarriers, spec.radio.subcarrier_spacing_hz)
        self.serving_bs = serving_bs

    # ------------------------------------------------------------------ set-up
    def _load_scene(self):
        rt = self.rt
        source = self.spec.scene
        if source.kind == "builtin":
            return rt.load_scene(getattr(rt.scene, source.name))
        if source.kind == "xml":
            return rt.load_scene(source.path)
        if self.layout is not None:
            # Welded PLY meshes (wedge diffraction needs shared vertices) are written to a
            # throw-away folder; Mitsuba holds the geometry in memory once it is loaded.
            with tempfile.TemporaryDirectory(prefix="airtwin-scene-") as folder:
                return rt.load_scene(str(self.layout.write_scene(folder, self.spec.radio.carrier_frequency_hz)))
        return rt.load_scene()

    @property
    def serving_bs(self) -> int:
        """Index into ``spec.bs`` of the BS traced by :meth:`trace`; settable by index or name."""
        return self._bs_index

    @serving_bs.setter
    def serving_bs(self, bs: int | str) -> None:
        names = [b.name for b in self.spec.bs]
        if isinstance(bs, str):
            if bs not in names:
                raise ValueError(f"serving_bs = {bs!r} is not a BS of {self.spec.name}; allowed: {names}")
            bs = names.index(bs)
        if not 0 <= bs < len(names):
            raise ValueError(f"serving_bs = {bs} is out of range; allowed: 0..{len(names) - 1}")
        self._bs_index = bs
        self._place_transmitters((bs,))
        self.codebook: Codebook = dft_codebook(self.spec.bs[bs].array, self.spec.codebook.oversampling_h,
                                               self.spec.codebook.oversampling_v)

    def site_indices(self, sites=None) -> tuple[int, ...]:
        """Indices into ``spec.bs`` of ``sites`` (names or indices; None: every site), checked."""
        names = [b.name for b in self.spec.bs]
        if sites is None:
            return tuple(range(len(names)))
        out = []
        for s in sites:
            if isinstance(s, str):
                if s not in names:
                    raise ValueError(f"sites: {s!r} is not a BS of {self.spec.name}; allowed: {names}")
                s = names.index(s)
            if not 0 <= int(s) < len(names):
                raise ValueError(f"sites: {s} is out of range; allowed: 0..{len(names) - 1} or {names}")
            out.append(int(s))
        if not out or len(set(out)) != len(out):
            raise ValueError(f"sites = {list(sites)}; allowed: a non-empty list of distinct sites of {names}")
        return tuple(out)

    def _place_transmitters(self, sites: tuple[int, ...]) -> None:
        """Make the scene's transmitters exactly ``sites``, in that order (Sionna traces all of them at once).

        Sionna gives every transmitter of a scene the one ``scene.tx_array``, so sites traced together must
        have the same array.
        """
        if sites == self._placed:
            return
        arrays = {self.spec.bs[i].array for i in sites}
        if len(arrays) > 1:
            raise ValueError(f"{self.spec.name}: sites {[self.spec.bs[i].name for i in sites]} have different "
                             "arrays; Sionna traces the transmitters of one call with one array: trace them in "
                             "separate calls (serving_bs, trace)")
        rt, mi = self.rt, self.mi
        for i in self._placed:
            self.scene.remove(f"bs-{self.spec.bs[i].name}")
        arr = self.spec.bs[sites[0]].array
        self.scene.tx_array = rt.PlanarArray(num_rows=arr.num_rows, num_cols=arr.num_cols,
                                             vertical_spacing=arr.vertical_spacing,
                                             horizontal_spacing=arr.horizontal_spacing,
                                             pattern=arr.pattern, polarization=arr.polarization)
        for i in sites:
            site = self.spec.bs[i]
            yaw, pitch, roll = (math.radians(a) for a in site.orientation_deg)
            self.scene.add(rt.Transmitter(name=f"bs-{site.name}", position=mi.Point3f(*map(float, site.position)),
                                          orientation=mi.Point3f(yaw, pitch, roll)))
        self._placed = tuple(sites)

    @property
    def bs_position(self) -> np.ndarray:
        """Serving BS position ``[3]`` [m]."""
        return np.asarray(self.spec.bs[self._bs_index].position, dtype=np.float64)

    @property
    def height_map(self) -> np.ndarray:
        """Building height map ``[cells (range), cells (bearing)]`` [m] in the serving BS's frame (cached per BS)."""
        return self.height_map_of(self._bs_index)

    def height_map_of(self, site: int) -> np.ndarray:
        """Building height map ``[cells (range), cells (bearing)]`` [m] in the frame of site ``site`` (an index
        into ``spec.bs``), out to :meth:`map_range_of` (:mod:`airtwin.phy.envmap`; cached)."""
        if site not in self._height_maps:
            bs = self.spec.bs[site]
            points = envmap.grid_points(np.asarray(bs.position), bs.orientation_deg[0],
                                        self.spec.environment.size_cells, self.map_range_of(site))
            heights = surface_height(self.scene.mi_scene, points[..., 0], points[..., 1])
            self._height_maps[site] = np.maximum(heights, 0.0).astype(np.float32)
        return self._height_maps[site]

    def map_range_of(self, site: int) -> float:
        """Range the environment map of site ``site`` covers [m]: ``spec.environment.range_m``, else the
        farthest corner of the UE region (:attr:`area_bounds`) from the site, at most ``ue.max_distance_m``,
        rounded up to a whole metre."""
        env = self.spec.environment
        if env.range_m is not None:
            return float(env.range_m)
        x0, y0, x1, y1 = self.area_bounds
        corners = np.array([[x0, y0], [x0, y1], [x1, y0], [x1, y1]])
        far = float(np.max(np.linalg.norm(corners - np.asarray(self.spec.bs[site].position[:2]), axis=1)))
        return float(np.ceil(max(1.0, min(far, self.spec.ue.max_distance_m))))

    # ------------------------------------------------------------------ where UEs may be
    @cached_property
    def area_bounds(self) -> tuple[float, float, float, float]:
        """Box UEs are drawn from ``(x_min, y_min, x_max, y_max)`` [m]: the UE region, else the scene's extent."""
        ue = self.spec.ue
        if self.layout is not None:
            bx = self.layout.bounds
        elif self.spec.scene.kind == "empty" or not self.scene.mi_scene.bbox().valid():
            r = min(ue.max_distance_m, 2000.0)
            x, y = self.bs_position[:2]
            bx = (x - r, y - r, x + r, y + r)
        else:
            bb = self.scene.mi_scene.bbox()
            bx = (float(bb.min.x), float(bb.min.y), float(bb.max.x), float(bb.max.y))
        x0, x1 = ue.x_range_m if ue.x_range_m is not None else (bx[0], bx[2])
        y0, y1 = ue.y_range_m if ue.y_range_m is not None else (bx[1], bx[3])
        box = (max(x0, bx[0]), max(y0, bx[1]), min(x1, bx[2]), min(y1, bx[3]))
        if box[0] > box[2] or box[1] > box[3]:
            raise ValueError(f"{self.spec.name}: UERegion x_range_m = {ue.x_range_m}, y_range_m = {ue.y_range_m} "
                             f"does not overlap the scene, whose extent is x [{bx[0]:g}, {bx[2]:g}], "
                             f"y [{bx[1]:g}, {bx[3]:g}] m")
        return box

    @cached_property
    def _outdoor_raster(self) -> OutdoorRaster:
        return OutdoorRaster.from_scene(self.scene.mi_scene, self.area_bounds, OUTDOOR_RASTER_M)

    def is_outdoor(self, xy: np.ndarray) -> np.ndarray:
        """``[..., 2] -> [...]`` bool: not inside (or within 1 m of) a building."""
        if self.layout is not None:
            return self.layout.is_outdoor(xy, margin_m=UE_WALL_MARGIN_M)
        if self.spec.scene.kind == "empty":
            return np.ones(np.shape(xy)[:-1], dtype=bool)
        return self._outdoor_raster.is_outdoor(xy, margin_m=UE_WALL_MARGIN_M)

    def is_free(self, xy: np.ndarray) -> np.ndarray:
        """``[..., 2] -> [...]`` bool: outdoor and inside the UE region (box and distance ring of the serving BS)."""
        xy = np.asarray(xy, dtype=np.float64)
        ue = self.spec.ue
        x0, y0, x1, y1 = self.area_bounds
        d = np.linalg.norm(xy - self.bs_position[:2], axis=-1)
        in_region = ((xy[..., 0] >= x0) & (xy[..., 0] <= x1) & (xy[..., 1] >= y0) & (xy[..., 1] <= y1)
                     & (d >= ue.min_distance_m) & (d <= ue.max_distance_m))
        return in_region & self.is_outdoor(xy)

    def sample_ue_positions(self, num_ue: int, rng: np.random.Generator) -> np.ndarray:
        """``[num_ue, 3]`` outdoor UE positions drawn uniformly over the UE region [m]."""
        return sample_drops(self.is_free, self.area_bounds, num_ue, self.spec.ue.height_m, rng)

    def init_motion(self, num_ue: int, rng: np.random.Generator) -> MotionState:
        """Drop ``num_ue`` UEs and draw their speeds and headings (``spec.mobility``)."""
        return init_motion(self.sample_ue_positions(num_ue, rng), self.spec.mobility, rng, self.is_free)

    def advance(self, state: MotionState, dt: float, rng: np.random.Generator) -> MotionState:
        """Move UEs by ``dt`` seconds along streets (no tracing; call :meth:`trace` on the new state)."""
        return step_motion(state, dt, self.spec.mobility, self.is_free, rng)

    def radio_map(self, cell_size_m: float = 5.0, *, samples_per_tx: int = 1_000_000, seed: int | None = None):
        """Path-gain map of the serving BS over the UE area (see :func:`twin.radio_map.compute_radio_map`)."""
        from airtwin.twin.radio_map import compute_radio_map

        return compute_radio_map(self, cell_size_m, samples_per_tx=samples_per_tx, seed=seed)

    # ------------------------------------------------------------------ tracing
    def place_receivers(self, positions: np.ndarray, velocities: np.ndarray) -> None:
        """Make the scene's receivers the UEs at ``positions`` ``[N, 3]`` [m] moving at ``velocities`` [m/s].

        Positions and velocities are handed to Dr.Jit as opaque (evaluated) values, not literals: a literal
        is compiled into the kernels, so every new drop would compile them again (on a GPU, seconds per
        call for hundreds of UEs against milliseconds of execution).
        """
        import drjit as dr  # noqa: PLC0415 (Dr.Jit is loaded with Mitsuba)

        rt, mi = self.rt, self.mi

        def opaque(cls, v):
            x = cls(*map(float, v))
            dr.make_opaque(x)
            return x

        n = positions.shape[0]
        while len(self._receivers) > n:
            self.scene.remove(self._receivers.pop().name)
        for i, rx in enumerate(self._receivers):
            rx.position = opaque(mi.Point3f, positions[i])
            rx.velocity = opaque(mi.Vector3f, velocities[i])
        for i in range(len(self._receivers), n):
            rx = rt.Receiver(name=f"ue-{i}", position=opaque(mi.Point3f, positions[i]),
                             velocity=opaque(mi.Vector3f, velocities[i]))
            self.scene.add(rx)
            self._receivers.append(rx)

    def trace_paths(self, positions: np.ndarray, velocities: np.ndarray | None = None, *, seed: int | None = None,
                    sites: tuple[int, ...] | None = None):
        """Place the UEs and run Sionna's ``PathSolver`` once from the serving BS (or from every site of
        ``sites``, indices into ``spec.bs``); returns the raw ``sionna.rt.Paths``."""
        positions, velocities = _check_positions(positions, velocities)
        self._place_transmitters((self._bs_index,) if sites is None else tuple(sites))
        self.place_receivers(positions, velocities)
        return self._solver(self.scene, **self.solver_arguments(seed))

    def solver_arguments(self, seed: int | None = None) -> dict:
        """The keyword arguments of every ``PathSolver`` call (from ``spec.tracing``; ``seed`` overrides its seed)."""
        t = self.spec.tracing
        return {"max_depth": t.max_depth, "max_num_paths_per_src": t.max_num_paths_per_src,
                "samples_per_src": t.samples_per_src, "synthetic_array": True, "los": t.los,
                "specular_reflection": t.specular_reflection, "diffuse_reflection": t.diffuse_reflection,
                "refraction": t.refraction, "diffraction": t.diffraction, "seed": t.seed if seed is None else int(seed)}

    def trace(self, positions: np.ndarray, velocities: np.ndarray | None = None, *, seed: int | None = None,
              num_time_steps: int = 1, time_step_s: float | None = None, pilot_gap_s: float = 0.0) -> ChannelBatch:
        """Trace a batch of UEs in one ``PathSolver`` call.

        Args:
            positions: ``[num_ue, 3]`` UE positions [m].
            velocities: ``[num_ue, 3]`` UE velocities [m/s] (zeros if None); they set the paths' Doppler shifts.
            seed: tracer seed; ``spec.tracing.seed`` if None. Same positions and seed give identical outputs.
            num_time_steps, time_step_s: when ``num_time_steps > 1``, ``csi_evolution`` holds the
                channel at ``t = i * time_step_s`` obtained by rotating each path's phase by its
                Doppler shift, ``a_p(t) = a_p exp(j 2π f_D,p t)``, with the geometry (delays, angles,
                gains) frozen at the trace. This is accurate while UEs move much less than the
                distance over which paths change (a few metres); re-trace beyond that.
            pilot_gap_s: when > 0, ``csi_prev`` holds the channel this long before the trace instant (the
                previous pilot occasion), the paths rotated back by their Doppler shifts in the same way [s].
        """
        _check_time_steps(num_time_steps, time_step_s, pilot_gap_s)
        positions, velocities = _check_positions(positions, velocities)
        used_seed = self.spec.tracing.seed if seed is None else int(seed)
        paths = self.trace_paths(positions, velocities, seed=used_seed)
        return self._to_batch(_site_paths(paths, positions.shape[0], 0), self._bs_index, positions, velocities,
                              used_seed, num_time_steps, time_step_s or 0.0, pilot_gap_s)

    def trace_sites(self, positions: np.ndarray, velocities: np.ndarray | None = None, *, sites=None,
                    seed: int | None = None, num_time_steps: int = 1, time_step_s: float | None = None,
                    pilot_gap_s: float = 0.0) -> SiteBatch:
        """Trace a batch of UEs from several BS sites in one ``PathSolver`` call (one transmitter per site).

        Args:
            sites: names or indices of ``spec.bs`` (None: every site). Sites traced together must share
                one array (Sionna's ``scene.tx_array``).
            positions, velocities, seed, num_time_steps, time_step_s, pilot_gap_s: as in :meth:`trace`.

        Returns:
            A :class:`SiteBatch`: per site, what :meth:`trace` gives for that site alone (same fields and
            shapes), and the stacked arrays with a BS axis, e.g. ``csi`` ``[num_ue, num_bs, num_bs_ant,
            num_subcarriers]``, ``path_loss_db`` ``[num_ue, num_bs]``.
        """
        _check_time_steps(num_time_steps, time_step_s, pilot_gap_s)
        positions, velocities = _check_positions(positions, velocities)
        idx = self.site_indices(sites)
        used_seed = self.spec.tracing.seed if seed is None else int(seed)
        paths = self.trace_paths(positions, velocities, seed=used_seed, sites=idx)
        n = positions.shape[0]
        # Sionna orders the transmitters of a Paths as they were added to the scene: idx's order.
        return SiteBatch(tuple(self._to_batch(_site_paths(paths, n, t), i, positions, velocities, used_seed,
                                              num_time_steps, time_step_s or 0.0, pilot_gap_s)
                               for t, i in enumerate(idx)))

    def _to_batch(self, site_paths: tuple, site: int, positions: np.ndarray, velocities: np.ndarray, seed: int,
                  num_time_steps: int, time_step_s: float, pilot_gap_s: float = 0.0) -> ChannelBatch:
        """The :class:`ChannelBatch` of site ``site`` from its paths (:func:`_site_paths`)."""
        spec = self.spec
        n = positions.shape[0]
        a, valid, tau, inter, angles = site_paths
        num_paths = valid.shape[1]
        valid &= kept_paths(a)
        a = np.where(valid[:, None, :], a, 0.0)
        tau = np.where(valid, tau, 0.0)

        # Canonical path order (valid first, then by delay and departure angles) so that the
        # CSI sum does not depend on the order in which the tracer's threads found the paths.
        order = np.lexsort((angles[0], angles[1], tau, ~valid), axis=-1)
        take = np.take_along_axis
        valid, tau = take(valid, order, 1), take(tau, order, 1)
        a = take(a, order[:, None, :], 2)
        inter = take(inter, np.broadcast_to(order[None], inter.shape), 2) if inter.size else inter
        angles = [take(x, order, 1) for x in angles]
        doppler = angles[4]

        # Sionna's `Paths.a` carries no propagation phase (`Paths.cir` applies exp(-j 2π f_c τ), `Paths.cfr`
        # then exp(-j 2π f_k τ)); frequency_response applies both, and the Doppler aging.
        freqs = self.frequencies_hz
        carrier = spec.radio.carrier_frequency_hz
        csi = frequency_response(a, tau, carrier, freqs)
        csi_evolution = None
        if num_time_steps > 1:
            csi_evolution = frequency_response(a, tau, carrier, freqs, doppler, np.arange(num_time_steps) * time_step_s)
        csi_prev = None
        if pilot_gap_s > 0:
            csi_prev = frequency_response(a, tau, carrier, freqs, doppler, np.array([-pilot_gap_s]))[:, 0]

        num_inter = (inter != 0).sum(axis=0).astype(np.int8) if inter.size else np.zeros((n, num_paths), np.int8)
        los = (valid & (num_inter == 0)).any(axis=1)
        power = np.mean(np.abs(a.astype(np.complex128)) ** 2, axis=1) * valid  # [N, P]
        gain = power.sum(axis=1)
        has_paths = gain > 0
        path_gain_db = np.where(has_paths, to_db(gain), -NO_PATH_LOSS_DB)

        # Per-path outputs: strongest `max_paths`, padded.
        m = spec.tracing.max_paths
        strongest = np.argsort(-power, axis=1, kind="stable")[:, :m]
        kept = min(m, num_paths)

        def pad(x: np.ndarray, dtype) -> np.ndarray:
            out = np.zeros((n, m), dtype=dtype)
            out[:, :kept] = take(x, strongest, 1)
            return out

        p_valid = pad(valid, bool)
        p_power_db = np.where(p_valid, pad(to_db(power), np.float32), 0.0).astype(np.float32)

        gains = beam_gains(csi, self.codebook.weights)  # sites traced together share the array, so the codebook
        best = np.where(has_paths, np.argmax(gains, axis=1), 0)
        radio = spec.radio
        f32 = np.float32
        return ChannelBatch(
            csi=csi,
            csi_evolution=csi_evolution,
            los=los,
            has_paths=has_paths,
            path_gain_db=path_gain_db.astype(f32),
            path_loss_db=(-path_gain_db).astype(f32),
            snr_db=LinkBudget.of(radio).snr_db(path_gain_db).astype(f32),
            path_valid=p_valid,
            path_delay_s=pad(tau, f32),
            path_power_db=p_power_db,
            path_aod_theta=pad(angles[0], f32),
            path_aod_phi=pad(angles[1], f32),
            path_aoa_theta=pad(angles[2], f32),
            path_aoa_phi=pad(angles[3], f32),
            path_doppler_hz=pad(doppler, f32),
            path_num_interactions=pad(num_inter, np.int8),
            beam_gain_db=to_db(gains).astype(f32),
            best_beam=best.astype(np.int64),
            precoders=eigen_precoders(csi, spec.codebook.num_subbands),
            ue_positions=positions.astype(f32),
            ue_velocities=velocities.astype(f32),
            bs_position=np.asarray(spec.bs[site].position, dtype=f32),
            bs_orientation_deg=np.asarray(spec.bs[site].orientation_deg, dtype=f32),
            height_map=self.height_map_of(site),
            map_range_m=self.map_range_of(site),
            subcarrier_frequencies_hz=freqs.astype(np.float64),
            antenna_positions=element_positions(spec.bs[site].array).astype(f32),
            scenario=spec.name,
            bs_name=spec.bs[site].name,
            seed=seed,
            time_step_s=float(time_step_s),
            csi_prev=csi_prev,
            pilot_gap_s=float(pilot_gap_s) if csi_prev is not None else 0.0,
        )


def _site_paths(paths, n: int, t: int) -> tuple:
    """Transmitter ``t``'s paths to the ``n`` receivers of a ``sionna.rt.Paths`` (synthetic arrays):
    ``(a [N, A, P] complex64, valid [N, P], tau [N, P] [s], interactions [D, N, P], [theta_t, phi_t,
    theta_r, phi_r, doppler] each [N, P])``."""
    a_re, a_im = paths.a  # [N, 1, T, A, P]
    a_all = np.asarray(a_re, dtype=np.float32) + 1j * np.asarray(a_im, dtype=np.float32)
    num_tx, num_paths = a_all.shape[2], a_all.shape[-1]
    a = a_all[:, 0, t, :, :]
    valid = np.asarray(paths.valid, dtype=bool).reshape(n, num_tx, num_paths)[:, t].copy()  # [N, P]
    if not num_paths:
        return (a, valid, np.zeros((n, 0)), np.zeros((0, n, 0), dtype=np.uint32),
                [np.zeros((n, 0), dtype=np.float32) for _ in range(5)])
    tau = np.asarray(paths.tau, dtype=np.float64).reshape(n, num_tx, num_paths)[:, t]
    inter = np.asarray(paths.interactions)
    inter = inter.reshape(-1, n, num_tx, num_paths)[:, :, t] if inter.size else np.zeros((0, n, num_paths), np.uint32)
    angles = [np.asarray(x, dtype=np.float32).reshape(n, num_tx, num_paths)[:, t]
              for x in (paths.theta_t, paths.phi_t, paths.theta_r, paths.phi_r, paths.doppler)]
    return a, valid, tau, inter, angles


def _check_time_steps(num_time_steps: int, time_step_s: float | None, pilot_gap_s: float = 0.0) -> None:
    if num_time_steps < 1:
        raise ValueError(f"num_time_steps = {num_time_steps}; allowed: an integer >= 1")
    if num_time_steps > 1 and (time_step_s is None or time_step_s <= 0):
        raise ValueError("time_step_s must be > 0 when num_time_steps > 1")
    if not 0.0 <= pilot_gap_s <= 1.0:
        raise ValueError(f"pilot_gap_s = {pilot_gap_s}; allowed: 0 (no previous pilot) to 1 s")


def kept_paths(a: np.ndarray) -> np.ndarray:
    """``[N, A, P]`` path coefficients -> ``[N, P]`` bool: the paths the twin keeps.

    Sionna 2.2's deterministic candidate generator emits some spurious "valid" paths with NaN
    coefficients (zero angles, duplicated delay); they carry no field and are dropped. Paths weaker than
    :data:`MIN_PATH_GAIN_DB` (tens of dB under any receiver's noise floor) are numerical residue of long
    refraction chains; keeping them would call a UE "covered" at -300 dB.
    """
    finite = np.isfinite(a).all(axis=1)
    return finite & (np.mean(np.abs(np.nan_to_num(a)) ** 2, axis=1) >= 10 ** (MIN_PATH_GAIN_DB / 10))


def _check_positions(positions: np.ndarray, velocities: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 2 or positions.shape[1] != 3 or positions.shape[0] < 1:
        raise ValueError(f"positions must have shape [num_ue >= 1, 3], got {positions.shape}")
    if not np.isfinite(positions).all():
        raise ValueError("positions must be finite")
    if velocities is None:
        velocities = np.zeros_like(positions)
    velocities = np.asarray(velocities, dtype=np.float64)
    if velocities.shape != positions.shape:
        raise ValueError(f"velocities must have the shape of positions {positions.shape}, got {velocities.shape}")
    if not np.isfinite(velocities).all():
        raise ValueError("velocities must be finite")
    return positions, velocities


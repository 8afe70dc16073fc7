"""Classical estimators that need no training: what a base station can do with geometry and textbook models.

- :func:`array_rotation`, :func:`steering_gains`: the BS array's response toward a direction.
- :func:`geometric_beam_scores`: the DFT beam toward the UE's position (line-of-sight direction).
- :func:`path_loss_umi`: 3GPP TR 38.901 UMi street canyon path loss (LoS and NLoS), Table 7.4.1-1.
- :func:`map_line_of_sight`, :func:`observed_line_of_sight`: LoS from the building height map (is the BS-UE
  segment above every roof?).
- :func:`delay_profile`, :func:`first_path_polar`, :func:`estimate_position`: first-path delay (range) and the
  beamspace angle of the CSI estimate at that delay, to a UE position (known UE height), for any array.
- :func:`first_path_ratio`: share of the received power in the strongest delay tap (a Rician K-factor
  proxy), thresholded for a LoS detector.
- :func:`position_lookup_scores`, :func:`neighbour_beam_gains`, :func:`nearest_beam_gains`: the best beam at a
  UE position from a table of traced or measured drops: the nearest drop's, or the beam strongest on average over
  the drops nearest it.
- :func:`path_loss_trend_inputs`, :func:`fit_path_loss_trend`, :func:`path_loss_trend_and_residuals`,
  :func:`kriged_path_loss`: path loss at a UE position
  from a table of drops, a log-distance trend per map LoS state plus the kriged residuals of the drops nearest it
  (a radio map).

Conventions are those of :mod:`airtwin.phy.beams`: ``h ∝ exp(+j 2π r_n·d)`` over the array elements
(positions ``r_n`` in wavelengths, direction ``d`` in the array frame), ``h_k ∝ exp(-j 2π f_k τ)`` over
subcarriers. Angles in degrees, distances in metres, delays in seconds.
"""

from __future__ import annotations

import numpy as np

from airtwin.phy import envmap
from airtwin.phy.beams import array_response, element_positions

SPEED_OF_LIGHT = 299_792_458.0


def array_rotation(orientation_deg: tuple[float, float, float]) -> np.ndarray:
    """``[3, 3]`` rotation from the array frame to the world: ``Rz(yaw) Ry(pitch) Rx(roll)`` (Sionna's)."""
    a, b, c = np.radians(orientation_deg)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rx = np.array([[1, 0, 0], [0, np.cos(c), -np.sin(c)], [0, np.sin(c), np.cos(c)]])
    return rz @ ry @ rx


def steering_vectors(array, orientation_deg, directions: np.ndarray) -> np.ndarray:
    """Array response ``[..., A]`` toward unit ``directions`` ``[..., 3]`` in the world frame."""
    local = np.asarray(directions, np.float64) @ array_rotation(orientation_deg)  # world -> array frame
    return array_response(local, element_positions(array))


def steering_gains(array, orientation_deg, directions: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``|a(d)^T w_b|^2`` ``[..., B]`` of beams ``weights`` ``[B, A]`` toward ``directions`` ``[..., 3]``."""
    return np.abs(steering_vectors(array, orientation_deg, directions) @ weights.T) ** 2


def geometric_beam_scores(bs_position: np.ndarray, ue_positions: np.ndarray, array, orientation_deg,
                          weights: np.ndarray) -> np.ndarray:
    """Gain of every beam toward the UE's line-of-sight direction, ``[N, B]``; its argmax is the geometric beam.

    Needs only positions: no measurement, no training. Equals the best beam whenever the LoS path dominates.
    """
    d = np.asarray(ue_positions, np.float64) - np.asarray(bs_position, np.float64)
    d /= np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-9)
    return steering_gains(array, orientation_deg, d, weights)


def path_loss_umi(d3d_m: np.ndarray, d2d_m: np.ndarray, h_bs_m: float | np.ndarray, h_ut_m: float | np.ndarray,
                  carrier_hz: float, los: np.ndarray) -> np.ndarray:
    """3GPP TR 38.901 (V17) Table 7.4.1-1, UMi street canyon, without shadow fading [dB].

    LoS: ``PL1 = 32.4 + 21 log10(d3D) + 20 log10(fc)`` up to the breakpoint ``d'_BP = 4 h'_BS h'_UT fc / c``
    (``h' = h - 1 m``), ``PL2 = 32.4 + 40 log10(d3D) + 20 log10(fc) - 9.5 log10(d'_BP^2 + (h_BS - h_UT)^2)``
    beyond. NLoS: ``max(PL_LoS, 35.3 log10(d3D) + 22.4 + 21.3 log10(fc) - 0.3 (h_UT - 1.5))``. ``fc`` in GHz.
    Distances below 10 m are clamped to 10 m (the model's validity range starts there).
    """
    fc = carrier_hz / 1e9
    d3d = np.maximum(np.asarray(d3d_m, np.float64), 10.0)
    d2d = np.maximum(np.asarray(d2d_m, np.float64), 10.0)
    h_bs, h_ut = np.asarray(h_bs_m, np.float64), np.asarray(h_ut_m, np.float64)
    d_bp = 4 * np.maximum(h_bs - 1.0, 0.1) * np.maximum(h_ut - 1.0, 0.1) * carrier_hz / SPEED_OF_LIGHT
    pl1 = 32.4 + 21 * np.log10(d3d) + 20 * np.log10(fc)
    pl2 = 32.4 + 40 * np.log10(d3d) + 20 * np.log10(fc) - 9.5 * np.log10(d_bp ** 2 + (h_bs - h_ut) ** 2)
    pl_los = np.where(d2d <= d_bp, pl1, pl2)
    pl_nlos = np.maximum(pl_los, 35.3 * np.log10(d3d) + 22.4 + 21.3 * np.log10(fc) - 0.3 * (h_ut - 1.5))
    return np.where(np.asarray(los, bool), pl_los, pl_nlos)


def map_line_of_sight(height_map: np.ndarray, map_range_m: np.ndarray | float, bs_position: np.ndarray,
                      bs_yaw_deg: np.ndarray | float, ue_positions: np.ndarray) -> np.ndarray:
    """``[N]`` bool: the straight BS-UE segment clears every building of the height map.

    ``height_map`` ``[R, R]`` [m] is in the BS's frame (range x bearing, :mod:`airtwin.phy.envmap`), out to
    ``map_range_m``. The segment runs down the UE's bearing column; each range cell nearer than the UE
    blocks it when its roof stands above the segment there. Cells beyond the map count as clear. One map for
    all UEs, or one per UE: ``height_map`` ``[N, R, R]`` with ``map_range_m`` ``[N]``, ``bs_position`` ``[N, 3]``
    and ``bs_yaw_deg`` ``[N]`` (each row's own environment observation).
    """
    height_map = np.asarray(height_map, np.float64)
    cells = height_map.shape[-1]
    ue = np.asarray(ue_positions, np.float64).reshape(-1, 3)
    bs = np.broadcast_to(np.asarray(bs_position, np.float64), ue.shape)
    span = np.broadcast_to(np.asarray(map_range_m, np.float64), ue.shape[:1])
    rng, bearing = envmap.to_bs_frame(bs, np.broadcast_to(np.asarray(bs_yaw_deg, np.float64), ue.shape[:1]), ue)
    _, col = envmap.map_cell(rng, bearing, cells, span)
    col = np.rint(col).astype(int) % cells
    r = (np.arange(cells) + 0.5)[None, :] * span[:, None] / cells  # [N, R] cell-centre ranges
    frac = r / np.maximum(rng[:, None], 1e-9)  # [N, R] position along the segment
    ray = bs[:, 2:3] + frac * (ue[:, 2:3] - bs[:, 2:3])
    roof = height_map[:, col].T if height_map.ndim == 2 else height_map[np.arange(len(ue))[:, None],
                                                                        np.arange(cells)[None, :], col[:, None]]
    return ~((frac < 1.0) & (roof > ray)).any(axis=1)


def observed_line_of_sight(env: dict[str, np.ndarray]) -> np.ndarray:
    """``[N]`` bool: :func:`map_line_of_sight` of each row of environment observations or dataset fields ``env``
    (``height_map`` ``[N, R, R]``, ``map_range_m``, ``bs_position``, ``bs_orientation_deg``, ``ue_position``)."""
    return map_line_of_sight(env["height_map"], np.asarray(env["map_range_m"]).reshape(-1), env["bs_position"],
                             np.asarray(env["bs_orientation_deg"])[:, 0], env["ue_position"])


def delay_profile(csi: np.ndarray, offsets_hz: np.ndarray, delays_s: np.ndarray) -> np.ndarray:
    """Matched-filter delay profile ``[N, T]``: ``sum_a |sum_k h[n, a, k] exp(+j 2π f_k τ)|^2`` on a delay grid.

    ``csi`` ``[N, A, K]`` complex; ``delays_s`` ``[T]``. Unambiguous over one period ``1 / Δf``.
    """
    h = np.asarray(csi).astype(np.complex64)
    offsets, delays = np.asarray(offsets_hz, np.float64), np.asarray(delays_s, np.float64)
    k, t = len(offsets), len(delays)
    if k > 1 and t >= k:
        spacing = offsets[1] - offsets[0]
        step = 1.0 / (t * spacing)
        if np.allclose(np.diff(offsets), spacing, rtol=1e-9, atol=0) and np.allclose(delays, np.arange(t) * step,
                                                                                      rtol=0, atol=1e-6 * abs(step)):
            # Evenly spaced subcarriers and T delays evenly over one period: a zero-padded inverse FFT gives the same
            # sums up to a phase per delay (exp(j 2π f_0 τ), gone in |.|^2), in one pass and without BLAS, whose
            # threads are slow to wake beside torch's (batch 64, 16 elements, 32 subcarriers, 512 delays, on 2 cores:
            # 3 ms, against 45 ms by einsum's loop and 4 ms by BLAS; on 16 cores BLAS here made the model's whole
            # positioning call at batch 64 slower, 104 -> 193 ms).
            y = np.fft.ifft(h, n=t, axis=-1)
            return np.sum(np.abs(y) ** 2, axis=1) * float(t) ** 2
    steer = np.exp(2j * np.pi * np.outer(offsets, delays)).astype(np.complex64)  # [K, T]
    # A few rows (one decision): einsum's own loop, as BLAS costs milliseconds to start its threads there.
    y = np.einsum("nak,kt->nat", h, steer) if h.shape[0] * h.shape[1] <= 1024 else h @ steer  # [N, A, T]
    return np.sum(np.abs(y) ** 2, axis=1)


def first_path_delay(csi: np.ndarray, offsets_hz: np.ndarray, *, threshold_db: float = -10.0,
                     grid_per_bin: int = 16) -> np.ndarray:
    """Delay of the first path ``[N]`` [s]: the earliest local maximum of the delay profile within
    ``threshold_db`` of its strongest, on a grid ``grid_per_bin`` times finer than ``1 / bandwidth``.

    Delays are measured modulo ``1 / Δf`` (the subcarrier spacing's period).
    """
    k = len(offsets_hz)
    spacing = float(abs(offsets_hz[1] - offsets_hz[0])) if k > 1 else 1.0
    period = 1.0 / spacing
    grid = np.arange(k * grid_per_bin) * period / (k * grid_per_bin)
    prof = delay_profile(csi, offsets_hz, grid)  # [N, T]
    peak = prof.max(axis=1, keepdims=True)
    left, right = np.roll(prof, 1, axis=1), np.roll(prof, -1, axis=1)
    local_max = (prof >= left) & (prof >= right) & (prof >= peak * 10 ** (threshold_db / 10)) & (peak > 0)
    # The profile is circular; start the search just after its quietest point, where no path lies.
    start = prof.argmin(axis=1)
    order = (np.arange(prof.shape[1])[None, :] - start[:, None]) % prof.shape[1]
    first = np.where(local_max, order, np.iinfo(np.int64).max).argmin(axis=1)
    # Parabolic refinement around the chosen grid point.
    rows = np.arange(len(first))
    y0, y1, y2 = left[rows, first], prof[rows, first], right[rows, first]
    denom = y0 - 2 * y1 + y2
    shift = np.where(np.abs(denom) > 0, 0.5 * (y0 - y2) / np.where(np.abs(denom) > 0, denom, 1.0), 0.0)
    return grid[first] + np.clip(shift, -0.5, 0.5) * (grid[1] - grid[0])


def first_path_polar(csi: np.ndarray, offsets_hz: np.ndarray, positions_wl: np.ndarray, orientation_deg: np.ndarray,
                     height_above_ue_m: np.ndarray, *, azimuth_step_deg: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """First-path ``(horizontal range [N] m, bearing [N] rad from the boresight)`` of CSI ``[N, A, K]``: range from
    the first-path delay, bearing from the beamspace peak at that delay over the array's front half-space,
    elevation from the BS's height above the UE.

    ``positions_wl`` ``[A, 3]`` or ``[N, A, 3]`` are the element positions in the array frame [wavelengths]
    (:func:`airtwin.phy.beams.element_positions`), so any array works; ``orientation_deg`` ``[3]`` or ``[N, 3]``
    (only pitch and roll matter: the bearing is from the boresight); ``height_above_ue_m`` scalar or ``[N]``.
    The CSI keeps the absolute propagation delay (as the twin's does), so the range is ``c τ`` (modulo
    ``c / Δf``). Exact for a line-of-sight path; biased when the first path is a reflection.
    """
    csi = np.asarray(csi)
    n = len(csi)
    tau = first_path_delay(csi, offsets_hz)
    r = SPEED_OF_LIGHT * tau
    dh = -np.broadcast_to(np.asarray(height_above_ue_m, np.float64), (n,))  # UE below the BS: dh < 0
    horiz = np.sqrt(np.maximum(r ** 2 - dh ** 2, 0.0))
    # Channel across the array at the first-path delay.
    g = np.einsum("nak,nk->na", csi.astype(np.complex128), np.exp(2j * np.pi * np.asarray(offsets_hz)[None, :] * tau[:, None]))
    az = np.radians(np.arange(-90.0, 90.0 + 1e-9, azimuth_step_deg))  # [Z], the array's front half-space
    el = np.arctan2(dh, np.maximum(horiz, 1e-6))  # [N]
    dirs = np.stack([np.cos(el)[:, None] * np.cos(az)[None, :], np.cos(el)[:, None] * np.sin(az)[None, :],
                     np.broadcast_to(np.sin(el)[:, None], (n, len(az)))], axis=-1)  # [N, Z, 3], yaw removed
    orient = np.broadcast_to(np.asarray(orientation_deg, np.float64), (n, 3))
    rot = np.stack([array_rotation((0.0, p, q)) for p, q in orient[:, 1:]])  # [N, 3, 3]
    local = np.einsum("nzi,nij->nzj", dirs, rot)  # world (yaw removed) -> array frame
    pos = np.broadcast_to(np.asarray(positions_wl, np.float64), (n, *np.shape(positions_wl)[-2:]))
    a = array_response(local, pos)  # [N, Z, A]
    power = np.abs(np.einsum("nza,na->nz", np.conj(a), g)) ** 2
    return horiz, az[power.argmax(axis=1)]


def estimate_position(csi: np.ndarray, offsets_hz: np.ndarray, array, orientation_deg, bs_position: np.ndarray,
                      ue_height_m: float, *, azimuth_step_deg: float = 0.25) -> np.ndarray:
    """UE ``(x, y)`` ``[N, 2]`` [m] from CSI ``[N, A, K]`` (:func:`first_path_polar` with a known UE height),
    in the scene's frame."""
    bs = np.asarray(bs_position, np.float64)
    horiz, bearing = first_path_polar(csi, offsets_hz, element_positions(array), orientation_deg, bs[2] - ue_height_m,
                                      azimuth_step_deg=azimuth_step_deg)
    return envmap.from_bs_frame(bs, orientation_deg[0], horiz, bearing)


def first_path_ratio(csi: np.ndarray) -> np.ndarray:
    """``[N]``: power of the strongest delay tap over the total (taps: IFFT over subcarriers, summed over antennas).

    Close to 1 for a dominant (line-of-sight) path, lower under rich multipath: a Rician K-factor proxy.
    """
    taps = np.sum(np.abs(np.fft.ifft(np.asarray(csi), axis=-1)) ** 2, axis=-2)  # [N, K]
    total = taps.sum(axis=-1)
    return np.where(total > 0, taps.max(axis=-1) / np.where(total > 0, total, 1.0), 0.0)


def fit_threshold(feature: np.ndarray, label: np.ndarray) -> float:
    """The threshold ``t`` maximising the accuracy of ``feature > t`` as a prediction of ``label``."""
    feature = np.asarray(feature, np.float64)
    label = np.asarray(label, bool)
    candidates = np.unique(np.concatenate([feature, [feature.min() - 1.0]]))
    acc = [np.mean((feature > t) == label) for t in candidates]
    return float(candidates[int(np.argmax(acc))])


#: Known drops averaged by :func:`neighbour_beam_gains`, and the width [m] of its Gaussian weights, chosen on
#: validation splits inside city-10000's site-protocol training drops (``docs/results.md``, session 11).
BEAM_NEIGHBOURS = 20
BEAM_WIDTH_M = 2.0


def neighbour_beam_gains(distances: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """``[N, num_beams]`` beam gains [dB] at a UE position, from the ``k`` known drops nearest it: their distances
    ``[N, k]`` [m] (``inf`` for a drop left out; all alike when all are) and their beam gains ``gains``
    ``[N, k, num_beams]`` [dB], averaged with weights ``softmax(-d^2 / (2 BEAM_WIDTH_M^2))``.

    The best beam changes within metres in a street canyon. The nearest drop's best beam (a position lookup)
    follows every such change; the average of several drops' gains keeps the beam that is strong around the
    position. On validation splits of city-10000 it picked the best beam 3.5 points more often than the lookup
    (nearly random split) and 1.0 point more often (20 m squares), with 0.63 and 0.27 dB less SNR loss, and it
    found the best beam among its top 3 1.5 and 3.9 points less often (``scripts/site_validation.py``).
    """
    logits = -np.square(np.asarray(distances, np.float64) / BEAM_WIDTH_M) / 2.0
    logits[np.isneginf(logits).all(axis=1)] = 0.0  # every drop left out: all alike
    weight = np.exp(logits - logits.max(axis=1, keepdims=True))
    weight /= weight.sum(axis=1, keepdims=True)
    return np.einsum("nk,nkb->nb", weight, np.asarray(gains, np.float64))


def nearest_beam_gains(distances: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """``[N, num_beams]`` [dB]: :func:`neighbour_beam_gains` of the ``BEAM_NEIGHBOURS`` known drops nearest each
    query, from the distances ``[N, M]`` [m] of the queries to the ``M`` known drops and their beam gains ``gains``
    ``[M, num_beams]`` [dB]."""
    idx = np.argsort(distances, axis=1, kind="stable")[:, :BEAM_NEIGHBOURS]
    return neighbour_beam_gains(np.take_along_axis(distances, idx, axis=1), np.asarray(gains)[idx])


def position_lookup_scores(distances: np.ndarray, beams: np.ndarray, num_beams: int) -> np.ndarray:
    """``[N, num_beams]``: minus the distance [m] from each query to the nearest known drop whose best beam is
    ``b`` (``-inf`` where no drop has it), from the distances ``[N, M]`` [m] of the queries to the ``M`` known
    drops and their best ``beams`` ``[M]``. Its argmax is the position lookup's beam (the nearest drop's best)."""
    scores = np.full((len(distances), num_beams), -np.inf)
    for b in range(num_beams):
        mask = np.asarray(beams) == b
        if mask.any():
            scores[:, b] = -distances[:, mask].min(axis=1)
    return scores


#: The path-loss kriging of :func:`kriged_path_loss`: neighbours kept, correlation length [m], nugget (share of the
#: residual variance that is uncorrelated even between drops at one place), and the correlation factor between
#: drops on opposite sides of the map's LoS boundary. Chosen on validation splits inside city-10000's protocol
#: training drops (docs/results.md, session 13).
KRIGING_NEIGHBOURS = 64
KRIGING_LENGTH_M = 20.0
KRIGING_NUGGET = 0.3
KRIGING_CROSS_LOS = 0.2


def path_loss_trend_inputs(env: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(3D BS-UE distance [N] m, map LoS flag [N])`` of environment observations or dataset fields ``env`` (see
    :func:`observed_line_of_sight`): what the path-loss trend reads."""
    ue, bs = np.asarray(env["ue_position"], np.float64), np.asarray(env["bs_position"], np.float64)
    return np.linalg.norm(ue - bs, axis=1), observed_line_of_sight(env)


def path_loss_trend_features(d3d_m: np.ndarray, map_los: np.ndarray) -> np.ndarray:
    """``[N, 4]`` regressors of the path-loss trend: 1, ``10 log10 d`` (3D distance ``d`` [m], at least 1 m), the map's
    LoS flag and their product (an intercept and a distance exponent each for LoS and NLoS)."""
    ld = 10.0 * np.log10(np.maximum(np.asarray(d3d_m, np.float64), 1.0))
    los = np.asarray(map_los, np.float64)
    return np.stack([np.ones_like(ld), ld, los, los * ld], axis=-1)


def fit_path_loss_trend(d3d_m: np.ndarray, map_los: np.ndarray, path_loss_db: np.ndarray) -> np.ndarray:
    """``[4]`` least-squares coefficients of :func:`path_loss_trend_features` for known drops' path loss [dB]."""
    coef, *_ = np.linalg.lstsq(path_loss_trend_features(d3d_m, map_los), np.asarray(path_loss_db, np.float64),
                               rcond=None)
    return coef


def path_loss_trend_and_residuals(d3d_m: np.ndarray, map_los: np.ndarray, path_loss_db: np.ndarray
                                  ) -> tuple[np.ndarray, np.ndarray]:
    """``(trend coefficients [4], residuals [N] dB)`` of known drops: :func:`fit_path_loss_trend` on them, and their
    path loss minus the trend; what :func:`kriged_path_loss` interpolates."""
    coef = fit_path_loss_trend(d3d_m, map_los, path_loss_db)
    return coef, np.asarray(path_loss_db, np.float64) - path_loss_trend_features(d3d_m, map_los) @ coef


def kriged_path_loss(trend_db: np.ndarray, query_los: np.ndarray, distances: np.ndarray, neighbour_xy: np.ndarray,
                     neighbour_los: np.ndarray, neighbour_residual_db: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Path loss at UE positions by simple kriging of known drops' residuals from the trend
    (:func:`fit_path_loss_trend`): ``(estimate [N] dB, kriging standard deviation [N] as a share of the residuals')``.

    Arguments: the trend at the queries ``[N]`` [dB] and their map LoS flags ``[N]``; for the ``k`` known drops
    nearest each query, their distances ``[N, k]`` [m] (``inf`` for a drop left out), positions ``[N, k, 2]`` [m],
    map LoS flags ``[N, k]`` and residuals ``[N, k]`` [dB]. The residuals' covariance is exponential,
    ``exp(-d / KRIGING_LENGTH_M)``, times ``KRIGING_CROSS_LOS`` between drops on opposite sides of the map's LoS
    boundary, with a nugget of ``KRIGING_NUGGET`` (unit sill).

    Radio-map interpolation by kriging is the classical answer where the known drops are metres away: on
    validation splits of city-10000 the mean path loss of the 5 nearest drops scored an RMSE of 7.28 dB across
    20 m squares, and this 6.18 dB (4.72 and 4.49 dB on a nearly random split).
    """
    dist = np.asarray(distances, np.float64)
    xy = np.asarray(neighbour_xy, np.float64)
    los = np.asarray(neighbour_los, bool)
    valid = np.isfinite(dist)
    same = np.where(los[:, :, None] == los[:, None, :], 1.0, KRIGING_CROSS_LOS)
    cov = np.exp(-np.linalg.norm(xy[:, :, None] - xy[:, None, :], axis=-1) / KRIGING_LENGTH_M) * same
    cov = np.where(valid[:, :, None] & valid[:, None, :], cov, 0.0)  # a drop left out correlates with nothing
    cov += np.eye(dist.shape[1])[None] * np.where(valid, KRIGING_NUGGET, 1.0)[:, None, :]
    to_query = np.where(valid, np.exp(-np.where(valid, dist, 0.0) / KRIGING_LENGTH_M), 0.0)
    to_query *= np.where(los == np.asarray(query_los, bool)[:, None], 1.0, KRIGING_CROSS_LOS)
    weights = np.linalg.solve(cov, to_query[..., None])[..., 0]  # [N, k]
    residual = np.where(valid, np.asarray(neighbour_residual_db, np.float64), 0.0)
    variance = np.clip(1.0 + KRIGING_NUGGET - (weights * to_query).sum(axis=1), 0.0, None)
    return np.asarray(trend_db, np.float64) + (weights * residual).sum(axis=1), np.sqrt(variance)

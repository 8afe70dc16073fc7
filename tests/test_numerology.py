"""One checkpoint for every numerology: the adapter that resamples observations into the model's numerology
(virtual array, subcarrier map, map cells) and maps its predictions back."""

import dataclasses

import numpy as np
import pytest
import torch

from airtwin.model.numerology import NumerologyAdapter, adapter_for
from airtwin.phy.beams import beam_gains, dft_codebook, eigen_precoders, element_positions
from airtwin.phy.ofdm import subcarrier_offsets_hz
from airtwin.phy.tasks import Numerology

MODEL = Numerology(num_rows=2, num_cols=8, vertical_spacing=0.5, horizontal_spacing=0.5, num_subcarriers=32,
                   subcarrier_spacing_hz=625e3, oversampling_h=1, oversampling_v=1, num_subbands=4, map_cells=64)


def multipath(num: Numerology, az, el, tau, gain) -> np.ndarray:
    """``[A, K]`` channel of plane waves (azimuth, elevation [rad] in the array frame, delay [s], complex gain)."""
    d = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=1)
    f = subcarrier_offsets_hz(num.num_subcarriers, num.subcarrier_spacing_hz)
    steer = np.exp(2j * np.pi * d @ element_positions(num).T)  # [P, A]
    return np.einsum("p,pa,pk->ak", gain, steer, np.exp(-2j * np.pi * np.outer(tau, f)))


def random_paths(rng, n=3):
    gain = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    return rng.uniform(-1.2, 1.2, n), rng.uniform(-0.6, 0.0, n), rng.uniform(0.1e-6, 1.2e-6, n), gain


class FakeModel:
    """Like :class:`UniversalModel` with a zero precoding residual: the classical base of the (virtual) estimate,
    with ``switch`` (logits ``[B]``) the ``switch-refine`` candidate they pick; beam logits from the virtual
    channel's true beam gains."""

    def __init__(self, numerology, precoder_smoothing=0.0, switch=None):
        self.cfg = type("Cfg", (), {"numerology": numerology, "shapes": numerology.shapes(),
                                    "precoder_smoothing": precoder_smoothing,
                                    "precoder_head": "refine" if switch is None else "switch-refine"})()
        self.switch = switch

    def to_device(self, obs):
        return obs

    def forward(self, task, obs):
        return torch.zeros(len(obs["csi"]), 1)

    def precoder_parts(self, out, obs):
        from airtwin.model.universal import precoder_base, switch_candidates

        s = self.cfg.numerology.num_subbands
        if self.switch is None or "csi_prev" not in obs:
            base = precoder_base(obs, s, self.cfg.precoder_smoothing)
            return base, torch.zeros_like(base), None
        candidates, _ = switch_candidates(obs, s)
        logit = torch.as_tensor(self.switch, dtype=torch.float32)
        base = torch.where((logit > 0)[:, None, None], candidates[:, 1], candidates[:, 0])
        return base, torch.zeros_like(base), (logit, candidates)

    def predict(self, task, obs):
        h = obs["csi"][:, 0].double().numpy() + 1j * obs["csi"][:, 1].double().numpy()
        return torch.from_numpy(20 * np.log10(beam_gains(h, dft_codebook(self.cfg.numerology).weights)))


def test_the_models_own_numerology_needs_no_adapter_and_unrecorded_ones_are_refused():
    assert adapter_for(FakeModel(MODEL), MODEL) is None
    other = dataclasses.replace(MODEL, num_rows=4, num_subcarriers=64, subcarrier_spacing_hz=312.5e3)
    assert isinstance(adapter_for(FakeModel(MODEL), other), NumerologyAdapter)
    legacy = FakeModel(MODEL)
    legacy.cfg.numerology = None
    assert adapter_for(legacy, MODEL) is None
    with pytest.raises(ValueError, match="records no numerology"):
        adapter_for(legacy, other)


def test_a_larger_array_and_finer_grid_give_the_models_channel():
    site = dataclasses.replace(MODEL, num_rows=4, num_subcarriers=64, subcarrier_spacing_hz=312.5e3)  # Munich's
    ad = NumerologyAdapter(site, MODEL)
    rng = np.random.default_rng(0)
    for _ in range(20):
        paths = random_paths(rng)
        virtual = ad.csi(multipath(site, *paths)[None])[0]
        truth = multipath(MODEL, *paths)
        assert np.linalg.norm(virtual - truth) / np.linalg.norm(truth) < 0.02


@pytest.mark.parametrize("rows,cols,k,spacing,smoothing", [(1, 4, 16, 625e3, 0.0), (1, 8, 16, 1.25e6, 0.0),
                                                           (4, 8, 64, 312.5e3, 0.25), (8, 8, 32, 625e3, 0.0)])
def test_precoders_mapped_back_are_never_worse_than_the_sites_eigen_precoder(rows, cols, k, spacing, smoothing):
    site = dataclasses.replace(MODEL, num_rows=rows, num_cols=cols, num_subcarriers=k, subcarrier_spacing_hz=spacing)
    ad = NumerologyAdapter(site, MODEL)
    rng = np.random.default_rng(1)
    h = np.stack([multipath(site, *random_paths(rng)) for _ in range(8)])
    h /= np.sqrt(np.mean(np.abs(h) ** 2, axis=(1, 2), keepdims=True))
    obs = {"csi": np.stack([h.real, h.imag], axis=1).astype(np.float32)}
    w = ad.predict(FakeModel(MODEL, smoothing), "precoding", obs)
    assert w.shape == (8, site.num_subbands, site.num_antennas)
    # A zero residual maps back to exactly the site's own (equally smoothed) eigen-precoder, up to a phase.
    sgcs = np.abs(np.sum(w.conj() * eigen_precoders(h, site.num_subbands, smoothing), axis=-1)) ** 2
    np.testing.assert_allclose(sgcs, 1.0, atol=1e-4)


def test_with_a_previous_pilot_a_zero_residual_maps_back_to_the_sites_predicted_precoder():
    from airtwin.phy.prediction import predicted_estimate, switch_inputs

    site = dataclasses.replace(MODEL, num_rows=4, num_cols=8, num_subcarriers=64, subcarrier_spacing_hz=312.5e3)
    ad = NumerologyAdapter(site, MODEL)
    rng = np.random.default_rng(2)
    pilots = []
    for _ in range(6):
        az, el, tau, gain = random_paths(rng)
        turn = np.exp(-2j * np.pi * rng.uniform(-300, 300, len(az)) * 1e-3)  # each path 1 ms earlier
        pilots.append([multipath(site, az, el, tau, gain * turn), multipath(site, az, el, tau, gain)])
    prev, latest = (np.stack(p) for p in zip(*pilots))
    as_obs = lambda h: np.stack([h.real, h.imag], axis=1).astype(np.float32)  # noqa: E731
    obs = {"csi": as_obs(latest), "csi_prev": as_obs(prev), "pilot_timing_s": np.tile([1e-3, 5e-3], (6, 1)),
           "antenna_positions": np.tile(element_positions(site), (6, 1, 1)).astype(np.float32)}
    w = ad.predict(FakeModel(MODEL, 0.25), "precoding", obs)
    classical = eigen_precoders(predicted_estimate(obs), site.num_subbands)
    np.testing.assert_allclose(np.abs(np.sum(w.conj() * classical, axis=-1)) ** 2, 1.0, atol=1e-4)
    assert ad.observation("csi", obs)["csi_prev"].shape == (6, 2, MODEL.num_antennas, MODEL.num_subcarriers)
    # The switch-refine head: the site's candidate of the kind the switch picked on the virtual observation.
    picks = np.array([1.0, -1.0, 1.0, -1.0, -1.0, 1.0])
    w = ad.predict(FakeModel(MODEL, 0.25, switch=picks), "precoding", obs)
    candidates, _ = switch_inputs(obs, site.num_subbands)
    picked = candidates[np.arange(6), (picks > 0).astype(int)]
    np.testing.assert_allclose(np.abs(np.sum(w.conj() * picked, axis=-1)) ** 2, 1.0, atol=1e-4)
    assert np.abs(np.sum(candidates[:, 0].conj() * candidates[:, 1], axis=-1)).min() < 0.999  # they differ


def test_beam_logits_map_to_the_site_beam_toward_the_same_direction():
    site = dataclasses.replace(MODEL, num_rows=1, num_cols=8, num_subcarriers=16, subcarrier_spacing_hz=1.25e6)
    ad = NumerologyAdapter(site, MODEL)
    hits = []
    for az in np.radians(np.arange(-50.0, 50.1, 5.0)):
        h = multipath(site, np.array([az]), np.array([-0.2]), np.array([0.3e-6]), np.array([1.0 + 0j]))
        virtual = ad.csi(h[None])  # what the fake model scores beams on (the real one reads the environment)
        obs = {"csi": np.stack([virtual.real, virtual.imag], axis=1).astype(np.float32), "height_map": np.zeros((1, 64, 64))}
        logits = ad.predict(FakeModel(MODEL), "beam_selection", obs)
        assert logits.shape == (1, 8)
        hits.append(int(np.argmax(logits)) == int(np.argmax(beam_gains(h[None], dft_codebook(site).weights))))
    assert np.mean(hits) >= 0.9


def test_height_maps_are_resampled_to_the_models_cells():
    ad = NumerologyAdapter(dataclasses.replace(MODEL, map_cells=16), MODEL)
    hm = np.arange(16 * 16, dtype=np.float32).reshape(1, 16, 16)
    out = ad.observation("env", {"height_map": hm, "ue_position": np.zeros((1, 3), np.float32)})
    assert out["height_map"].shape == (1, 64, 64)
    np.testing.assert_array_equal(out["height_map"][0, ::4, ::4], hm[0])  # each cell repeated 4 x 4

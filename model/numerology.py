"""Run a model on another numerology: resample observations into the model's, map its outputs back.

A checkpoint is trained on one numerology (:class:`airtwin.phy.tasks.Numerology`: array, subcarrier grid,
codebook, map cells). :class:`NumerologyAdapter` lets it serve a site with another one, by the physics the
two share, not by retraining:

- **Array** (virtual array transformation, as in array interpolation for direction finding): ``T_a``
  ``[A_model, A_site]`` is the regularised least-squares map that takes the site array's response to a plane
  wave, over a grid of directions in the front half-space, to the model array's response to the same wave.
  A channel is a sum of plane waves, so ``T_a h`` is the channel the model's array would see, up to the
  resolution the site's aperture has.
- **Subcarriers**: ``T_f`` ``[K_model, K_site]`` does the same over a grid of delays: the channel at the model's
  subcarriers of the paths the site's subcarriers resolve (within the site's delay period).
- **Outputs**: a precoder ``w`` for the model's array becomes ``T_a^T w`` for the site's (the same gain on the
  virtual channel, since ``(T_a h)^T w = h^T (T_a^T w)``), per subband, taking the model subband at each site
  subband's centre frequency. Beam logits over the model's codebook become, for each site beam, the log of the
  expected match ``sum_b p_b |<w_site, T_a^T w_b>|^2`` of that beam with the model's beams. Positions, LoS and
  path loss carry no numerology.
- **Map**: the height map (same polar convention, same range) is resampled to the model's cell count.

Observations keep their keys; ``subcarrier_frequencies_hz`` and ``antenna_positions`` become the model's, so
that everything downstream (the first-path prior included) sees one consistent numerology.
"""

from __future__ import annotations

import numpy as np

from airtwin.phy.beams import array_response, dft_codebook, element_positions, subband_slices
from airtwin.phy.estimation import to_complex
from airtwin.phy.ofdm import subcarrier_offsets_hz
from airtwin.phy.tasks import TASKS, DataSite, Numerology

#: Direction grid of the array map: azimuth over the front half-space, elevation from 70 degrees below the
#: array's horizon to 20 degrees above it [deg].
AZIMUTH_GRID_DEG = np.arange(-90.0, 90.0 + 1e-9, 1.0)
ELEVATION_GRID_DEG = np.arange(-70.0, 20.0 + 1e-9, 2.5)
#: Tikhonov regularisation of both least-squares maps, relative to the mean eigenvalue of the site's Gram matrix.
REGULARISATION = 1e-3


def _directions() -> np.ndarray:
    az, el = np.meshgrid(np.radians(AZIMUTH_GRID_DEG), np.radians(ELEVATION_GRID_DEG), indexing="ij")
    return np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1).reshape(-1, 3)


def _least_squares_map(site: np.ndarray, model: np.ndarray) -> np.ndarray:
    """``T`` ``[M, S]`` minimising ``||T site - model||^2 + λ ||T||^2`` for responses ``site`` ``[S, G]``,
    ``model`` ``[M, G]`` over the same grid."""
    gram = site @ site.conj().T
    lam = REGULARISATION * np.real(np.trace(gram)) / len(gram)
    return model @ site.conj().T @ np.linalg.inv(gram + lam * np.eye(len(gram)))


def array_map(site: Numerology, model: Numerology) -> np.ndarray:
    """``T_a`` ``[A_model, A_site]`` complex128 (see the module docstring)."""
    d = _directions()
    steer = lambda num: array_response(d, element_positions(num)).T  # noqa: E731  [A, G]
    return _least_squares_map(steer(site), steer(model))


def subcarrier_map(site: Numerology, model: Numerology) -> np.ndarray:
    """``T_f`` ``[K_model, K_site]`` complex128 over delays within the site's period ``1 / Δf`` (see the module
    docstring); ``h_k ∝ exp(-j 2π f_k τ)`` as :mod:`airtwin.phy.ofdm`."""
    f_site = subcarrier_offsets_hz(site.num_subcarriers, site.subcarrier_spacing_hz)
    f_model = subcarrier_offsets_hz(model.num_subcarriers, model.subcarrier_spacing_hz)
    bandwidth = max(site.num_subcarriers * site.subcarrier_spacing_hz, model.num_subcarriers * model.subcarrier_spacing_hz)
    period = 1.0 / site.subcarrier_spacing_hz
    tau = np.arange(0.0, period, 1.0 / (4 * bandwidth))
    resp = lambda f: np.exp(-2j * np.pi * np.outer(f, tau))  # noqa: E731  [K, D]
    return _least_squares_map(resp(f_site), resp(f_model))


class NumerologyAdapter:
    """Observations of ``site``'s numerology in, the model's out; the model's predictions back to ``site``'s.

    Args:
        site: the numerology the observations and actions have.
        model: the model's (``model.cfg.numerology``).
    """

    def __init__(self, site: Numerology, model: Numerology):
        self.site, self.model = site, model
        self.t_array = array_map(site, model)
        self.t_freq = subcarrier_map(site, model)
        self.model_offsets = subcarrier_offsets_hz(model.num_subcarriers, model.subcarrier_spacing_hz)
        self.model_positions = element_positions(model)
        site_book = dft_codebook(site, site.oversampling_h, site.oversampling_v).weights.astype(np.complex128)
        model_book = dft_codebook(model, model.oversampling_h, model.oversampling_v).weights.astype(np.complex128)
        back = model_book @ self.t_array  # [B_model, A_site]: each model beam as site weights, T_a^T w_b (rows)
        back /= np.maximum(np.linalg.norm(back, axis=1, keepdims=True), 1e-12)
        self.beam_match = np.abs(site_book.conj() @ back.T) ** 2  # [B_site, B_model]
        # The model subband at each site subband's centre frequency.
        f_site = subcarrier_offsets_hz(site.num_subcarriers, site.subcarrier_spacing_hz)
        centres = [f_site[sl].mean() for sl in subband_slices(site.num_subcarriers, site.num_subbands)]
        model_bands = [self.model_offsets[sl] for sl in subband_slices(model.num_subcarriers, model.num_subbands)]
        self.subband_of = np.array([int(np.argmin([np.abs(b - c).min() for b in model_bands])) for c in centres])

    def csi(self, csi: np.ndarray) -> np.ndarray:
        """Complex CSI ``[N, A_site, K_site]`` -> ``[N, A_model, K_model]`` (``T_a h T_f^T``)."""
        return np.einsum("ba,nak,ck->nbc", self.t_array, np.asarray(csi, np.complex128), self.t_freq)

    def observation(self, modality: str, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """A batched observation (:func:`airtwin.phy.tasks.observe`) of the site -> the model's numerology."""
        out = dict(obs)
        n = len(next(iter(obs.values())))
        if modality == "csi":
            for key in ("csi", "csi_prev") if "csi_prev" in obs else ("csi",):  # both pilots alike
                h = self.csi(to_complex(np.asarray(obs[key])))
                h /= np.sqrt(np.maximum(np.mean(np.abs(h) ** 2, axis=(1, 2), keepdims=True), 1e-30))  # unit power
                out[key] = np.stack([h.real, h.imag], axis=1).astype(np.float32)
            if "subcarrier_frequencies_hz" in obs:
                out["subcarrier_frequencies_hz"] = np.tile(self.model_offsets.astype(np.float32), (n, 1))
            if "antenna_positions" in obs:
                out["antenna_positions"] = np.tile(self.model_positions.astype(np.float32), (n, 1, 1))
        elif modality == "env":
            cells = np.asarray(obs["height_map"]).shape[-1]
            idx = ((np.arange(self.model.map_cells) + 0.5) * cells / self.model.map_cells).astype(int)
            out["height_map"] = np.asarray(obs["height_map"])[:, idx][:, :, idx]
        else:
            raise ValueError(f"modality = {modality!r}; allowed: 'csi', 'env'")
        return out

    def predict(self, model, task: str, obs: dict[str, np.ndarray]) -> np.ndarray:
        """``model.predict`` of a batched site observation, in the site's numerology (NumPy, physical units).

        Precoding: the site's own classical precoder (:func:`airtwin.model.universal.precoder_base`, as the
        model's, or the site's candidate of the kind the ``switch-refine`` head's switch picks on the virtual
        observation) plus the model's residual on its base of the virtual observation, mapped back
        (phase-aligned); so the untrained residual gives exactly the classical precoder of the site. Beam
        selection: see the module docstring.
        """
        import torch

        from airtwin.model.features import to_tensors
        from airtwin.model.universal import precoder_base, switch_candidates, unit_rows

        adapted = self.observation(TASKS[task].modality, obs)
        with torch.no_grad():
            if task != "precoding":
                pred = model.predict(task, to_tensors(adapted)).cpu().numpy()
            else:
                smoothing = model.cfg.precoder_smoothing
                virtual = model.to_device(to_tensors(adapted))
                site_obs = to_tensors({k: np.asarray(v, np.float32) for k, v in obs.items()})
                switch = None
                if model.cfg.precoder_head == "direct":
                    pred = model.predict(task, virtual)
                    base_model = precoder_base(virtual, self.model.num_subbands, smoothing)
                else:  # one forward: the base the residual was added to, and the switch's pick
                    base_model, residual, switch = model.precoder_parts(model.forward(task, virtual), virtual)
                    pred = unit_rows(base_model + residual)
                pred, base_model = pred.cpu().numpy(), base_model.cpu().numpy()
                if switch is None:
                    base_site = precoder_base(site_obs, self.site.num_subbands, smoothing)
                else:  # the site's candidate of the same kind as the one picked for the virtual observation
                    candidates, _ = switch_candidates(site_obs, self.site.num_subbands)
                    base_site = torch.where((switch[0].cpu() > 0)[:, None, None], candidates[:, 1], candidates[:, 0])
                base_site = base_site.numpy().astype(np.complex128)
        if task == "precoding":  # [N, S_model, A_model] -> [N, S_site, A_site]
            to_site = lambda w: np.einsum("nsb,ba->nsa", np.asarray(w, np.complex128)[:, self.subband_of], self.t_array)  # noqa: E731
            mapped_base = to_site(base_model)
            phase = np.sum(mapped_base.conj() * base_site, axis=-1, keepdims=True)
            phase = phase / np.maximum(np.abs(phase), 1e-30)
            w = base_site + phase * (to_site(pred) - mapped_base)
            return (w / np.maximum(np.linalg.norm(w, axis=-1, keepdims=True), 1e-12)).astype(np.complex64)
        if task == "beam_selection":  # logits [N, B_model] -> [N, B_site]
            logits = np.asarray(pred, np.float64)
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            return np.log(np.maximum(p @ self.beam_match.T, 1e-30)).astype(np.float32)
        return pred


def predict_on_site(model, adapter: NumerologyAdapter | None, task: str, obs: dict[str, np.ndarray]) -> np.ndarray:
    """The model's prediction (NumPy, physical units, the site's numerology) of a batched site observation,
    through ``adapter`` when there is one (:func:`adapter_for`)."""
    if adapter is not None:
        return adapter.predict(model, task, obs)
    import torch

    from airtwin.model.features import to_tensors

    with torch.no_grad():
        return model.predict(task, to_tensors(obs)).cpu().numpy()


def adapter_for(model, site: Numerology, scenarios: dict[str, DataSite] | None = None) -> NumerologyAdapter | None:
    """None when ``site`` is the model's numerology (nothing to adapt), else a :class:`NumerologyAdapter`.

    ``scenarios``: ``{scenario: DataSite(carrier [Hz], serving BS)}`` of the data
    (:meth:`airtwin.datagen.reader.AirTwinDataset.sites`); a model with a site memory (:mod:`airtwin.model.memory`)
    serves its own site only, in its own numerology, and needs them.

    Raises ``ValueError`` for a checkpoint that records no numerology and does not fit ``site`` as it is, and for
    a site-memory model on another scenario, carrier, serving BS or numerology than its memory's.
    """
    cfg = model.cfg
    memory = getattr(model, "memory", None)
    if memory is not None:
        if scenarios is None:
            raise ValueError("a model with a site memory serves its own site only: name the data's scenario")
        for name, data_site in scenarios.items():
            memory.cfg.check_site(name, data_site.carrier_frequency_hz, data_site.bs_name)
    if cfg.numerology is None:
        if cfg.shapes == site.shapes():
            return None
        raise ValueError(f"the model was trained for {cfg.shapes} and its checkpoint records no numerology to adapt "
                         f"from; the site has {site.shapes()} (retrain, or use a checkpoint with a numerology)")
    if cfg.numerology == site:
        return None
    if memory is not None:
        raise ValueError("a model with a site memory serves its own site's numerology only, not through the "
                         "numerology adapter")
    return NumerologyAdapter(site, cfg.numerology)


def site_adapter(model, spec, bs: int = 0) -> NumerologyAdapter | None:
    """:func:`adapter_for` BS ``bs`` of a :class:`airtwin.scenes.spec.ScenarioSpec` (its errors name the site)."""
    try:
        return adapter_for(model, Numerology.of_scenario(spec, bs),
                           {spec.name: DataSite(spec.radio.carrier_frequency_hz, spec.bs[bs].name)})
    except ValueError as exc:
        raise ValueError(f"site {spec.bs[bs].name} of {spec.name}: {exc}") from exc

"""Site memory: the traced drops of one area kept beside a site fine-tuned model, and the classical estimates the
heads retrieve from them (retrieval-augmented heads).

A site fine-tune (``airtwin finetune``) has the area's training drops. The strongest classical estimators of the
site-specific protocol are retrievals from those same drops (:mod:`airtwin.model.baselines`): the k-NN CSI
fingerprint for positioning and LoS, the nearest positions' beam gains (or the position lookup) for the best beam, and
the nearest positions' path loss, kriged around a trend. A memory stores, for each of its ``M`` drops:

- the fingerprint of one pilot-noise CSI estimate (:func:`airtwin.model.baselines.fingerprint`,
  ``"sqrt-oversampled"``, ``4*A*K + 1`` values) on the stored drops' 256 leading principal directions ``[M, 256]``,
  with the projection (:func:`airtwin.model.baselines.fingerprint_basis`), as the k-NN baseline fitted on the same
  drops matches them; memories saved before hold whole ``"magnitude"`` fingerprints ``[M, A*K + 1]``;
- the UE position in the BS's frame ``[M, 2]`` [m], the best beam, the beam gains ``[M, num_beams]`` [dB] (not in
  memories saved before them), the path loss [dB] and whether a LoS path exists (not in memories saved before it);
- for the kriged path loss (not in memories saved before it): whether the height map shows the BS (the map LoS
  flag) and the path loss's residual from a log-distance trend per map LoS state [dB], with the trend's ``[4]``
  coefficients (:func:`airtwin.phy.classical.path_loss_trend_and_residuals`);
- the square of the location split the drop lies in ``[M, 2]`` (integer indices of ``cell_m`` squares in the
  scene's frame, as :func:`airtwin.datagen.site.location_split` draws them).

:meth:`SiteMemory.prior` gives each memory task a prior and the features its gate reads:

=============== ======================================================= =========================================
task            prior                                                   gate features
=============== ======================================================= =========================================
positioning     BS-frame position from the nearest fingerprints         nearest fingerprint distance, the k
                ``[B, 2]`` [m]: the densest cluster's centre of the     positions' mean spread / 100 m
                k nearest, interpolated by a local linear regression
                on the 40 nearest (the k-NN fingerprint baseline's
                ``"densest-linear"`` rule); in memories saved
                before, the densest centre alone or the mean of the k
los             the LoS vote of the k nearest fingerprints, as logits   nearest fingerprint distance, the vote's
                ``[B, 2]``: ``+-(1/2) log(p / (1 - p))`` with ``p`` the     margin ``|2 v - 1|``
                LoS share ``v`` smoothed to ``(k v + 1/2) / (k + 1)``
                (the k-NN fingerprint baseline's call); memories
                saved before it give none
beam_selection  the beam gains of the nearest stored UEs, averaged,     nearest stored UE's distance / 10 m
                under the best beam's ``[B, num_beams]`` [dB] (the
                position k-NN beam gains); in memories saved before,
                minus the distance to the nearest stored UE of each
                beam [m] (the position lookup)
path_loss       path loss [dB] kriged from the 64 nearest stored        nearest distance / 10 m, the kriging
                positions around a log-distance trend per map LoS       standard deviation (share of the
                state (the kriging baseline); in memories saved         residuals'); before: their spread / 10 dB
                before, the mean of the k nearest (position k-NN)
=============== ======================================================= =========================================

The model (:class:`airtwin.model.universal.UniversalModel`) blends each prior with its own output by a gate
learnt in the fine-tune, so an open gate is that classical estimate exactly, and training moves away from it
only where the model knows better.

A drop must not retrieve itself, nor its close neighbours, while the model trains on the drops the memory holds:
the test drops of the location split lie in squares with no stored drop. During a fine-tune the observations
carry ``memory_exclude_cell`` ``[B, 2]`` (:meth:`SiteMemory.cell_of` of each drop's position), and every stored
drop of that square is left out of the drop's retrieval, so training sees neighbours as far away as the test
will.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from airtwin.datagen.site import location_cells
from airtwin.model.baselines import (LOCAL_CANDIDATES, bs_frame_xy, fingerprint, fingerprint_basis, matched_position,
                                     project_fingerprints, scene_frame_xy)
from airtwin.model.config import (DEFAULT_BEAM_PRIOR, DEFAULT_FINGERPRINT, DEFAULT_PATH_LOSS_PRIOR,
                                  DEFAULT_POSITION_MATCH, SiteMemoryConfig)
from airtwin.phy.classical import (BEAM_NEIGHBOURS, KRIGING_NEIGHBOURS, kriged_path_loss, neighbour_beam_gains,
                                   path_loss_trend_and_residuals, path_loss_trend_features, path_loss_trend_inputs,
                                   position_lookup_scores)
from airtwin.phy.tasks import MODALITY_FIELDS, observe

#: Dataset fields a memory is built from: the CSI observation's (estimate, array, positions) and the labels.
MEMORY_FIELDS = tuple(dict.fromkeys((*MODALITY_FIELDS["csi"], *MODALITY_FIELDS["env"], "best_beam", "beam_gain_db",
                                     "path_loss_db", "los")))


class SiteMemory(nn.Module):
    """The stored drops of one area as buffers (saved with the model's weights); build with :meth:`from_fields`."""

    def __init__(self, cfg: SiteMemoryConfig):
        super().__init__()
        self.cfg = cfg
        m, d, r = cfg.num_drops, cfg.fingerprint_dim, cfg.fingerprint_components
        self.register_buffer("fingerprints", torch.zeros(m, r or d))
        if r:
            self.register_buffer("fingerprint_mean", torch.zeros(d))
            self.register_buffer("fingerprint_basis", torch.zeros(d, r))
        self.register_buffer("local_xy", torch.zeros(m, 2))
        self.register_buffer("best_beam", torch.zeros(m, dtype=torch.long))
        if cfg.beam_prior == "gains":
            self.register_buffer("beam_gain_db", torch.zeros(m, cfg.num_beams))
        self.register_buffer("path_loss_db", torch.zeros(m))
        if cfg.path_loss_prior == "kriging":
            self.register_buffer("path_loss_trend", torch.zeros(4, dtype=torch.float64))
            self.register_buffer("path_loss_residual_db", torch.zeros(m))
            self.register_buffer("map_los", torch.zeros(m, dtype=torch.bool))
        if cfg.los_prior:
            self.register_buffer("los", torch.zeros(m))
        self.register_buffer("cells", torch.zeros(m, 2, dtype=torch.long))

    @classmethod
    def from_fields(cls, fields: dict[str, np.ndarray], pilot_snr_db: float, rng: np.random.Generator, *,
                    k: int = 5, cell_m: float = 20.0, scenario: str = "", carrier_frequency_hz: float = 0.0,
                    bs_name: str = "") -> SiteMemory:
        """A memory of the drops in ``fields`` (dataset fields of :data:`MEMORY_FIELDS`, ``[M, ...]``) of
        ``scenario`` at ``carrier_frequency_hz`` [Hz], served by BS ``bs_name``; the fingerprints are of one CSI
        estimate at ``pilot_snr_db`` per drop (noise from ``rng``), as the k-NN baseline fits them."""
        prints = fingerprint(observe("csi", fields, pilot_snr_db, rng), DEFAULT_FINGERPRINT)
        mean, basis = fingerprint_basis(prints)
        cfg = SiteMemoryConfig(num_drops=len(prints), fingerprint_dim=prints.shape[1],
                               num_beams=int(fields["beam_gain_db"].shape[1]), k=min(k, len(prints)), cell_m=cell_m,
                               scenario=scenario, carrier_frequency_hz=carrier_frequency_hz, bs_name=bs_name,
                               fingerprint=DEFAULT_FINGERPRINT, fingerprint_components=basis.shape[1],
                               position_match=DEFAULT_POSITION_MATCH, beam_prior=DEFAULT_BEAM_PRIOR,
                               path_loss_prior=DEFAULT_PATH_LOSS_PRIOR, los_prior=True)
        memory = cls(cfg)
        with torch.no_grad():
            memory.fingerprints.copy_(torch.from_numpy(project_fingerprints(prints, mean, basis)))
            memory.fingerprint_mean.copy_(torch.from_numpy(mean))
            memory.fingerprint_basis.copy_(torch.from_numpy(basis))
            memory.local_xy.copy_(torch.from_numpy(bs_frame_xy(fields)))
            memory.best_beam.copy_(torch.from_numpy(np.asarray(fields["best_beam"], np.int64)))
            memory.beam_gain_db.copy_(torch.from_numpy(np.asarray(fields["beam_gain_db"], np.float32)))
            memory.path_loss_db.copy_(torch.from_numpy(np.asarray(fields["path_loss_db"], np.float32)))
            memory.los.copy_(torch.from_numpy(np.asarray(fields["los"], np.float32)))
            d3d, map_los = path_loss_trend_inputs(fields)
            trend, residual = path_loss_trend_and_residuals(d3d, map_los, fields["path_loss_db"])
            memory.path_loss_trend.copy_(torch.from_numpy(trend))
            memory.path_loss_residual_db.copy_(torch.from_numpy(residual.astype(np.float32)))
            memory.map_los.copy_(torch.from_numpy(map_los))
            memory.cells.copy_(memory.cell_of(fields["ue_position"]))
        return memory

    def cell_of(self, ue_position: np.ndarray) -> torch.Tensor:
        """``[N, 2]`` int64 square of each UE position ``[N, 3]`` (scene frame [m]), for ``memory_exclude_cell``."""
        return torch.from_numpy(location_cells(ue_position, self.cfg.cell_m))

    def lookup_table(self, bs_position: np.ndarray, bs_orientation_deg: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The stored drops as a position lookup table: ``(UE positions [M, 2] in the scene's frame [m], best beam
        [M], beam gains [M, num_beams] [dB] or None in memories saved before them)``, for the serving BS at
        ``bs_position`` ``[3]`` [m] with orientation ``bs_orientation_deg`` ``[3]`` [deg] (a baseline that knows the
        same site drops as the memory)."""
        local = self.local_xy.cpu().numpy().astype(np.float64)
        orientation = np.broadcast_to(np.asarray(bs_orientation_deg, np.float64), (len(local), 3))
        xy = np.asarray(bs_position, np.float64)[:2] + scene_frame_xy(local, {"bs_orientation_deg": orientation})
        gains = self.beam_gain_db.cpu().numpy() if self.cfg.beam_prior == "gains" else None
        return xy, self.best_beam.cpu().numpy(), gains

    def _double(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Buffer ``name`` (``"fingerprints"`` or ``"local_xy"``) in float64 and its rows' squared norms ``[M]``,
        computed once per buffer content (converting a 7664-drop fingerprint table at every decision cost 15 ms);
        one cached copy per buffer."""
        keys = getattr(self, name)
        cache = self.__dict__.setdefault("_double_cache", {})
        tag = (keys.data_ptr(), keys._version, keys.device)
        if cache.get(name, (None,))[0] != tag:
            k64 = keys.double()
            cache[name] = (tag, (k64, (k64 * k64).sum(dim=1)))
        return cache[name][1]

    def _distances(self, name: str, query: np.ndarray, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """``[B, M]`` Euclidean distances (float64; ``|q|^2 + |k|^2 - 2 q.k`` by one matrix product, as the k-NN
        baselines rank them) of ``query`` to the rows of buffer ``name``, excluded drops at infinity."""
        k64, k2 = self._double(name)
        q = torch.from_numpy(np.asarray(query, np.float64)).to(k64.device)
        d = ((q * q).sum(dim=1, keepdim=True) + k2[None] - 2.0 * q @ k64.T).clamp_min(0.0).sqrt()
        cells = obs.get("memory_exclude_cell")
        if cells is not None:
            d = d.masked_fill((cells.to(d.device)[:, None, :] == self.cells[None]).all(dim=-1), float("inf"))
        return d

    def _fingerprint_matches(self, np_obs: dict[str, np.ndarray], obs: dict[str, torch.Tensor], count: int
                             ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
        """``(distances [B, count], indices [B, count], query fingerprints [B, D or r])``: the ``count`` stored
        fingerprints nearest each CSI observation's (ascending, float64; excluded drops never), and the query's
        fingerprint as the stored ones are kept (projected on the memory's principal directions where it has them).
        """
        prints = fingerprint(np_obs, self.cfg.fingerprint)
        if prints.shape[1] != self.cfg.fingerprint_dim:
            raise ValueError(f"a CSI observation of {np_obs['csi'].shape[-2]} antennas x "
                             f"{np_obs['csi'].shape[-1]} subcarriers has {prints.shape[1]}-value "
                             f"{self.cfg.fingerprint!r} fingerprints; the site memory stores "
                             f"{self.cfg.fingerprint_dim}: it serves its own site's numerology only")
        if self.cfg.fingerprint_components:
            query = torch.from_numpy(np.asarray(prints, np.float32)).to(self.fingerprint_basis.device)
            prints = project_fingerprints(query, self.fingerprint_mean, self.fingerprint_basis).cpu().numpy()
        d = self._distances("fingerprints", prints, obs)
        dist, idx = torch.topk(d, min(count, self.cfg.num_drops), dim=1, largest=False)
        return dist, idx, prints

    def prior(self, task: str, obs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(prior, gate features [B, MEMORY_FEATURES[task]])`` (:data:`airtwin.model.config.MEMORY_FEATURES`) of an
        observation batch (see the module docstring); float32 on the memory's device, no gradient."""
        if task not in self.cfg.tasks:
            raise ValueError(f"task = {task!r}; this site memory serves {', '.join(self.cfg.tasks)}")
        np_obs = {k: v.detach().cpu().numpy() for k, v in obs.items() if k != "memory_exclude_cell"}
        with torch.no_grad():
            if task == "positioning":
                k = self.cfg.k
                matches = min(max(k, LOCAL_CANDIDATES), self.cfg.num_drops) if self.cfg.position_match == \
                    "densest-linear" else k
                dist, idx, prints = self._fingerprint_matches(np_obs, obs, matches)
                xy = self.local_xy[idx].double()  # [B, matches, 2]
                first = xy[:, :k]
                spread = torch.linalg.vector_norm(first - first.mean(dim=1, keepdim=True), dim=-1).mean(dim=1) / 100.0
                position = matched_position(dist, xy, self.cfg.position_match, k=k,
                                            prints=self._double("fingerprints")[0][idx],
                                            query=torch.from_numpy(np.asarray(prints, np.float64)).to(dist.device))
                return position.float(), torch.stack([dist[:, 0].float(), spread.float()], dim=1)
            if task == "los":
                k = self.cfg.k
                dist, idx, _ = self._fingerprint_matches(np_obs, obs, k)
                vote = self.los[idx].double().mean(dim=1)  # [B] LoS share of the k best matches
                p = (k * vote + 0.5) / (k + 1)
                half = 0.5 * torch.log(p / (1 - p))
                prior = torch.stack([-half, half], dim=1)
                return prior.float(), torch.stack([dist[:, 0], (2 * vote - 1).abs()], dim=1).float()
            d = self._distances("local_xy", bs_frame_xy(np_obs), obs)
            if task == "beam_selection" and self.cfg.beam_prior == "gains":
                dist, idx = torch.topk(d, min(BEAM_NEIGHBOURS, self.cfg.num_drops), dim=1, largest=False)
                gains = neighbour_beam_gains(dist.cpu().numpy(), self.beam_gain_db[idx].cpu().numpy())
                prior = torch.from_numpy(gains - gains.max(axis=1, keepdims=True)).float().to(dist.device)
                return prior, (dist[:, :1] / 10.0).float()
            if task == "beam_selection":
                scores = torch.from_numpy(position_lookup_scores(d.cpu().numpy(), self.best_beam.cpu().numpy(),
                                                                 self.cfg.num_beams)).to(d.device)  # [B, num_beams]
                return scores.float(), (-scores.amax(dim=1, keepdim=True) / 10.0).float()
            if self.cfg.path_loss_prior == "kriging":
                dist, idx = torch.topk(d, min(KRIGING_NEIGHBOURS, self.cfg.num_drops), dim=1, largest=False)
                d3d, query_los = path_loss_trend_inputs(np_obs)
                trend = path_loss_trend_features(d3d, query_los) @ self.path_loss_trend.cpu().numpy()
                pl, std = kriged_path_loss(trend, query_los, dist.cpu().numpy(), self.local_xy[idx].cpu().numpy(),
                                           self.map_los[idx].cpu().numpy(),
                                           self.path_loss_residual_db[idx].cpu().numpy())
                feats = np.stack([dist[:, 0].cpu().numpy() / 10.0, std], axis=1)
                return (torch.from_numpy(pl).float().to(dist.device),
                        torch.from_numpy(feats).float().to(dist.device))
            dist, idx = torch.topk(d, self.cfg.k, dim=1, largest=False)  # path loss, memories saved before kriging
            pl = self.path_loss_db[idx]
            spread = pl.std(dim=1, unbiased=False) / 10.0
            return pl.mean(dim=1), torch.stack([dist[:, 0].float() / 10.0, spread], dim=1)

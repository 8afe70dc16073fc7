"""Site memory: its priors are the site-specific baselines exactly, a drop never retrieves its own square while
training, and the gates blend prior and model as documented."""

import numpy as np
import pytest
import torch

from airtwin.model.baselines import (LOCAL_CANDIDATES, LOCAL_DIMS, MATCH_RADIUS_M, _knn, _nearest, bs_frame_xy,
                                     fingerprint, fingerprint_basis, kriging_path_loss, local_linear_position,
                                     matched_position, project_fingerprints)
from airtwin.model.checkpoint import load_checkpoint, save_checkpoint
from airtwin.model.memory import SiteMemory
from airtwin.model.train import task_batch, training_step
from airtwin.model.universal import BEAM_PRIOR_SCALES, rotate_by_yaw, task_loss
from airtwin.phy.classical import nearest_beam_gains, neighbour_beam_gains
from airtwin.phy.tasks import TASKS, Numerology, observe
from tests.test_model import build, tiny_batch


def drops(n, seed):
    """``tiny_batch`` fields of ``n`` drops spread over a 100 m square (several 20 m cells)."""
    fields = tiny_batch(n, seed)
    g = np.random.default_rng(seed + 100)
    fields["ue_position"] = np.concatenate([g.uniform(-50, 50, (n, 2)), np.full((n, 1), 1.5)], 1).astype(np.float32)
    fields["best_beam"] = g.integers(0, 4, n)
    return fields


def as_tensors(obs):
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in obs.items()}


def beam_gains_under_best(d, stored):
    """The "gains" beam prior from position distances ``d`` ``[N, 60]`` [m] to the stored drops."""
    gains = nearest_beam_gains(d, stored["beam_gain_db"])
    return gains - gains.max(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def site():
    stored, query = drops(60, 0), drops(12, 1)
    memory = SiteMemory.from_fields(stored, 20.0, np.random.default_rng(5), k=3)
    return stored, query, memory


def test_priors_are_the_site_baselines(site):
    stored, query, memory = site
    fit = observe("csi", stored, 20.0, np.random.default_rng(5))  # the memory's own pilot noise
    csi_q = observe("csi", query, 20.0, np.random.default_rng(6))
    basis = fingerprint_basis(fingerprint(fit))  # the k-NN baseline's projection, fitted on the same drops
    stored_prints, query_prints = (project_fingerprints(fingerprint(o), *basis) for o in (fit, csi_q))
    dist, nn = _nearest(stored_prints, query_prints, LOCAL_CANDIDATES)
    prior, feats = memory.prior("positioning", as_tensors(csi_q))
    knn = matched_position(torch.from_numpy(dist), torch.from_numpy(bs_frame_xy(stored)[nn]), "densest-linear", k=3,
                           prints=torch.from_numpy(stored_prints[nn]).double(),
                           query=torch.from_numpy(query_prints).double()).numpy()
    assert memory.cfg.position_match == "densest-linear"
    assert np.allclose(prior.numpy(), knn, atol=1e-3)  # the k-NN fingerprint baseline's estimate
    assert feats.shape == (12, 2) and torch.all(feats[:, 0] >= 0)
    logits, feats = memory.prior("los", as_tensors(csi_q))  # the k-NN vote of the 3 best matches
    vote = stored["los"][nn[:, :3]].mean(axis=1)
    p = (3 * vote + 0.5) / 4
    assert np.allclose(logits.numpy(), 0.5 * np.log(p / (1 - p))[:, None] * [-1, 1], atol=1e-5)
    assert np.array_equal(logits.numpy().argmax(axis=1), (vote > 0.5).astype(int))  # the baseline's call
    assert np.allclose(feats.numpy(), np.stack([dist[:, 0], np.abs(2 * vote - 1)], axis=1), atol=1e-3)
    with pytest.raises(ValueError, match="serves positioning, los, beam_selection, path_loss"):
        memory.prior("precoding", as_tensors(csi_q))

    env_q = observe("env", query, 20.0, np.random.default_rng(6))
    scores, feats = memory.prior("beam_selection", as_tensors(env_q))
    d = np.linalg.norm(bs_frame_xy(query)[:, None] - bs_frame_xy(stored)[None], axis=-1)
    assert memory.cfg.beam_prior == "gains"  # the position k-NN beam gains, under the best beam's
    assert np.allclose(scores.numpy(), beam_gains_under_best(d, stored), atol=1e-4)
    assert np.allclose(scores.numpy().max(axis=1), 0.0) and np.all(scores.numpy() <= 0.0)
    assert np.allclose(feats[:, 0].numpy(), d.min(axis=1) / 10.0, atol=1e-5)
    pl, feats = memory.prior("path_loss", as_tensors(env_q))  # the kriging baseline fitted on the same drops
    assert memory.cfg.path_loss_prior == "kriging"
    assert np.allclose(pl.numpy(), kriging_path_loss(stored, bs_frame_xy(stored), query, bs_frame_xy(query)), atol=1e-3)
    assert np.allclose(feats[:, 0].numpy(), d.min(axis=1) / 10.0, atol=1e-5) and torch.all(feats[:, 1] > 0)


def test_a_training_drop_never_retrieves_its_own_square(site):
    stored, _, memory = site
    own = as_tensors(observe("env", stored, 20.0, np.random.default_rng(0)))
    cells = memory.cell_of(stored["ue_position"])
    pl, feats = memory.prior("path_loss", own)
    assert torch.allclose(feats[:, 0], torch.zeros(60), atol=1e-5)  # without exclusion a stored drop finds itself
    own["memory_exclude_cell"] = cells
    _, feats = memory.prior("path_loss", own)
    scores, _ = memory.prior("beam_selection", own)
    d = np.linalg.norm(bs_frame_xy(stored)[:, None] - bs_frame_xy(stored)[None], axis=-1)
    same = (cells[:, None] == cells[None]).all(-1).numpy()
    d_other = np.where(same, np.inf, d)
    assert np.allclose(feats[:, 0].numpy(), d_other.min(axis=1) / 10.0, atol=1e-5)
    assert np.all(feats[:, 0].numpy() > 0)
    assert np.allclose(scores.numpy(), beam_gains_under_best(d_other, stored), atol=1e-4)  # its square left out


def test_gates_blend_prior_and_model_and_train(site, tmp_path):
    stored, query, memory = site
    model = build("full").attach_memory(memory)
    assert model.cfg.memory.num_drops == 60
    model.eval()
    csi_q = as_tensors(observe("csi", query, 20.0, np.random.default_rng(6)))
    env_q = as_tensors(observe("env", query, 20.0, np.random.default_rng(6)))
    prior, _ = memory.prior("positioning", csi_q)
    prior = rotate_by_yaw(prior, csi_q["bs_orientation_deg"][:, 0])
    own = {t: model._decode(t, model.forward(t, o)[:, :-1], o) for t, o in
           (("positioning", csi_q), ("los", csi_q), ("path_loss", env_q), ("beam_selection", env_q))}
    with torch.no_grad():
        for t in ("positioning", "los", "path_loss", "beam_selection"):
            model.memory_gates[t].bias.fill_(50.0)  # open
    assert torch.allclose(model.predict("positioning", csi_q), prior, atol=1e-3)
    assert torch.allclose(model.predict("path_loss", env_q), memory.prior("path_loss", env_q)[0], atol=1e-3)
    gains = memory.prior("beam_selection", env_q)[0]  # own + softplus(50) x the neighbours' gains / 1 dB
    weight = torch.nn.functional.softplus(torch.tensor(50.0))
    assert BEAM_PRIOR_SCALES["gains"] == (1.0, 40.0)
    torch.testing.assert_close(model.predict("beam_selection", env_q),
                               own["beam_selection"] + weight * gains.clamp_min(-40.0) / 1.0)
    torch.testing.assert_close(model.predict("los", csi_q), own["los"] + weight * memory.prior("los", csi_q)[0])
    with torch.no_grad():
        for t in ("positioning", "los", "path_loss", "beam_selection"):
            model.memory_gates[t].bias.fill_(-50.0)  # shut
    assert torch.allclose(model.predict("positioning", csi_q), own["positioning"], atol=1e-4)
    assert torch.allclose(model.predict("path_loss", env_q), own["path_loss"], atol=1e-4)
    assert torch.allclose(model.predict("beam_selection", env_q), own["beam_selection"], atol=1e-4)
    assert torch.allclose(model.predict("los", csi_q), own["los"], atol=1e-4)
    assert model.predict("precoding", csi_q).shape == (12, 2, 4)  # no memory for precoding

    # A training step reaches the gates, with each drop's own square left out of its retrieval.
    model.train()
    gates = list(model.memory_gates.parameters()) + list(model.memory_hidden.parameters())
    before = [p.detach().clone() for p in gates]
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    class Fields:  # what training_step reads of an AirTwinDataset
        def read_batch(self, idx, names):
            return {k: stored[k][idx] for k in names}

        def task_fields(self, task):
            return TASKS[task].fields

    training_step(model, opt, list(model.parameters()), Fields(), np.arange(60), model.cfg.tasks, 16,
                  np.random.default_rng(0))
    assert any(not torch.equal(b, p) for b, p in zip(before, gates))
    obs, target = task_batch(model, "path_loss", {k: v[:8] for k, v in stored.items()}, np.random.default_rng(1))
    assert torch.isfinite(task_loss(model, "path_loss", obs, target))
    obs, target = task_batch(model, "los", {k: v[:8] for k, v in stored.items()}, np.random.default_rng(1))
    assert torch.isfinite(task_loss(model, "los", obs, target))
    assert model.uses_memory("los") and not model.uses_memory("precoding")

    # Saved and loaded with its memory: the same outputs.
    model.eval()
    save_checkpoint(model, tmp_path / "site")
    loaded = load_checkpoint(tmp_path / "site", device="cpu").eval()
    assert loaded.cfg.memory == model.cfg.memory
    for task, o in (("positioning", csi_q), ("los", csi_q), ("beam_selection", env_q), ("path_loss", env_q)):
        assert torch.equal(loaded.predict(task, o), model.predict(task, o)), task


def test_a_memory_serves_its_own_site_only(site):
    """The lookup table of the memory's drops is the stored positions and beams; data of another scenario,
    carrier, serving BS or numerology is refused with the reason, before any prediction."""
    import dataclasses

    from airtwin.model.numerology import adapter_for
    from airtwin.phy.tasks import DataSite

    stored, _, _ = site
    memory = SiteMemory.from_fields(stored, 20.0, np.random.default_rng(5), k=3, scenario="here",
                                    carrier_frequency_hz=3.5e9, bs_name="bs0")
    xy, beams, gains = memory.lookup_table(stored["bs_position"][0], stored["bs_orientation_deg"][0])
    np.testing.assert_allclose(xy, stored["ue_position"][:, :2], atol=1e-3)
    np.testing.assert_array_equal(beams, stored["best_beam"])
    np.testing.assert_allclose(gains, stored["beam_gain_db"])

    memory.cfg.check_site("here", 3.5e9, "bs0")
    memory.cfg.check_site("here", 3.5e9)  # data that does not record its BS
    with pytest.raises(ValueError, match="holds drops of 'here', not of 'there'"):
        memory.cfg.check_site("there", 3.5e9, "bs0")
    with pytest.raises(ValueError, match="traced at 3.5 GHz, not 28 GHz"):
        memory.cfg.check_site("here", 28e9, "bs0")
    with pytest.raises(ValueError, match="served by BS 'bs0', not by 'bs1'"):
        memory.cfg.check_site("here", 3.5e9, "bs1")
    unrecorded = dataclasses.replace(memory.cfg, bs_name="", carrier_frequency_hz=0.0)  # checkpoints before both
    unrecorded.check_site("here", 28e9, "bs1")
    numerology = Numerology(num_rows=1, num_cols=4, vertical_spacing=0.5, horizontal_spacing=0.5, num_subcarriers=8,
                            subcarrier_spacing_hz=625e3, oversampling_h=1, oversampling_v=1, num_subbands=2,
                            map_cells=16)
    model = build("wm", numerology=numerology).attach_memory(memory)
    here = DataSite(3.5e9, "bs0")
    assert adapter_for(model, numerology, {"here": here}) is None
    with pytest.raises(ValueError, match="name the data's scenario"):
        adapter_for(model, numerology)
    with pytest.raises(ValueError, match="not of 'there'"):
        adapter_for(model, numerology, {"here": here, "there": here})
    with pytest.raises(ValueError, match="not by 'bs2'"):  # another cell of the same scenario
        adapter_for(model, numerology, {"here": DataSite(3.5e9, "bs2")})
    other = dataclasses.replace(numerology, num_subcarriers=2 * numerology.num_subcarriers)
    with pytest.raises(ValueError, match="not through the numerology adapter"):
        adapter_for(model, other, {"here": here})


def test_fingerprint_kinds_and_a_memory_saved_before_them(site):
    """The default fingerprint is the square-rooted profile on a twice-oversampled grid; a memory config saved
    without a kind is a ``"magnitude"`` memory and retrieves with those; a query of another numerology is refused
    by name."""
    from airtwin.config import from_dict, to_dict
    from airtwin.model.config import SiteMemoryConfig
    from airtwin.phy.estimation import power_feature

    stored, query, memory = site
    csi_q = observe("csi", query, 20.0, np.random.default_rng(6))
    new, old = fingerprint(csi_q), fingerprint(csi_q, "magnitude")
    assert new.shape == (12, 4 * 4 * 8 + 1) and old.shape == (12, 4 * 8 + 1)
    for fp in (new, old):
        np.testing.assert_allclose(np.linalg.norm(fp[:, :-1], axis=1), 1.0, rtol=1e-6)
        np.testing.assert_array_equal(fp[:, -1:], power_feature(csi_q["rx_power_db"]))
    # One path between two delay bins: on the oversampled grid its profile peaks at the half bin, which the DFT grid
    # does not have.
    delay_bins = 2.5
    h = np.exp(-2j * np.pi * np.arange(8) * delay_bins / 8)[None, None, :] * np.ones((1, 4, 1))
    one = {"csi": np.stack([h.real, h.imag], axis=1).astype(np.float32), "rx_power_db": np.array([[-80.0]])}
    profile = fingerprint(one)[0, :-1].reshape(8, 16)
    assert np.unravel_index(profile.argmax(), profile.shape)[1] == 5
    assert memory.cfg.fingerprint == "sqrt-oversampled" and memory.cfg.fingerprint_dim == new.shape[1]
    # 60 stored drops span at most 59 directions about their mean: their projections keep every distance.
    assert memory.cfg.fingerprint_components == 60 and memory.fingerprints.shape == (60, 60)
    fit = observe("csi", stored, 20.0, np.random.default_rng(5))
    full, kept = fingerprint(fit), memory.fingerprints.numpy()
    np.testing.assert_allclose(np.linalg.norm(kept[:, None] - kept[None], axis=-1),
                               np.linalg.norm(full[:, None] - full[None], axis=-1), atol=1e-5)
    few = fingerprint_basis(full, components=8)[1]
    assert few.shape == (129, 8) and np.allclose(few.T @ few, np.eye(8), atol=1e-5)
    with pytest.raises(ValueError, match="fingerprint kind = 'phase'; allowed: 'sqrt-oversampled', 'magnitude'"):
        fingerprint(csi_q, "phase")
    with pytest.raises(ValueError, match="SiteMemoryConfig.fingerprint"):
        SiteMemoryConfig(num_drops=2, fingerprint_dim=33, num_beams=4, fingerprint="phase")

    saved = to_dict(memory.cfg)
    del saved["fingerprint"], saved["fingerprint_components"], saved["position_match"], saved["beam_prior"]
    del saved["los_prior"], saved["path_loss_prior"]
    saved["fingerprint_dim"] = old.shape[1]
    legacy = SiteMemory(from_dict(SiteMemoryConfig, saved))
    assert legacy.cfg.path_loss_prior == "mean" and not hasattr(legacy, "path_loss_trend")
    assert legacy.cfg.tasks == ("positioning", "beam_selection", "path_loss") and not hasattr(legacy, "los")
    assert not build("full").attach_memory(legacy).uses_memory("los")  # no LoS gate either
    with pytest.raises(ValueError, match="serves positioning, beam_selection, path_loss"):
        legacy.prior("los", as_tensors(csi_q))
    assert legacy.cfg.fingerprint == "magnitude" and legacy.cfg.fingerprint_components == 0
    assert legacy.cfg.position_match == "mean"  # as memories saved before the rules averaged their matches
    assert legacy.cfg.beam_prior == "lookup" and not hasattr(legacy, "beam_gain_db")  # and looked up their beams
    assert legacy.fingerprints.shape == (60, 33) and not hasattr(legacy, "fingerprint_basis")
    with torch.no_grad():
        legacy.fingerprints.copy_(torch.from_numpy(fingerprint(fit, "magnitude")))
        legacy.local_xy.copy_(memory.local_xy)
        legacy.best_beam.copy_(memory.best_beam)
        legacy.path_loss_db.copy_(memory.path_loss_db)
    nn = _knn(fingerprint(fit, "magnitude"), old, 3)
    prior, _ = legacy.prior("positioning", as_tensors(csi_q))
    np.testing.assert_allclose(prior.numpy(), bs_frame_xy(stored)[nn].mean(axis=1), atol=1e-4)
    env_q = observe("env", query, 20.0, np.random.default_rng(6))
    d = np.linalg.norm(bs_frame_xy(query)[:, None] - bs_frame_xy(stored)[None], axis=-1)
    lookup = np.stack([-d[:, stored["best_beam"] == b].min(axis=1) for b in range(4)], axis=1)  # position lookup
    np.testing.assert_allclose(legacy.prior("beam_selection", as_tensors(env_q))[0].numpy(), lookup, atol=1e-4)
    pl, _ = legacy.prior("path_loss", as_tensors(env_q))  # the mean of the k nearest drops' path loss
    np.testing.assert_allclose(pl.numpy(), stored["path_loss_db"][np.argsort(d, axis=1)[:, :3]].mean(axis=1), atol=1e-3)
    with pytest.raises(ValueError, match="SiteMemoryConfig.beam_prior = 'nearest'; allowed: 'gains', 'lookup'"):
        SiteMemoryConfig(num_drops=2, fingerprint_dim=33, num_beams=4, beam_prior="nearest")
    wider = {**csi_q, "csi": np.concatenate([csi_q["csi"], csi_q["csi"]], axis=-1)}  # 16 subcarriers, not 8
    with pytest.raises(ValueError, match="has 257-value 'sqrt-oversampled' fingerprints; the site memory stores 129"):
        memory.prior("positioning", as_tensors(wider))


def test_matched_position_takes_the_densest_cluster_of_close_matches():
    """The best match alone against three slightly worse ones that agree: the three win. The best match far ahead
    of the rest: it alone. Ties at distance zero average; matches left out (inf) weigh nothing; "mean" averages
    all k."""
    a, b = [100.0, 0.0], [0.0, 0.0]
    pos = torch.tensor([[a, [0.0, 1.0], [1.0, 0.0], [0.0, -1.0], [-300.0, 0.0]]] * 2, dtype=torch.float64)
    dist = torch.tensor([[1.0, 1.01, 1.02, 1.03, 2.0], [1.0, 1.3, 1.3, 1.3, 1.3]], dtype=torch.float64)
    got = matched_position(dist, pos, "densest")
    w = torch.exp(-(torch.tensor([0.01, 0.02, 0.03], dtype=torch.float64) / 0.1) ** 2)  # 1, 2, 3 % farther
    want = (w[:, None] * pos[0, 1:4]).sum(0) / w.sum()
    torch.testing.assert_close(got[0], want)
    assert float(torch.linalg.vector_norm(got[0] - torch.tensor(b, dtype=torch.float64))) < 1.0
    torch.testing.assert_close(got[1], torch.tensor(a, dtype=torch.float64), atol=1e-3, rtol=0)
    torch.testing.assert_close(matched_position(dist, pos, "mean"), pos.mean(dim=1))
    ties = torch.tensor([[0.0, 0.0, 0.5, float("inf"), float("inf")]], dtype=torch.float64)
    two = torch.tensor([[[0.0, 0.0], [MATCH_RADIUS_M / 2, 0.0], [5.0, 5.0], [0.0, 0.0], [0.0, 0.0]]],
                       dtype=torch.float64)
    torch.testing.assert_close(matched_position(ties, two, "densest"), torch.tensor([[MATCH_RADIUS_M / 4, 0.0]],
                                                                        dtype=torch.float64))
    with pytest.raises(ValueError, match="rule = 'median'; allowed: 'densest-linear', 'densest', 'mean'"):
        matched_position(dist, pos, "median")
    # Every match left out (a tiny memory whose drops all share the query's square): all weigh alike, so the
    # densest cluster is the three near the origin.
    gone = torch.full((1, 5), float("inf"), dtype=torch.float64)
    torch.testing.assert_close(matched_position(gone, pos[:1], "densest"), pos[:1, 1:4].mean(dim=1))
    with pytest.raises(ValueError, match="needs the matches' fingerprints"):
        matched_position(dist, pos, "densest-linear")
    gains = np.arange(10.0).reshape(1, 5, 2)
    np.testing.assert_allclose(neighbour_beam_gains(np.full((1, 5), np.inf), gains), gains.mean(axis=1))
    np.testing.assert_allclose(neighbour_beam_gains(np.array([[0.0, np.inf, np.inf, np.inf, np.inf]]), gains),
                               gains[:, 0])


def test_local_linear_position_reads_between_the_stored_drops():
    """Fingerprints that vary linearly with position around the query: the regression finds the query's position
    between the matches, which neither the nearest match nor the densest cluster's centre can. Too few matches
    within the radius, or every match left out: the centre stays."""
    g = np.random.default_rng(3)
    positions = g.uniform(-8.0, 8.0, (LOCAL_CANDIDATES, 2))
    mix = g.normal(size=(2, 24))  # position [m] -> a 24-component fingerprint, linearly
    truth = np.array([1.3, -0.7])
    prints, query = positions @ mix + 5.0, truth @ mix + 5.0
    dist = np.linalg.norm(prints - query, axis=1)
    order = np.argsort(dist)
    as_t = lambda x: torch.from_numpy(np.ascontiguousarray(x))[None].double()  # noqa: E731
    d, p, f, q = as_t(dist[order]), as_t(positions[order]), as_t(prints[order]), torch.from_numpy(query)[None]
    centre = matched_position(d, p, "densest", k=5)
    got = matched_position(d, p, "densest-linear", k=5, prints=f, query=q)
    assert float(torch.linalg.vector_norm(got[0] - torch.from_numpy(truth))) < 0.05
    assert float(torch.linalg.vector_norm(centre[0] - torch.from_numpy(truth))) > 0.2
    assert float(np.linalg.norm(positions[order[0]] - truth)) > 0.2
    few = LOCAL_DIMS + 1  # fewer than dims + 2 matches: the centre
    torch.testing.assert_close(local_linear_position(centre, d[:, :few], p[:, :few], f[:, :few], q), centre)
    gone = torch.full_like(d, float("inf"))
    torch.testing.assert_close(local_linear_position(centre, gone, p, f, q), centre)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_memory_model_gives_the_same_outputs_on_cpu_and_cuda(site, tmp_path):
    """A site-memory checkpoint loaded on CUDA retrieves and blends as on the CPU, also after a model that already
    predicted on the CPU moves to CUDA (the memory's cached float64 keys follow the buffers), and trains there."""
    stored, query, memory = site
    model = build("full").attach_memory(memory)
    with torch.no_grad():
        for t in ("positioning", "path_loss", "beam_selection"):
            model.memory_gates[t].bias.fill_(0.5)  # half open: both the prior and the model count
    save_checkpoint(model, tmp_path / "site")
    cpu = load_checkpoint(tmp_path / "site", device="cpu").eval()
    gpu = load_checkpoint(tmp_path / "site", device="cuda").eval()
    moved = load_checkpoint(tmp_path / "site", device="cpu").eval()
    queries = {"csi": observe("csi", query, 20.0, np.random.default_rng(6)),
               "env": observe("env", query, 20.0, np.random.default_rng(6))}
    tasks = {"positioning": "csi", "los": "csi", "precoding": "csi", "beam_selection": "env", "path_loss": "env"}
    for task, modality in tasks.items():
        moved.predict(task, as_tensors(queries[modality]))  # fills the CPU caches
    moved.to("cuda")
    for task, modality in tasks.items():
        want = cpu.predict(task, as_tensors(queries[modality]))
        for other in (gpu, moved):
            got = other.predict(task, as_tensors(queries[modality]))
            assert got.device.type == "cuda"
            torch.testing.assert_close(got.cpu(), want, rtol=1e-3, atol=1e-3), task
    gpu.train()
    opt = torch.optim.AdamW([p for p in gpu.parameters() if p.requires_grad], lr=1e-2)
    loss = sum(task_loss(gpu, t, *task_batch(gpu, t, stored, np.random.default_rng(0))) for t in tasks)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)

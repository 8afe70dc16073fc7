"""The environment map in the BS's frame: the convention, its coverage of the UE region, line of sight on it,
the polar positioning head, and the mixed procedural family that trains on it."""

import math

import numpy as np
import pytest
import torch

from airtwin.config import ConfigError
from airtwin.phy import envmap
from airtwin.phy.classical import map_line_of_sight


def test_bs_frame_known_answers_and_round_trip():
    bs = np.array([10.0, 5.0, 25.0])
    # A BS facing north (yaw 90): a point due north is at bearing 0, one due west at +90 degrees.
    r, b = envmap.to_bs_frame(bs, 90.0, np.array([[10.0, 25.0, 1.5], [0.0, 5.0, 1.5], [10.0, -5.0, 1.5]]))
    np.testing.assert_allclose(r, [20.0, 10.0, 10.0])
    np.testing.assert_allclose(b, [0.0, math.pi / 2, -math.pi], atol=1e-12)
    pts = np.random.default_rng(0).uniform(-300, 300, (50, 2))
    r, b = envmap.to_bs_frame(bs, -37.0, pts)
    np.testing.assert_allclose(envmap.from_bs_frame(bs, -37.0, r, b), pts, atol=1e-9)


def test_grid_points_and_cells_agree():
    bs, n, reach = np.array([0.0, 0.0, 20.0]), 8, 80.0
    pts = envmap.grid_points(bs, 30.0, n, reach)
    assert pts.shape == (n, n, 2)
    r, b = envmap.to_bs_frame(bs, 30.0, pts)
    np.testing.assert_allclose(r[:, 0], (np.arange(n) + 0.5) * 10.0)
    row, col = envmap.map_cell(r, b, n, reach)
    np.testing.assert_allclose(row, np.arange(n)[:, None] * np.ones(n), atol=1e-9)
    np.testing.assert_allclose(col, np.ones(n)[:, None] * np.arange(n), atol=1e-9)
    assert envmap.covered(np.array([79.9, 80.0, 80.1]), reach).tolist() == [True, True, False]


def test_map_line_of_sight_on_the_polar_map():
    n, reach = 16, 160.0  # 10 m range cells, 22.5 degree bearing cells
    hm = np.zeros((n, n), np.float32)
    bs = np.array([0.0, 0.0, 20.0])
    east = np.array([[100.0, 0.0, 1.5]])  # bearing 0 from a BS facing east: column 8 (the column at 0 + 11.25 deg)
    _, col = envmap.map_cell(*envmap.to_bs_frame(bs, 0.0, east), n, reach)
    c = int(np.rint(col[0]))
    hm[5, c] = 15.0  # a 15 m building 55 m out: the ray is at 20 - 18.5 * 55 / 100 = 9.8 m there
    assert not map_line_of_sight(hm, reach, bs, 0.0, east)[0]
    hm[5, c] = 9.0
    assert map_line_of_sight(hm, reach, bs, 0.0, east)[0]
    hm[5, c] = 15.0
    assert map_line_of_sight(hm, reach, bs, 0.0, np.array([[45.0, 0.0, 1.5]]))[0]  # the building is behind the UE
    # The same scene seen from a BS facing north: the UE to the east is now at bearing -90 degrees.
    hm_north = np.roll(hm, -n // 4, axis=1)
    assert not map_line_of_sight(hm_north, reach, bs, 90.0, east)[0]


def test_polar_head_decodes_range_and_bearing_in_the_bs_frame():
    from airtwin.model.universal import polar_to_xy

    softplus_inv = lambda y: math.log(math.expm1(y))  # noqa: E731
    out = torch.tensor([[softplus_inv(0.5), 2.0, 0.0], [softplus_inv(1.0), 0.0, -3.0]])
    # 50 m along the boresight of a BS facing north; 100 m to the right of a BS facing east.
    xy = polar_to_xy(out, torch.tensor([90.0, 0.0]), 100.0)
    np.testing.assert_allclose(xy.numpy(), [[0.0, 50.0], [0.0, -100.0]], atol=1e-4)


def _one_path_csi(array, yaw_deg, bs, ue, offsets_hz):
    """``[1, A, K]`` CSI of a single line-of-sight path (the conventions of :mod:`airtwin.phy.classical`)."""
    from airtwin.phy.beams import element_positions
    from airtwin.phy.classical import SPEED_OF_LIGHT, array_rotation

    d = np.asarray(ue, float) - np.asarray(bs, float)
    tau = np.linalg.norm(d) / SPEED_OF_LIGHT
    local = (d / np.linalg.norm(d)) @ array_rotation((yaw_deg, 0.0, 0.0))
    a = np.exp(2j * np.pi * element_positions(array) @ local)  # [A]
    return (a[:, None] * np.exp(-2j * np.pi * offsets_hz[None, :] * tau))[None], element_positions(array)

def _one_path_observation(rows, cols):
    """A 40 dB CSI observation of one line-of-sight path to a ``rows`` x ``cols`` array: ``(obs, ue, bs, yaw)``."""
    from airtwin.phy.ofdm import subcarrier_offsets_hz
    from airtwin.phy.tasks import observe
    from airtwin.scenes.spec import ArraySpec

    offsets = subcarrier_offsets_hz(32, 625e3)
    bs, yaw, ue = np.array([5.0, -3.0, 25.0]), 120.0, np.array([-40.0, 60.0, 1.5])
    csi, positions = _one_path_csi(ArraySpec(num_rows=rows, num_cols=cols), yaw, bs, ue, offsets)
    fields = {"csi": csi.astype(np.complex64), "bs_orientation_deg": np.array([[yaw, 0.0, 0.0]]),
              "subcarrier_frequencies_hz": offsets[None], "antenna_positions": positions[None],
              "bs_position": bs[None], "ue_position": ue[None]}
    obs = observe("csi", fields, 40.0, np.random.default_rng(0))
    return {k: torch.from_numpy(np.asarray(v)) for k, v in obs.items()}, ue, bs, yaw


@pytest.mark.parametrize("rows,cols", [(1, 4), (2, 8), (4, 4)])
def test_first_path_head_with_its_gate_open_is_the_classical_estimate(rows, cols):
    from airtwin.model.config import ModelConfig
    from airtwin.model.encoders import CSIEncoder, EnvEncoder
    from airtwin.model.universal import UniversalModel
    from airtwin.phy.tasks import DataShapes

    obs, ue, bs, yaw = _one_path_observation(rows, cols)
    shapes = DataShapes(num_antennas=rows * cols, num_subcarriers=32, num_subbands=2, num_beams=4, map_cells=16)
    model = UniversalModel.build(ModelConfig(shapes=shapes, variant="wm", position_head="first-path", tasks=("positioning",)),
                                 CSIEncoder(), EnvEncoder())
    opened = torch.tensor([[0.0, 1.0, 0.0, 30.0]])  # gate logit 30: the first-path estimate alone
    xy = model.decode("positioning", opened, obs).numpy()[0]
    np.testing.assert_allclose(xy, ue[:2] - bs[:2], atol=1.0)  # one path, any array: the estimate is the truth
    shut = torch.tensor([[0.0, 1.0, 0.0, -30.0]])  # shut: the polar head (softplus(0) * 100 m along the boresight)
    xy = model.decode("positioning", shut, obs).numpy()[0]
    expected = 100 * math.log(2) * np.array([math.cos(math.radians(yaw)), math.sin(math.radians(yaw))])
    np.testing.assert_allclose(xy, expected, atol=1e-3)


def test_first_path_refine_head_starts_at_the_first_path_and_corrects_its_range_and_bearing():
    from airtwin.model.config import ModelConfig
    from airtwin.model.encoders import CSIEncoder, EnvEncoder
    from airtwin.model.universal import UniversalModel
    from airtwin.phy.tasks import DataShapes

    obs, ue, bs, _ = _one_path_observation(2, 8)
    shapes = DataShapes(num_antennas=16, num_subcarriers=32, num_subbands=2, num_beams=4, map_cells=16)
    model = UniversalModel.build(ModelConfig(shapes=shapes, variant="wm", position_head="first-path-refine",
                                             tasks=("positioning",)), CSIEncoder(), EnvEncoder())
    head = model.heads["positioning"]
    assert head.out_features == 6 and not head.weight[4:].any() and not head.bias[4:].any()  # no correction yet
    truth = ue[:2] - bs[:2]
    opened = torch.tensor([[0.0, 1.0, 0.0, 30.0, 0.0, 0.0]])
    np.testing.assert_allclose(model.decode("positioning", opened, obs).numpy()[0], truth, atol=1.0)
    # +0.1 (x 100 m) on the range and +90 degrees on the bearing: 10 m further out, turned a quarter turn
    corrected = torch.tensor([[0.0, 1.0, 0.0, 30.0, 0.1, math.pi / 2]])
    xy = model.decode("positioning", corrected, obs).numpy()[0]
    r = np.linalg.norm(truth)
    np.testing.assert_allclose(xy, (r + 10.0) / r * np.array([-truth[1], truth[0]]), atol=1.5)


def test_learning_rate_schedule():
    from airtwin.model.train import learning_rate_factor

    steps = 200
    f = [learning_rate_factor(s, steps) for s in range(steps)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)  # 10 warm-up steps
    assert all(a >= b for a, b in zip(f[9:], f[10:]))
    assert f[-1] == pytest.approx(0.05, abs=1e-3)


def test_suite_brace_ranges():
    from airtwin.scenes.suites import expand_ranges, load_suite

    assert expand_ranges(["city-mix-{00008..00011}", "munich"]) == [
        "city-mix-00008", "city-mix-00009", "city-mix-00010", "city-mix-00011", "munich"]
    with pytest.raises(ConfigError, match="LO <= HI"):
        expand_ranges(["city-mix-{5..1}"])
    suite = load_suite("mix-train")
    assert len(suite.scenarios) == 1024 and suite.scenarios[-1] == "city-mix-01023"
    assert set(suite.splits.values()) == {"train", "validation"}
    assert set(load_suite("mix-heldout").splits.values()) == {"test"}
    xl = load_suite("mix-train-xl")  # the scale recipe: mix-train plus 576 areas
    assert len(xl.scenarios) == 1600 and xl.scenarios[:1024] == suite.scenarios
    assert set(xl.splits.values()) == {"train", "validation"}


def test_mixed_family_draws_areas_and_the_map_covers_every_drop():
    from airtwin.scenes.registry import area_split, get_scenario
    from airtwin.twin.twin import Twin

    specs = [get_scenario(f"city-mix-{s:05d}") for s in range(8)]
    assert len({s.scene.city.building_height_m for s in specs}) == 8
    assert len({s.bs[0].orientation_deg[0] for s in specs}) > 1
    assert {s.radio.carrier_frequency_hz for s in specs} <= {2.6e9, 3.5e9, 6.0e9}
    for s in specs:  # every BS faces the area's centre
        x, y, _ = s.bs[0].position
        yaw = math.radians(s.bs[0].orientation_deg[0])
        assert math.cos(yaw) * -x + math.sin(yaw) * -y > 0.9 * math.hypot(x, y)
    assert area_split("city-mix-10003") == "test" and area_split("city-mix-00007") == "validation"
    twin = Twin(specs[1])
    ue = twin.sample_ue_positions(300, np.random.default_rng(0))
    r, _ = envmap.to_bs_frame(twin.bs_position, specs[1].bs[0].orientation_deg[0], ue)
    assert envmap.covered(r, twin.map_range_of(0)).all()
    hm = twin.height_map
    assert hm.shape == (64, 64) and hm.max() > 5.0


def test_model_sees_the_ue_cell_and_the_ray_in_the_bs_frame():
    from airtwin.model.features import angle_delay, env_inputs

    n, reach = 16, 160.0
    obs = {"height_map": torch.zeros(2, n, n), "map_range_m": torch.tensor([[reach], [reach]]),
           "bs_position": torch.tensor([[0.0, 0.0, 20.0]] * 2), "bs_orientation_deg": torch.tensor([[0.0, 0, 0],
                                                                                                   [90.0, 0, 0]]),
           "ue_position": torch.tensor([[55.0 * math.cos(t), 55.0 * math.sin(t), 1.5]
                                        for t in (math.pi / 16, math.pi / 2 + math.pi / 16)])}
    maps, scalars = env_inputs(obs)
    assert maps.shape == (2, 3, n, n) and scalars.shape == (2, 6)
    blob, ray = maps[:, 1], maps[:, 2]
    # 55 m out at 11.25 degrees left of each BS's boresight: row 5 (50-60 m), column 8 (the centre of 0..22.5 deg).
    for i in range(2):
        assert np.unravel_index(int(blob[i].argmax()), (n, n)) == (5, 8)
        assert ray[i, :6, 8].min() > 0.99 and ray[i, 6:].max() == 0.0 and ray[i, :, 6].max() < 1e-3
    np.testing.assert_allclose(scalars[:, 0].numpy(), 55.0 / 200.0, rtol=1e-6)
    np.testing.assert_allclose(scalars[:, 2:4].numpy(), [[math.cos(math.pi / 16), math.sin(math.pi / 16)]] * 2,
                               atol=1e-6)
    # The angle-delay image of one path is one bright cell: its angle bin and its delay tap.
    a, k = 8, 16
    h = np.exp(2j * np.pi * (np.arange(a)[:, None] * 3 / a - np.arange(k)[None, :] * 5 / k))
    img = angle_delay(torch.tensor(np.stack([h.real, h.imag])[None], dtype=torch.float32))[0]
    assert np.unravel_index(int(img.argmax()), img.shape) == (3, 5) and img.max() > 0.9 * math.sqrt(a * k)

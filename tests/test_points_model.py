"""Point EBT invariants on tiny seeded models: cache, leakage, records, landscapes, checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import ebt_core as ebt
from ebt_core.points.tasks import get_task

TINY = dict(n_layer=2, n_head=2, d_model=16, max_context=16)
CONTEXT = [(0.0, 0.0), (0.25, 0.0), (0.5, 0.0), (0.75, 0.0)]


def tiny_points(kind: str = "points-ebt", seed: int = 0, **overrides):
    torch.manual_seed(seed)
    config = ebt.PointModelConfig(**{**TINY, "kind": kind, **overrides})
    cls = ebt.PointEBT if kind == "points-ebt" else ebt.PointRegressor
    return cls(config).eval()


@pytest.mark.parametrize("embedding", ["linear", "fourier"])
@pytest.mark.parametrize("frame", ["heading", "world"])
def test_cached_energy_equals_uncached(embedding, frame):
    model = tiny_points(candidate_embedding=embedding, candidate_frame=frame)
    points = torch.randn(1, 6, 2)
    candidates = torch.randn(5, 1, 2)
    with torch.no_grad():
        full = model.energy(model.prefix(points), candidates)
        cache = model.prefix(points[:, :2])
        cache = model.prefix(points[:, 2:5], past=cache)
        cache = model.prefix(points[:, 5:], past=cache)
        grown = model.energy(cache, candidates)
    torch.testing.assert_close(grown, full, rtol=1e-5, atol=1e-6)


def test_no_leakage_from_future_points():
    """The training view (every position at once) equals one context per position, and
    changing later points leaves earlier positions' energies unchanged."""
    model = tiny_points()
    points = torch.randn(2, 7, 2)
    candidates = torch.randn(2, 7, 2)
    index = torch.arange(7)
    with torch.no_grad():
        together = model.energy(model.prefix(points), candidates, index)
        for t in range(7):
            alone = model.energy(model.prefix(points[:, : t + 1]), candidates[:, t : t + 1])
            torch.testing.assert_close(together[:, t : t + 1], alone, rtol=1e-5, atol=1e-6)
        changed = points.clone()
        changed[:, 4:] += 3.0
        after = model.energy(model.prefix(changed), candidates, index)
    torch.testing.assert_close(after[:, :4], together[:, :4])
    assert not torch.allclose(after[:, 4:], together[:, 4:])


def test_think_records_shapes_and_points():
    model = tiny_points()
    run = ebt.think(model, CONTEXT, ebt.ThinkConfig(steps=3, samples=5, seed=2), max_new_tokens=2)
    assert run.kind == "points" and run.points.shape == (2, 2)
    for i, token in enumerate(run.tokens):
        assert token.states.shape == (5, 4, 2) and token.energies.shape == (5, 4)
        assert token.chosen == int(np.argmin(token.energies[:, -1]))
        np.testing.assert_array_equal(run.points[i], token.states[token.chosen, -1])
    assert run.context(1).shape == (5, 2)
    # the recorded energies are the model's energies of the recorded states
    with torch.no_grad():
        cache = model.prefix(torch.tensor(CONTEXT)[None])
        again = model.energy(cache, torch.from_numpy(run.tokens[0].states[:, -1])[:, None])
    np.testing.assert_allclose(again[:, 0].numpy(), run.tokens[0].energies[:, -1], rtol=1e-5)


def test_think_is_seeded_and_energy_falls_at_small_step():
    model = tiny_points()
    cfg = ebt.ThinkConfig(steps=6, samples=4, seed=3, step_size=1e-3)
    a, b = ebt.think(model, CONTEXT, cfg, 1), ebt.think(model, CONTEXT, cfg, 1)
    np.testing.assert_array_equal(a.tokens[0].states, b.tokens[0].states)
    assert (np.diff(a.tokens[0].energies, axis=1) <= 1e-7).all()


def test_json_round_trip():
    model = tiny_points()
    run = ebt.think(model, CONTEXT, ebt.ThinkConfig(steps=2, samples=3), 2)
    data = json.loads(json.dumps(run.to_dict()))
    back = ebt.ThinkRun.from_dict(data)
    assert back.kind == "points"
    np.testing.assert_array_equal(back.points, run.points)
    np.testing.assert_array_equal(back.context_points, run.context_points)
    np.testing.assert_array_equal(back.tokens[1].states, run.tokens[1].states)
    assert back.to_dict() == run.to_dict()


def test_text_run_json_has_no_point_keys(model):
    run = ebt.think(model, "1+1=", ebt.ThinkConfig(steps=2), 1)
    assert run.kind == "text" and "points" not in run.to_dict() and "kind" not in run.to_dict()
    assert "modes" not in ebt.landscape(model, run, 0, resolution=3).to_dict()


def test_exact_landscape():
    model = tiny_points()
    run = ebt.think(model, CONTEXT, ebt.ThinkConfig(steps=4, samples=6, seed=1), 2)
    modes = get_task("fork").modes(CONTEXT)
    scape = ebt.landscape(model, run, token=0, resolution=9, modes=modes)
    assert scape.method == "exact" and scape.energy.shape == (9, 9)
    np.testing.assert_array_equal(scape.axes, np.eye(2))
    np.testing.assert_array_equal(scape.center, np.zeros(2))
    assert (scape.off_plane == 0).all()
    np.testing.assert_array_equal(scape.path, run.tokens[0].states.astype(np.float64))
    pts = np.concatenate([scape.path.reshape(-1, 2), modes])
    assert scape.a[0] <= pts[:, 0].min() and pts[:, 0].max() <= scape.a[-1]
    assert scape.b[0] <= pts[:, 1].min() and pts[:, 1].max() <= scape.b[-1]
    # grid energies are the model's energies at those candidate points (row = b)
    with torch.no_grad():
        cache = model.prefix(torch.tensor(CONTEXT)[None])
        e = model.energy(cache, torch.tensor([[[scape.a[2], scape.b[5]]]], dtype=torch.float32))
    assert float(e) == pytest.approx(float(scape.energy[5, 2]), rel=1e-5, abs=1e-6)
    assert "modes" in scape.to_dict()


def test_point_landscape_without_run_fixed_window():
    model = tiny_points()
    scape = ebt.point_landscape(model, CONTEXT, resolution=5, window=((0, -1), (2, 1)))
    np.testing.assert_allclose(scape.a, np.linspace(0, 2, 5))
    np.testing.assert_allclose(scape.b, np.linspace(-1, 1, 5))
    assert scape.path.shape[0] == 0 and scape.chosen == -1
    with pytest.raises(ValueError, match="window"):
        ebt.point_landscape(model, CONTEXT, 5, window=((1, 0), (0, 1)))
    with pytest.raises(ValueError, match="window"):
        ebt.point_landscape(model, CONTEXT, 5, window=((0, 0), (1, float("nan"))))


def test_save_load_identical(tmp_path):
    for kind in ("points-ebt", "points-regressor"):
        model = tiny_points(kind, seed=4)
        think = ebt.ThinkConfig(steps=3, samples=4, seed=5)
        ebt.save(model, tmp_path / kind, think=think, recipe={"task": "fork"})
        loaded = ebt.load(tmp_path / kind)
        assert type(loaded) is type(model) and loaded.config == model.config
        if kind == "points-ebt":
            a = ebt.think(model, CONTEXT, think, 2)
            b = ebt.think(loaded, CONTEXT, None, 2)  # None = the checkpoint's default
            np.testing.assert_array_equal(a.tokens[1].states, b.tokens[1].states)
        else:
            a, b = ebt.predict_point(model, CONTEXT), ebt.predict_point(loaded, CONTEXT)
            np.testing.assert_array_equal(a, b)
            assert a.shape == (2,)


def test_score_points():
    model = tiny_points()
    result = ebt.score(model, CONTEXT, [(1.0, 0.0), (1.25, 0.0)], ebt.ThinkConfig(samples=3))
    assert result.energies.shape == (2,) and result.sample_energies.shape == (2, 3)
    json.dumps(result.to_dict())
    with torch.no_grad():
        e = model.energy(model.prefix(torch.tensor(CONTEXT)[None]), torch.tensor([[[1.0, 0.0]]]))
    assert float(e) == pytest.approx(float(result.energies[0]), rel=1e-5)


@pytest.mark.parametrize(
    "points, message",
    [
        ([(0.0, 0.0, 1.0)], "shape"),
        ([], "at least 1"),
        ([(0.0, float("nan"))], "finite"),
        ("abc", "points"),
        ([(1e9, 0.0)], "within"),
        ([(0.0, 0.0)] * 16, "max_context"),
    ],
)
def test_bad_points_named(points, message):
    model = tiny_points()
    with pytest.raises(ValueError, match=message):
        ebt.think(model, points, ebt.ThinkConfig(steps=1), 1)


def test_bad_arguments_named():
    model = tiny_points()
    with pytest.raises(ValueError, match="max_new_tokens"):
        ebt.think(model, CONTEXT, None, 0)
    with pytest.raises(ValueError, match="continuation"):
        ebt.score(model, CONTEXT, [(0.0, float("inf"))])
    with pytest.raises(ValueError, match="points-regressor"):
        ebt.predict_point(model, CONTEXT)
    with pytest.raises(ValueError, match="method"):
        ebt.landscape(model, ebt.think(model, CONTEXT, ebt.ThinkConfig(steps=1), 1), method="pca")
    with pytest.raises(ValueError, match="candidate_embedding"):
        ebt.PointModelConfig(candidate_embedding="rbf")
    with pytest.raises(ValueError, match="start_std"):
        ebt.PointModelConfig(start_std=-1)


def test_landscape_marks_the_models_task_modes_by_default():
    model = tiny_points()
    assert ebt.point_landscape(model, CONTEXT, 3).modes.shape == (0, 2)  # no recipe, no task
    model.recipe = {"task": "fork"}
    scape = ebt.point_landscape(model, CONTEXT, 3)
    np.testing.assert_allclose(scape.modes, get_task("fork").modes(CONTEXT))
    assert ebt.point_landscape(model, CONTEXT, 3, modes=[]).modes.shape == (0, 2)


def test_think_from_given_starts_descends_them_like_random_ones():
    """`start` replaces the random starts of the first point (one candidate per start); the
    descent is the same loop: a start at the descent's own end point stays put."""
    model = tiny_points(seed=3)
    cfg = ebt.ThinkConfig(steps=4, samples=3, step_size=0.05, seed=1)
    starts = [(0.9, 0.1), (1.2, -0.3)]
    run = ebt.think(model, CONTEXT, cfg, 2, start=starts)
    first, second = run.tokens
    assert first.states.shape == (2, 5, 2) and second.states.shape == (3, 5, 2)
    np.testing.assert_allclose(first.states[:, 0], np.asarray(starts, dtype=np.float32))
    assert not np.allclose(first.states[:, -1], first.states[:, 0])  # it did descend
    again = ebt.think(model, CONTEXT, cfg, 1, start=[first.states[0, 0]])
    np.testing.assert_allclose(again.tokens[0].states[0], first.states[0], rtol=1e-5)
    with pytest.raises(ValueError, match="start"):
        ebt.think(model, CONTEXT, cfg, 1, start=[(float("nan"), 0.0)])
    with pytest.raises(ValueError, match="start must hold at most"):
        ebt.think(model, CONTEXT, cfg, 1, start=np.zeros((65, 2)))

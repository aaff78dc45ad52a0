"""Landscape slices: the plane contains the path when it can, energies match the records."""

import numpy as np
import pytest

import ebt_core as ebt
from ebt_core.landscapes import _energies


def test_plane_through_three_states_reproduces_their_recorded_energies(model):
    run = ebt.think(model, "12+3=", ebt.ThinkConfig(steps=2, samples=1, seed=0), 2)
    scape = ebt.landscape(model, run, token=1, resolution=9)
    assert scape.energy.shape == (9, 9) and scape.path.shape == (1, 3, 2)
    assert scape.off_plane.max() < 1e-4  # an affine plane holds any three points
    on_plane = scape.center + scape.path[0] @ scape.axes  # (3, V)
    energies = _energies(model, run.context(1), on_plane)
    np.testing.assert_allclose(energies, run.tokens[1].energies[0], atol=1e-5)
    # the grid covers the whole path
    assert scape.a.min() <= scape.path[..., 0].min() and scape.a.max() >= scape.path[..., 0].max()
    assert scape.b.min() <= scape.path[..., 1].min() and scape.b.max() >= scape.path[..., 1].max()
    # a nearly straight path still gets a readable slice: no side under half the other
    width, height = np.ptp(scape.a), np.ptp(scape.b)
    assert min(width, height) >= 0.5 * max(width, height) - 1e-9


def test_pca_axes_are_orthonormal_and_explain_at_most_everything(model):
    run = ebt.think(model, "7+8=", ebt.ThinkConfig(steps=6, samples=4, seed=1), 1)
    for method in ("pca", "random"):
        scape = ebt.landscape(model, run, 0, resolution=5, method=method)
        np.testing.assert_allclose(scape.axes @ scape.axes.T, np.eye(2), atol=1e-8)
        assert 0 <= scape.explained.sum() <= 1 + 1e-9
    pca = ebt.landscape(model, run, 0, resolution=5)
    rnd = ebt.landscape(model, run, 0, resolution=5, method="random")
    assert pca.explained.sum() >= rnd.explained.sum()
    assert ebt.project_paths(run, 0).shape == (4, 7, 2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"token": 5}, "token"),
        ({"token": -1}, "token"),
        ({"resolution": 10_000}, "resolution"),
        ({"resolution": 2}, "resolution"),
        ({"method": "tsne"}, "method"),
        ({"token": 1.0}, "token"),
        ({"margin": float("nan")}, "margin"),
        ({"margin": -1}, "margin"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_bad_landscape_arguments_are_refused(model, kwargs, message):
    run = ebt.think(model, "1+1=", ebt.ThinkConfig(steps=2), 2)
    with pytest.raises(ValueError, match=message):
        ebt.landscape(model, run, **kwargs)


def test_project_paths_refuses_a_token_that_is_not_an_index(model):
    run = ebt.think(model, "1+1=", ebt.ThinkConfig(steps=2), 2)
    for token in (2, -1, 1.0, True):
        with pytest.raises(ValueError, match="token must be an integer"):
            ebt.project_paths(run, token)

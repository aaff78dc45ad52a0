"""The Landscape tab: its figure builders on a tiny run, and /landscape through gradio_client
(the `client` fixture of conftest.py serves the app on tiny checkpoints)."""

from __future__ import annotations

import base64
import json

import numpy as np
import plotly.graph_objects as go
import pytest

import ebt_core as ebt
from app import figures
from app.payloads import request

RESOLUTION = 9


@pytest.fixture
def run_and_scape(model) -> tuple[ebt.ThinkRun, ebt.Landscape]:
    run = ebt.think(model, "12+35=", ebt.ThinkConfig(steps=3, samples=4, seed=0), 2)
    return run, ebt.landscape(model, run, token=1, resolution=RESOLUTION)


# ---- figure builders ------------------------------------------------------------------------
def test_slice_figures_draw_the_grid_and_every_path_at_its_recorded_energies(run_and_scape):
    run, scape = run_and_scape
    tok = run.tokens[1]
    for build, kind, path_kind in [
        (figures.landscape_contour, "contour", "scatter"),
        (figures.landscape_surface, "surface", "scatter3d"),
    ]:
        fig = build(run, scape)
        assert isinstance(fig, go.Figure) and len(fig.data) == 1 + tok.samples
        grid, *paths = fig.data
        assert grid.type == kind and np.asarray(grid.z).shape == (RESOLUTION, RESOLUTION)
        assert all(p.type == path_kind for p in paths)
        assert "(chosen)" in paths[-1].name  # drawn last, on top
        for path in paths:
            i = int(path.customdata[0][0])
            recorded = tok.energies[i].tolist()
            assert [row[2] for row in path.customdata] == recorded  # hover: recorded energies
            assert [row[3] for row in path.customdata] == scape.off_plane[i].tolist()
            assert list(path.x) == scape.path[i, :, 0].tolist()
            if path_kind == "scatter3d":
                assert list(path.z) == recorded
    assert "PC1" in figures.landscape_contour(run, scape).layout.xaxis.title.text


def test_off_plane_and_projection_figures_have_one_trace_per_candidate(run_and_scape):
    run, scape = run_and_scape
    tok = run.tokens[1]
    off = figures.off_plane_plot(run, scape)
    assert len(off.data) == tok.samples
    assert sorted(tuple(t.y) for t in off.data) == sorted(map(tuple, scape.off_plane.tolist()))
    coords = ebt.project_paths(run, 1)
    proj = figures.path_projection(run, 1, coords, "pca")
    assert len(proj.data) == tok.samples and "(chosen)" in proj.data[-1].name
    assert list(proj.data[-1].marker.color) == tok.energies[tok.chosen].tolist()
    assert not proj.frames and not off.frames  # gr.Plot would drop them


def test_summaries_state_the_grid_the_plane_and_the_energies(run_and_scape):
    run, scape = run_and_scape
    text = figures.summarize_landscape(run, scape)
    assert f"{RESOLUTION}×{RESOLUTION}" in text and "token 1" in text and "PCA plane" in text
    chosen = run.tokens[1].energies[run.tokens[1].chosen]
    assert f"E={chosen[0]:.3f}" in text and f"E={chosen[-1]:.3f}" in text
    assert "off-plane" in text
    assert f"{scape.off_plane.max():.3g}" in figures.summarize_off_plane(run, scape)
    coords = ebt.project_paths(run, 1)
    assert "PCA projection of the 4" in figures.summarize_projection(run, 1, coords, "pca")


# ---- the API through gradio_client ----------------------------------------------------------
LANDSCAPE = request("/landscape", resolution=RESOLUTION)


def _array(value) -> np.ndarray:
    """A plotly JSON array: a list, or plotly's base64 typed array {dtype, bdata, shape}."""
    if isinstance(value, dict):
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return flat.reshape([int(n) for n in str(value.get("shape", len(flat))).split(",")])
    return np.asarray(value)


def _traces(plot) -> list[dict]:
    assert plot["type"] == "plotly"
    return json.loads(plot["plot"])["data"]


@pytest.mark.slow
def test_landscape_api_parameters(client):
    api = client[0].view_api(print_info=False, return_format="dict")["named_endpoints"]
    names = [p["parameter_name"] for p in api["/landscape"]["parameters"]]
    assert names == list(LANDSCAPE)


@pytest.mark.slow
def test_landscape_through_the_api_returns_the_slice_the_path_and_the_projection(client):
    c, app = client
    contour, surface, slice_md, off_plane, off_md, paths, paths_md = c.predict(
        **LANDSCAPE, api_name="/landscape"
    )
    for plot, kind, path_kind in [
        (contour, "contour", "scatter"),
        (surface, "surface", "scatter3d"),
    ]:
        grid, *path = _traces(plot)
        assert grid["type"] == kind and _array(grid["z"]).shape == (RESOLUTION, RESOLUTION)
        assert len(path) == LANDSCAPE["samples"] and all(p["type"] == path_kind for p in path)
        assert len(path[-1]["x"]) == LANDSCAPE["steps"] + 1
    assert len(_traces(off_plane)) == len(_traces(paths)) == LANDSCAPE["samples"]
    assert f"{RESOLUTION}×{RESOLUTION}" in slice_md and "token 1" in slice_md
    assert "from the plane" in off_md and "PCA projection" in paths_md
    # no hidden state: the same call in-process thinks the same run and draws the same path
    direct = app.landscape.landscape(*LANDSCAPE.values())
    assert direct[2] == slice_md
    assert _traces(surface)[-1]["z"] == list(direct[1].data[-1].z)


@pytest.mark.slow
@pytest.mark.parametrize(
    "change, message",
    [
        ({"token": 64}, "token must be an integer between 0 and 63"),
        ({"token": -1}, "token must be an integer between 0 and 63"),
        ({"token": 60, "prompt": "1+1=" * 250}, "token must be below"),
        ({"resolution": 0}, "resolution must be an integer between 3 and 101"),
        ({"resolution": 10**6}, "resolution must be an integer between 3 and 101"),
        ({"resolution": "nan"}, "resolution must be an integer between 3 and 101"),
        ({"resolution": 4.5}, "resolution must be an integer"),
        ({"checkpoint": "nope"}, "checkpoint must be one of"),
        ({"method": "bogus"}, r"method must be one of \['pca', 'random'\]"),
        ({"steps": 0}, "steps must be an integer between 1 and 64"),
        ({"samples": 17}, "samples must be an integer between 1 and 16"),
        ({"seed": -1}, "seed must be an integer"),
        ({"prompt": ""}, "prompt must be a non-empty string"),
        ({"token": 63, "steps": 64, "samples": 16}, "exceeds this server's budget"),
    ],
)
def test_bad_landscape_input_names_the_field(client, change, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=message):
        client[0].predict(**{**LANDSCAPE, **change}, api_name="/landscape")


@pytest.mark.slow
def test_nan_resolution_is_refused_by_name(client):
    # JSON clients cannot send NaN (gradio_client refuses it), but a raw request can
    import gradio as gr

    with pytest.raises(gr.Error, match="resolution must be an integer"):
        client[1].landscape.landscape(*{**LANDSCAPE, "resolution": float("nan")}.values())


@pytest.mark.slow
def test_the_ui_shows_the_think_tabs_run_and_redraws_the_projection(client):
    import gradio as gr

    tab = client[1].landscape
    run_dict = client[1].think.first_run()
    outputs = tab.show(run_dict, 0, RESOLUTION, "random", 3, "pca")
    assert len(outputs) == 8 and outputs[-1]["token"] == 0
    assert "Random plane" in outputs[2]
    assert len(outputs[0].data[0].z) == RESOLUTION
    with pytest.raises(gr.Error, match="token must be an integer between 0 and"):
        tab.show(run_dict, len(run_dict["tokens"]), RESOLUTION, "pca", 0, "pca")
    with pytest.raises(gr.Error, match="press Think"):
        tab.show(None, 0, RESOLUTION, "pca", 0, "pca")
    with pytest.raises(gr.Error, match="projection must be one of"):
        tab.reproject(outputs[-1], "tsne", 0)
    plot, summary = tab.reproject(outputs[-1], "pca", 0)
    assert "PCA projection" in summary
    try:
        import umap  # noqa: F401
    except ImportError:  # the optional package is missing: a readable error, not a crash
        with pytest.raises(gr.Error, match="umap-learn"):
            tab.reproject(outputs[-1], "umap", 0)


@pytest.mark.slow
def test_the_tab_opens_on_the_first_runs_landscape_computed_once(client):
    tab, first_run = client[1].landscape, client[1].think.first_run()
    views = tab.first_view()  # what each page load shows
    assert len(views) == 8 and views[-1] == {"run": first_run, "token": 0}
    assert "41×41" in views[2] and len(views[0].data[0].z) == 41
    assert tab.first_view() is views  # computed once, then shared

"""The Landscape tab: its figure builders on a tiny run, and /landscape through gradio_client
(the `client` fixture of conftest.py serves the app on tiny checkpoints)."""

from __future__ import annotations

import base64
import dataclasses
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
def test_ticks_of_a_descent_a_click_replaced_leave_the_new_one_alone(client, point_view):
    """The page's timer may send ticks carrying the old view after a click was sent: in that
    visitor's session they change nothing (the new descent keeps playing); another visitor
    shown the same view object (a tab's first view is shared) still animates it."""
    from types import SimpleNamespace

    import gradio as gr

    from app.figures.point_image import Frame

    viewer = client[1].points.viewer
    old = dataclasses.replace(point_view[-1], superseded_in=set())  # not the shared fixture's
    frame = Frame.of(old.scape)
    mine, other = SimpleNamespace(session_hash="mine"), SimpleNamespace(session_hash="other")
    where = gr.SelectData(None, {"index": [frame.left + 40, frame.top + 60], "value": None})
    new = viewer.click(old, None, where, mine)[-1]
    assert viewer.tick(old, 1, mine) == (gr.skip(),) * 6  # the timer is left running, too
    assert viewer.show_step(old, 2, mine) == gr.skip()
    timer, step, *_ = viewer.tick(old, 1, other)
    assert step == 2 and timer.constructor_args["active"]
    timer, step, *shown = viewer.tick(new, 0, mine)
    assert step == 1 and "Descent from the clicked point" in shown[3]
    assert viewer.tick(old, 1)[1] == 2  # a direct call (no session) is never stale
    assert not new.superseded_in  # the new view has its own set


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


# ---- point EBTs: the exact landscape, its picture and the click ----------------------------
POINT_CONTEXT = "-0.75, 0; -0.5, 0; -0.25, 0; 0, 0"


@pytest.fixture
def point_view(client):
    """The Landscape tab's Point EBT section on the shipped points-ebt at the probe fork."""
    outputs = client[1].points.show("points-ebt", "fork", POINT_CONTEXT, 4, 6, 0, 21, None)
    return outputs


def test_the_picture_maps_pixels_to_candidate_points_exactly():
    from app.figures.point_image import MODE, SIZE, Frame, landscape_image

    torch_model = _tiny_point_ebt()
    run = ebt.think(
        torch_model, [[0, 0], [0.25, 0]], ebt.ThinkConfig(steps=2), 1, start=[[0.1, 0.3]]
    )
    modes = np.array([[0.4, 0.2], [0.3, -0.25]])
    scape = ebt.point_landscape(torch_model, run.context(0), 11, modes=modes, run=run)
    picture, frame = landscape_image(scape, 0, "t")
    assert picture.shape == (SIZE[1], SIZE[0], 3) and frame == Frame.of(scape)
    # the plot area's corners are the grid's corners; every pixel maps back to itself
    assert frame.pixel_to_point(frame.left, frame.top) == (scape.a[0], scape.b[-1])
    right, bottom = frame.left + frame.width - 1, frame.top + frame.height - 1
    assert np.allclose(frame.pixel_to_point(right, bottom), (scape.a[-1], scape.b[0]))
    for px, py in [(frame.left + 7, frame.top + 200), (right - 3, bottom - 50)]:
        assert np.allclose(frame.point_to_pixel(*frame.pixel_to_point(px, py)), (px, py))
    assert frame.pixel_to_point(frame.left - 1, frame.top) is None
    assert frame.pixel_to_point(right, bottom + 1) is None
    # the heat map: the grid's lowest energy in the darkest colour, its highest in the lightest
    plain, _ = landscape_image(dataclasses.replace(scape, modes=None, path=scape.path[:0]), 0, "")
    for pick, colour in [(np.argmin, (68, 1, 84)), (np.argmax, (253, 231, 37))]:
        j, i = np.unravel_index(pick(scape.energy), scape.energy.shape)
        px, py = (int(round(v)) for v in frame.point_to_pixel(scape.a[i], scape.b[j]))
        assert tuple(plain[py, px]) == colour
    # a mode is drawn where the mapping puts it (the centre of its white ×)
    for mode in modes:
        px, py = (int(round(v)) for v in frame.point_to_pixel(*mode))
        assert tuple(picture[py, px]) == MODE


def _tiny_point_ebt() -> ebt.PointEBT:
    import torch

    torch.manual_seed(0)
    return ebt.PointEBT(ebt.PointModelConfig()).eval()


def test_point_figures_put_the_marbles_at_the_step_and_mark_modes_and_baseline():
    from app.figures import points as point_figures
    from app.point_runs import PROBE

    model = _tiny_point_ebt()
    run = ebt.think(model, PROBE, ebt.ThinkConfig(steps=3, samples=5, seed=1))
    modes = np.array([[0.125, 0.2165], [0.125, -0.2165]])
    scape = ebt.point_landscape(model, PROBE, 9, modes=modes, run=run)
    tok = run.tokens[0]
    for step in (0, 2, 3):
        fig = point_figures.point_contour(scape, step, "t", baseline=[0.1, 0.0], context=PROBE)
        traces = {t.name: t for t in fig.data}
        marbles = traces[f"candidates at step {step}"]
        order = [row[0] for row in marbles.customdata]
        assert order[-1] == tok.chosen and sorted(order) == list(range(5))  # chosen on top
        assert list(marbles.x) == tok.states[order, step, 0].tolist()
        assert [row[2] for row in marbles.customdata] == tok.energies[order, step].tolist()
        assert list(traces["true modes"].x) == modes[:, 0].tolist()
        assert list(traces[point_figures.BASELINE_NAME].x) == [0.1]
        assert list(traces["context"].x) == PROBE[:, 0].tolist()
        surface = point_figures.point_surface(scape, step, "t")
        assert surface.data[0].type == "surface"
        assert list(surface.data[1].z) == tok.energies[order, step].tolist()
        assert not fig.frames and not surface.frames  # gr.Plot would drop them
    text = point_figures.summarize_points(scape, 2, [0.1, 0.0])
    assert "9×9 grid" in text and "Step 2 of 3" in text and "regression baseline" in text


@pytest.mark.slow
def test_point_section_shows_the_exact_landscape_modes_and_baseline(client, point_view):
    picture, contour, surface, summary, step, view = point_view
    assert picture.shape[2] == 3 and step.constructor_args["value"] == 4
    assert view.scape.method == "exact" and view.scape.energy.shape == (21, 21)
    assert view.baseline is not None  # the shipped points-regressor, trained on the fork
    # the regression baseline predicts near the midpoint of the two branches
    modes = view.scape.modes
    assert np.linalg.norm(view.baseline - modes.mean(0)) < np.linalg.norm(modes[0] - modes[1]) / 2
    assert "True mode(s)" in summary and len(contour.data[0].z) == 21
    viewer = client[1].points.viewer
    shown = viewer.show_step(view, 0)
    assert "Step 0 of 4" in shown[3]
    timer, step1, *_ = viewer.tick(view, 0)
    assert step1 == 1 and timer.constructor_args["active"]
    timer, step4, *_ = viewer.tick(view, 3)
    assert step4 == 4 and not timer.constructor_args["active"]  # stops at the last step
    assert viewer.play(view, 4)[1] == 0  # Play at the end starts over


@pytest.mark.slow
def test_clicking_the_landscape_starts_a_descent_at_the_clicked_point(client, point_view):
    import gradio as gr

    from app.figures.point_image import Frame

    view = point_view[-1]
    frame = Frame.of(view.scape)
    px, py = frame.left + 40, frame.top + 60
    expected = frame.pixel_to_point(px, py)
    timer, picture, contour, surface, summary, step, new = client[1].points.viewer.click(
        view, None, gr.SelectData(None, {"index": [px, py], "value": None})
    )
    tok = new.run.tokens[0]
    assert tok.samples == 1 and tok.steps_used == 4 and new.start == expected
    np.testing.assert_allclose(tok.states[0, 0], expected, rtol=0, atol=1e-6)
    assert tok.energies[0, -1] < tok.energies[0, 0]  # it descended
    assert f"({expected[0]:.3f}, {expected[1]:.3f}) (pixel {px}, {py})" in summary
    assert timer.constructor_args["active"] and step.constructor_args["value"] == 0  # plays
    assert (new.scape.a[0], new.scape.a[-1]) == (view.scape.a[0], view.scape.a[-1])  # same frame
    outside = gr.SelectData(None, {"index": [2, 2], "value": None})
    assert client[1].points.viewer.click(view, None, outside) == gr.skip()  # off the plot
    with pytest.raises(gr.Error, match="no Playground model yet"):
        client[1].points.viewer.click(
            dataclasses.replace(view, source="your Playground model"), None,
            gr.SelectData(None, {"index": [px, py], "value": None}),
        )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    "change, message",
    [
        ({"context": "1, 2; 3"}, "context must be points"),
        ({"context": "nan, 1"}, "context must be points"),
        ({"checkpoint": "../arith-ebt"}, "checkpoint must be one of the point EBTs"),
        ({"checkpoint": "your Playground model"}, "no Playground model yet"),
        ({"task": "zigzag"}, "task must be one of"),
        ({"samples": 65}, "samples must be an integer between 1 and 64"),
        ({"resolution": 500}, "resolution must be an integer between 3 and 101"),
    ],
)
def test_bad_point_landscape_input_names_the_field(client, change, message):
    import gradio as gr

    args = dict(checkpoint="points-ebt", task="fork", context=POINT_CONTEXT, steps=4, samples=6,
                seed=0, resolution=21, trained=None)  # fmt: skip
    with pytest.raises(gr.Error, match=message):
        client[1].points.show(*{**args, **change}.values())

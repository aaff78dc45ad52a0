"""The first page (issue 16: start to charts ≤ 5 s): `python app/main.py` puts the first example's
views into the page config (`Explorer.first_page`), so its charts need no page-load round trip;
the other tabs send nothing at page load and show their first view when first opened."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qsl

import gradio as gr
import pytest

from app import permalink, tab_links
from app.main import create_explorer, set_initial
from app.payloads import request

from .conftest import _checkpoints, _free_port, checkpoints_env


@pytest.fixture(scope="module")
def baked(tmp_path_factory):
    """An Explorer on tiny checkpoints whose page holds its first run (as `python app/main.py`
    serves it), and the run."""
    root = tmp_path_factory.mktemp("startup-checkpoints")
    _checkpoints(root)
    with checkpoints_env(root):
        explorer = create_explorer()
    assert explorer.registry.loaded == [] and explorer.first_page()
    return explorer, explorer.think.first_run()


def _config_values(explorer) -> dict:
    """Component id → its value in the page config the browser gets."""
    return {c["id"]: c["props"].get("value") for c in explorer.demo.get_config_file()["components"]}


def _no_link(**query):
    return SimpleNamespace(query_params=query)


def test_set_initial_writes_values_and_update_props_into_the_page_config():
    with gr.Blocks() as demo:
        slider = gr.Slider(0, 1, value=0, step=1, label="Step")
        dropdown = gr.Dropdown(label="Token", choices=[])
        plot = gr.Plot()
        state = gr.State(None)
    set_initial(slider, gr.Slider(minimum=0, maximum=5, value=4))
    set_initial(dropdown, gr.Dropdown(choices=[("0: 4", 0), ("1: 7", 1)], value=1))
    import plotly.graph_objects as go

    set_initial(plot, go.Figure(go.Scatter(x=[0, 1], y=[2, 3])))
    set_initial(state, {"text": "47"})
    props = {c["id"]: c["props"] for c in demo.get_config_file()["components"]}
    assert props[slider._id]["value"] == 4 and props[slider._id]["maximum"] == 5
    assert props[dropdown._id]["value"] == 1
    assert [list(c) for c in props[dropdown._id]["choices"]] == [["0: 4", 0], ["1: 7", 1]]
    assert props[plot._id]["value"]["type"] == "plotly" and '"y":[2,3]' in (
        props[plot._id]["value"]["plot"].replace(" ", "")
    )
    assert state.value == {"text": "47"}  # each session starts from a copy of it
    assert props[slider._id]["label"] == "Step"  # what the update did not name is kept
    # gradio rebuilds a session's copy from the constructor arguments at any later update
    # (a gr.skip() too): the set props must survive it, or the token 1 would be refused
    rebuilt = gr.Dropdown(**{**dropdown.constructor_args, "render": False})
    assert rebuilt.preprocess(1) == 1 and gr.Slider(**slider.constructor_args).maximum == 5


def test_the_first_page_holds_the_first_run_in_its_config(baked):
    explorer, run = baked
    w, values = explorer.think_widgets, _config_values(baked[0])
    assert values[w.continuation._id] == run["text"] and run["prompt"] == "12+35="
    for plot in (w.energy_plot, w.topk_plot):
        assert values[plot._id]["type"] == "plotly" and values[plot._id]["plot"]
    assert values[w.token._id] == 0 and values[w.step._id] == run["tokens"][0]["steps_used"]
    assert values[w.table._id]["data"] and "Transformer++" in values[w.token_md._id]
    assert w.run_state.value == run  # Play, Step and the token menu replay it without a load
    assert "arith-ebt" in explorer.registry.loaded


def test_a_plain_page_load_sends_nothing_and_a_link_still_shows_its_run(baked):
    explorer, _ = baked
    out = explorer.think.on_load(_no_link())
    assert len(out) == 3 + 8 + 11 + 1 and all(v == gr.skip() for v in out)
    think = request("/think", steps=3, samples=3, seed=5, max_new_tokens=3)
    expected = explorer.think.think(*think.values())[0]  # what /think returns
    link = dict(parse_qsl(permalink.query("think", {**think, "token": 1})))
    out = explorer.think.on_load(SimpleNamespace(query_params=link))
    assert out[11] == expected and out[-1] == ""  # the link's run replaces the first one


def test_other_tabs_send_nothing_at_page_load(baked):
    explorer, _ = baked
    loads = {
        "landscape": tab_links.landscape_loader(explorer.landscape, explorer.think_widgets),
        "denoise": tab_links.denoise_loader(explorer.denoise),
        "points": tab_links.points_loader(explorer.points),
    }
    for name, load in loads.items():
        assert all(v == gr.skip() for v in load(_no_link())), name
        assert all(v == gr.skip() for v in load(_no_link(tab="think"))), name


def test_opening_a_tab_shows_its_first_view_once(baked):
    explorer, run = baked
    opened = tab_links.on_open("landscape", explorer.landscape.first_view, 8)
    views = opened(None, _no_link())
    assert len(views) == 8 and views[-1] == {"run": run, "token": 0}
    assert views is explorer.landscape.first_view()  # computed once, shared
    assert all(v == gr.skip() for v in opened(views[-1], _no_link()))  # it shows one already
    assert all(v == gr.skip() for v in opened(None, _no_link(tab="landscape")))  # its link's
    points = tab_links.on_open("points", explorer.points.first_view, 6)(None, _no_link())
    assert len(points) == 6 and points[-1] is not None and "True mode" in points[3]


def test_each_tab_opening_is_wired_to_its_first_view(baked):
    explorer, _ = baked
    selects = [
        fn
        for fn in explorer.demo.fns.values()
        if getattr(fn.fn, "__qualname__", "").startswith("on_open")
    ]
    outputs = sorted(len(fn.outputs) for fn in selects)
    assert [t[1] for fn in selects for t in fn.targets] == ["select"] * 3
    assert outputs == [6, 8, 11]  # the Point EBT section, the slice, the Denoise tab


@pytest.mark.slow
def test_the_first_page_draws_its_charts_from_the_config_in_chromium(baked, client):
    """Served like `python app/main.py`: the charts are drawn, Step +1 replays the first run
    (its state came with the page), the Landscape tab draws its first view when opened, a
    ?tab=think link shows the API's run; no page error."""
    from browser_tour import CHROMIUM, browser_page

    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test: need {CHROMIUM}")
        pytest.skip(f"needs {CHROMIUM}")
    explorer, run = baked
    explorer.demo.launch(prevent_thread_lock=True, server_port=_free_port(), quiet=True)
    try:
        think = request("/think", steps=3, samples=3, seed=5, max_new_tokens=3)
        expected = client[0].predict(**think, api_name="/think")[0]
        with browser_page(1400, 900) as page:
            _first_page(page, explorer.demo.local_url, run)
            query = permalink.query("think", {**think, "token": 1})
            page.goto(f"{explorer.demo.local_url}?{query}")
            page.wait_for_function(
                "e => [...document.querySelectorAll('textarea')].some(t => t.value === e)",
                arg=expected,
                timeout=60_000,
            )
    finally:
        explorer.demo.close()


CHARTS = """n => [...document.querySelectorAll('.js-plotly-plot')].filter(
    p => p.offsetParent !== null && p.querySelector('.main-svg')).length >= n"""


def _first_page(page, url: str, run: dict) -> None:
    page.goto(url)
    page.wait_for_function(CHARTS, arg=2, timeout=60_000)
    assert page.get_by_label("Continuation", exact=True).input_value() == run["text"]
    page.get_by_role("button", name="Step +1").click()  # from the last step back to step 0
    page.get_by_text("step 0 of").first.wait_for(timeout=30_000)
    page.get_by_role("tab", name="Landscape", exact=True).click()
    page.wait_for_function(CHARTS, arg=2, timeout=60_000)  # contour and surface, on opening
    page.get_by_role("tab", name="Think", exact=True).click()


def test_start_up_runs_without_the_garbage_collector_and_turns_it_back_on():
    """app.startup pauses the cyclic collector while the app imports and builds its page, then
    freezes what was made and collects again; a host that had it off keeps it off."""
    import subprocess
    import sys

    code = (
        "import gc, sys; was = gc.isenabled()\n"
        "if sys.argv[1] == 'off': gc.disable()\n"
        "from app import startup\n"
        "assert not gc.isenabled()\n"
        "import app.main\n"  # imported: the page is built, the collector is back
        "print(gc.isenabled(), gc.get_freeze_count() > 100_000)\n"
    )
    root = Path(__file__).resolve().parent.parent
    for host, expected in (("on", "True True"), ("off", "False False")):
        env = {**os.environ, "PYTHONPATH": str(root)}
        command = [sys.executable, "-c", code, host]
        out = subprocess.run(
            command, cwd=root, capture_output=True, text=True, timeout=300, env=env
        )
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.split("\n")[-2] == expected

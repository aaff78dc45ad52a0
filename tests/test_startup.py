"""The first page (issue 16: start to charts ≤ 5 s): `python app/main.py` puts the first example's
views into the page config (`Explorer.first_page`), so its charts need no page-load round trip;
the other tabs send nothing at page load and show their first view when first opened."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qsl

import gradio as gr
import numpy as np
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


# ---- the first page's run from the helper process (app/first_page.py) ------------------------
@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("helper-checkpoints")
    _checkpoints(root)
    return root


def _values_without_files(explorer) -> list:
    """The page config's values in page order, but the cached files (a fresh temp name each),
    numbers rounded to 4 decimals (charts' JSON included): runs thought on threads with
    other thread counts differ in the last float digits."""

    def rounded(value):
        if isinstance(value, float):
            return round(value, 4)
        if isinstance(value, dict):
            return {k: rounded(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [rounded(v) for v in value]
        if isinstance(value, str) and value.startswith("{"):
            try:
                return rounded(json.loads(value))
            except ValueError:
                return value
        return value

    values = sorted(_config_values(explorer).items())
    return [rounded(v) for _, v in values if "path" not in str(v)]


def test_importing_the_app_or_the_package_imports_no_torch():
    """The server builds and serves its page before torch is imported (a request or the
    warm-up imports it): `import app.main` and `import ebt_core` load no torch module."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import ebt_core, app.main, app.first_page\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n"
        "print(ebt_core.ThinkConfig.__name__, callable(ebt_core.load))\n"
    )
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, env=env,
        timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.splitlines()[-2:] == ["[]", "ThinkConfig True"]


def test_the_package_names_resolve_lazily_to_their_modules():
    import ebt_core as ebt
    from ebt_core.records import ThinkRun
    from ebt_core.text.model import TextEBT

    assert ebt.ThinkRun is ThinkRun and ebt.TextEBT is TextEBT
    assert ebt.descent.frozen is not None and set(ebt.__all__) <= set(dir(ebt))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        ebt.Nope  # noqa: B018


def test_a_helpers_run_makes_the_same_page_without_loading_a_model(tiny_root):
    """What the helper thinks is the run the server would think; the server builds its page
    from it (text, charts, the Transformer++ line) and loads no checkpoint doing so."""
    from app.first_page import think_first_example

    with checkpoints_env(tiny_root):
        found = json.loads(json.dumps(think_first_example()))  # as it comes through the pipe
        adopted, thought = create_explorer(), create_explorer()
    assert adopted.first_page(found) and thought.first_page()
    assert adopted.registry.loaded == [] and "arith-ebt" in thought.registry.loaded
    assert adopted.think.first_run() == found["run"]
    _same_run(found["run"], thought.think.first_run())
    assert _values_without_files(adopted) == _values_without_files(thought)
    w = adopted.think_widgets
    assert "Transformer++" in _config_values(adopted)[w.token_md._id]


def _same_run(a: dict, b: dict) -> None:
    """The same run up to float rounding (the helper thinks on one thread, a server on its
    default threads: sums in another order): same text, characters, choices and steps."""
    assert {k: v for k, v in a.items() if k != "tokens"} == {
        k: v for k, v in b.items() if k != "tokens"
    }
    for x, y in zip(a["tokens"], b["tokens"], strict=True):
        same = ("char", "chosen", "steps_used")
        assert [x[k] for k in same] == [y[k] for k in same]
        for key in ("energies", "states", "grad_norms"):
            np.testing.assert_allclose(x[key], y[key], rtol=1e-4, atol=1e-6)


def test_the_helper_process_prints_the_first_run(tiny_root):
    """`first_page.start()` runs the helper on $EBT_CHECKPOINTS; `result` reads its JSON."""
    from app import first_page

    with checkpoints_env(tiny_root):
        found = first_page.result(first_page.start())
        explorer = create_explorer()
    assert found["run"]["prompt"] == "12+35=" and found["baseline"]["name"] == "arith-transformer"
    assert explorer.first_page(found) and explorer.registry.loaded == []
    thought = create_explorer_in(tiny_root)
    assert thought.first_page()  # thinking it in this process instead: the same run
    _same_run(found["run"], thought.think.first_run())


def test_a_helpers_run_that_is_not_the_first_run_is_refused(tiny_root):
    """Another prompt, other settings, another checkpoint or a broken record: the server
    thinks the example itself (and shows the run it thought)."""
    from app.first_page import think_first_example

    with checkpoints_env(tiny_root):
        found = think_first_example()
        explorer = create_explorer()
    run = found["run"]
    bad = [
        None,
        {},
        {"run": "47"},
        {"run": {**run, "prompt": "1+1="}},
        {"run": {**run, "checkpoint": "arith-transformer"}},
        {"run": {**run, "config": {**run["config"], "samples": 7}}},
        {"run": {**run, "tokens": "broken"}},
        {"run": {**run, "format_version": 99}},
    ]
    for found_bad in bad:
        assert not explorer.think.adopt_first_run(found_bad), found_bad
    assert explorer.registry.loaded == [] and explorer.first_page({"run": {**run, "text": "x"}})
    assert explorer.think.first_run()["text"] == "x"  # (only the fields above are checked)
    fresh = create_explorer_in(tiny_root)
    assert fresh.first_page({"run": {**run, "prompt": "9+9="}}) and "arith-ebt" in (
        fresh.registry.loaded
    )
    _same_run(fresh.think.first_run(), run)  # thought here: the run the helper thought


def create_explorer_in(root):
    with checkpoints_env(root):
        return create_explorer()


def test_a_failed_or_slow_helper_leaves_the_server_to_think_it(capsys):
    import subprocess
    import sys

    from app import first_page

    assert first_page.result(None) is None
    failed = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.exit('no checkpoint here')"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert first_page.result(failed) is None
    silent = subprocess.Popen([sys.executable, "-c", "print('hello')"], stdout=subprocess.PIPE)
    assert first_page.result(silent) is None
    slow = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], stdout=subprocess.PIPE
    )
    assert first_page.result(slow, wait_s=0.5) is None and slow.returncode is not None
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" (")[0].split(" took")[0] for line in lines] == [
        "EBT Explorer: the first-page helper failed",
        "EBT Explorer: the first-page helper printed no JSON; thinking it here",
        "EBT Explorer: the first-page helper",
    ]
    assert "no checkpoint here" in lines[0] and "over 0.5 s" in lines[2]


def test_the_transformer_baseline_is_asked_once_per_position(tiny_root, monkeypatch):
    """Showing a token again (the token menu, Play, a permalink) reuses the Transformer++'s
    prediction there instead of running the model again."""
    from app import think_tab

    explorer = create_explorer_in(tiny_root)
    calls = []
    real = think_tab.baseline_prediction
    monkeypatch.setattr(think_tab, "baseline_prediction", lambda *a: calls.append(a[2]) or real(*a))
    run = explorer.think.first_run()
    first = explorer.think.select_token(run, 0)
    again = explorer.think.select_token(run, 0)
    assert first[-1] == again[-1] and "Transformer++" in first[-1]
    explorer.think.select_token(run, 1)
    assert calls == [0, 1]  # the first run's own view asked for token 0 once, before these


# ---- the page's one load event (app/page_load.py) ---------------------------------------------
def test_the_page_has_one_load_event_that_runs_every_tabs_loader(baked):
    """Every tab reads a permalink in the same round trip: one load event whose outputs are
    every loader's, each filled by its loader (the last one that does not skip it)."""
    explorer, _ = baked
    loads = [fn for fn in explorer.demo.fns.values() if any(t[1] == "load" for t in fn.targets)]
    assert len(loads) == 1 and loads[0].fn == explorer.page_load.load
    assert len(explorer.page_load.loaders) == 7
    outputs = explorer.page_load.outputs
    assert [o._id for o in loads[0].outputs] == [o._id for o in outputs]
    assert len({id(o) for o in outputs}) == len(outputs)  # each component once
    assert all(v == gr.skip() for v in explorer.page_load.load(_no_link()))  # a plain load
    # a ?tab=points link: the Landscape page, its Point EBT sub-tab, the section's view
    values = explorer.page_load.load(_no_link(tab="points", seed="3"))
    by_id = {o._id: v for o, v in zip(outputs, values, strict=True)}
    assert by_id[_tabs_id(explorer, "ebt-tabs")].selected == "landscape"
    filled = [v for v in values if not (isinstance(v, dict) and v == gr.skip())]
    assert len(filled) > 10  # the section's outputs and controls


def _tabs_id(explorer, elem_id: str) -> int:
    return next(b._id for b in explorer.demo.blocks.values() if b.elem_id == elem_id)


def test_a_loader_that_fails_leaves_the_other_tabs_alone(caplog):
    from app.page_load import PageLoad

    with gr.Blocks() as demo:
        a, b, shared = gr.Textbox(), gr.Textbox(), gr.Textbox()
        loads = PageLoad()
        loads.add(lambda request: ("a", gr.skip()), [a, shared])
        loads.add(lambda request: 1 / 0, [b])
        loads.add(lambda request: "late", [shared])
        loads.register(demo)
    assert loads.outputs == [a, shared, b]
    assert loads.load(_no_link()) == ["a", "late", gr.skip()]
    assert "ZeroDivisionError" in caplog.text or "division by zero" in caplog.text
    empty = PageLoad()
    with gr.Blocks() as bare:
        empty.register(bare)
    assert not bare.fns  # no loader: no load event

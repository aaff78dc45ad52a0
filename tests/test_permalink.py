"""Permalinks (app/permalink.py): the query of a tab's state, read back and validated like the
widgets' values; the Think tab reproduces the run a link describes (same continuation as /think)."""

from __future__ import annotations

import re
from types import SimpleNamespace
from urllib.parse import parse_qsl

import pytest

from app import permalink
from app.payloads import request
from app.think_tab import LINK_KEYS

THINK = request("/think", steps=3, samples=2, seed=3)


def test_think_registers_its_api_parameters_then_token_and_step():
    assert permalink.TABS["think"] == (*request("/think"), "token", "step")
    assert LINK_KEYS == permalink.TABS["think"]
    with pytest.raises(ValueError, match="tab"):
        permalink.register("think", ("tab",))


def test_query_values_come_back_as_the_json_a_widget_sends():
    assert permalink.typed("8") == 8 and permalink.typed("0.5") == 0.5
    assert permalink.typed("true") is True and permalink.typed("False") is False
    assert permalink.typed("12+35=") == "12+35=" and permalink.typed("nan") == "nan"
    query = permalink.query("think", THINK)
    assert query.startswith("tab=think&prompt=12%2B35%3D&checkpoint=arith-ebt&steps=3")
    tab, values, unknown = permalink.read(dict(parse_qsl(query)) | {"colour": "red"})
    assert tab == "think" and values == THINK and unknown == ["colour"]
    assert permalink.read({"tab": "nope", "steps": "3"}) == (None, {}, [])


def test_bad_values_fall_back_to_defaults_with_a_message_naming_the_field():
    checks = {"steps": lambda v: v if isinstance(v, int) and 1 <= v <= 64 else _bad("steps", v)}
    clean, errors = permalink.validated({"steps": 999}, checks, {"steps": 4})
    assert clean == {"steps": 4} and errors == ["steps must be in [1, 64], got 999"]
    assert "steps" in permalink.notice(errors, ["colour"]) and "'colour'" in permalink.notice(
        [], ["colour"]
    )
    assert permalink.notice([], []) == ""


def _bad(name, value):
    raise ValueError(f"{name} must be in [1, 64], got {value}")


def _load(tab, query: dict):
    return tab.on_load(SimpleNamespace(query_params=query))


@pytest.mark.slow
def test_a_think_link_reproduces_the_api_run_with_its_token_and_step(client):
    c, app = client
    api = c.predict(**THINK, api_name="/think")
    query = dict(parse_qsl(permalink.query("think", {**THINK, "token": 1, "step": 2})))
    out = _load(app.think, query)
    widgets, views, notice = out[:11], out[11:-1], out[-1]
    assert widgets[0] == "12+35=" and widgets[1] == "arith-ebt" and widgets[2] == 2
    assert views[0] == api[0] and notice == ""  # the same continuation as the API
    assert views[3].value == 1 and views[4].value == 2  # token 1, at step 2
    assert "Token 1" in views[7] and "step 2 of" in views[7]


@pytest.mark.slow
def test_a_bad_link_value_is_named_and_the_defaults_are_used(client):
    app = client[1]
    out = _load(app.think, {"tab": "think", "prompt": "12+35=", "steps": "999", "seed": "x"})
    notice = out[-1]
    assert "steps must be an integer between 1 and 64, got 999" in notice
    assert "seed must be an integer" in notice
    defaults = app.think.settings_for("arith-ebt")
    assert out[3] == defaults[0] and out[9] == defaults[6]  # steps and seed: the defaults
    assert out[11]  # still thought: the page works
    out = _load(app.think, {"tab": "think", "checkpoint": "../secret", "prompt": "1*2"})
    assert "checkpoint must be one of" in out[-1] and "vocabulary" in out[-1] and out[11]


@pytest.mark.slow
def test_a_page_without_a_link_shows_the_first_example(client):
    app = client[1]
    out = _load(app.think, {})
    assert out[11] == app.think.first_run()["text"]
    link = SimpleNamespace(query_params={"tab": "think"})
    assert permalink.selected_tab(link).selected == "think"


def _loader(app, tab: str):
    """The page-load handler a tab registered (among the loaders of the page's load event)."""
    from app import tab_links

    for fn in app.page_load.loaders:
        if getattr(fn, "__qualname__", "").startswith(f"{tab}_loader"):
            return fn
    raise AssertionError(f"no {tab} loader among the page-load events ({tab_links.__name__})")


@pytest.mark.slow
def test_a_landscape_link_shows_the_same_slice_as_the_api(client):
    c, app = client
    req = request("/landscape", resolution=9, method="random", seed=2)
    api = c.predict(**req, api_name="/landscape")
    out = _loader(app, "landscape")(SimpleNamespace(query_params=dict(
        parse_qsl(permalink.query("landscape", req)))))  # fmt: skip
    assert out[2] == api[2]  # the slice summary: same run, same plane
    assert out[8:] == tuple(req.values())  # the controls show the link's values
    bad = {"tab": "landscape", "resolution": "5000", "method": "tsne"}
    out = _loader(app, "landscape")(SimpleNamespace(query_params=bad))
    assert "resolution must be an integer between 3 and 101, got 5000" in out[2]
    assert "method must be one of ['pca', 'random'], got 'tsne'" in out[2]
    assert out[11] == 41 and out[12] == "pca"  # the defaults, and a landscape was drawn
    assert len(out[0].data[0].z) == 41


@pytest.mark.slow
def test_a_denoise_link_names_an_example_and_reproduces_the_api_run(client):
    from gradio_client import handle_file

    c, app = client
    path, _ = app.denoise.examples[1]
    req = request("/denoise", image=handle_file(path), noise=0.2, steps=2, seed=4)
    api = c.predict(**req, api_name="/denoise")
    link = {**req, "image": path.rsplit("/", 1)[-1], "dit_passes": 5}
    out = _loader(app, "denoise")(SimpleNamespace(query_params=dict(
        parse_qsl(permalink.query("denoise", link)))))  # fmt: skip
    untimed = lambda text: re.sub(r"\d+\.\d+ s\b", "", text.split("\n")[0])  # noqa: E731
    assert untimed(out[0]) == untimed(api[0])  # the EBT summary (PSNR, steps), not its time
    assert out[11] == path and out[13] == 0.2 and out[17] == 4
    out = _loader(app, "denoise")(
        SimpleNamespace(query_params={"tab": "denoise", "image": "/etc/passwd"})
    )
    assert "image must be one of" in out[0] and out[11] == app.denoise.examples[0][0]

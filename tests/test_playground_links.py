"""Permalinks and guides of the Playground and of the Landscape tab's Point EBT section
(app/tab_links.py, app/guide.py): a link fills the widgets (the Playground never trains from a
link), bad values give a message naming the field and its default, presets apply like links."""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import parse_qsl

import pytest

from app import guide, permalink, tab_links
from app.payloads import request
from app.playground_tab import D

PG = tab_links.PLAYGROUND_KEYS


def _pg_load(query: dict) -> tuple:
    return tab_links.playground_loader()(SimpleNamespace(query_params=query))


def test_playground_registers_the_train_parameters_and_points_its_show_parameters():
    assert permalink.TABS["playground"] == tuple(request("/playground_train"))
    assert permalink.TABS["points"] == tab_links.POINTS_KEYS
    assert tab_links.POINTS_KEYS == ("checkpoint", "task", "context", "steps", "samples",
                                     "seed", "resolution")  # fmt: skip
    assert permalink.PAGES["points"] == "landscape"  # the section lives in the Landscape tab
    assert permalink.selected_tab(SimpleNamespace(query_params={"tab": "points"})) is not None


def test_a_playground_link_fills_the_levers_and_does_not_train():
    values = request("/playground_train", objective="final", alpha_jitter=1.0, detach=True)
    query = dict(parse_qsl(permalink.query("playground", values)))
    assert query["detach"] == "true" and query["objective"] == "final"
    status, *levers = _pg_load(query)
    assert dict(zip(PG, levers)) == values
    assert "press **Train**" in status and "cannot use" not in status
    skipped = _pg_load({"tab": "think", "prompt": "1+1="})  # another tab's link: untouched
    assert len(skipped) == 1 + len(PG) and all(isinstance(v, dict) for v in skipped)


@pytest.mark.parametrize(
    "key, bad, message",
    [
        ("iters", "99999", "iters must be an integer between 1 and 3000"),
        ("objective", "best", "objective must be one of"),
        ("task", "zigzag", "task must be one of"),
        ("final_only", "maybe", "final_only must be true or false"),
        ("lr", "nan", "lr must be a number"),
        ("alpha_jitter", "0.5", "alpha_jitter must be a number between 1.0 and 10.0"),
    ],
)
def test_a_bad_playground_value_names_the_field_and_uses_its_default(key, bad, message):
    status, *levers = _pg_load({"tab": "playground", key: bad, "langevin": "0.25", "x": "1"})
    state = dict(zip(PG, levers))
    assert message in status and "'x' ignored" in status and "press **Train**" in status
    default = "fork" if key == "task" else getattr(D, key)
    assert state[key] == default and state["langevin"] == 0.25  # the good value kept


def test_a_recipe_over_the_training_budget_falls_back_to_the_shipped_recipe():
    query = {"tab": "playground", "iters": "3000", "samples": "16", "steps_max": "8"}
    status, *levers = _pg_load(query)
    assert "training budget" in status
    assert dict(zip(PG, levers))["iters"] == D.iters and levers[0] == "fork"


def test_the_playground_presets_fill_their_levers():
    presets = guide.GUIDES["playground"]
    assert 3 <= len(presets) <= 5 and guide.available("playground", []) == presets
    for number, preset in enumerate(presets, 1):
        assert set(preset.values) <= set(PG) and preset.notice.count(". ") == 0
        status, *levers = tab_links.playground_outputs(
            dict(preset.values), intro=guide.intro(number, preset)
        )
        assert status.startswith(f"**Try this {number}") and "cannot use" not in status
        state = dict(zip(PG, levers))
        assert all(state[k] == v for k, v in preset.values.items())


def test_the_point_presets_have_one_sentence_and_link_keys():
    presets = guide.GUIDES["points"]
    assert 3 <= len(presets) <= 5 and guide.available("points", ["points-ebt"]) == presets
    assert guide.available("points", []) == []
    for preset in presets:
        assert set(preset.values) <= set(tab_links.POINTS_KEYS) and preset.notice.endswith(".")


@pytest.fixture(scope="module")
def section():
    from app.landscape_points import PointLandscape
    from app.runtime import Registry

    registry = Registry.scan()
    if "points-ebt" not in registry.point_ebts:
        pytest.fail("the shipped points-ebt checkpoint is missing from checkpoints/")
    return PointLandscape(registry)


def test_a_points_link_reproduces_the_view_and_bad_values_use_defaults(section):
    values = dict(checkpoint="points-ebt", task="fork", context="0, 0; 0.25, 0; 0.5, 0; 0.75, 0",
                  steps=3, samples=5, seed=2, resolution=21)  # fmt: skip
    load = tab_links.points_loader(section)
    out = load(SimpleNamespace(query_params=dict(parse_qsl(permalink.query("points", values)))))
    assert dict(zip(tab_links.POINTS_KEYS, out[6:])) == values
    view = out[5]
    assert view.last_step == 3 and view.scape.path.shape[0] == 5
    assert view.scape.energy.shape == (21, 21) and "cannot use" not in out[3]
    bad = {"tab": "points", "steps": "0", "checkpoint": "nope", "context": "1, 2, 3"}
    out = load(SimpleNamespace(query_params=bad))
    state = dict(zip(tab_links.POINTS_KEYS, out[6:]))
    assert "steps must be an integer between 1" in out[3] and "checkpoint must be one of" in out[3]
    assert "context must be points" in out[3] and state["steps"] == 8
    assert state["checkpoint"] == "points-ebt" and out[5].last_step == 8  # defaults shown


def test_the_fork_preset_splits_the_candidates_between_both_modes(section):
    import numpy as np

    preset = guide.GUIDES["points"][0]
    out = section.preset(dict(preset.values), intro=guide.intro(1, preset))
    assert out[3].startswith("**Try this 1") and "cannot use" not in out[3]
    scape = out[5].scape
    dist = np.linalg.norm(scape.path[:, -1, None] - scape.modes[None], axis=-1)  # (N, modes)
    assert (dist.min(1) < 0.06).all()
    assert np.bincount(dist.argmin(1), minlength=2).tolist() == [8, 8]


def test_the_page_has_both_guides_and_copy_link_buttons():
    from app.main import create_demo

    demo = create_demo()
    buttons = [b for b in demo.blocks.values() if type(b).__name__ == "Button"]
    labels = [b.value for b in buttons]
    for tab in ("playground", "points"):
        for number, preset in enumerate(guide.GUIDES[tab], 1):
            assert f"{number}. {preset.label}" in labels
    ids = {b.elem_id for b in buttons}
    assert {"playground-copy-link", "points-copy-link"} <= ids


def test_a_points_link_opens_the_point_ebt_sub_tab_of_the_landscape_page():
    from app.main import create_explorer

    link = SimpleNamespace(query_params={"tab": "points"})
    assert permalink.selected_tab(link).selected == "landscape"
    assert permalink.selected_subtab(link).selected == "points"
    other = SimpleNamespace(query_params={"tab": "think"})
    assert not hasattr(permalink.selected_subtab(other), "selected")  # gr.skip(): untouched
    explorer = create_explorer()
    tab_ids = {b.id for b in explorer.demo.blocks.values() if type(b).__name__ == "Tab"}
    assert {"landscape", "slice", "points"} <= tab_ids
    assert permalink.selected_subtab in explorer.page_load.loaders

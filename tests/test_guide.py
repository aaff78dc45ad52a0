"""The guide per tab (app/guide.py): numbered presets applied like links, one sentence each."""

from __future__ import annotations

import pytest

import app.tab_links  # noqa: F401 - registers the Landscape and Denoise link keys
import app.think_tab  # noqa: F401 - registers the Think link keys
from app import guide, permalink


def test_each_guide_has_three_to_five_presets_with_one_sentence_and_valid_keys():
    for tab in ("think", "denoise", "answers"):
        presets = guide.GUIDES[tab]
        assert 3 <= len(presets) <= 5
        keys = permalink.TABS["think" if tab == "answers" else tab]  # answers: Think tab links
        for p in presets:
            assert p.notice.count(". ") == 0 and p.notice.endswith(".")  # one sentence
            assert set(p.values) <= set(keys)  # a preset is a link's values
    with pytest.raises(ValueError, match="one sentence"):
        guide.Preset("x", "no full stop")
    assert guide.available("think", ["arith-ebt"]) == guide.GUIDES["think"][:4]


@pytest.mark.slow
def test_the_carry_presets_show_that_thinking_longer_fixes_it(client):
    app = client[1]
    presets = guide.available("think", app.registry.text_ebts)
    for number, preset in enumerate(presets[:4], 1):
        out = app.think.link_outputs(dict(preset.values), intro=guide.intro(number, preset))
        assert out[-1].startswith(f"**Try this {number}") and "cannot use" not in out[-1]
        assert out[0] == preset.values["prompt"] and out[11]  # the preset's prompt, thought
        for key, value in preset.values.items():
            if key in ("steps", "samples", "tolerance", "langevin"):
                assert out[3 + ("steps", "step_size", "langevin", "samples", "select",
                                "tolerance").index(key)] == value  # fmt: skip


@pytest.mark.slow
def test_the_denoise_presets_run_their_photo_and_noise(client):
    from app import tab_links

    app = client[1]
    for number, preset in enumerate(guide.available("denoise", app.registry.image_ebts), 1):
        intro = guide.intro(number, preset)
        out = tab_links.denoise_outputs(app.denoise, preset.values, intro=intro)
        assert out[0].startswith(f"**Try this {number}") and "cannot use" not in out[0]
        assert out[11].endswith(preset.values["image"]) and out[13] == preset.values["noise"]
        assert out[14] == preset.values["steps"] and out[1] is not None  # denoised


def test_the_answer_guide_needs_its_checkpoints_and_continues_the_think_guides_numbers():
    assert guide.available("answers", ["arith-ebt"]) == []
    needs = [p.needs for p in guide.available("answers", ["sum-ebt", "sudoku-ebt"])]
    assert needs == [("sum-ebt",), ("sum-ebt",), ("sudoku-ebt",)]
    assert guide.FOLLOWS["answers"] == ("think",)  # numbered after the Think guide's presets
    sums = guide.GUIDES["answers"][0]
    a, b = (int(x) for x in guide.SUM_PRESET[:-1].split("+"))
    assert sums.values["prompt"] == guide.SUM_PRESET and f"({a + b})" in sums.notice


@pytest.mark.slow
def test_the_answer_presets_tell_the_truth_on_the_shipped_checkpoints():
    """scripts/answer_presets.py on checkpoints/ (re-run it after retraining sum-ebt or
    sudoku-ebt; `--search` lists prompts that would make a failed story hold)."""
    import ebt_core as ebt

    if not {"sum-ebt", "sudoku-ebt"} <= set(ebt.available("answer-ebt")):
        pytest.fail(f"the shipped answer EBTs are missing from {ebt.checkpoints_dir()}")
    from answer_presets import check  # scripts/

    report = check()
    sums = report["sum"]
    assert sums["holds"], sums  # wrong after 1 and 2 steps, right at the preset's
    sudoku = report["sudoku"]
    assert sudoku["holds"] and sudoku["solutions"] >= 2, sudoku  # "several solutions"
    assert sudoku["distinct"] >= 2, sudoku  # the table has different grids to list
    assert sudoku["strong"], sudoku  # different starts reach different valid solutions
    best = report["best_of_n"]  # "candidate 0 drops a carry; the lowest energy is right"
    assert best["chosen_right"] and not best["single_right"], best

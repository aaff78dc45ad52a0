"""The Gradio front end: figure builders on a real tiny run, and the stable API (/think, /score)
through gradio_client against an in-process server on tiny checkpoints."""

from __future__ import annotations

import gradio as gr
import plotly.graph_objects as go
import pytest
import torch

import ebt_core as ebt
from app import figures
from app.payloads import request
from app.think_tab import MIN_PLAY_FRAMES, PLAY_INTERVAL, play_frames
from ebt_core.text.data import ARITH_VOCAB

TINY = dict(n_layer=2, n_head=2, d_model=32, vocab=ARITH_VOCAB, step_size=2.0)


@pytest.fixture(scope="module")
def run() -> ebt.ThinkRun:
    torch.manual_seed(0)
    model = ebt.TextEBT(ebt.TextModelConfig(**TINY)).eval()
    return ebt.think(model, "12+35=", ebt.ThinkConfig(steps=3, samples=4, seed=0), 3)


# ---- figure builders ------------------------------------------------------------------------
def test_energy_curves_draw_every_candidate_and_highlight_the_chosen_one(run):
    tok = run.tokens[1]
    fig = figures.energy_curves(run, token=1, step=2)
    assert isinstance(fig, go.Figure) and len(fig.data) == tok.samples
    chosen = [t for t in fig.data if "(chosen)" in t.name]
    assert len(chosen) == 1 and chosen[0] is fig.data[-1]  # drawn last, on top
    assert all(t.line.width < chosen[0].line.width for t in fig.data[:-1])
    assert list(chosen[0].y) == pytest.approx(tok.energies[tok.chosen, :3].tolist())
    assert all(list(t.x) == [0, 1, 2] for t in fig.data)  # drawn up to the step: it grows
    assert [s.x0 for s in fig.layout.shapes] == [2]  # the step marker
    full = figures.energy_curves(run, token=1, step=tok.steps_used)
    assert list(full.data[-1].y) == pytest.approx(tok.energies[tok.chosen].tolist())
    assert full.layout.xaxis.range == fig.layout.xaxis.range  # fixed axes: no jumps while playing
    assert full.layout.yaxis.range == fig.layout.yaxis.range
    with pytest.raises(ValueError, match="step"):
        figures.energy_curves(run, token=1, step=tok.steps_used + 1)


def test_energy_curves_grow_in_sub_steps_while_playing(run):
    tok = run.tokens[1]
    half = figures.energy_curves(run, token=1, step=1.5).data[-1]
    e = tok.energies[tok.chosen]
    assert list(half.x) == [0, 1, 1.5]
    assert half.y[-1] == pytest.approx((float(e[1]) + float(e[2])) / 2)


def test_topk_bars_show_the_chosen_candidates_top_k(run):
    tok = run.tokens[0]
    fig = figures.topk_bars(run, token=0, step=tok.steps_used, k=3)
    bar = fig.data[0]
    assert len(bar.x) == 3 and bar.x[0] == figures.show_char(tok.char)
    assert list(bar.y) == sorted(bar.y, reverse=True)


def test_best_of_n_table_is_sorted_by_final_energy_and_marks_the_chosen(run):
    tok = run.tokens[0]
    rows = figures.best_of_n_table(run, token=0)
    assert len(rows) == tok.samples and all(len(r) == len(figures.BEST_OF_N_HEADERS) for r in rows)
    energies = [r[2] for r in rows]
    assert energies == sorted(energies) and [r[0] for r in rows] == list(range(1, tok.samples + 1))
    assert [r[1] for r in rows] == tok.ranking()
    assert [r[1] for r in rows if r[-1]] == [tok.chosen]
    first = rows[0][1]
    drop = float(tok.energies[first, 0] - tok.energies[first, -1])
    assert rows[0][3] == pytest.approx(drop, abs=1e-4)


def test_token_strip_has_one_chip_per_character_and_a_text_summary(run):
    strip = figures.token_strip(run)
    assert strip.count('class="ebt-chip"') == len(run.tokens)
    assert "aria-label" in strip and "subscript" in strip
    assert strip.count("<sub") == len(run.tokens)
    assert repr(run.text) in figures.summarize_run(run)
    assert figures.show_char("\n") == "⏎" and figures.show_char(" ") == "␣"


def test_score_figure_annotates_every_character(run):
    torch.manual_seed(0)
    model = ebt.TextEBT(ebt.TextModelConfig(**TINY)).eval()
    result = ebt.score(model, "12+35=", "47", ebt.ThinkConfig(steps=2, samples=3))
    fig = figures.score_figure(result)
    assert len(fig.data[0].y) == 2 and len(fig.data[0].text) == 2
    assert len(fig.data[1].y) == 2 * 3  # the model's own candidates
    assert "'4'" in figures.summarize_score(result)


def test_summaries_mention_the_step_and_the_selection_rule(run):
    assert "step 1" in figures.summarize_curves(run, 0, 1)
    assert "step 1" in figures.summarize_topk(run, 0, 1)
    assert "'min'" in figures.summarize_table(run, 0)


# ---- the API through gradio_client ----------------------------------------------------------
THINK = request("/think")


@pytest.mark.slow
def test_api_names_and_parameters(client):
    api = client[0].view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(api) == {
        "/think", "/score", "/landscape", "/denoise", "/denoise_baseline", "/playground_train",
        "/playground_think", "/export_html", "/export_json", "/export_gif",
    }  # fmt: skip
    names = [p["parameter_name"] for p in api["/think"]["parameters"]]
    for export in ("/export_html", "/export_json"):  # the same parameters as /think
        assert [p["parameter_name"] for p in api[export]["parameters"]] == names
    assert [p["parameter_name"] for p in api["/export_gif"]["parameters"]] == [*names, "token"]
    assert names == list(THINK)  # accept_lower_only last, with its default
    defaults = {p["parameter_name"]: p["parameter_default"] for p in api["/think"]["parameters"]}
    assert defaults["steps"] == 4  # the default checkpoint's ThinkConfig, read without loading
    score = {p["parameter_name"]: p for p in api["/score"]["parameters"]}
    assert list(score) == ["prompt", "answer", "checkpoint", "samples"]
    assert score["samples"]["parameter_has_default"]  # old 3-argument calls still work


@pytest.mark.slow
def test_think_through_the_api_returns_the_continuation_and_its_views(client):
    c, app = client
    result = c.predict(**THINK, api_name="/think")
    text, strip, summary = result[:3]
    assert len(text) == 2 and strip.count('class="ebt-chip"') == 2 and repr(text) in summary
    # the same call in-process gives the same continuation: seeded, no hidden state
    assert app.think.think(*THINK.values())[0] == text


@pytest.mark.slow
def test_score_through_the_api(client):
    plot, summary = client[0].predict("12+35=", "47", "arith-ebt", api_name="/score")
    assert "'4'" in summary and "'7'" in summary and plot is not None


@pytest.mark.slow
@pytest.mark.parametrize(
    "change, message",
    [
        ({"prompt": ""}, "prompt must be a non-empty string"),
        ({"prompt": "12*3="}, "outside the model.s vocabulary"),
        ({"steps": 65}, "steps must be an integer between 1 and 64"),
        ({"checkpoint": "../secrets"}, "checkpoint must be one of"),
    ],
)
def test_bad_input_reaches_the_client_as_a_readable_error(client, change, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=message):
        client[0].predict(**{**THINK, **change}, api_name="/think")


@pytest.mark.slow
def test_scrubbing_replays_the_stored_run(client):
    tab = client[1].think
    run_dict = tab.think(*{**THINK, "steps": 4}.values())[-1]
    last = ebt.ThinkRun.from_dict(run_dict).tokens[1].steps_used
    timer, slider, energy, topk, summary, table, token_md = tab.select_token(run_dict, 1)
    assert not timer.active and slider.maximum == last and slider.value == last
    assert len(table) == THINK["samples"] and "Transformer++" in token_md
    timer, frame, step, *_ = tab.play(run_dict, 1, last)  # at the end, Play starts over
    assert timer.active and frame == 0 and step == 0
    frames = play_frames(last)
    timer, frame, step, *_ = tab.tick(run_dict, 1, frames - 1)  # the last tick stops the timer
    assert frame == frames and step == last and not timer.active
    assert tab.step_once(run_dict, 1, last)[0] == 0  # Step wraps around
    energy, topk, summary = tab.show_step(run_dict, 1, 2)
    assert [s.x0 for s in energy.layout.shapes] == [2] and "step 2" in summary
    assert tab.settings_for("arith-ebt")[0] == 4  # the checkpoint's default steps


@pytest.mark.slow
def test_the_first_view_is_computed_once_on_page_load(client):
    tab = client[1].think
    first_run = tab.first_run()
    assert first_run["prompt"] == tab.examples[0]["prompt"] == "12+35="
    assert tab.first_run() is first_run  # thought once, then shared by every page load
    outputs = tab.show_run(first_run)  # replaying it: no thinking
    assert len(outputs) == 11 and outputs[0] == first_run["text"]
    assert tab.show_first_run()[0] == first_run["text"]  # what each page load shows


def test_importing_the_app_loads_no_model():
    """`import app.main` builds the page for `gradio app/main.py` but loads no checkpoint."""
    from app import main

    assert isinstance(main.demo, gr.Blocks) and callable(main.create_demo)
    assert main.create_explorer().registry.loaded == []


@pytest.mark.slow
def test_play_grows_the_curves_and_lasts_seconds_even_at_two_steps(client):
    tab = client[1].think
    run_dict = tab.think(*{**THINK, "steps": 2}.values())[-1]
    last = ebt.ThinkRun.from_dict(run_dict).tokens[0].steps_used
    assert last == 2 and play_frames(last) * PLAY_INTERVAL >= 3.0
    timer, frame, *_ = tab.play(run_dict, 0, last)
    lengths = []
    while timer.active:
        timer, frame, step, energy, *_ = tab.tick(run_dict, 0, frame)
        lengths.append(len(energy.data[-1].x))
    assert len(lengths) == play_frames(last) >= MIN_PLAY_FRAMES
    assert lengths == sorted(lengths) and lengths[0] < lengths[-1] == last + 1  # it grows


@pytest.mark.slow
def test_an_example_click_thinks_it_at_its_checkpoints_defaults(client):
    tab = client[1].think
    outputs = tab.think_example("12+35=", "arith-ebt", 2)
    settings, views = outputs[:8], outputs[8:]
    assert settings == tab.settings_for("arith-ebt")
    direct = tab.think("12+35=", "arith-ebt", *settings[:7], 2, settings[7])
    assert views[0] == direct[0] and len(views) == len(direct)


def test_a_failed_request_clears_the_think_outputs():
    from app.think_tab import ThinkTab

    views = ThinkTab.failed_run_view()
    assert len(views) == 11 and views[0] == "" and "failed" in views[1]
    assert views[-1] is None and views[5] is None  # no run state, no stale energy chart
    assert "failed" in ThinkTab.failed_score_view()[1]


@pytest.mark.slow
def test_score_compares_with_the_think_tabs_n_and_explains_the_rank(client):
    plot, summary = client[0].predict("12+35=", "47", "arith-ebt", 3, api_name="/score")
    assert "of the model's 3 candidate(s) lower" in summary and "one-hot" in summary
    assert len(plot["plot"]) > 0


@pytest.mark.slow
def test_a_user_error_is_one_log_line_without_traceback(client, capfd, caplog):
    from gradio_client.exceptions import AppError

    capfd.readouterr()
    with pytest.raises(AppError, match="steps must be"):
        client[0].predict(**{**THINK, "steps": 65}, api_name="/think")
    err = capfd.readouterr().err
    assert "Traceback" not in err
    lines = [r for r in caplog.records if r.name == "ebt_explorer"]
    assert [r.getMessage() for r in lines] == [
        "user error: steps must be an integer between 1 and 64, got 65"
    ]


@pytest.mark.slow
def test_warm_up_computes_the_first_pages_views_in_the_background(client):
    app = client[1]
    thread = app.warm_up()
    thread.join(timeout=120)
    assert not thread.is_alive() and thread.daemon
    assert app.think._first["run"] is not None  # the first example, thought before any visit
    assert app.landscape._first["views"] is not None
    assert "arith-ebt" in app.registry.loaded

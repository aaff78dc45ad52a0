"""The Think tab on whole-answer EBTs (sums, Sudoku): the views of a run (answer at each step,
grid, whole-answer best-of-N, score), the API (/think, /score, exports), permalinks, examples and
presets, served in-process on tiny seeded checkpoints (sum-ebt, sum-transformer, sudoku-ebt and
the tiny arith-ebt)."""

from __future__ import annotations

import json
import os
import re
import socket
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qsl

import pytest
import torch

import ebt_core as ebt
from app import export, guide, permalink
from app.figures import answer as answers
from app.figures.answer_score import answer_score_figure, summarize_answer_score
from ebt_core.answer.data import get_task

from .conftest import QUIET_GRADIO, TINY, checkpoints_env

pytestmark = [QUIET_GRADIO]  # gradio's own queue trips pandas deprecation warnings
SUM, SUDOKU = get_task("sum"), get_task("sudoku")
PUZZLE = "1...2..1......2.="  # 12 blanks, 4 solutions
SOLUTION = "1342243132144123"
CHROMIUM = "/usr/bin/chromium"


def tiny_answer(task: str, seed: int = 0, **overrides) -> ebt.AnswerEBT:
    torch.manual_seed(seed)
    config = ebt.AnswerModelConfig(task=task, n_layer=2, n_head=2, d_model=32, step_size=5.0,
                                   **overrides)  # fmt: skip
    model = ebt.AnswerEBT(config).eval()
    with torch.no_grad():  # a livelier energy than the N(0, 0.02²) init
        model.energy_head.weight.normal_(0, 0.5)
    return model


def answer_checkpoints(root: Path) -> None:
    """Tiny arith-ebt, and the tiny answer checkpoints (`tiny_answer_checkpoints`)."""
    torch.manual_seed(0)
    ebt.save(ebt.TextEBT(ebt.TextModelConfig(**TINY)), root / "arith-ebt",
             think=ebt.ThinkConfig(steps=4))  # fmt: skip
    tiny_answer_checkpoints(root)


def tiny_answer_checkpoints(root: Path) -> None:
    """Tiny sum-ebt (with its Transformer++ sum-transformer) and sudoku-ebt (no baseline: the
    view says so), 3 descent steps by default."""
    think = ebt.ThinkConfig(steps=3)
    ebt.save(tiny_answer("sum"), root / "sum-ebt", think=think)
    ebt.save(tiny_answer("sudoku", seed=1), root / "sudoku-ebt", think=think)
    small = {k: v for k, v in TINY.items() if k != "step_size"}
    config = ebt.TextModelConfig(**{**small, "vocab": SUM.vocab, "kind": "transformer"})
    ebt.save(ebt.Transformer(config), root / "sum-transformer")


@contextmanager
def served_answer_app(root: Path):
    """The app on tiny answer checkpoints under `root`, served in-process: (Client, Explorer)."""
    from gradio_client import Client

    from app.inputs import MAX_UPLOAD_BYTES
    from app.main import create_explorer

    answer_checkpoints(root)
    with checkpoints_env(root):  # the app scans the folder when it is created
        explorer = create_explorer()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    explorer.demo.launch(prevent_thread_lock=True, server_port=port, quiet=True,
                         max_file_size=MAX_UPLOAD_BYTES)  # fmt: skip
    try:
        yield Client(explorer.demo.local_url, verbose=False), explorer
    finally:
        explorer.demo.close()


@pytest.fixture(scope="module")
def answer_app(tmp_path_factory):
    pytest.importorskip("gradio_client")
    with served_answer_app(tmp_path_factory.mktemp("answer-checkpoints")) as served:
        yield served


def think_args(prompt: str, checkpoint: str, **change) -> dict:
    from app.payloads import request

    return request("/think", prompt=prompt, checkpoint=checkpoint, **change)


# ---- views of a run (no server) -------------------------------------------------------------
@pytest.fixture(scope="module")
def sum_run():
    model = tiny_answer("sum")
    return ebt.think(model, "4857+5168=", ebt.ThinkConfig(steps=3, samples=6, seed=1))


@pytest.fixture(scope="module")
def sudoku_run():
    model = tiny_answer("sudoku", seed=1)
    return ebt.think(model, PUZZLE, ebt.ThinkConfig(steps=3, samples=6, seed=1))


def test_the_whole_answer_table_groups_every_candidate_once(sum_run):
    table = answers.answer_table(sum_run, SUM)
    assert table["headers"] == answers.ANSWER_HEADERS
    rows, tok = table["data"], sum_run.tokens[0]
    assert sum(r[3] for r in rows) == tok.samples  # every candidate in exactly one row
    assert len({r[1] for r in rows}) == len(rows)  # distinct answers
    assert [r[2] for r in rows] == sorted(r[2] for r in rows)  # lowest energy first
    assert rows[0][2] == round(float(tok.energies[:, -1].min()), 4)
    chosen = [r for r in rows if r[5] == "✓"]
    assert len(chosen) == 1 and chosen[0][1] == answers.show_answer(SUM, sum_run.text)
    for row in rows:  # the correct column is the task's verdict
        assert (row[4] == "✓") == SUM.is_correct(sum_run.prompt, row[1].replace("(empty)", ""))
    final = [answers.candidate_answer(sum_run, SUM, i) for i in range(tok.samples)]
    assert final[tok.chosen] == sum_run.text  # the record reads like ebt.think


def test_the_answer_view_follows_the_step_and_marks_the_selected_position(sum_run):
    tok = sum_run.tokens[0]
    for step in range(tok.steps_used + 1):
        fig = answers.answer_grid(sum_run, SUM, step, selected=2)
        read = answers.candidate_answer(sum_run, SUM, tok.chosen, step)
        assert fig.layout.title.text.startswith(f"Answer at step {step}: {read!r}")
        top = [a.text for a in fig.layout.annotations if a.y == 0]
        assert len(top) == len(sum_run.tokens)
        assert [s.x0 for s in fig.layout.shapes] == [1.5]  # the outline of position 2
    summary = answers.summarize_answer_step(sum_run, SUM, 2, 1)
    assert summary.startswith("At step 1 of 3") and "4857+5168 = 10025" in summary


def test_the_sudoku_grid_has_16_cells_its_givens_and_2x2_boxes(sudoku_run):
    fig = answers.answer_grid(sudoku_run, SUDOKU, 3, selected=5)
    notes = [a.text for a in fig.layout.annotations]
    assert len(notes) == 16 and sum("given" in n for n in notes) == 16 - PUZZLE.count(".")
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert sorted({s.x0 for s in lines if s.x0 == s.x1}) == [-0.5, 1.5, 3.5]  # box edges
    grey = [s for s in fig.layout.shapes if s.fillcolor == answers.GIVEN_COLOR]
    assert len(grey) == 16 - PUZZLE.count(".")
    assert fig.layout.yaxis.scaleanchor == "x"  # square cells


def test_clashes_and_verdicts_follow_the_sudoku_rules():
    puzzle = PUZZLE[:16]
    assert answers.sudoku_conflicts(puzzle, SOLUTION) == set()
    changed = "2" + SOLUTION[1:]  # changes the given 1 (and clashes in its row, col, box)
    assert 0 in answers.sudoku_conflicts(puzzle, changed)
    assert answers.verdict(SUDOKU, PUZZLE, SOLUTION) == (True, "a valid grid keeping the givens")
    assert answers.verdict(SUDOKU, PUZZLE, changed)[0] is False
    other = next(g for g in SUDOKU.targets(PUZZLE) if g != SOLUTION)  # several solutions
    assert answers.verdict(SUDOKU, PUZZLE, other)[0]
    assert answers.verdict(SUM, "4857+5168=", "10025") == (True, "4857+5168 = 10025")
    assert answers.verdict(SUM, "4857+5168=", "9025")[0] is False


def test_scoring_a_whole_answer_explains_the_energy():
    model = tiny_answer("sum")
    result = ebt.score(model, "4857+5168=", "10025", ebt.ThinkConfig(steps=2, samples=3))
    text = summarize_answer_score(result, SUM)
    assert f"**{result.total_energy:.3f}**" in text and "**right**" in text
    assert "What the number means" in text and "of the model's own 3 candidate(s)" in text
    fig = answer_score_figure(result)
    assert fig.data[1].x[0] == pytest.approx(result.total_energy)  # yours, beside the model's
    assert len(fig.data[0].x) == 3 and list(fig.data[2].y) == pytest.approx(result.energies)


def test_the_exported_page_of_an_answer_run_has_a_grid_per_step(sudoku_run):
    page = export.run_html(sudoku_run, None, task=SUDOKU)
    data = json.loads(re.search(r"const DATA = (\{.*?\}), SCAPE", page, re.S).group(1))
    assert len(data["answer"]) == sudoku_run.tokens[0].steps_used + 1
    assert data["answer"][0]["layout"]["title"]["text"].startswith("Grid at step 0")
    assert data["tokens"][0]["table"] == answers.answer_table(sudoku_run, SUDOKU)["data"]
    assert "ebt-answer-strip" in page and "Energy landscape" not in page
    tags = re.findall(r"<(?:script|link)\b[^>]*>", page)
    assert not [t for t in tags if "src=" in t or "href=" in t]  # nothing fetched


# ---- the app, served ------------------------------------------------------------------------


@pytest.mark.slow
def test_think_api_answers_a_sum_and_a_sudoku(answer_app):
    c, app = answer_app
    for prompt, name in (("4857+5168=", "sum-ebt"), (PUZZLE, "sudoku-ebt")):
        args = think_args(prompt, name, steps=3, samples=4, seed=2, max_new_tokens=2)
        result = c.predict(**args, api_name="/think")
        (text, strip, summary), (table, token_md) = result[:3], result[8:10]
        model = app.registry.get(name)
        direct = ebt.think(model, prompt, ebt.ThinkConfig(steps=3, samples=4, seed=2))
        assert text == direct.text  # seeded, no hidden state; max_new_tokens is not used
        assert "ebt-answer-strip" in strip and repr(text) in summary
        assert table["headers"] == answers.ANSWER_HEADERS
        assert sum(row[3] for row in table["data"]) == 4
        assert "Transformer++" in token_md or "No Transformer++" in token_md
    token_md = app.think.think(*think_args("12+35=", "sum-ebt").values())[9]
    assert "**Transformer++** (`sum-transformer`), left to right:" in token_md


@pytest.mark.slow
@pytest.mark.parametrize(
    "change, message",
    [
        ({"prompt": "12*3="}, "prompt must look like 'a\\+b='"),
        ({"prompt": "123456+1="}, "prompt must look like"),
        ({"checkpoint": "sudoku-ebt", "prompt": "11..............="}, "givens repeat"),
        ({"steps": 65}, "steps must be an integer between 1 and 64"),
    ],
)
def test_bad_answer_requests_are_named(answer_app, change, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=message):
        answer_app[0].predict(**{**think_args("12+35=", "sum-ebt"), **change}, api_name="/think")


@pytest.mark.slow
def test_score_api_gives_the_whole_answers_energy(answer_app):
    c, app = answer_app
    plot, summary = c.predict("4857+5168=", "10025", "sum-ebt", 3, api_name="/score")
    expected = ebt.score(app.registry.get("sum-ebt"), "4857+5168=", "10025").total_energy
    assert f"whole-answer energy is **{expected:.3f}**" in summary and "3 candidate(s)" in summary
    plot, summary = c.predict(PUZZLE, SOLUTION, "sudoku-ebt", api_name="/score")
    assert "**right** (a valid grid keeping the givens)" in summary and plot is not None
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="answer contains"):
        c.predict("4857+5168=", "10a25", "sum-ebt", api_name="/score")


@pytest.mark.slow
def test_the_examples_run_with_their_own_settings(answer_app):
    tab = answer_app[1].think
    assert [e["prompt"] for e in tab.examples][-2:] == ["5617+7490=", PUZZLE]
    outputs = tab.think_example(PUZZLE, "sudoku-ebt", 16)
    settings, views = outputs[:8], outputs[8:]
    assert settings[3] == 16 and settings[0] == 3  # the example's 16 samples, default steps
    assert len(views) == 11 and views[8]["headers"] == answers.ANSWER_HEADERS
    assert views[3].choices[5][0].startswith("5: row 2, col 2")
    assert views[6].layout.title.text.startswith("Grid at step 3")
    assert "No Transformer++ baseline" in views[9]  # no sudoku-transformer here


@pytest.mark.slow
def test_scrubbing_and_play_move_the_whole_answer(answer_app):
    tab = answer_app[1].think
    run_dict = tab.think(*think_args("4857+5168=", "sum-ebt", steps=4, samples=2).values())[-1]
    energy, grid, summary = tab.show_step(run_dict, 3, 2)
    assert grid.layout.title.text.startswith("Answer at step 2") and "At step 2 of 4" in summary
    assert energy.layout.title.text.startswith("Whole answer: 2 candidate(s)")
    timer, frame, step, *views = tab.play(run_dict, 0, 4)
    assert timer.active and step == 0 and views[1].layout.title.text.startswith("Answer at step 0")
    timer, frame, step, *views = tab.tick(run_dict, 0, 7)
    assert step == 2 and views[1].layout.title.text.startswith("Answer at step 2")
    step, *views = tab.step_once(run_dict, 0, 4)
    assert step == 0  # wraps around
    _, slider, *_, table, token_md = tab.select_token(run_dict, 5)
    assert slider.value == 4 and table["headers"] == answers.ANSWER_HEADERS


@pytest.mark.slow
def test_a_permalink_reproduces_an_answer_run(answer_app):
    c, app = answer_app
    args = think_args(PUZZLE, "sudoku-ebt", steps=3, samples=3, seed=4, max_new_tokens=16)
    api = c.predict(**args, api_name="/think")
    query = dict(parse_qsl(permalink.query("think", {**args, "token": 6, "step": 1})))
    out = app.think.on_load(SimpleNamespace(query_params=query))
    widgets, views, notice = out[:11], out[11:-1], out[-1]
    assert widgets[:2] == (PUZZLE, "sudoku-ebt") and notice == ""
    assert views[0] == api[0] and views[3].value == 6 and views[4].value == 1
    assert views[6].layout.title.text.startswith("Grid at step 1")
    bad = {"tab": "think", "checkpoint": "sum-ebt", "prompt": "1+2+3=", "token": "9"}
    out = app.think.on_load(SimpleNamespace(query_params=bad))
    assert "prompt must look like 'a+b='" in out[-1] and "token must be below 7" in out[-1]
    assert out[0] == "5617+7490=" and out[11]  # the sum example's prompt, thought


@pytest.mark.slow
def test_the_answer_presets_apply_like_links(answer_app):
    app = answer_app[1]
    presets = guide.available("answers", app.registry.thinkers)
    assert [p.values["checkpoint"] for p in presets] == ["sum-ebt", "sum-ebt", "sudoku-ebt"]
    for number, preset in enumerate(presets, 6):
        out = app.think.link_outputs(dict(preset.values), intro=guide.intro(number, preset))
        assert out[-1].startswith(f"**Try this {number}") and "cannot use" not in out[-1]
        assert out[0] == preset.values["prompt"] and out[11]
        assert out[6] == preset.values.get("samples", 1)  # samples, as the preset says


@pytest.mark.slow
def test_exports_of_an_answer_run(answer_app):
    c, app = answer_app
    args = think_args(PUZZLE, "sudoku-ebt", steps=2, samples=2)
    run = ebt.ThinkRun.from_dict(json.loads(Path(c.predict(**args, api_name="/export_json"))
                                            .read_text()))  # fmt: skip
    assert run.checkpoint == "sudoku-ebt" and len(run.tokens) == 16
    page = Path(c.predict(**args, api_name="/export_html")).read_text(encoding="utf-8")
    assert "Grid at step" in page and "ebt-answer-strip" in page
    gif = Path(c.predict(**args, token=3, api_name="/export_gif"))
    assert gif.read_bytes()[:3] == b"GIF"
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser check: need {CHROMIUM}")
        return
    from export_check import check_offline  # scripts/

    path = Path(c.predict(**args, api_name="/export_html"))
    shown = check_offline(path)
    assert shown["charts"] >= 3 and shown["requests"] == []
    assert shown["label_before"] == "step 2 of 2" and shown["label_after"] == "step 0 of 2"


def test_the_registry_offers_answer_ebts_to_the_think_tab(tmp_path):
    from app.runtime import Registry

    answer_checkpoints(tmp_path)
    with checkpoints_env(tmp_path):
        registry = Registry.scan()
    assert registry.answer_ebts == ["sudoku-ebt", "sum-ebt"] and registry.text_ebts == ["arith-ebt"]
    assert registry.thinkers == ["arith-ebt", "sudoku-ebt", "sum-ebt"]
    assert registry.think_defaults("sum-ebt").steps == 3 and registry.loaded == []
    assert (
        registry.answer_task("sum-ebt").name == "sum" and registry.answer_task("arith-ebt") is None
    )
    assert (
        registry.baseline("sum-ebt") == "sum-transformer"
        and registry.baseline("sudoku-ebt") is None
    )
    with pytest.raises(ValueError, match="checkpoint must be one of"):
        registry.thinker("image-ebt")
    assert isinstance(registry.thinker("sudoku-ebt"), ebt.AnswerEBT)


@pytest.mark.slow
def test_the_landscape_tab_slices_a_whole_answer(answer_app):
    """/landscape and the Think tab's run → Landscape: the whole-answer energy's slice."""
    c, app = answer_app
    args = dict(prompt=PUZZLE, checkpoint="sudoku-ebt", token=5, resolution=7, method="pca",
                steps=3, samples=3, seed=1)  # fmt: skip
    contour, *_rest = c.predict(**args, api_name="/landscape")
    assert contour is not None
    model = app.registry.get("sudoku-ebt")
    run = ebt.think(model, PUZZLE, ebt.ThinkConfig(steps=3, samples=3, seed=1))
    shown = app.landscape.show(run.to_dict(), 5, 7, "pca", 1, "pca")
    assert shown[-1]["token"] == 5 and len(shown) == 8
    with pytest.raises(Exception, match="token must be an integer between 0 and 15"):
        c.predict(**{**args, "token": 16}, api_name="/landscape")
    with pytest.raises(Exception, match="prompt"):
        c.predict(**{**args, "prompt": "12+3="}, api_name="/landscape")

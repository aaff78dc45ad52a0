"""The page in a real Chromium: every tab runs, the animation scrubs, an upload denoises, no
page or console error. Needs Debian's chromium (`.ci/run` installs it) and Python playwright."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from browser_tour import (  # scripts/ (pyproject: pytest pythonpath)
    CHROMIUM,
    playground_tour,
    tour,
)
from PIL import Image


@pytest.mark.slow
def test_every_tab_works_in_a_real_browser(client, tmp_path):
    if not Path(CHROMIUM).exists() or not _has_playwright():
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test: need {CHROMIUM} and playwright")
        pytest.skip(f"needs {CHROMIUM} and the playwright package")
    _, app = client
    image = tmp_path / "upload.png"
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 48, dtype=np.float32)
    pixels = np.stack([np.add.outer(ramp[:40], ramp) / 2] * 3, axis=-1)
    pixels += rng.normal(0, 4, pixels.shape)
    Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(image)
    shots = Path(os.environ.get("EBT_SCREENSHOTS", tmp_path / "shots"))
    report = tour(app.demo.local_url, shots, image)
    assert report["think"]["continuation"]
    assert "step 0 of" in report["think"]["scrubbed"]
    for name in ("think", "landscape", "denoise", "points-landscape"):
        assert (shots / f"{name}.png").stat().st_size > 10_000
    assert report["points"]["clicked"]  # a click on the point landscape started a descent there


def _has_playwright() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_lesson_at_desktop_and_phone_size(client, tmp_path, viewport):
    """Issue 16 in Chromium at 1400×900 and 390×844 (scripts/lesson_tour.py): examples above
    the fold run and scroll into view, Play grows the curve for seconds, Score uses the Think
    tab's N, no UMAP without umap-learn, errors clear and mark Think and Denoise outputs, the
    title's font, no sideways scrolling, charts drawn at load; zero page errors."""
    if not Path(CHROMIUM).exists() or not _has_playwright():
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test: need {CHROMIUM} and playwright")
        pytest.skip(f"needs {CHROMIUM} and the playwright package")
    from lesson_tour import visit

    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tiny)
    shots = Path(os.environ.get("EBT_SCREENSHOTS", tmp_path / "shots"))
    report = visit(client[1].demo.local_url, shots, tiny, viewport, "487+396=")
    assert report["after"] and report["play_s"] >= 2.5 and report["stale_marked"]
    assert (shots / f"lesson-{viewport}-error.png").stat().st_size > 10_000


@pytest.mark.slow
def test_the_playground_trains_a_fork_model_within_90_s(client, tmp_path):
    """Issue 13: Train with the default recipe in Chromium; the model meets the fork criteria
    on fresh contexts (≥ 80 % of 32 candidates within 0.06 of a mode, each mode ≥ 20 %, the
    chosen one within 0.06) within 90 s on the 2-core machine; three live screenshots of the
    probe landscape; thinking with it and a click on its landscape start descents."""
    if not Path(CHROMIUM).exists() or not _has_playwright():
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test: need {CHROMIUM} and playwright")
        pytest.skip(f"needs {CHROMIUM} and the playwright package")
    shots = Path(os.environ.get("EBT_SCREENSHOTS", tmp_path / "shots"))
    report = playground_tour(client[1].demo.local_url, shots)["playground"]
    print("playground:", report)  # the timing and the numbers, for the closing note
    assert report["train_s"] <= 90, report
    assert report["near"] >= 0.8 and min(report["mode_shares"]) >= 0.2, report
    assert report["chosen_distance"] <= 0.06 and report["passed"], report
    first, middle, last = report["screenshots_at"]  # the iterations the screenshots show
    assert first < middle < last, report
    for i in (1, 2, 3):
        assert (shots / f"playground-{i}.png").stat().st_size > 5_000
    assert report["clicked"]


@pytest.mark.slow
def test_a_permalink_opens_the_same_run_as_the_api(client):
    """A link built from a /think request shows the API's continuation; Copy link gives a link
    that does too; a bad value (steps=999) is named on the page, which still thinks."""
    if not Path(CHROMIUM).exists() or not _has_playwright():
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test: need {CHROMIUM} and playwright")
        pytest.skip(f"needs {CHROMIUM} and the playwright package")
    from lesson_tour import links

    from app import permalink
    from app.payloads import request

    think = request("/think", steps=3, samples=3, seed=5, max_new_tokens=3)
    expected = client[0].predict(**think, api_name="/think")[0]
    query = permalink.query("think", {**think, "token": 1, "step": 1})
    report = links(client[1].demo.local_url.rstrip("/") + "/", query, expected)
    assert "tab=think" in report["copied"] and "seed=5" in report["copied"]
    assert report["bad_link_named"]


@pytest.fixture(scope="module")
def answer_app(tmp_path_factory):
    """The app on tiny answer checkpoints (tests/test_app_answer.py), served in-process."""
    from .test_app_answer import served_answer_app

    with served_answer_app(tmp_path_factory.mktemp("answer-checkpoints")) as served:
        yield served


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*no_silent_downcasting", "ignore:The copy keyword")
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_sum_and_sudoku_examples_at_desktop_and_phone_size(answer_app, tmp_path, viewport):
    """Issue 14 in Chromium (scripts/answer_tour.py): the sum example shows its answer row and
    the whole-answer table, and the row follows the Step slider; the Sudoku example shows a 4×4
    grid with its givens marked, Play moves it through the steps, Score explains a whole
    answer's energy; no sideways scrolling, zero page errors."""
    if not Path(CHROMIUM).exists() or not _has_playwright():
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test: need {CHROMIUM} and playwright")
        pytest.skip(f"needs {CHROMIUM} and the playwright package")
    from answer_tour import visit

    shots = Path(os.environ.get("EBT_SCREENSHOTS", tmp_path / "shots"))
    report = visit(answer_app[1].demo.local_url, shots, viewport)
    assert report["sum_step1"].startswith("Answer at step 1:")
    assert report["givens"] == 4 and "chosen" in report["headers"]
    assert report["played_to"].startswith("Grid at step 3")  # the tiny models' 3 steps
    for name in ("sum", "sudoku"):
        assert (shots / f"answer-{name}-{viewport}.png").stat().st_size > 10_000

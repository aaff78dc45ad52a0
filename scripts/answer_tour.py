"""The Think tab's whole-answer examples in a real Chromium (Playwright), at a desktop and a phone
viewport: the sum and the Sudoku example each run, the answer view follows the scrubbed step,
the best-of-N table lists whole answers, and Score explains a whole answer's energy; any page or
console error fails the visit.

    python scripts/answer_tour.py     # on the shipped checkpoints: assets/screenshots/
                                      # answer-{sum,sudoku}-{desktop,phone}.png

tests/test_browser.py runs `visit` on tiny checkpoints.
"""

from __future__ import annotations

import json
from pathlib import Path

from browser_tour import _slider, _wait_idle, browser_page
from lesson_tour import VIEWPORTS

SUM_EXAMPLE = "5617+7490="
SUDOKU_EXAMPLE = "1...2..1......2.="
# the answer view: the plot whose title starts with `prefix` → its title and annotations
ANSWER_PLOT = """prefix => {
    const plot = [...document.querySelectorAll('.js-plotly-plot')].find(
        p => p.offsetParent !== null && p.layout && p.layout.title &&
             (p.layout.title.text || '').startsWith(prefix));
    if (!plot) return null;
    return {title: plot.layout.title.text,
            notes: (plot.layout.annotations || []).map(a => a.text)};
}"""
TABLE_HEADERS = """() => [...document.querySelectorAll('.ebt-table th')]
    .map(h => h.innerText.trim()).filter(t => t)"""


def _answer_plot(page, prefix: str, timeout: float = 60.0) -> dict:
    page.wait_for_function(ANSWER_PLOT, arg=prefix, timeout=timeout * 1000)
    return page.evaluate(ANSWER_PLOT, prefix)


def _example(page, prompt: str) -> str:
    page.get_by_role("gridcell", name=prompt, exact=True).click()
    page.wait_for_timeout(500)
    _wait_idle(page)
    page.wait_for_timeout(800)  # the smooth scroll to the result
    assert page.get_by_label("Prompt", exact=True).input_value() == prompt
    return page.get_by_label("Continuation", exact=True).input_value()


def _table(page) -> dict:
    headers = page.evaluate(TABLE_HEADERS)
    assert "lowest final energy" in headers and "correct" in headers, headers
    return {"headers": headers}


def _shot(page, prefix: str, path: Path) -> None:
    """A viewport screenshot with the answer view in the middle of the screen."""
    page.evaluate(
        """prefix => [...document.querySelectorAll('.js-plotly-plot')].find(p => p.layout &&
            (p.layout.title.text || '').startsWith(prefix)).scrollIntoView({block: 'center'})""",
        prefix,
    )
    page.wait_for_timeout(400)
    page.screenshot(path=str(path))


def sum_example(page, shots: Path, viewport: str) -> dict:
    """The sum example: answer row, whole-answer table; scrubbing to step 1 changes the row."""
    text = _example(page, SUM_EXAMPLE)  # may be "" on an untrained model (a terminator first)
    final = _answer_plot(page, "Answer at step")
    report = {"sum": text, "sum_final": final["title"], **_table(page)}
    _slider(page, "Step", 1)
    _wait_idle(page)
    report["sum_step1"] = _answer_plot(page, "Answer at step 1:")["title"]
    _shot(page, "Answer at step", shots / f"answer-sum-{viewport}.png")  # thinking under way
    return report


def sudoku_example(page, shots: Path, viewport: str) -> dict:
    """The Sudoku example: a 4×4 grid (16 cells, the givens marked), the whole-answer table,
    Play moves the grid through the steps; Score says what a whole answer's energy means."""
    text = _example(page, SUDOKU_EXAMPLE)
    grid = _answer_plot(page, "Grid at step")
    assert len(grid["notes"]) == 16, grid
    givens = sum("given" in n for n in grid["notes"])
    assert givens == 16 - SUDOKU_EXAMPLE.count("."), grid["notes"]
    report = {"sudoku": text, "givens": givens, **_table(page)}
    _shot(page, "Grid at step", shots / f"answer-sudoku-{viewport}.png")
    page.get_by_role("button", name="▶ Play").click()
    _answer_plot(page, "Grid at step 0", timeout=10)  # Play starts over from step 0
    report["played_to"] = _answer_plot(page, grid["title"], timeout=30)["title"]  # to the end
    page.get_by_label("Your answer (continues the prompt)", exact=True).fill("1342243132144123")
    page.get_by_role("button", name="Score", exact=True).click()
    _wait_idle(page)
    meaning = page.get_by_text("What the number means").first
    meaning.wait_for(timeout=30_000)
    assert "whole-answer energy is" in page.get_by_text("whole-answer energy is").first.inner_text()
    return report


def visit(url: str, shots: Path, viewport: str) -> dict:
    """Both examples at one viewport; raises PageErrors on any page or console error."""
    shots.mkdir(parents=True, exist_ok=True)
    width, height = VIEWPORTS[viewport]
    with browser_page(width, height) as page:
        page.goto(url)
        page.wait_for_selector("#think-examples", timeout=60_000)
        _wait_idle(page)
        report = {"viewport": viewport, **sum_example(page, shots, viewport)}
        report |= sudoku_example(page, shots, viewport)
        width_now = page.evaluate("() => document.documentElement.scrollWidth")
        assert width_now <= width, f"the page scrolls sideways ({width_now} px)"
    return report


def main() -> None:
    from app_server import ROOT, running_app

    with running_app(output=None) as (_, url, _served):
        reports = [visit(url, ROOT / "assets/screenshots", v) for v in VIEWPORTS]
    print(json.dumps(reports, ensure_ascii=False))


if __name__ == "__main__":
    main()

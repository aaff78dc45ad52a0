"""Issue 16's checks in a real Chromium, at a desktop and a phone viewport: what a teacher's
class would do first (an example, Play, Score, a typo), with zero page errors.

    from lesson_tour import VIEWPORTS, visit
    report = visit(url, shots, image, tiny_png, "desktop")

Each step asserts what the issue asked for; the report carries the numbers (seconds to the first
charts, Play's duration and how the curve grew) and screenshots go to `shots`.
"""

from __future__ import annotations

import time
from pathlib import Path

from browser_tour import PLOT, _plots, _slider, _wait_idle, browser_page

VIEWPORTS = {"desktop": (1400, 900), "phone": (390, 844)}
CHOSEN_POINTS = """() => {
    const plot = [...document.querySelectorAll('.js-plotly-plot')].find(
        p => p.offsetParent !== null && p.data && p.layout.title &&
             p.layout.title.text.includes('red = chosen'));
    return plot ? plot.data[plot.data.length - 1].x.length : -1;
}"""


def _open_tab(page, name: str) -> None:
    """Select a top-level tab, through the "More tabs" menu where a phone hides it."""
    tab = page.get_by_role("tab", name=name, exact=True).first
    if not tab.is_visible():
        page.get_by_role("button", name="More tabs").first.click()
        page.wait_for_timeout(300)
        tab = page.locator(".overflow-dropdown button, .overflow-item-selected button").filter(
            has_text=name
        )
        tab = tab.first if tab.count() else page.get_by_role("button", name=name, exact=True).last
    tab.click()
    page.wait_for_timeout(300)


def _box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


def first_page(page, url: str) -> dict:
    """Charts drawn at page load; the title's font draws "EBT"; no sideways scrolling."""
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{PLOT}')].filter(p => p.offsetParent !== null"
        " && p.querySelector('.main-svg')).length >= 2",
        timeout=60_000,
    )
    charts_s = time.perf_counter() - start
    font = page.evaluate("() => getComputedStyle(document.querySelector('h1')).fontFamily")
    assert "Source Sans" not in font, f"the title still uses the font that draws EʙT: {font}"
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page scrolls sideways ({width} px)"
    return {"charts_s": round(charts_s, 2), "font": font.split(",")[0]}


def example_click(page, example: str) -> dict:
    """The examples sit above the fold; a click thinks the example and shows its result."""
    height = page.viewport_size["height"]
    assert _box(page, "#think-examples")["y"] < height, "the examples are below the fold"
    before = page.get_by_label("Continuation", exact=True).input_value()
    page.get_by_role("gridcell", name=example, exact=True).click()
    page.wait_for_timeout(500)
    _wait_idle(page)
    page.wait_for_timeout(800)  # the smooth scroll
    text = page.get_by_label("Continuation", exact=True).input_value()
    assert page.get_by_label("Prompt", exact=True).input_value() == example
    top = _box(page, "#think-result")["y"]
    assert -5 <= top < height / 2, f"the result is not brought into view (top at {top})"
    return {"before": before, "after": text}


def play(page) -> dict:
    """Play grows the chosen candidate's curve point by point over at least 2.5 s, from one
    point back to the full curve (as many points as before Play)."""
    full = page.evaluate(CHOSEN_POINTS)
    page.get_by_role("button", name="▶ Play").click()
    start, lengths = time.perf_counter(), [full]
    while time.perf_counter() - start < 40:
        page.wait_for_timeout(100)
        lengths.append(page.evaluate(CHOSEN_POINTS))
        if min(lengths) < full and lengths[-1] == full:
            break
    seconds = time.perf_counter() - start  # until the curve is whole again
    grew = sorted(set(lengths))
    assert len(grew) >= 3 and min(lengths) < lengths[-1] == full, f"no growth: {lengths}"
    assert seconds >= 2.5, f"Play lasted only {seconds:.1f} s"
    _wait_idle(page)
    return {"play_s": round(seconds, 1), "points_seen": grew}


def score(page, samples: int) -> dict:
    """Score compares with the Think tab's N and says what the character rank means."""
    _slider(page, "Samples N (best-of-N)", samples)
    page.get_by_label("Your answer (continues the prompt)", exact=True).fill("47")
    page.get_by_role("button", name="Score", exact=True).click()
    _wait_idle(page)
    summary = page.get_by_text("character rank").first.inner_text()
    assert f"of the model's {samples} candidate(s) lower" in summary, summary
    assert page.get_by_text("exact one-hot candidate").count(), "the rank is not explained"
    return {"score": summary[:60]}


def bad_prompt(page) -> dict:
    """A typo outside the vocabulary: an error, and the old continuation is cleared and marked."""
    page.get_by_label("Prompt", exact=True).fill("12*3=")
    page.get_by_role("button", name="Think", exact=True).click()
    page.wait_for_selector(".ebt-stale", timeout=30_000)
    _wait_idle(page)
    assert page.get_by_label("Continuation", exact=True).input_value() == ""
    assert page.locator(".toast-body, .toast-wrap").count(), "no error message shown"
    return {"stale_marked": True}


def landscape_projection(page) -> dict:
    """No UMAP option where umap-learn is missing (it would fail and stay selected)."""
    from app.landscape_tab import HAS_UMAP

    _open_tab(page, "Landscape")
    offered = page.get_by_text("UMAP (optional package)").count() > 0
    assert offered == HAS_UMAP, f"UMAP offered: {offered}, installed: {HAS_UMAP}"
    _open_tab(page, "Think")
    return {"umap_offered": offered}


def denoise_error(page, tiny_png: Path) -> dict:
    """A photo too small to denoise: an error, and both sides cleared and marked."""
    _open_tab(page, "Denoise")
    page.wait_for_timeout(500)
    page.locator("input[type=file][accept^=image]").first.set_input_files(str(tiny_png))
    page.wait_for_timeout(1000)
    page.get_by_role("button", name="Denoise", exact=True).click()
    page.get_by_text("Denoising failed").first.wait_for(timeout=30_000)
    _wait_idle(page)
    shown = page.evaluate(
        "() => [...document.querySelectorAll('img')].filter(i => i.naturalWidth > 0 && "
        "i.offsetParent !== null && !i.closest('[data-testid=image]')).length"
    )
    _open_tab(page, "Think")
    return {"denoise_error_marked": True, "images_left": shown}


def visit(url: str, shots: Path, tiny_png: Path, viewport: str, example: str) -> dict:
    """Every check above at one viewport; raises PageErrors on any page or console error."""
    shots.mkdir(parents=True, exist_ok=True)
    width, height = VIEWPORTS[viewport]
    with browser_page(width, height) as page:
        report = {"viewport": viewport, **first_page(page, url)}
        report |= example_click(page, example)
        page.screenshot(path=str(shots / f"lesson-{viewport}-example.png"))
        report |= play(page)
        report |= score(page, 3)
        report |= landscape_projection(page)
        report |= preset(page)
        report |= bad_prompt(page)
        page.screenshot(path=str(shots / f"lesson-{viewport}-error.png"), full_page=True)
        report |= denoise_error(page, tiny_png)
        report["plots_visible"] = _plots(page)
    return report


def links(url: str, query: str, expected: str) -> dict:
    """A permalink opens the same run as the API (`expected`); Copy link gives it back; a bad
    value is named on the page, which still thinks. Raises PageErrors on any page error."""
    with browser_page(1400, 900, console=False) as page:
        report = _open_link(page, f"{url}?{query}", expected)
        report |= _bad_link(page, f"{url}?tab=think&prompt=12%2B35%3D&steps=999")
        report |= _denoise_link(page, f"{url}?tab=denoise&image=denoise-china.png&noise=0.2")
    return report


def _open_link(page, link: str, expected: str) -> dict:
    page.goto(link)
    page.wait_for_function(
        "e => [...document.querySelectorAll('textarea')].some(t => t.value === e)",
        arg=expected,
        timeout=60_000,
    )
    _wait_idle(page)
    page.get_by_role("button", name="🔗 Copy link").click()
    page.wait_for_function(
        "() => (document.querySelector('#think-link textarea, #think-link input') || {})"
        ".value?.includes('tab=think')",
        timeout=10_000,
    )
    copied = page.locator("#think-link textarea, #think-link input").first.input_value()
    page.goto(copied)  # the copied link opens the same run again
    page.wait_for_function(
        "e => [...document.querySelectorAll('textarea')].some(t => t.value === e)",
        arg=expected,
        timeout=60_000,
    )
    return {"link_continuation": expected, "copied": copied}


def _bad_link(page, link: str) -> dict:
    page.goto(link)
    notice = page.get_by_text("steps must be an integer between 1 and 64, got 999").first
    notice.wait_for(timeout=60_000)
    _wait_idle(page)
    page.get_by_role("button", name="Think", exact=True).click()  # the page still works
    _wait_idle(page)
    assert page.get_by_label("Continuation", exact=True).input_value(), "no run after a bad link"
    return {"bad_link_named": True}


def _denoise_link(page, link: str) -> dict:
    """A ?tab=denoise link opens the Denoise tab on that example; Copy link gives it back."""
    page.goto(link)
    page.wait_for_selector("#denoise-copy-link", state="visible", timeout=60_000)
    _wait_idle(page)
    page.locator("#denoise-copy-link").click()
    found = (
        "() => [...document.querySelectorAll('textarea, input')].find(t => t.value && "
        "t.value.includes('tab=denoise'))?.value"
    )
    page.wait_for_function(found, timeout=10_000)
    copied = page.evaluate(found)
    assert "image=denoise-china.png" in copied and "noise=0.2" in copied, copied
    return {"denoise_link": copied}


def preset(page) -> dict:
    """The guide's second preset sets its state, thinks it and says what to notice."""
    button = page.locator("button.ebt-preset").nth(1)
    label = button.inner_text()
    button.click()
    page.get_by_text("Try this 2").first.wait_for(timeout=60_000)
    _wait_idle(page)
    steps = page.get_by_label("number input for Steps (descent steps per character)", exact=True)
    assert steps.input_value() == "8", f"preset {label!r} did not set 8 steps"
    assert page.get_by_label("Prompt", exact=True).input_value() == "696+204="
    return {"preset": label}

"""A scripted visit of the running app in a real Chromium (Playwright), shared by
tests/test_browser.py (tiny checkpoints) and scripts/screenshots.py (the shipped checkpoints,
for README).

Every tab runs an example; the Think animation is scrubbed and played; an image is uploaded;
the visit fails on any page error or console error and saves one screenshot per tab.
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
PLOT = ".js-plotly-plot"


class PageErrors(AssertionError):
    pass


def _plots(page) -> int:
    """Plotly figures that have actually drawn something (an SVG with a plot area)."""
    return page.evaluate(
        f"""() => [...document.querySelectorAll('{PLOT}')].filter(
            p => p.offsetParent !== null && p.querySelector('.main-svg')).length"""
    )


def _wait_idle(page, timeout: float = 60.0) -> None:
    """Until no Gradio event is pending (no progress/eta overlay is shown)."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('.eta-bar, .progress-text, .wrap.pending')",
        timeout=timeout * 1000,
    )


def _tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()
    page.wait_for_timeout(300)


def _slider(page, label: str, value) -> None:
    """Set a gr.Slider through its number box, as a user typing would."""
    box = page.get_by_label(f"number input for {label}", exact=True)
    box.fill(str(value))
    box.press("Enter")


def think_tab(page, shots: Path, example: str) -> dict:
    _tab(page, "Think")
    page.get_by_role("gridcell", name=example, exact=True).click()
    page.get_by_label("number input for Samples N (best-of-N)", exact=True).fill("4")
    page.get_by_role("button", name="Think", exact=True).click()
    _wait_idle(page)
    text = page.get_by_label("Continuation", exact=True).input_value()
    assert text, "the Think tab produced no continuation"
    assert (
        page.locator(".token-chip, [data-token]").count()
        or page.get_by_text("subscript = descent steps used").count()
    ), "no token strip"
    # scrub the animation: step 0, then play to the end
    _slider(page, "Step", 0)
    _wait_idle(page)
    step_text = page.get_by_text("step 0 of").first.inner_text()
    page.get_by_role("button", name="▶ Play").click()
    page.wait_for_timeout(2500)
    _wait_idle(page)
    assert _plots(page) >= 2, "energy and top-k plots did not render"
    page.screenshot(path=str(shots / "think.png"), full_page=True)
    return {"continuation": text, "scrubbed": step_text[:80]}


def landscape_tab(page, shots: Path) -> dict:
    _tab(page, "Landscape")
    before = _plots(page)
    page.get_by_role("button", name="Show landscape").click()
    _wait_idle(page)
    page.wait_for_timeout(500)
    after = _plots(page)
    assert after >= max(2, before), f"landscape plots did not render ({after})"
    page.screenshot(path=str(shots / "landscape.png"), full_page=True)
    return {"plots": after}


def denoise_tab(page, shots: Path, image: Path) -> dict:
    _tab(page, "Denoise")
    page.locator("input[type=file][accept^=image]").first.set_input_files(str(image))
    page.wait_for_timeout(1000)
    page.get_by_role("button", name="Denoise", exact=True).click()
    _wait_idle(page, 120)
    page.wait_for_timeout(500)
    plots = _plots(page)
    assert plots >= 1, "denoise plots did not render"
    images = page.evaluate(
        "() => [...document.querySelectorAll('img')].filter(i => i.naturalWidth > 0 && "
        "i.offsetParent !== null).length"
    )
    assert images >= 2, f"expected the noisy and denoised images, saw {images}"
    page.screenshot(path=str(shots / "denoise.png"), full_page=True)
    return {"plots": plots, "images": images}


# ---- issue 13: point EBTs (the Landscape tab's exact landscape, the Playground) --------------
_CLICKED = re.compile(r"\(pixel (\d+), (\d+)\)")


def _click_picture(page, name: str, fx: float = 0.3, fy: float = 0.3) -> dict:
    """Click the `name` viewer's landscape picture at (fx, fy) of its shown size; the app
    must start a descent at the pixel under the mouse (the picture's own pixels)."""
    img = page.locator(f"#{name}-picture img").first
    img.wait_for(state="visible", timeout=60_000)
    box = img.bounding_box()
    natural = img.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    scale = min(box["width"] / natural[0], box["height"] / natural[1], 1)
    pad = ((box["width"] - natural[0] * scale) / 2, (box["height"] - natural[1] * scale) / 2)
    x, y = box["x"] + pad[0] + fx * natural[0] * scale, box["y"] + pad[1] + fy * natural[1] * scale
    page.mouse.click(x, y)
    _wait_idle(page)
    summary = page.locator(f"#{name}-summary")
    summary.get_by_text("Descent from the clicked point").wait_for(timeout=90_000)  # slow: load
    px, py = (int(v) for v in _CLICKED.search(summary.inner_text()).groups())
    expected = (fx * natural[0], fy * natural[1])
    assert abs(px - expected[0]) <= 1.5 and abs(py - expected[1]) <= 1.5, (px, py, expected)
    return {"pixel": [px, py], "expected": [round(v, 1) for v in expected]}


def points_tab(page, shots: Path) -> dict:
    """Landscape → Point EBT: the shipped points-ebt's exact landscape, Play, a click."""
    _tab(page, "Landscape")
    _tab(page, "Point EBT: exact")
    page.get_by_role("button", name="Think & show the exact landscape").click()
    _wait_idle(page)
    page.locator("#points-summary").get_by_text("True mode(s)").wait_for(timeout=30_000)
    img = page.locator("#points-picture img").first
    before = img.get_attribute("src")
    page.get_by_role("button", name="▶ Play").last.click()
    # click while it plays (the frames must not swallow the click), just after a frame has
    # been drawn rather than at the instant the picture's image is being swapped
    page.wait_for_function(
        "s => document.querySelector('#points-picture img')?.getAttribute('src') !== s",
        arg=before, timeout=30_000,
    )  # fmt: skip
    clicked = _click_picture(page, "points")
    page.wait_for_timeout(800)
    page.screenshot(path=str(shots / "points-landscape.png"), full_page=True)
    return {"clicked": clicked, "plots": _plots(page)}


def _iteration(page) -> tuple[int, int]:
    """(iteration, iterations) of the Playground's status line; (0, 0) before the first."""
    text = page.locator("#playground-status").inner_text()
    found = re.search(r"Iteration (\d+) of (\d+)", text)
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


def _probe_shot(page, shots: Path, taken: list[int], it: int) -> None:
    taken.append(it)
    page.locator("#playground-probe").screenshot(path=str(shots / f"playground-{len(taken)}.png"))


def playground_tab(page, shots: Path, timeout: float = 300.0) -> dict:
    """Playground: Train with the default recipe; three screenshots of the live landscape
    (first update, about half way, done); the check's numbers; think and click."""
    _tab(page, "Playground")
    page.get_by_role("button", name="Train", exact=True).click()
    start, taken, check = time.perf_counter(), [], page.locator("#playground-check")
    while not check.get_by_text("fresh").count():
        assert time.perf_counter() - start < timeout, "the training did not finish"
        it, iters = _iteration(page)
        if (not taken and it > 0) or (len(taken) == 1 and it >= iters / 2):
            _probe_shot(page, shots, taken, it)  # the first update; about half way
        page.wait_for_timeout(200)
    seconds = time.perf_counter() - start
    page.wait_for_timeout(500)
    while len(taken) < 3:  # done (a training stopped early may skip "half way")
        _probe_shot(page, shots, taken, _iteration(page)[0])
    text = check.inner_text()
    numbers = [float(v) for v in re.findall(r"(\d+(?:\.\d+)?)%", text)]
    chosen = float(re.search(r"lies (\d\.\d+) from a mode", text).group(1))
    page.get_by_role("button", name="Think with the trained model").click()
    _wait_idle(page)
    clicked = _click_picture(page, "playground", 0.7, 0.6)
    return {
        "train_s": round(seconds, 1), "screenshots_at": taken, "near": numbers[0] / 100,
        "mode_shares": [v / 100 for v in numbers[1:3]], "chosen_distance": chosen,
        "chosen_near": numbers[3] / 100, "passed": "✅ meets" in text, "clicked": clicked,
    }  # fmt: skip


def playground_tour(url: str, shots: Path) -> dict:
    """The Playground alone (scripts/screenshots.py --only playground, tests/test_browser.py)."""
    return _visit(url, lambda page: {"playground": playground_tab(page, shots)}, shots)


def _console(errors: list[str], msg) -> None:
    """Any console error fails the visit (refused requests included: they log none)."""
    if msg.type == "error":
        errors.append(f"console error: {msg.text}")


@contextmanager
def browser_page(width: int = 1400, height: int = 1000, console: bool = True):
    """A Chromium page that records page errors (and console errors when `console`); raises
    PageErrors after the block if any occurred."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on("pageerror", lambda err: errors.append(f"page error: {err}"))
            if console:
                page.on("console", lambda msg: _console(errors, msg))
            yield page
        finally:
            browser.close()
    if errors:
        raise PageErrors("\n".join(errors))


def _visit(url: str, steps, shots: Path) -> dict:
    """Open `url` in Chromium, run `steps(page)`; raises on any page or console error."""
    shots.mkdir(parents=True, exist_ok=True)
    with browser_page() as page:
        page.goto(url)
        page.wait_for_selector(PLOT, timeout=60_000)
        report = steps(page)
    return report


def tour(url: str, shots: Path, image: Path, example: str = "12+35=") -> dict:
    """Visit every tab of the app at `url`; screenshots go to `shots`. Raises on page errors."""
    shots.mkdir(parents=True, exist_ok=True)
    report: dict = {}
    with browser_page() as page:
        start = time.perf_counter()
        page.goto(url)
        page.wait_for_selector(PLOT, timeout=60_000)
        report["first_plot_s"] = round(time.perf_counter() - start, 2)
        report["think"] = think_tab(page, shots, example)
        report["landscape"] = landscape_tab(page, shots)
        report["points"] = points_tab(page, shots)
        report["denoise"] = denoise_tab(page, shots, image)
    return report

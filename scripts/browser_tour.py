"""A scripted visit of the running app in a real Chromium (Playwright), shared by
tests/test_browser.py (tiny checkpoints) and scripts/screenshots.py (the shipped checkpoints,
for README).

Every tab runs an example; the Think animation is scrubbed and played; an image is uploaded;
the visit fails on any page error or console error and saves one screenshot per tab.
"""

from __future__ import annotations

import time
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


def tour(url: str, shots: Path, image: Path, example: str = "12+35=") -> dict:
    """Visit every tab of the app at `url`; screenshots go to `shots`. Raises on page errors."""
    from playwright.sync_api import sync_playwright

    shots.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    report: dict = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("pageerror", lambda err: errors.append(f"page error: {err}"))
            page.on(
                "console",
                lambda msg: (
                    errors.append(f"console error: {msg.text}") if msg.type == "error" else None
                ),
            )
            start = time.perf_counter()
            page.goto(url)
            page.wait_for_selector(PLOT, timeout=60_000)
            report["first_plot_s"] = round(time.perf_counter() - start, 2)
            report["think"] = think_tab(page, shots, example)
            report["landscape"] = landscape_tab(page, shots)
            report["denoise"] = denoise_tab(page, shots, image)
        finally:
            browser.close()
    if errors:
        raise PageErrors("\n".join(errors))
    return report

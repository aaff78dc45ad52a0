"""Open an exported run page (app/export.py) from file:// in Chromium with the network off and
report what it shows: charts drawn, the step label before/after moving the slider to 0, the
chosen curve's points, the curve's growth during Play, and any non-file request."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
POINTS = "() => { const d = document.getElementById('energy').data; return d.at(-1).x.length; }"


def check_offline(path: Path) -> dict:
    from playwright.sync_api import sync_playwright

    errors, requests = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        try:
            context = browser.new_context(offline=True)
            page = context.new_page()
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.on("request", lambda r: _record(requests, r.url))
            page.goto(path.resolve().as_uri())
            page.wait_for_function(
                "() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 3",
                timeout=30_000,
            )
            charts = page.evaluate("document.querySelectorAll('.js-plotly-plot').length")
            report = {"charts": charts}
            report |= _scrub_and_play(page)
        finally:
            browser.close()
    if errors:
        raise AssertionError("page errors: " + "; ".join(errors))
    return report | {"requests": requests}


def _record(requests: list, url: str) -> None:
    if not url.startswith(("file:", "data:", "blob:")):
        requests.append(url)


def _scrub_and_play(page) -> dict:
    report = {"label_before": page.inner_text("#step-label")}
    report["points_before"] = page.evaluate(POINTS)
    page.evaluate(
        "() => { const s = document.getElementById('step'); s.value = 0;"
        " s.dispatchEvent(new Event('input')); }"
    )
    report |= {"label_after": page.inner_text("#step-label"), "points_after": page.evaluate(POINTS)}
    page.click("#play")
    seen = []
    for _ in range(30):
        seen.append(page.evaluate(POINTS))
        page.wait_for_timeout(150)
    return report | {"play_points": seen}


def open_index_offline(index: Path) -> list[str]:
    """Open a classroom site's index from file:// offline, follow each link (every page must
    load from the folder); returns the links in order."""
    from playwright.sync_api import sync_playwright

    errors, requests = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_context(offline=True).new_page()
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.on("request", lambda r: _record(requests, r.url))
            page.goto(index.resolve().as_uri())
            hrefs = "as => as.map(a => a.getAttribute('href'))"
            links = page.eval_on_selector_all("#runs a", hrefs)
            for i in range(len(links)):
                page.locator("#runs a").nth(i).click()
                page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
                page.go_back()
        finally:
            browser.close()
    if errors or requests:
        raise AssertionError(f"page errors {errors}, network requests {requests}")
    return links

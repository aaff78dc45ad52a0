"""Latency of the app's API on this machine: start the app, call each endpoint, print medians.

    python scripts/latency.py                 # 5 timed calls per endpoint after one warm-up
    python scripts/latency.py --repeats 9

Targets (issue: Gradio explorer, 2 CPU cores): start to first page ≤ 15 s, /think on an example
≤ 1.5 s, /landscape at resolution 41 ≤ 2 s, /denoise of a 256×256 image ≤ 3 s; issue 13:
/playground_think (32 candidates, 8 steps, a 41² exact landscape) ≤ 0.5 s; issue 16: start to
the first complete page (the Think tab's charts drawn, in Chromium) ≤ 5 s. Prints one JSON
line; the server runs on the shipped checkpoints with the machine's default thread count.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from app_server import running_app

from app.payloads import request

CHROMIUM = "/usr/bin/chromium"
CHARTS = (  # the Think tab's energy and top-k charts have drawn (an SVG plot area each)
    "() => [...document.querySelectorAll('.js-plotly-plot')].filter("
    "p => p.offsetParent !== null && p.querySelector('.main-svg')).length >= 2"
)


def photo_256(folder: Path) -> Path:
    """A 256×256 crop of a held-out photo (skimage's astronaut), as a PNG file."""
    from PIL import Image
    from skimage import data

    path = folder / "astronaut-256.png"
    Image.fromarray(data.astronaut()[100:356, 100:356]).save(path)
    return path


def durations(repeats: int, call, **kwargs) -> list[float]:
    """Seconds of each of `repeats` calls of `call(**kwargs)`, after a warm-up call."""
    call(**kwargs)  # warm-up: first-use costs (model load, caches) are not what a visitor waits for
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call(**kwargs)
        times.append(time.perf_counter() - start)
    return times


def timed(repeats: int, call, **kwargs) -> dict:
    """Median and max seconds of `call(**kwargs)` over `repeats` calls after a warm-up."""
    times = durations(repeats, call, **kwargs)
    return {"median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3)}


def first_complete_page(url: str, served_s: float, browser) -> dict:
    """Seconds from the app's start to its first page with charts drawn (issue 16: ≤ 5 s): the
    page is opened in Chromium as soon as it is served; done when the Think tab's energy and
    top-k charts have drawn (an SVG plot area each)."""
    charts_s = _page_to_charts(browser, url)
    return {"start_to_charts_s": round(served_s + charts_s, 2), "page_to_charts_s": {
        "first": round(charts_s, 2), "next": round(_page_to_charts(browser, url), 2)}}  # fmt: skip


def _page_to_charts(browser, url: str) -> float:
    """Seconds from opening the page in a new tab to its charts drawn."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_function(CHARTS, timeout=120_000)
    seconds = time.perf_counter() - start
    page.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per endpoint")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    from gradio_client import Client, handle_file
    from playwright.sync_api import sync_playwright

    with (
        sync_playwright() as pw,
        running_app() as (_, url, start_s),
        tempfile.TemporaryDirectory() as tmp,
    ):
        browser = pw.chromium.launch(executable_path=CHROMIUM)  # launched before the app starts
        complete_s = first_complete_page(url, start_s, browser)
        browser.close()
        client = Client(url, verbose=False)
        photo = handle_file(str(photo_256(Path(tmp))))
        calls = {  # the targets' requests: an example thought, a 41² slice, a 256² photo
            "think": request("/think", steps=2, samples=4, max_new_tokens=3),
            "landscape": request("/landscape", resolution=41, steps=2, samples=4),
            "denoise_256": request("/denoise", image=photo),
            "playground_think": request("/playground_think"),
        }
        # /playground_think thinks with the model this session trained (a few seconds)
        client.predict(**request("/playground_train"), api_name="/playground_train")
        report = {"start_to_page_s": round(start_s, 2), **complete_s}
        for name, kwargs in calls.items():
            api_name = "/" + name.removesuffix("_256")
            report[name] = timed(args.repeats, client.predict, **kwargs, api_name=api_name)
    import torch

    print(json.dumps({**report, "threads": torch.get_num_threads(), "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()

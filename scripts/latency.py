"""Latency of the app's API on this machine: start the app, call each endpoint, print medians.

    python scripts/latency.py                 # 5 timed calls per endpoint after one warm-up
    python scripts/latency.py --repeats 9
    python scripts/latency.py --page-only     # only the start and the first complete page
    python scripts/latency.py --page-only --starts 5   # medians over 5 fresh starts
    python scripts/latency.py --page-only --bare       # the floor: a bare Gradio page, 2 charts

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

from app_server import ROOT, running_app

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


def durations(repeats: int, call, **kwargs) -> tuple[float, list[float]]:
    """Seconds of a warm-up call of `call(**kwargs)`, then of each of `repeats` calls."""
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        call(**kwargs)
        times.append(time.perf_counter() - start)
    return times[0], times[1:]


def timed(repeats: int, call, **kwargs) -> dict:
    """Median and max seconds of `call(**kwargs)` over `repeats` calls after a warm-up, and the
    warm-up's (`first_s`: first-use costs such as importing torch and loading a checkpoint,
    which the first visitor of a fresh server waits for once)."""
    first, times = durations(repeats, call, **kwargs)
    return {"median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3),
            "first_s": round(first, 3)}  # fmt: skip


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


def median_page(pages: list[dict]) -> dict:
    """The median of each first-page figure over fresh starts (one start: its own figures), and
    every start's start-to-charts seconds."""

    def med(values) -> float:
        return round(statistics.median(values), 2)

    report = {
        "start_to_page_s": med([p["start_to_page_s"] for p in pages]),
        "start_to_charts_s": med([p["start_to_charts_s"] for p in pages]),
        "page_to_charts_s": {
            k: med([p["page_to_charts_s"][k] for p in pages]) for k in ("first", "next")
        },
    }
    if len(pages) > 1:
        report |= {"starts": len(pages), "start_to_charts_each_s": [
            p["start_to_charts_s"] for p in pages]}  # fmt: skip
    return report


def endpoints(url: str, repeats: int, folder: Path) -> dict:
    """Median and max seconds of each target's request against the app at `url`."""
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    photo = handle_file(str(photo_256(folder)))
    calls = {  # the targets' requests: an example thought, a 41² slice, a 256² photo
        "think": request("/think", steps=2, samples=4, max_new_tokens=3),
        "landscape": request("/landscape", resolution=41, steps=2, samples=4),
        "denoise_256": request("/denoise", image=photo),
        "playground_think": request("/playground_think"),
    }
    # /playground_think thinks with the model this session trained (a few seconds)
    client.predict(**request("/playground_train"), api_name="/playground_train")
    return {
        name: timed(repeats, client.predict, **kwargs, api_name="/" + name.removesuffix("_256"))
        for name, kwargs in calls.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per endpoint")
    parser.add_argument("--starts", type=int, default=1, help="fresh starts for the first page")
    parser.add_argument(
        "--page-only", action="store_true", help="time the start and the first page only"
    )
    parser.add_argument(
        "--bare",
        action="store_true",
        help="time scripts/bare_page.py (Gradio + two Plotly charts, nothing else) instead "
        "of the app: the floor under the first page on this machine (implies --page-only)",
    )
    args = parser.parse_args()
    args.page_only = args.page_only or args.bare
    script = Path(__file__).with_name("bare_page.py") if args.bare else ROOT / "app" / "main.py"
    if args.repeats < 1 or args.starts < 1:
        parser.error(f"--repeats and --starts must be >= 1, got {args.repeats}, {args.starts}")
    from playwright.sync_api import sync_playwright

    pages, report = [], {}
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as tmp:
        for start in range(args.starts):
            with running_app(script=script) as (_, url, start_s):
                browser = pw.chromium.launch(executable_path=CHROMIUM)  # fresh: no cached assets
                pages.append({"start_to_page_s": start_s, **first_complete_page(url, start_s,
                              browser)})  # fmt: skip
                browser.close()
                if start == args.starts - 1 and not args.page_only:
                    report = endpoints(url, args.repeats, Path(tmp))
    import torch

    threads = {"threads": torch.get_num_threads()} if report else {}
    print(json.dumps({**median_page(pages), **report, **threads, "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()

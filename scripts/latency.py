"""Latency of the app's API on this machine: start the app, call each endpoint, print medians.

    python scripts/latency.py                 # 5 timed calls per endpoint after one warm-up
    python scripts/latency.py --repeats 9

Targets (issue: Gradio explorer, 2 CPU cores): start to first page ≤ 15 s, /think on an example
≤ 1.5 s, /landscape at resolution 41 ≤ 2 s, /denoise of a 256×256 image ≤ 3 s. Prints one JSON
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

from app_server import start_app


def photo_256(folder: Path) -> Path:
    """A 256×256 crop of a held-out photo (skimage's astronaut), as a PNG file."""
    from PIL import Image
    from skimage import data

    path = folder / "astronaut-256.png"
    Image.fromarray(data.astronaut()[100:356, 100:356]).save(path)
    return path


def timed(call, repeats: int) -> dict:
    call()  # warm-up: first-use costs (model load, caches) are not what a visitor waits for
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return {"median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per endpoint")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    from gradio_client import Client, handle_file

    server, url, start_s = start_app()
    try:
        client = Client(url, verbose=False)
        with tempfile.TemporaryDirectory() as tmp:
            photo = handle_file(str(photo_256(Path(tmp))))
            think = dict(
                prompt="12+35=",
                checkpoint="arith-ebt",
                steps=2,
                step_size=0,
                langevin=0.0,
                samples=4,
                select="min",
                tolerance=0.0,
                seed=0,
                max_new_tokens=3,
            )
            report = {
                "start_to_page_s": round(start_s, 2),
                "think": timed(lambda: client.predict(**think, api_name="/think"), args.repeats),
                "landscape": timed(
                    lambda: client.predict(
                        prompt="12+35=",
                        checkpoint="arith-ebt",
                        token=1,
                        resolution=41,
                        method="pca",
                        steps=2,
                        samples=4,
                        seed=0,
                        api_name="/landscape",
                    ),
                    args.repeats,
                ),
                "denoise_256": timed(
                    lambda: client.predict(
                        image=photo,
                        checkpoint="image-ebt",
                        noise=0.1,
                        steps=2,
                        step_size=0,
                        langevin=0.0,
                        seed=0,
                        api_name="/denoise",
                    ),
                    args.repeats,
                ),
            }
        import torch

        report["threads"] = torch.get_num_threads()
        report["cpus"] = os.cpu_count()
        print(json.dumps(report))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()

"""README screenshots: start the app on the shipped checkpoints and visit every tab in Chromium.

python scripts/screenshots.py            # → assets/screenshots/{think,landscape,denoise}.png
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser_tour import tour  # noqa: E402


def main() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    start = time.perf_counter()
    server = subprocess.Popen([sys.executable, str(ROOT / "app/main.py")], env=env, cwd=ROOT)
    try:
        while True:
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                if server.poll() is not None:
                    raise SystemExit("the app exited before serving its page") from None
                time.sleep(0.2)
        served = time.perf_counter() - start
        example = ROOT / "assets/examples/astronaut.png"
        image = example if example.exists() else next((ROOT / "assets/examples").glob("*.png"))
        report = tour(url, ROOT / "assets/screenshots", image, example="487+396=")
        report["start_to_page_s"] = round(served, 2)
        print(json.dumps(report))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()

"""README screenshots: start the app on the shipped checkpoints and visit every tab in Chromium.

python scripts/screenshots.py            # → assets/screenshots/{think,landscape,denoise}.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app_server import ROOT, start_app  # noqa: E402  (scripts/ is sys.path[0] when run)

from tests.browser_tour import tour  # noqa: E402


def main() -> None:
    server, url, served = start_app(output=None)
    try:
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

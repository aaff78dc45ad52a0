"""README screenshots: start the app on the shipped checkpoints and visit every tab in Chromium.

python scripts/screenshots.py            # → assets/screenshots/{think,landscape,denoise}.png
"""

from __future__ import annotations

import json

from app_server import ROOT, running_app  # scripts/ is sys.path[0] when run
from browser_tour import tour

UPLOAD = ROOT / "assets/examples/denoise-astronaut.png"  # the photo uploaded on the Denoise tab


def main() -> None:
    if not UPLOAD.is_file():
        raise SystemExit(f"missing {UPLOAD.relative_to(ROOT)}: the Denoise tab's upload")
    with running_app(output=None) as (_, url, served):
        report = tour(url, ROOT / "assets/screenshots", UPLOAD, example="487+396=")
    print(json.dumps({**report, "start_to_page_s": round(served, 2)}))


if __name__ == "__main__":
    main()

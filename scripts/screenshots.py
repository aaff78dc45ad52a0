"""README screenshots: start the app on the shipped checkpoints and visit every tab in Chromium.

python scripts/screenshots.py            # → assets/screenshots/{think,landscape,denoise}.png
                                         #   and points-landscape.png
python scripts/screenshots.py --only playground
    # → assets/screenshots/playground-{1,2,3}.png: the Playground's live landscape while the
    #   default recipe trains (first update, about half way, done); the other files are kept
"""

from __future__ import annotations

import argparse
import json

from app_server import ROOT, running_app  # scripts/ is sys.path[0] when run
from browser_tour import playground_tour, tour

UPLOAD = ROOT / "assets/examples/denoise-astronaut.png"  # the photo uploaded on the Denoise tab


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["playground"], help="only these screenshots")
    if parser.parse_args().only == "playground":
        with running_app(output=None) as (_, url, served):
            report = playground_tour(url, ROOT / "assets/screenshots")
        print(json.dumps({**report, "start_to_page_s": round(served, 2)}))
        return
    if not UPLOAD.is_file():
        raise SystemExit(f"missing {UPLOAD.relative_to(ROOT)}: the Denoise tab's upload")
    with running_app(output=None) as (_, url, served):
        report = tour(url, ROOT / "assets/screenshots", UPLOAD, example="487+396=")
    print(json.dumps({**report, "start_to_page_s": round(served, 2)}))


if __name__ == "__main__":
    main()

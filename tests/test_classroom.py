"""The classroom site (scripts/classroom.py) as CI runs it: the command renders the examples of
every tab on tiny checkpoints (a sum and a Sudoku among them) into a folder whose index and
pages work from file:// offline."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import _checkpoints
from .test_app_answer import tiny_answer_checkpoints

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    checkpoints = tmp_path_factory.mktemp("checkpoints")
    _checkpoints(checkpoints)
    tiny_answer_checkpoints(checkpoints)  # sum-ebt, sum-transformer, sudoku-ebt
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "EBT_CHECKPOINTS": str(checkpoints), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/classroom.py"), "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return out, report | {"has_image_ebt": (checkpoints / "image-ebt").is_dir()}


def test_the_command_renders_every_tabs_examples(site):
    out, report = site
    think = [p for p in report["pages"] if p.startswith("think-")]
    denoise = [p for p in report["pages"] if p.startswith("denoise-")]
    # the arith examples (no english-ebt among the tiny checkpoints), then a sum and a Sudoku
    assert len(think) == 5 and think[-2:] == ["think-3-5617-7490.html", "think-4-1-2-1-2.html"]
    for name, grid in zip(think[-2:], ("Answer at step", "Grid at step")):
        page = (out / name).read_text(encoding="utf-8")
        assert "ebt-answer-strip" in page and grid in page  # the answer, and its view per step
    assert len(denoise) == (3 if report["has_image_ebt"] else 0)  # the three example photos
    assert report["skipped"] == []  # no points checkpoint here: nothing to skip
    index = (out / "index.html").read_text(encoding="utf-8")
    links = re.findall(r'href="([^"]+)"', index)
    assert links == report["pages"] and all((out / link).is_file() for link in links)
    assert "sdk: static" in (out / "README.md").read_text()
    for name in ("index.html", *report["pages"]):
        page = (out / name).read_text(encoding="utf-8")
        tags = re.findall(r"<(?:script|link)\b[^>]*>", page)
        assert not [t for t in tags if "src=" in t or "href=" in t], name  # nothing fetched


def test_the_index_and_a_run_open_offline_in_chromium(site):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test: need {CHROMIUM}")
        pytest.skip(f"needs {CHROMIUM}")
    from export_check import check_offline, open_index_offline  # scripts/

    out, report = site
    assert open_index_offline(out / "index.html") == report["pages"]
    page = check_offline(out / report["pages"][0])
    assert page["charts"] >= 3 and page["requests"] == []
    assert page["label_before"] != page["label_after"]

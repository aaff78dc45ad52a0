"""Exports (app/export.py): the self-contained HTML page of a run works from file:// in Chromium
with the network off (charts drawn, the slider changes the shown step, Play grows the curve);
the GIFs have one frame per step; the JSON reads back as the same run."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import ebt_core as ebt
from app import export, figures

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def run_and_page(tmp_path_factory):
    from .conftest import tiny_ebt

    model = tiny_ebt()
    run = ebt.think(model, "12+35=", ebt.ThinkConfig(steps=3, samples=3, seed=0), 3)
    scape = ebt.landscape(model, run, 0, 9)
    page = export.run_html(run, figures.landscape_contour(run, scape))
    path = tmp_path_factory.mktemp("export") / "run.html"
    path.write_text(page, encoding="utf-8")
    return run, path


def test_the_page_is_one_file_with_no_network_reference(run_and_page):
    run, path = run_and_page
    page = path.read_text(encoding="utf-8")
    tags = re.findall(r"<(?:script|link)\b[^>]*>", page)
    assert not [t for t in tags if re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", t)]
    assert not [t for t in tags if "src=" in t or "href=" in t]  # nothing loaded at all
    assert page.count('class="ebt-chip"') == len(run.tokens)  # the token strip
    assert "plotly.js v" in page or "Plotly" in page  # plotly.js inlined


def test_the_json_reads_back_as_the_same_run(run_and_page):
    run, _ = run_and_page
    back = ebt.ThinkRun.from_dict(json.loads(export.run_json(run)))
    assert back.text == run.text and (back.tokens[1].energies == run.tokens[1].energies).all()


def test_the_descent_gif_has_one_frame_per_step(run_and_page):
    run, _ = run_and_page
    gif = Image.open(io.BytesIO(export.descent_gif(run, 1)))
    assert gif.format == "GIF" and gif.n_frames == run.tokens[1].steps_used + 1
    frames = [np.full((8, 8, 3), v, np.float32) for v in (0.0, 0.5, 1.0)]  # [0, 1] pixels
    gif = Image.open(io.BytesIO(export.frames_gif(frames)))
    assert gif.n_frames == 3 and gif.convert("RGB").getpixel((0, 0)) == (0, 0, 0)


@pytest.mark.slow
def test_the_page_works_offline_in_chromium(run_and_page):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test: need {CHROMIUM}")
        pytest.skip(f"needs {CHROMIUM}")
    from export_check import check_offline  # scripts/

    run, path = run_and_page
    report = check_offline(path)
    assert report["charts"] >= 3  # energy, top-k, landscape
    assert report["label_after"] == f"step 0 of {run.tokens[0].steps_used}"
    assert report["label_before"] != report["label_after"]
    assert report["points_after"] < report["points_before"]  # the curve drawn up to step 0
    assert (
        report["play_points"] == sorted(report["play_points"])
        and len(set(report["play_points"])) >= 3
    )
    assert report["requests"] == []  # nothing but the file itself was asked for


@pytest.mark.slow
def test_every_export_is_an_api_endpoint_with_thinks_parameters(client):
    from app.payloads import request

    c, app = client
    think = request("/think", steps=3, samples=2, seed=1, max_new_tokens=3)
    text = c.predict(**think, api_name="/think")[0]
    page = Path(c.predict(**think, api_name="/export_html")).read_text(encoding="utf-8")
    assert page.count('class="ebt-chip"') == 3 and json.dumps(text)[1:-1] in page
    assert '"type":"contour"' in page  # the first token's landscape
    run = ebt.ThinkRun.from_dict(json.loads(Path(c.predict(**think, api_name="/export_json"))
                                            .read_text()))  # fmt: skip
    assert run.text == text
    gif = Image.open(c.predict(**think, token=1, api_name="/export_gif"))
    assert gif.n_frames == run.tokens[1].steps_used + 1
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="token must be below 3"):
        c.predict(**think, token=5, api_name="/export_gif")
    with pytest.raises(AppError, match="steps must be an integer"):
        c.predict(**{**think, "steps": 0}, api_name="/export_html")


def test_the_lab_reads_an_exported_run_and_names_a_bad_file(run_and_page):
    run, _ = run_and_page
    back = export.read_run_json(export.run_json(run).encode())
    assert back.text == run.text and back.prompt == run.prompt
    with pytest.raises(ValueError, match="must be JSON"):
        export.read_run_json(b"<html>")
    with pytest.raises(ValueError, match="not a ThinkRun record|not an exported run"):
        export.read_run_json(b'{"prompt": "1"}')
    lab = (Path(__file__).resolve().parent.parent / "app/lab.py").read_text(encoding="utf-8")
    assert "export.read_run_json(opened.getvalue())" in lab  # the lab's Think view opens it


@pytest.mark.slow
def test_the_denoise_tab_downloads_its_frames_as_a_gif(client):
    from app.denoise_tab import frames_gif

    tab = client[1].denoise
    record = tab.first_view()[8]  # the first example's EBT run (DenoiseResult.to_dict)
    gif = Image.open(frames_gif(record))
    assert gif.n_frames == len(ebt.DenoiseResult.from_dict(record).frames)
    import gradio as gr

    with pytest.raises(gr.Error, match="press Denoise"):
        frames_gif(None)

"""The Streamlit research lab, headless (streamlit.testing.v1.AppTest) on the shipped checkpoints:
every view renders its plotly charts without an exception after its controls change."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

LAB = str(Path(__file__).resolve().parent.parent / "app" / "lab.py")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def at():
    app = AppTest.from_file(LAB, default_timeout=240)
    app.run()
    return app


def charts(app) -> int:
    assert not app.exception, app.exception
    return len(app.get("plotly_chart"))


def view(app, name: str):
    app.sidebar.radio(key="view").set_value(name).run()
    return app


def test_checkpoint_browser(at):
    assert charts(at) == 3  # ID curves, OOD curves, loss
    at.selectbox(key="ckpt_name").set_value("image-ebt").run()
    assert charts(at) == 3
    assert "image-ebt" in at.caption[0].value


def test_think_view(at):
    view(at, "Think")
    assert charts(at) == 2  # energy curves, top-k bars
    at.slider(key="think_token").set_value(1).run()
    assert charts(at) == 2


def test_thinking_budget(at):
    view(at, "Thinking budget")
    at.slider(key="budget_rows").set_value(2)
    at.slider(key="budget_steps").set_value(3)
    at.slider(key="budget_samples").set_value(2).run()
    assert charts(at) == 2  # perplexity vs steps, vs N
    assert "best-of-2" in at.caption[0].value


def test_calibration(at):
    view(at, "Calibration")
    at.slider(key="cal_rows").set_value(2)
    at.slider(key="cal_steps").set_value(2)
    at.slider(key="cal_examples").set_value(4).run()
    assert charts(at) == 3  # scatter, trend, verifier histogram
    at.slider(key="cal_step").set_value(0).run()
    assert charts(at) == 3


def test_denoising(at):
    view(at, "Denoising")
    at.select_slider(key="dn_crop").set_value(32)
    at.slider(key="dn_steps").set_value(2)
    at.multiselect(key="dn_passes").set_value(["1", "2"]).run()
    assert charts(at) == 1
    assert "image-dit" in at.caption[0].value

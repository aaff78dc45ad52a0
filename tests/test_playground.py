"""The Playground tab: live training streams progress, Stop keeps what was learnt, one training
at a time, bad recipe values name the field, the checkpoint zip opens with `ebt.load`, and
/playground_train + /playground_think through gradio_client (the `client` fixture)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest

import ebt_core as ebt
from app.live_training import SLOT, LiveTraining, Trained, playground_recipe
from app.payloads import request
from app.point_runs import PROBE, parse_context

TRAIN = request("/playground_train")
THINK = request("/playground_think")


def _unzip_and_load(zip_path, folder: Path):
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        archive.extractall(folder)
    (top,) = {n.split("/")[0] for n in names}  # one checkpoint directory
    return ebt.load(folder / top), names


def _run(tab, **change):
    """Every yield of one in-process training (the last holds the Trained model)."""
    return list(tab.train(**{**TRAIN, **change}, request=SimpleNamespace(session_hash="t")))


# ---- in-process handlers -------------------------------------------------------------------
@pytest.mark.slow
def test_training_streams_live_landscapes_and_ends_with_a_loadable_zip(client, tmp_path):
    tab = client[1].playground
    yields = _run(tab, iters=24)
    live, final = yields[:-1], yields[-1]
    assert len(live) >= 2  # the probe landscape and loss were redrawn while training
    for status, loss, probe, *_ in live:
        assert "training…" in status and probe.data[0].type == "contour"
        assert len(probe.data[0].z) == 41 and loss.data[0].x[-1] <= 24
    status, _, _, check, zip_path, trained = final
    assert isinstance(trained, Trained) and "done in" in status and "fresh fork contexts" in check
    assert trained.metrics[-1]["iter"] == 24 and not trained.stopped
    model, names = _unzip_and_load(zip_path, tmp_path)
    assert {"playground-fork-ebt/config.json", "playground-fork-ebt/model.safetensors"} <= {
        n.rstrip("/") for n in names
    }
    assert model.recipe["iters"] == 24 and model.think_defaults.samples == 32
    config = ebt.ThinkConfig(steps=4, samples=8, seed=3)
    ours, theirs = ebt.think(trained.model, PROBE, config), ebt.think(model, PROBE, config)
    np.testing.assert_array_equal(ours.tokens[0].energies, theirs.tokens[0].energies)


@pytest.mark.slow
def test_stop_ends_training_early_and_keeps_the_model(client):
    tab = client[1].playground
    session = SimpleNamespace(session_hash="stopper")
    gen = tab.train(**{**TRAIN, "iters": 1200, "samples": 2}, request=session)
    first = next(gen)  # one live update: training is under way
    assert "training…" in first[0]
    tab.stop(session)
    *_, final = list(gen)
    trained = final[-1]
    assert trained.stopped and trained.metrics[-1]["iter"] < 1200 and "stopped" in final[0]
    assert Path(final[4]).is_file()
    assert SLOT.acquire(blocking=False)  # the slot was given back
    SLOT.release()


@pytest.mark.slow
def test_a_second_training_waits_for_the_first_with_a_message(client):
    tab = client[1].playground
    assert SLOT.acquire(timeout=30)  # another visitor's training holds the slot
    gen = tab.train(**TRAIN, request=SimpleNamespace(session_hash="waiting"))
    try:
        assert "Another visitor's model is training" in next(gen)[0]
    finally:
        SLOT.release()
    assert isinstance(list(gen)[-1][-1], Trained)  # then it trains


def test_the_time_cap_stops_a_training_and_says_so():
    SLOT.acquire()  # the tab takes the slot before starting a job; the job gives it back
    job = LiveTraining(playground_recipe(*TRAIN.values()), max_seconds=0.0)
    job.start()
    result = job.future.result(timeout=60)
    assert result.stopped and job.timed_out and result.metrics[-1]["iter"] == 1
    assert SLOT.acquire(blocking=False)
    SLOT.release()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"task": "nope"}, "task must be one of"),
        ({"objective": "bogus"}, "objective must be one of"),
        ({"iters": 0}, "iters must be an integer between 1 and 3000"),
        ({"iters": 2.5}, "iters must be an integer"),
        ({"steps_max": 9}, "steps_max must be an integer between 1 and 8"),
        ({"steps_min": 3, "steps_max": 2}, r"steps_max \(2\) must be >= steps_min"),
        ({"samples": 0}, "samples must be an integer between 1 and 16"),
        ({"iters": 3000, "samples": 16, "steps_max": 8}, "exceeds this server's training budget"),
        ({"lr": -1}, "lr must be a number between"),
        ({"lr": float("nan")}, "lr must be a finite number"),
        ({"step_size": 0}, "step_size must be a number between"),
        ({"alpha_jitter": 0.5}, "alpha_jitter must be a number between 1.0 and 10.0"),
        ({"langevin": 2}, "langevin must be a number between"),
        ({"replay": 0.95}, "replay must be a number between 0.0 and 0.9"),
        ({"start_std": 0}, "start_std must be a number between"),
        ({"final_only": "yes"}, "final_only must be true or false"),
        ({"seed": -1}, "seed must be an integer"),
    ],
)
def test_bad_recipe_values_name_the_field(change, message):
    with pytest.raises(ValueError, match=message):
        playground_recipe(*{**TRAIN, **change}.values())


# ---- the API through gradio_client ---------------------------------------------------------
@pytest.mark.slow
def test_playground_api_parameters_all_have_defaults(client):
    api = client[0].view_api(print_info=False, return_format="dict")["named_endpoints"]
    for endpoint in ("/playground_train", "/playground_think"):
        params = api[endpoint]["parameters"]
        assert [p["parameter_name"] for p in params] == list(request(endpoint))
        assert all(p["parameter_has_default"] for p in params), endpoint


@pytest.mark.slow
def test_train_then_think_through_the_api_and_the_zip_round_trip(client, tmp_path):
    from gradio_client import Client

    c = Client(client[1].demo.local_url, verbose=False)  # a fresh session of its own
    status, loss, probe, check, zip_path = c.predict(**TRAIN, api_name="/playground_train")
    assert "done in" in status and "Iteration 24 of 24" in status and "mode" in check
    model, _ = _unzip_and_load(zip_path, tmp_path)
    run = ebt.think(model, parse_context(THINK["context"]), max_new_tokens=2)
    assert run.points.shape == (2, 2) and run.tokens[0].samples == 32
    picture, contour, surface, summary, step = c.predict(**THINK, api_name="/playground_think")
    assert Path(picture).is_file() and "32 candidate(s)" in summary and step["value"] == 8
    assert "True mode(s)" in summary and "regression baseline predicts" in summary


@pytest.mark.slow
def test_think_before_training_and_bad_think_values_are_refused_by_name(client):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    c = Client(client[1].demo.local_url, verbose=False)
    with pytest.raises(AppError, match="press Train first"):
        c.predict(**THINK, api_name="/playground_think")
    tab, trained = client[1].playground, _run(client[1].playground, iters=3)[-1][-1]
    for change, message in [
        ({"context": "1, 2; 3"}, "context must be points"),
        ({"context": ""}, "context must be points"),
        ({"steps": 0}, "steps must be an integer between 1 and 64"),
        ({"samples": 65}, "samples must be an integer between 1 and 64"),
    ]:
        with pytest.raises(gr.Error, match=message):
            tab.think(*{**THINK, **change}.values(), trained)


@pytest.mark.slow
def test_the_landscape_tab_shows_and_descends_on_the_playground_model(client):
    trained = _run(client[1].playground, iters=3)[-1][-1]
    points = client[1].points
    outputs = points.show("your Playground model", "fork", THINK["context"], 4, 6, 0, 21, trained)
    view = outputs[-1]
    assert view.source == "your Playground model" and view.scape.energy.shape == (21, 21)
    assert ebt.think(trained.model, PROBE, view.run.config).tokens[0].energies.tolist() == (
        view.run.tokens[0].energies.tolist()
    )  # the visitor's own model thought it
    index = {"index": [300, 300], "value": None}
    clicked = points.viewer.click(view, trained, gr.SelectData(None, index))[-1]
    assert clicked.run.tokens[0].samples == 1 and clicked.start is not None


@pytest.mark.slow
@pytest.mark.parametrize(
    "change, message",
    [
        ({"steps_min": 3, "steps_max": 2}, r"steps_max \(2\) must be >= steps_min"),
        ({"iters": 3000, "samples": 16, "steps_max": 8}, "exceeds this server's training budget"),
        ({"objective": "bogus"}, "objective must be one of"),
    ],
)
def test_bad_recipe_values_through_the_api_name_the_field(client, change, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=message):
        client[0].predict(**{**TRAIN, **change}, api_name="/playground_train")

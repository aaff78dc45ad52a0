"""Bad input to the app: its work budgets, and every Gradio endpoint through gradio_client answers
with a readable error that names the field while the server keeps answering."""

from __future__ import annotations

import inspect
import json
import math
import re

import pytest

import ebt_core as ebt
from app.inputs import (
    LIMITS,
    check_denoise_work,
    check_think_work,
    denoise_config,
    denoise_limits,
    dit_config,
)
from app.payloads import request

from .test_image_io import BAD_FILES, encode, photo

NAN, INF = math.nan, math.inf


# ---- the app's budgets ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "steps, samples, n, message",
    [(64, 1, 64, "steps × max_new_tokens"), (16, 16, 64, "steps × samples × max_new_tokens")],
)
def test_think_work_budget(steps, samples, n, message):
    config = ebt.ThinkConfig(steps=steps, samples=samples)
    with pytest.raises(ValueError, match=message) as info:
        check_think_work(config, n)
    assert str(LIMITS["descent_steps"]) in str(info.value) or str(LIMITS["work"]) in str(info.value)
    check_think_work(ebt.ThinkConfig(steps=8, samples=4), 16)  # the README's example fits


def test_denoise_work_budget():
    check_denoise_work(128, 128, 4)
    check_denoise_work(256, 256, 8)  # issue 15: 8 EBT steps on a 256² photo
    with pytest.raises(ValueError, match="pixel-passes exceeds"):
        check_denoise_work(256, 256, 9)
    with pytest.raises(ValueError, match="steps must be an integer between 1 and"):
        check_denoise_work(32, 32, 10**6)


@pytest.mark.parametrize("size", [(256, 256), (128, 128), (96, 128), (200, 256), (8, 8)])
def test_denoise_limits_are_exactly_what_the_checks_accept(size):
    """The sliders' maxima (denoise_limits) are accepted, one more is refused."""
    from PIL import Image

    h, w = size
    steps, passes = denoise_limits(h, w)
    photo = Image.new("RGB", (w, h))
    denoise_config(photo, 0.1, steps, 0, 0.0, 0)
    dit_config(photo, 0.1, 0, passes)
    with pytest.raises(ValueError, match="steps"):
        denoise_config(photo, 0.1, steps + 1, 0, 0.0, 0)
    with pytest.raises(ValueError, match="dit_passes"):
        dit_config(photo, 0.1, 0, passes + 1)
    if size == (128, 128):
        assert passes >= 50  # issue 15: 50 DiT passes on a 128² photo


# ---- the Gradio endpoints through gradio_client ---------------------------------------------
GOOD = {
    "/think": request("/think", steps=2),
    "/score": request("/score"),
    "/landscape": request("/landscape", token=0, resolution=5, steps=2),
}
BAD_VALUES = [  # (endpoint, change, the message must match)
    ("/think", {"prompt": ""}, "prompt must be a non-empty string"),
    ("/think", {"prompt": None}, "prompt must be a non-empty string"),
    ("/think", {"prompt": "12×3="}, r"prompt contains.*U\+00D7"),
    ("/think", {"prompt": "1+\x07"}, r"prompt contains.*U\+0007"),
    ("/think", {"prompt": "1" * 5000}, "exceeds the model's context"),
    ("/think", {"steps": 0}, "steps must be an integer between 1 and"),
    ("/think", {"steps": -5}, "steps must be"),
    ("/think", {"steps": 10**12}, "steps must be"),
    ("/think", {"steps": NAN}, "steps must be"),
    ("/think", {"steps": "8"}, "steps must be"),
    ("/think", {"samples": 0}, "samples must be"),
    ("/think", {"samples": LIMITS["samples"] + 1}, "samples must be"),
    ("/think", {"step_size": -1}, "step_size must be"),
    ("/think", {"step_size": NAN}, "step_size must be a finite number"),
    ("/think", {"step_size": INF}, "step_size must be a finite number"),
    ("/think", {"langevin": NAN}, "langevin must be"),
    ("/think", {"tolerance": -INF}, "tolerance must be"),
    ("/think", {"seed": -1}, "seed must be"),
    ("/think", {"seed": 1e30}, "seed must be"),
    ("/think", {"max_new_tokens": 0}, "max_new_tokens must be"),
    ("/think", {"max_new_tokens": LIMITS["max_new_tokens"] + 1}, "max_new_tokens must be"),
    ("/think", {"select": "best"}, "select must be one of"),
    ("/think", {"accept_lower_only": "yes"}, "accept_lower_only must be"),
    ("/think", {"checkpoint": "../../etc/passwd"}, "checkpoint must be one of"),
    ("/think", {"checkpoint": "/tmp"}, "checkpoint must be one of"),
    ("/think", {"checkpoint": None}, "checkpoint must be one of"),
    ("/think", {"checkpoint": "arith-transformer"}, "checkpoint must be one of"),
    ("/score", {"prompt": ""}, "prompt must be a non-empty"),
    ("/score", {"answer": ""}, "answer must be a non-empty"),
    ("/score", {"answer": "4\u00e9"}, r"answer contains.*'é'"),
    ("/score", {"checkpoint": "../arith-ebt"}, "checkpoint must be one of"),
    ("/landscape", {"token": -1}, "token must be"),
    ("/landscape", {"token": 10**6}, "token must be"),
    ("/landscape", {"token": 1.5}, "token must be"),
    ("/landscape", {"resolution": 2}, "resolution must be"),
    ("/landscape", {"resolution": 10**6}, "resolution must be"),
    ("/landscape", {"resolution": NAN}, "resolution must be"),
    ("/landscape", {"method": "umap"}, "method must be one of"),
    ("/landscape", {"steps": 0}, "steps must be"),
    ("/landscape", {"samples": 10**6}, "samples must be"),
    ("/landscape", {"seed": -1}, "seed must be"),
    ("/landscape", {"prompt": "é"}, "prompt contains"),
    ("/landscape", {"checkpoint": "../x"}, "checkpoint must be one of"),
]
# (endpoint, change, message, (tab, handler, the app.inputs helper it must call))
BUDGETS = [
    ("/think", {"steps": 64, "max_new_tokens": 64}, "exceeds this server's budget",
     ("think", "thought", "check_think_work")),
    ("/score", {"answer": "4" * 500}, "answer must be at most",
     ("think", "score", "text_in")),
    ("/landscape", {"token": 63, "steps": 64}, "exceeds this server's budget",
     ("landscape", "landscape", "check_think_work")),
]  # fmt: skip


def _endpoints(client) -> dict:
    return client[0].view_api(print_info=False, return_format="dict")["named_endpoints"]


def _case_id(endpoint: str, change: dict) -> str:
    return endpoint + ":" + ",".join(f"{k}={str(v)[:10]!r}" for k, v in change.items())


def _non_finite(change: dict) -> bool:
    return any(isinstance(v, float) and not math.isfinite(v) for v in change.values())


def _raw_error(client, endpoint: str, kwargs: dict) -> str:
    """POST the request as raw JSON (gradio_client refuses to send NaN/inf, a browser or curl
    does not) and return the message of the error event (or fail if there is none)."""
    import httpx

    def upload(value):  # a handle_file() dict → the FileData of the file uploaded first
        if not (isinstance(value, dict) and "path" in value):
            return value
        with open(value["path"], "rb") as f:
            response = httpx.post(f"{client[0].src}gradio_api/upload", files={"files": f})
        return {"path": response.json()[0], "meta": {"_type": "gradio.FileData"}}

    params = _endpoints(client)[endpoint]["parameters"]
    data = [upload(kwargs.get(p["parameter_name"], p.get("parameter_default"))) for p in params]
    url = f"{client[0].src}gradio_api/call{endpoint}"
    body = json.dumps({"data": data})  # NaN/Infinity literals, as Python's json writes them
    event = httpx.post(url, content=body, headers={"content-type": "application/json"})
    stream = httpx.get(f"{url}/{event.json()['event_id']}", timeout=120).text
    assert "event: error" in stream, stream[:300]
    return json.loads(stream.split("event: error\ndata: ", 1)[1].splitlines()[0])["error"]


def _bad_request_then_good_one(client, endpoint, change, message):
    from gradio_client.exceptions import AppError

    assert endpoint in _endpoints(client), f"{endpoint} is not wired"
    if _non_finite(change):
        assert re.search(message, _raw_error(client, endpoint, {**GOOD[endpoint], **change}))
    else:
        with pytest.raises(AppError, match=message):
            client[0].predict(**{**GOOD[endpoint], **change}, api_name=endpoint)
    text = client[0].predict(**GOOD["/think"], api_name="/think")[0]  # still serving
    assert isinstance(text, str) and len(text) == GOOD["/think"]["max_new_tokens"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "endpoint, change, message", BAD_VALUES, ids=[_case_id(e, c) for e, c, _ in BAD_VALUES]
)
def test_endpoints_answer_bad_input_with_a_readable_error(client, endpoint, change, message):
    _bad_request_then_good_one(client, endpoint, change, message)


@pytest.mark.slow
@pytest.mark.parametrize(
    "endpoint, change, message, needs", BUDGETS, ids=[_case_id(e, c) for e, c, *_ in BUDGETS]
)
def test_endpoints_enforce_the_work_budgets(client, endpoint, change, message, needs):
    tab, handler, helper = needs
    source = inspect.getsource(getattr(getattr(client[1], tab), handler))
    assert helper in source, f"the {tab} tab's {handler} does not call app.inputs.{helper}"
    _bad_request_then_good_one(client, endpoint, change, message)


def _denoise_args(client, image_path) -> dict:
    """Keyword arguments for /denoise: the example request (each parameter's default in the
    UI), the image replaced."""
    from gradio_client import handle_file

    params = {p["parameter_name"]: p for p in _endpoints(client)["/denoise"]["parameters"]}
    assert params["image"]["component"] == "Image", "/denoise declares no image parameter"
    args = request("/denoise", image=handle_file(str(image_path)))
    defaults = {k: p["parameter_default"] for k, p in params.items() if k != "image"}
    assert {k: v for k, v in args.items() if k != "image"} == defaults
    return args


BAD_UPLOADS = [c for c in BAD_FILES if c[0] != "too large for the API"]  # the app downscales


@pytest.mark.slow
@pytest.mark.parametrize(
    "make, message", [c[1:] for c in BAD_UPLOADS], ids=[c[0] for c in BAD_UPLOADS]
)
def test_denoise_answers_bad_uploads_with_a_readable_error(client, tmp_path, make, message):
    from gradio_client.exceptions import AppError

    assert "/denoise" in _endpoints(client), "/denoise is not wired"
    path = tmp_path / "upload.png"
    path.write_bytes(make())
    with pytest.raises(AppError, match=message):
        client[0].predict(**_denoise_args(client, path), api_name="/denoise")
    assert client[0].predict(**GOOD["/score"], api_name="/score")[1]  # still serving


@pytest.mark.slow
@pytest.mark.parametrize(
    "field, value", [("noise", NAN), ("noise", -1), ("steps", 0), ("steps", 10**9), ("seed", -1)]
)
def test_denoise_answers_bad_numbers_with_a_readable_error(client, tmp_path, field, value):
    from gradio_client.exceptions import AppError

    assert "/denoise" in _endpoints(client), "/denoise is not wired"
    path = tmp_path / "ok.png"
    path.write_bytes(encode(photo(32, 32)))
    args = _denoise_args(client, path)
    assert field in args, f"/denoise has no parameter {field!r}"
    if _non_finite({field: value}):
        kwargs = {**args, field: value}
        assert field in _raw_error(client, "/denoise", kwargs)
        return
    with pytest.raises(AppError, match=field):
        client[0].predict(**{**args, field: value}, api_name="/denoise")

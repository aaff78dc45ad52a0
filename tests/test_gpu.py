"""ZeroGPU readiness (app/gpu.py): model work goes through one entry point, a plain call on CPU,
decorated with `spaces.GPU` when the optional package is installed."""

from __future__ import annotations

import importlib
import sys
import types

import torch

from app import gpu, runtime


def test_on_cpu_the_entry_point_is_a_plain_call():
    model = torch.nn.Linear(2, 2)
    seen = {}

    def work(m, x, scale=1):
        seen["device"] = next(m.parameters()).device.type
        seen["new"] = torch.zeros(1).device.type
        return m, x * scale

    if torch.cuda.is_available():  # a GPU machine: the model moves, new tensors go there
        gpu.run(work, model, 3, scale=2)
        assert seen == {"device": "cuda", "new": "cuda"}
        return
    out_model, value = gpu.run(work, model, 3, scale=2)
    assert out_model is model and value == 6 and seen == {"device": "cpu", "new": "cpu"}
    assert gpu.spaces is None or hasattr(gpu.spaces, "GPU")


def test_every_compute_call_goes_through_the_entry_point(monkeypatch):
    calls = []

    def spy(fn, *args, **kwargs):
        calls.append(fn.__name__)
        return fn(*args, **kwargs)

    monkeypatch.setattr(gpu, "run", spy)
    assert runtime.compute(max, 2, 5) == 5 and calls == ["max"]


def test_with_the_spaces_package_the_entry_point_is_decorated(monkeypatch):
    decorated = {}

    def fake_gpu(duration):
        def wrap(fn):
            decorated["fn"], decorated["duration"] = fn.__name__, duration
            return fn

        return wrap

    monkeypatch.setitem(sys.modules, "spaces", types.SimpleNamespace(GPU=fake_gpu))
    try:
        reloaded = importlib.reload(gpu)
        assert decorated == {"fn": "run", "duration": reloaded.GPU_SECONDS}
    finally:
        monkeypatch.delitem(sys.modules, "spaces")
        importlib.reload(gpu)
    assert gpu.spaces is None or not isinstance(gpu.spaces, types.SimpleNamespace)

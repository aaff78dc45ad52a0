"""Bad checkpoints: names cannot escape the folder; corrupted files are named in the error."""

from __future__ import annotations

import json
import math

import pytest
import torch

import ebt_core as ebt

from .conftest import tiny_ebt

NAN, INF = math.nan, math.inf


# ---- checkpoints ----------------------------------------------------------------------------
@pytest.fixture
def ckpt_root(tmp_path, monkeypatch):
    monkeypatch.setenv("EBT_CHECKPOINTS", str(tmp_path / "checkpoints"))
    (tmp_path / "checkpoints").mkdir()
    return tmp_path / "checkpoints"


@pytest.mark.parametrize(
    "name, message",
    [("../outside", "no checkpoint at"), ("..", "invalid checkpoint name"),
     ("a\\..\\b", "invalid checkpoint name"), ("x\0y", "invalid checkpoint"),
     (None, "got NoneType"), (7, "got int"), ("/", r"config.json is missing")],
)  # fmt: skip
def test_checkpoint_names_cannot_escape_and_errors_are_clear(ckpt_root, name, message):
    (ckpt_root.parent / "outside").mkdir()  # a real directory beside checkpoints/
    with pytest.raises(ebt.CheckpointError, match=message):
        ebt.load(name)


def _config(path):
    return json.loads((path / "config.json").read_text())


def _write_config(path, data):
    (path / "config.json").write_text(json.dumps(data))


def _nan_weights(path):
    from safetensors.torch import load_file, save_file

    state = load_file(str(path / "model.safetensors"))
    first = sorted(state)[0]
    state[first] = torch.full_like(state[first], math.nan)
    save_file(state, str(path / "model.safetensors"))


def _truncate(file, keep):
    data = file.read_bytes()
    file.write_bytes(data[: keep if keep >= 0 else len(data) + keep])


CORRUPT = [
    ("truncated weights", lambda p: _truncate(p / "model.safetensors", -100), "model.safetensors"),
    ("weights header only", lambda p: _truncate(p / "model.safetensors", 8), "model.safetensors"),
    ("empty weights", lambda p: _truncate(p / "model.safetensors", 0), "model.safetensors"),
    ("NaN weights", _nan_weights, "NaN or infinite"),
    ("binary config", lambda p: (p / "config.json").write_bytes(b"\xff\xfe\x00garbage"),
     "config.json is not valid JSON"),
    ("config is a list", lambda p: (p / "config.json").write_text("[1, 2]"), "JSON object"),
    ("huge config", lambda p: (p / "config.json").write_text(" " * (2 << 20)), "larger than"),
    ("format_version as text", lambda p: _write_config(p, {**_config(p), "format_version": "1"}),
     "format_version"),
    ("no format_version", lambda p: _write_config(
        p, {k: v for k, v in _config(p).items() if k != "format_version"}), "format_version"),
    ("unknown key", lambda p: _write_config(p, {**_config(p), "weights": "x.bin"}),
     r"unknown key\(s\) \['weights'\]"),
    ("kind not a string", lambda p: _write_config(p, {**_config(p), "kind": ["text-ebt"]}),
     "kind"),
    ("model missing", lambda p: _write_config(
        p, {k: v for k, v in _config(p).items() if k != "model"}), "'model' must be a JSON object"),
    ("model is a list", lambda p: _write_config(p, {**_config(p), "model": [1]}), "'model'"),
    ("think is a list", lambda p: _write_config(p, {**_config(p), "think": [1]}), "'think'"),
    ("recipe is text", lambda p: _write_config(p, {**_config(p), "recipe": "fast"}), "'recipe'"),
    ("think steps NaN", lambda p: _write_config(
        p, {**_config(p), "think": {"steps": math.nan}}), "steps"),
    ("wrong shapes", lambda p: _write_config(
        p, {**_config(p), "model": {**_config(p)["model"], "vocab": "0123456789"}}),
     "does not match"),
]  # fmt: skip


@pytest.mark.parametrize("corrupt, message", [c[1:] for c in CORRUPT], ids=[c[0] for c in CORRUPT])
def test_corrupted_checkpoints_name_the_file(ckpt_root, corrupt, message):
    path = ebt.save(tiny_ebt(), ckpt_root / "bad")
    corrupt(path)
    with pytest.raises(ebt.CheckpointError, match=message) as info:
        ebt.load("bad")
    assert str(path) in str(info.value)  # the file (or its folder) is named


def test_a_broken_checkpoint_does_not_hide_the_others(ckpt_root):
    ebt.save(tiny_ebt(), ckpt_root / "good")
    (ckpt_root / "odd").mkdir()
    (ckpt_root / "odd" / "config.json").write_text('{"kind": 5}')
    (ckpt_root / "junk").mkdir()
    (ckpt_root / "junk" / "config.json").write_bytes(b"\xff")
    assert ebt.available() == ["good"] and ebt.available("text-ebt") == ["good"]

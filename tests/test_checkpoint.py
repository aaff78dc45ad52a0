"""Checkpoint format: save → load round trip, safetensors only, clear errors."""

import json

import pytest
import torch

import ebt_core as ebt

from .conftest import tiny_ebt, tiny_transformer


@pytest.fixture
def ckpt_root(tmp_path, monkeypatch):
    monkeypatch.setenv("EBT_CHECKPOINTS", str(tmp_path))
    return tmp_path


def test_save_load_gives_identical_energies_and_defaults(ckpt_root):
    model = tiny_ebt()
    think = ebt.ThinkConfig(steps=3, samples=2, seed=4)
    ebt.save(
        model,
        ckpt_root / "tiny",
        think=think,
        recipe={"iters": 1},
        metrics=[{"iter": 1, "id_ppl": 3.0}],
    )
    assert sorted(p.name for p in (ckpt_root / "tiny").iterdir()) == [
        "config.json",
        "metrics.jsonl",
        "model.safetensors",
    ]
    loaded = ebt.load("tiny")  # by name under $EBT_CHECKPOINTS
    assert loaded.think_defaults == think and loaded.checkpoint_name == "tiny"
    assert ebt.read_metrics("tiny") == [{"iter": 1, "id_ppl": 3.0}]
    a = ebt.think(model, "12+3=", think, 3)
    b = ebt.think(loaded, "12+3=", None, 3)  # None = the checkpoint's default ThinkConfig
    assert a.text == b.text
    for x, y in zip(a.tokens, b.tokens):
        assert (x.energies == y.energies).all()
    assert ebt.load(str(ckpt_root / "tiny")).config == model.config  # by path too


def test_transformer_round_trip(ckpt_root):
    model = tiny_transformer()
    ebt.save(model, ckpt_root / "tf")
    loaded = ebt.load("tf")
    ids = torch.tensor([[1, 2, 3, 4]])
    torch.testing.assert_close(loaded(ids), model(ids))
    assert ebt.available() == ["tf"] and ebt.available("text-ebt") == []


def test_unknown_name_lists_the_available_ones(ckpt_root):
    ebt.save(tiny_ebt(), ckpt_root / "present")
    with pytest.raises(ebt.CheckpointError, match=r"no checkpoint at 'absent'.*present"):
        ebt.load("absent")


@pytest.mark.parametrize("name", ["..", "../etc", "a b", "-rf", "x" * 100, ""])
def test_names_cannot_escape_the_checkpoints_folder(ckpt_root, name):
    with pytest.raises(ebt.CheckpointError):
        ebt.load(name)


def test_pickled_weights_are_refused(ckpt_root):
    path = ebt.save(tiny_ebt(), ckpt_root / "pickled")
    (path / "model.safetensors").unlink()
    torch.save({"x": torch.zeros(1)}, path / "pytorch_model.bin")
    with pytest.raises(ebt.CheckpointError, match="pickled weights are refused"):
        ebt.load(path)


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda p: (p / "config.json").write_text("{not json"), "config.json is not valid JSON"),
        (lambda p: (p / "config.json").unlink(), "config.json is missing"),
        (lambda p: (p / "model.safetensors").write_bytes(b"garbage"), "corrupted"),
        (lambda p: _edit(p, format_version=99), "format_version"),
        (lambda p: _edit(p, kind="gan"), "kind"),
        (lambda p: _edit_model(p, d_model=64), "does not match"),
        (lambda p: _edit_model(p, n_layer=-1), "n_layer"),
        (lambda p: _edit_model(p, colour="red"), "unknown field"),
    ],
)
def test_malformed_checkpoints_give_errors_naming_the_file(ckpt_root, corrupt, message):
    path = ebt.save(tiny_ebt(), ckpt_root / "bad")
    corrupt(path)
    with pytest.raises(ebt.CheckpointError, match=message):
        ebt.load(path)


def _edit(path, **changes):
    data = json.loads((path / "config.json").read_text())
    data.update(changes)
    (path / "config.json").write_text(json.dumps(data))


def _edit_model(path, **changes):
    data = json.loads((path / "config.json").read_text())
    data["model"].update(changes)
    (path / "config.json").write_text(json.dumps(data))

"""Training smoke tests: each text model type trains a few iterations and reloads; torchrun
data-parallel training with 2 gloo processes on CPU."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import ebt_core as ebt
from ebt_core.text import training as obj

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "train"))

import train_text  # noqa: E402

TINY_MODEL = {"n_layer": 1, "n_head": 2, "d_model": 16, "step_size": 5.0, "start_std": 0.1}


def _recipe(tmp_path, kind, corpus="arith", **extra):
    recipe = {
        "corpus": corpus,
        "kind": kind,
        "model": dict(TINY_MODEL),
        "batch": 4,
        "length": 16,
        "iters": 3,
        "eval_every": 2,
        "eval_batch": 4,
        "warmup": 1,
        "eval_steps": [1, 2],
        **extra,
    }
    if kind == "transformer":
        recipe["model"] = {
            k: v for k, v in TINY_MODEL.items() if k not in ("step_size", "start_std")
        }
    else:
        recipe["think"] = {"steps": 2}
    path = tmp_path / f"{kind}-{corpus}.json"
    path.write_text(json.dumps(recipe))
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind, corpus, extra",
    [
        (
            "text-ebt",
            "arith",
            {
                "replay": 0.5,
                "alpha_jitter": 2.0,
                "langevin": 0.3,
                "steps_min": 1,
                "steps_max": 2,
                "detach": False,
                "final_only": True,
                "label_smoothing": 0.05,
                "model": {**TINY_MODEL, "entropy_weight": 0.01},
            },
        ),
        ("transformer", "arith", {}),
        ("text-ebt", "english", {}),
    ],
)
def test_training_writes_a_checkpoint_that_loads(tmp_path, kind, corpus, extra):
    out = train_text.train(
        [str(_recipe(tmp_path, kind, corpus, **extra)), "--out", str(tmp_path / "ckpt"), "--quiet"]
    )
    model = ebt.load(out)
    assert model.config.kind == kind
    rows = ebt.read_metrics(out)
    assert [r["iter"] for r in rows] == [2, 3]
    key = "id_ppl_step" if kind == "text-ebt" else "id_ppl"
    assert key in rows[-1] and "ood_ppl_step" in rows[-1] or "ood_ppl" in rows[-1]
    assert not (out / ".resume").exists()
    if kind == "text-ebt":
        assert model.think_defaults.steps == 2
        assert model.config.entropy_weight == extra.get("model", {}).get("entropy_weight", 0.0)
        ebt.think(model, "1+2=" if corpus == "arith" else "The ", None, 2)


def test_warm_start_copies_the_transformer_stack_into_the_ebt(tmp_path):
    base = train_text.train(
        [str(_recipe(tmp_path, "transformer")), "--out", str(tmp_path / "tf"), "--quiet"]
    )
    recipe = _recipe(tmp_path, "text-ebt", init_from=str(base), iters=1, eval_every=1)
    _, parsed = train_text.load_recipe(train_text.parse_args([str(recipe)]))
    model, _ = train_text.build(parsed, ebt.load(base).config.vocab, torch.device("cpu"))
    train_text.warm_start(model, parsed.init_from)
    source = ebt.load(base).state_dict()
    own = model.state_dict()
    shared = [k for k in source if k in own]
    assert shared and all(torch.equal(own[k], source[k]) for k in shared)
    assert {k.split(".")[0] for k in shared} == {"tok_emb", "blocks", "norm_f"}
    # a one-hot candidate enters the candidate stream as its token enters the real stream
    assert torch.equal(model.candidate_proj.weight, source["tok_emb.weight"].t())
    english = tmp_path / "english-ebt.json"
    english.write_text(recipe.read_text().replace('"arith"', '"english"'))
    with pytest.raises(ValueError, match="different vocabulary"):
        train_text.train([str(english), "--out", str(tmp_path / "bad"), "--quiet"])
    # from a trained EBT: every weight (fine-tuning under another recipe)
    ebt_ckpt = train_text.train([str(recipe), "--out", str(tmp_path / "ebt"), "--quiet"])
    fresh, _ = train_text.build(parsed, model.config.vocab, torch.device("cpu"))
    train_text.warm_start(fresh, str(ebt_ckpt))
    trained = ebt.load(ebt_ckpt).state_dict()
    assert all(torch.equal(v, trained[k]) for k, v in fresh.state_dict().items())
    base_model, _ = train_text.build(
        train_text.obj.TextRecipe(kind="transformer", model=parsed.model),
        model.config.vocab,
        torch.device("cpu"),
    )
    with pytest.raises(ValueError, match="init_from must name"):
        train_text.warm_start(base_model, str(ebt_ckpt))  # an EBT cannot seed a Transformer++


@pytest.mark.slow
def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    recipe = str(_recipe(tmp_path, "text-ebt", iters=4))
    straight = train_text.train([recipe, "--out", str(tmp_path / "straight"), "--quiet"])
    original = train_text.obj.lr_at

    def crash_at_3(it, r):
        if it == 3:
            raise KeyboardInterrupt
        return original(it, r)

    out = tmp_path / "interrupted"
    monkeypatch.setattr(train_text.obj, "lr_at", crash_at_3)
    with pytest.raises(KeyboardInterrupt):
        train_text.train([recipe, "--out", str(out), "--quiet"])
    assert (out / ".resume" / "state.json").is_file()
    monkeypatch.setattr(train_text.obj, "lr_at", original)
    train_text.train([recipe, "--out", str(out), "--quiet"])  # same command resumes
    assert [r["iter"] for r in ebt.read_metrics(out)] == [2, 4]
    a, b = ebt.load(straight), ebt.load(out)
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert (x == y).all(), name


@pytest.mark.slow
def test_torchrun_two_processes_gloo(tmp_path):
    recipe = _recipe(tmp_path, "text-ebt")
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29533",
        str(ROOT / "train" / "train_text.py"),
        str(recipe),
        "--out",
        str(out),
        "--quiet",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    config = json.loads((out / "config.json").read_text())
    assert config["recipe"]["world_size"] == 2
    ebt.load(out)


def test_every_shipped_recipe_parses_and_names_its_checkpoint_kind():
    recipes = sorted((ROOT / "train" / "recipes").glob("*.json"))
    assert len(recipes) >= 6
    for path in recipes:
        if json.loads(path.read_text())["kind"].startswith("image"):
            continue  # image recipes: train_image.py's own loader, smoke-tested in test_image
        name, recipe = train_text.load_recipe(train_text.parse_args([str(path)]))
        assert name == path.stem and recipe.kind in ("text-ebt", "transformer")
        if (ROOT / "checkpoints" / name).is_dir():  # a shipped checkpoint of the same kind
            assert ebt.load(name).config.kind == recipe.kind


def test_label_smoothing_is_the_cross_entropy_against_a_smoothed_target():
    logits = torch.randn(2, 3, 5, generator=torch.Generator().manual_seed(0))
    targets = torch.tensor([[0, 4, 2], [1, 1, 3]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
    smooth = 0.1
    target = torch.nn.functional.one_hot(targets, 5) * (1 - smooth) + smooth / 5
    ce = -(target * logits.log_softmax(-1)).sum(-1)
    expected = (ce * mask).sum() / mask.sum()
    torch.testing.assert_close(obj.masked_ce(logits, targets, mask, smooth), expected)
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        obj.TextRecipe(label_smoothing=1.0)

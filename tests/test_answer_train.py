"""train/train_answer.py: a tiny Transformer++ and an answer EBT warm-started from it train a few
iterations, save, reload and think; the shipped answer recipes parse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import ebt_core as ebt
from ebt_core.answer.model import AnswerEBT
from train import train_answer

ROOT = Path(__file__).resolve().parent.parent
TINY = {"n_layer": 1, "n_head": 2, "d_model": 16}


def _write(tmp_path: Path, name: str, **recipe) -> Path:
    path = tmp_path / f"{name}.json"
    base = {"batch": 4, "iters": 3, "eval_every": 2, "eval_batch": 4, "warmup": 1}
    path.write_text(json.dumps({**base, **recipe}))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("task, loss", [("sum", "ce"), ("sudoku", "any_solution")])
def test_transformer_then_warm_started_ebt(tmp_path, task, loss):
    tf = _write(tmp_path, "tf", kind="transformer", task=task, model=TINY)
    tf_dir = train_answer.train([str(tf), "--out", str(tmp_path / "tf"), "--quiet"])
    ebt_recipe = _write(
        tmp_path, "ebt", kind="answer-ebt", task=task, loss=loss, init_from=str(tf_dir),
        model={**TINY, "step_size": 5.0}, think={"steps": 3}, eval_steps=[1, 2],
        steps_min=2, steps_max=3, replay=0.5, alpha_jitter=2.0, langevin=0.1,
        final_only=True, detach=False,
    )  # fmt: skip
    out = train_answer.train([str(ebt_recipe), "--out", str(tmp_path / "ebt"), "--quiet"])
    model = ebt.load(out)
    assert isinstance(model, AnswerEBT) and model.think_defaults.steps == 3
    rows = ebt.read_metrics(out)
    assert [r["iter"] for r in rows] == [2, 3] and set(rows[-1]["id_acc_step"]) == {"1", "2"}
    prompt = "12+34=" if task == "sum" else "1.3..4.2....2..1="
    assert len(ebt.think(model, prompt).tokens) == model.config.answer_length


def test_warm_start_copies_the_stack_and_transposes_the_embedding(tmp_path):
    torch.manual_seed(0)
    config = ebt.TextModelConfig(**TINY, kind="transformer", vocab="0123456789+=\n")
    base = ebt.Transformer(config)
    ebt.save(base, tmp_path / "tf")
    recipe = train_answer.obj.AnswerRecipe(task="sum", model={**TINY, "step_size": 5.0})
    model, _ = train_answer.build(recipe, torch.device("cpu"))
    train_answer.warm_start(model, str(tmp_path / "tf"))
    assert torch.equal(model.blocks[0].attn.qkv.weight, base.blocks[0].attn.qkv.weight)
    assert torch.equal(model.candidate_proj.weight, base.tok_emb.weight.t())
    sudoku = train_answer.obj.AnswerRecipe(task="sudoku", model={**TINY, "step_size": 5.0})
    other, _ = train_answer.build(sudoku, torch.device("cpu"))
    with pytest.raises(ValueError, match="vocabulary"):
        train_answer.warm_start(other, str(tmp_path / "tf"))


@pytest.mark.parametrize("name", ["sum-ebt", "sum-transformer", "sudoku-ebt", "sudoku-transformer"])
def test_shipped_answer_recipes_parse(name):
    args = train_answer.parse_args([str(ROOT / "train" / "recipes" / f"{name}.json")])
    stem, recipe = train_answer.load_recipe(args)
    assert stem == name and recipe.task == name.split("-")[0]
    assert (recipe.kind == "transformer") == name.endswith("transformer")

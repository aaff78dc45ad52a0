"""Train a whole-answer EBT (sums, 4×4 Sudoku) or its Transformer++ baseline from a recipe.

    python train/train_answer.py train/recipes/sum-transformer.json   # → checkpoints/<name>
    python train/train_answer.py train/recipes/sum-ebt-base.json --out runs/sum-ebt-base  # from it
    (then sum-ebt-mirror.json --out runs/sum-ebt-mirror, then sum-ebt.json: README "Training")
    python train/train_answer.py train/recipes/sudoku-ebt.json --iters 20 --out /tmp/smoke

Run from a checkout after `pip install -e .`. CPU by default, CUDA when present; torchrun for
data parallelism (train/common.py). Every `eval_every` iterations it logs the validation
split's accuracy (exact match / solved) in distribution and on the harder level — for EBTs
after each of the recipe's `eval_steps` (the noiseless single sample) — to metrics.jsonl and
saves a resumable state in OUT/.resume. Settings are chosen on this validation split; the
study (python -m ebt_core.study.answer) reports the test split.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace

import torch

import ebt_core as ebt
from ebt_core.answer import training as obj
from ebt_core.answer.baseline import generate_answers
from ebt_core.answer.data import get_task
from ebt_core.answer.model import AnswerEBT, AnswerModelConfig
from ebt_core.answer.think import solve
from ebt_core.study import cli
from train import common
from train.common import warm_start  # train_answer.warm_start: the answer recipe's init_from
from train.train_text import data_rngs, rng_state


def build(recipe: obj.AnswerRecipe, device: torch.device):
    task = get_task(recipe.task)
    if recipe.kind == "answer-ebt":
        model = AnswerEBT(AnswerModelConfig(**{**recipe.model, "task": recipe.task}))
    else:
        config = ebt.TextModelConfig(**{**recipe.model, "kind": "transformer", "vocab": task.vocab})
        model = ebt.Transformer(config)
    model = model.to(device)
    return model, common.make_optimizer(model, recipe)


def accuracy(task, prompts: list[str], answers: list[str]) -> float:
    return round(sum(task.is_correct(p, a) for p, a in zip(prompts, answers)) / len(prompts), 4)


def evaluate(model, recipe: obj.AnswerRecipe) -> dict:
    """Validation accuracy, ID and harder (EBT: per descent step, noiseless single sample)."""
    task, row = get_task(recipe.task), {}
    model.eval()
    for split in ("id", "harder"):
        prompts = [e.prompt for e in task.fixed(split, "val", recipe.eval_batch)]
        if isinstance(model, AnswerEBT):
            cfg = replace(model.think_defaults, steps=max(recipe.eval_steps), samples=1)
            solved = solve(model, prompts, cfg, recipe.eval_steps)
            row[f"{split}_acc_step"] = {
                str(s.steps): accuracy(task, prompts, [a[0] for a in s.answers]) for s in solved
            }
        else:
            row[f"{split}_acc"] = accuracy(task, prompts, generate_answers(model, task, prompts))
    model.train()
    return row


def parse_args(argv=None):
    return common.common_args("Train a whole-answer EBT or Transformer++.").parse_args(argv)


def load_recipe(args) -> tuple[str, obj.AnswerRecipe]:
    return common.load_recipe(args, obj.AnswerRecipe)


def train(argv=None):
    """Run training as the command line would; returns the checkpoint directory."""
    args = parse_args(argv)
    name, recipe = load_recipe(args)
    rank, world, device = common.setup(args)
    out = common.checkpoint_dir(args, name)
    torch.manual_seed(recipe.seed)
    model, optimizer = build(recipe, device)
    if recipe.init_from:
        warm_start(model, recipe.init_from)
    is_ebt = recipe.kind == "answer-ebt"
    model.think_defaults = ebt.ThinkConfig(**recipe.think) if is_ebt else None
    start_it, metrics, saved = common.resume_or_start(args, out, model, optimizer)
    rng, gen = data_rngs(recipe, rank, saved)
    task = get_task(recipe.task)
    replay = obj.ReplayBuffer(recipe.replay_size) if recipe.replay > 0 else None
    bar = common.progress(start_it, recipe, name, args.quiet or rank != 0)
    t0 = time.time()
    for it in bar:
        # 1. learning rate; 2. loss on a fresh batch; 3. backward, average, clip, step
        lr = common.set_lr(optimizer, it, recipe)
        if is_ebt:
            loss, stats = obj.ebt_loss(model, task, recipe, rng, gen, replay)
        else:
            loss, stats = obj.transformer_loss(model, task, recipe, rng)
        common.optimizer_step(model, optimizer, loss, recipe, world)
        bar.set_postfix(loss=f"{stats['loss_final']:.3f}")
        # 4. periodic validation + resumable state
        if rank == 0 and common.is_eval_iter(it, recipe):
            row = common.metrics_row(it, t0, round(stats["loss_final"], 4), lr)
            if is_ebt:
                row.update(
                    alpha=round(model.step_size, 4), loss_first=round(stats["loss_first"], 4)
                )
            row.update(evaluate(model, recipe))
            metrics.append(row)
            bar.write(json.dumps(row))
            common.save_resume(out, model, optimizer, it + 1, metrics, rng_state(rng, gen))
    saved_recipe = {**asdict(recipe), "name": name, "world_size": world}
    think = model.think_defaults
    common.finish(model, out, rank, world, think=think, recipe=saved_recipe, metrics=metrics)
    return out


if __name__ == "__main__":
    cli.run(train)

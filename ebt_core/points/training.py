"""Training of point models: `train_points`, a loop usable in-process (progress callback, stop
flag), on a recipe (recipe.py: every lever validated). The objectives live in objectives.py.

    result = train_points(PointRecipe(task="fork"), progress=print_row, should_stop=lambda: False)
    result.model, result.metrics, result.stopped

The objective is a lever (`objective`): "final" is the paper's recipe (loss between every
descent's final candidate and the target); at a fork the start does not know the branch, so
every descent is pulled to the average of the branches: one basin at the midpoint. "wta"
(winner-takes-all over N descents: only the one that ended nearest is penalised) lets starts
specialise on branches: one basin per mode. "dsm" is denoising score matching.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..config import ThinkConfig
from ..recipe import lr_at
from . import objectives
from .model import PointEBT, PointRegressor
from .recipe import KINDS, OBJECTIVES, PointRecipe  # noqa: F401 (re-exported)
from .tasks import get_task


@dataclass
class TrainResult:
    """What `train_points` returns: the trained model (eval mode, recipe and think defaults
    attached), one metrics row per evaluation, whether `should_stop` ended it, wall time."""

    model: torch.nn.Module
    metrics: list[dict[str, Any]]
    stopped: bool
    seconds: float


ProgressFn = Callable[[dict[str, Any], torch.nn.Module], None]


def build_model(recipe: PointRecipe) -> torch.nn.Module:
    torch.manual_seed(recipe.seed)
    config = recipe.model_config()
    return (PointEBT if recipe.kind == "points-ebt" else PointRegressor)(config)


def make_optimizer(model: torch.nn.Module, recipe: PointRecipe) -> torch.optim.AdamW:
    """AdamW; a learnable α gets its own group (no decay, alpha_lr_mult × lr)."""
    named = list(model.named_parameters())
    groups = [
        {"params": [p for n, p in named if n != "alpha"], "lr_mult": 1.0},
        {"params": [p for n, p in named if n == "alpha"], "lr_mult": recipe.alpha_lr_mult},
    ]
    groups[1]["weight_decay"] = 0.0
    return torch.optim.AdamW(
        [g for g in groups if g["params"]], lr=recipe.lr, weight_decay=recipe.weight_decay
    )


def train_points(
    recipe: PointRecipe,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    evaluate: Callable[[torch.nn.Module], dict[str, Any]] | None = None,
) -> TrainResult:
    """Train a point model from scratch on the recipe's task.

    Every `eval_every` iterations (and at the end) a metrics row {iter, loss, lr, step_size,
    seconds, **evaluate(model)} is appended and passed to `progress(row, model)` (the model
    in eval mode; do not keep a reference across calls, it keeps training). `should_stop()` is
    polled every iteration; True ends training early (the result says `stopped`).
    """
    if not isinstance(recipe, PointRecipe):
        raise ValueError(f"recipe must be a PointRecipe, got {type(recipe).__name__}")
    model, task = _attach(build_model(recipe), recipe), get_task(recipe.task)
    opt = make_optimizer(model, recipe)
    rng, gen = random.Random(recipe.seed), torch.Generator().manual_seed(recipe.seed)
    data_rng = np.random.default_rng(recipe.seed)  # measures draw from other seeds
    replay = objectives.ReplayBuffer(recipe.replay_size) if recipe.replay > 0 else None
    metrics, losses, begin, stopped = [], [], time.perf_counter(), False
    for it in range(recipe.iters):
        # 1. a fresh batch of sequences from the task (in distribution)
        points = torch.from_numpy(task.sample(data_rng, recipe.batch, recipe.length))
        # 2. loss, backward, clip, step at the scheduled learning rate
        model.train()
        loss, _ = objectives.loss(model, points, recipe, rng, gen, replay)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
        lr = lr_at(it, recipe)
        for group in opt.param_groups:
            group["lr"] = lr * group["lr_mult"]
        opt.step()
        losses.append(float(loss.detach()))
        # 3. log every eval_every iterations and at the end; poll the stop flag
        stopped = bool(should_stop and should_stop())
        if (it + 1) % recipe.eval_every == 0 or it + 1 == recipe.iters or stopped:
            row = _row(model.eval(), it, losses[-recipe.eval_every :], lr, begin, evaluate)
            metrics.append(row)
            if progress:
                progress(row, model)
        if stopped:
            break
    return TrainResult(model.eval(), metrics, stopped, time.perf_counter() - begin)


def _row(model, it: int, losses: list[float], lr: float, begin: float, evaluate) -> dict:
    """One metrics row: iteration, mean training loss since the last row, lr, α, seconds."""
    return {
        "iter": it + 1,
        "loss": float(np.mean(losses)),
        "lr": lr,
        "step_size": float(model.alpha) if hasattr(model, "alpha") else None,
        "seconds": round(time.perf_counter() - begin, 2),
        **(evaluate(model) if evaluate else {}),
    }


def _attach(model: torch.nn.Module, recipe: PointRecipe) -> torch.nn.Module:
    """What `ebt.load` attaches, so `think(model, ...)` uses the recipe's defaults (also inside
    a progress callback) and `ebt.save(model, dir)` stores the recipe."""
    model.recipe = recipe.to_dict()
    model.think_defaults = ThinkConfig.from_dict(recipe.think) if recipe.think else ThinkConfig()
    model.checkpoint_name = ""
    return model

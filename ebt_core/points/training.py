"""Training of point models: the recipe (every lever validated) and `train_points`, a loop
usable in-process (progress callback, stop flag). The objectives live in objectives.py.

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
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

import numpy as np
import torch

from ..config import ThinkConfig, _check_float, _check_int
from ..recipe import Recipe, lr_at
from . import objectives
from .model import PointEBT, PointModelConfig, PointRegressor
from .tasks import get_task

OBJECTIVES = ("wta", "final", "dsm")
KINDS = ("points-ebt", "points-regressor")


@dataclass(frozen=True)
class PointRecipe(Recipe):
    """How a point model is trained (saved in the checkpoint's config as `recipe`).

    task: the task's sequences (tasks.py), `length` points each, `batch` per iteration.
    think: the trained model's default ThinkConfig (8 steps, 32 candidates).
    objective: "wta", "final" (the paper's) or "dsm" (see the module docstring).
    samples: N descents per position (starts at p_t + start_std·ε).
    steps_min, steps_max: unrolled steps, drawn per iteration (randomised steps).
    alpha_jitter: α × log-uniform[1/j, j] per descent (randomised step size; 1 = fixed).
    langevin: noise std added after each unrolled step. replay: fraction of each batch that
    restarts from the final states of earlier batches (replay buffer of `replay_size`).
    final_only: loss on the final step only (System 2) vs the mean over steps.
    detach: cut the graph between steps. dsm_scales: σ's of "dsm".
    The shared fields (optimiser, schedule, steps, α jitter, Langevin, detach) are `Recipe`'s;
    the defaults here are the shipped points-ebt recipe's.
    wta_relax: "wta" also pulls the losing candidates with this total weight (relaxed
    winner-takes-all: no start is left untrained; small, or it pulls toward the midpoint).
    contrastive: weight of a contrastive term added to "wta"/"final": E(target) − E(final
    candidates) (pushes the data's energy down and the descents' end points up, so spurious
    basins fill in and the lowest final energy picks a real mode), with energy_reg·E² on both.
    """

    KINDS: ClassVar[tuple[str, ...]] = KINDS

    kind: str = "points-ebt"
    batch: int = 16
    lr: float = 1e-2
    weight_decay: float = 0.0
    steps_max: int = 3
    alpha_jitter: float = 2.0
    detach: bool = False
    eval_steps: tuple = (1, 2, 4, 8)
    task: str = "fork"
    think: dict = field(default_factory=lambda: {"steps": 8, "samples": 32})
    objective: str = "wta"
    length: int = 6
    samples: int = 8
    replay: float = 0.0
    replay_size: int = 256
    final_only: bool = True
    start_std: float = 0.3
    dsm_scales: tuple = (0.03, 0.1, 0.3)
    wta_relax: float = 0.1
    contrastive: float = 0.0
    energy_reg: float = 0.1
    eval_every: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        get_task(self.task)
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        for name, lo, hi in (
            ("length", 2, 64), ("batch", 1, 4096), ("iters", 1, 10**6), ("warmup", 0, 10**6),
            ("samples", 1, 64), ("steps_min", 1, 64), ("steps_max", 1, 64),
            ("replay_size", 1, 10**5), ("eval_every", 1, 10**6), ("seed", 0, 2**63 - 1),
        ):  # fmt: skip
            _check_int(name, getattr(self, name), lo, hi)
        if self.steps_max < self.steps_min:
            raise ValueError(f"steps_max ({self.steps_max}) must be >= steps_min")
        for name, lo, hi, lo_open in (
            ("lr", 0.0, 1.0, True), ("min_lr_ratio", 0.0, 1.0, False),
            ("weight_decay", 0.0, 1.0, False), ("grad_clip", 0.0, 1e6, True),
            ("alpha_lr_mult", 0.0, 1e4, False), ("alpha_jitter", 1.0, 100.0, False),
            ("langevin", 0.0, 10.0, False), ("start_std", 0.0, 10.0, True),
            ("contrastive", 0.0, 100.0, False), ("wta_relax", 0.0, 1.0, False),
            ("energy_reg", 0.0, 100.0, False),
        ):  # fmt: skip
            _check_float(name, getattr(self, name), lo, hi, lo_open)
        _check_float("replay", self.replay, 0.0, 0.99)
        for name in ("final_only", "detach"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if not isinstance(self.dsm_scales, tuple) or not self.dsm_scales:
            raise ValueError(f"dsm_scales must be a non-empty list, got {self.dsm_scales!r}")
        for s in self.dsm_scales:
            _check_float("dsm_scales", s, 0.0, 10.0, lo_open=True)
        self.model_config()  # architecture errors name their field now, not mid-training
        ThinkConfig.from_dict(self.think)
        super().__post_init__()  # the shared fields (eval_batch, eval_steps), after ours

    def model_config(self) -> PointModelConfig:
        return PointModelConfig.from_dict(
            {**self.model, "kind": self.kind, "start_std": self.start_std}
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["dsm_scales"], data["eval_steps"] = list(self.dsm_scales), list(self.eval_steps)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PointRecipe:
        """From a JSON object; unknown keys or wrong types raise ValueError naming them."""
        if not isinstance(data, dict):
            raise ValueError(f"a recipe must be a JSON object, got {type(data).__name__}")
        allowed = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise ValueError(f"unknown recipe key(s) {unknown}; allowed: {allowed}")
        values = dict(data)
        for key in ("dsm_scales", "eval_steps"):  # JSON has lists only
            if isinstance(values.get(key), list):
                values[key] = tuple(values[key])
        try:
            return cls(**values)
        except TypeError as err:
            raise ValueError(str(err)) from err


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

"""The training recipe fields every model kind shares, and the learning-rate schedule.

`TextRecipe` (text/training.py) and `ImageRecipe` (image/training.py) extend `Recipe` with
their own data and objective knobs. A recipe is a frozen dataclass: it is read from a JSON file
in train/recipes/ and saved into the checkpoint's config.json as `recipe` (with the run's
bookkeeping keys in `RUN_KEYS`), and `from_dict` parses either back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

RUN_KEYS = ("name", "world_size", "text_file")  # what a run adds to the saved recipe


@dataclass(frozen=True)
class Recipe:
    """How a model is trained: optimiser, schedule, unrolled descent and evaluation cadence.

    kind: the model kind (one of the subclass's `KINDS`); model: its config's fields.
    lr: peak learning rate, reached after `warmup` iterations, then cosine to lr × min_lr_ratio.
    alpha_lr_mult: the learnable step size α's learning rate, as a multiple of lr.
    steps_min, steps_max: the number of unrolled descent steps, drawn per batch.
    alpha_jitter: α × log-uniform[1/j, j] (1 = fixed); langevin: noise std of each step.
    detach: cut the graph between unrolled steps. eval_steps: the descent steps evaluated.
    """

    KINDS: ClassVar[tuple[str, ...]] = ()

    kind: str = ""
    model: dict = field(default_factory=dict)
    batch: int = 32
    iters: int = 1000
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup: int = 50
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    alpha_lr_mult: float = 3.0
    steps_min: int = 1
    steps_max: int = 2
    alpha_jitter: float = 1.0
    langevin: float = 0.0
    detach: bool = True
    eval_every: int = 100
    eval_batch: int = 48
    eval_steps: tuple = (1, 2, 4)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}, got {self.kind!r}")
        for name in ("batch", "iters", "steps_min", "steps_max", "eval_every", "eval_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.steps_max < self.steps_min:
            raise ValueError("steps_max must be >= steps_min")
        if self.alpha_jitter < 1.0:
            raise ValueError(f"alpha_jitter must be >= 1, got {self.alpha_jitter}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        """A recipe from a JSON object (a recipe file). Unknown keys or a value of the wrong
        type raise a ValueError that names them."""
        allowed = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise ValueError(f"unknown key(s) {unknown}; allowed: {allowed}")
        values = dict(data)
        if "eval_steps" in values:  # JSON has lists only
            values["eval_steps"] = tuple(values["eval_steps"])
        try:
            return cls(**values)
        except TypeError as err:  # e.g. "iters": "many"
            raise ValueError(str(err)) from err

    @classmethod
    def from_checkpoint(cls, saved: dict[str, Any]) -> Recipe:
        """The recipe a checkpoint was trained with, from its config's `recipe`."""
        return cls.from_dict({k: v for k, v in saved.items() if k not in RUN_KEYS})


def lr_at(it: int, recipe: Recipe) -> float:
    """Linear warm-up, then cosine to lr × min_lr_ratio."""
    if it < recipe.warmup:
        return recipe.lr * (it + 1) / recipe.warmup
    progress = min(1.0, (it - recipe.warmup) / max(1, recipe.iters - recipe.warmup))
    floor = recipe.lr * recipe.min_lr_ratio
    return floor + 0.5 * (recipe.lr - floor) * (1 + math.cos(math.pi * progress))

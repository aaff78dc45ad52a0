"""How a point model is trained: `PointRecipe`, every lever validated, importable without torch
(the Playground lays out its levers from the defaults before any model exists);
`points/training.py` re-exports it beside `train_points`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from ..config import ThinkConfig, _check_float, _check_int
from ..recipe import Recipe
from .config import PointModelConfig
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

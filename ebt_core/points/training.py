"""Training of point models: the recipe (every lever validated), the objectives, and
`train_points`, a loop usable in-process (progress callback, stop flag).

    result = train_points(PointRecipe(task="fork"), progress=print_row, should_stop=lambda: False)
    result.model, result.metrics, result.stopped

Objectives of the point EBT (the lever, `objective`):
- "final": the paper's optimisation-based recipe: unroll the descent from N starts, loss =
  squared distance of every descent's final candidate to the target (averaged over steps
  unless `final_only`). At a fork the start does not know the branch, so every descent is
  pulled to the average of the branches: one basin at the midpoint.
- "wta": winner-takes-all over the N descents: only the candidate that ended nearest the target
  is penalised, so different starts can specialise on different branches: one basin per mode.
- "dsm": denoising score matching at several noise scales σ (no unroll): ∇E at target + σε is
  trained to point back to the data: ∇E(y + σε) ≈ ε/σ, weighted so every σ counts the same,
  loss ‖σ²∇E − σε‖²/σ².
All of them run the candidates through `descent.descend` (dsm only evaluates ∇E, 0 steps).
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
from ..descent import DescentPolicy, autograd_energy_and_grad, descend, jittered_step_size
from ..recipe import Recipe, lr_at
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
        super().__post_init__()
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


class ReplayBuffer:
    """FIFO of recent (sequence (L, 2), final states (N·(L−1), 2)): restarts = longer chains."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: list[tuple[torch.Tensor, torch.Tensor]] = []

    def __len__(self) -> int:
        return len(self.items)

    def add(self, points: torch.Tensor, states: torch.Tensor) -> None:
        self.items.extend(zip(points, states.detach()))
        del self.items[: -self.size]

    def sample(self, rng: random.Random, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        picks = [self.items[rng.randrange(len(self.items))] for _ in range(n)]
        return torch.stack([p[0] for p in picks]), torch.stack([p[1] for p in picks])


def unroll(model: PointEBT, cache, start: torch.Tensor, steps: int, alpha, recipe, gen):
    """Descend candidates start (B, N·T, 2) (candidate j follows point j mod T) for `steps`
    steps through `descend`, keeping the graph. Returns the states after each step."""
    T = cache.length
    real_index = torch.arange(T).repeat(start.shape[1] // T)  # (N·T,)
    energy_fn = lambda y, step: model.energy(cache, y, real_index)  # noqa: E731
    policy = DescentPolicy(
        steps,
        alpha,
        recipe.langevin,
        evaluate_final=False,
        detach=recipe.detach,
        create_graph=True,
        generator=gen,
    )
    trace = descend(start, autograd_energy_and_grad(energy_fn, create_graph=True), policy)
    return [s.next_state for s in trace]


def descent_loss(model: PointEBT, points, recipe: PointRecipe, rng, gen, replay):
    """ "wta" or "final" loss on sequences points (B, L, 2). Returns (loss, stats)."""
    B, T, N = points.shape[0], points.shape[1] - 1, recipe.samples
    anchors = points[:, :-1].repeat(1, N, 1)  # (B, N·T, 2): candidate j follows point j mod T
    start = anchors + recipe.start_std * torch.randn(anchors.shape, generator=gen)
    n_replay = int(B * recipe.replay) if replay is not None and len(replay) >= B else 0
    if n_replay:  # these sequences continue from where an earlier descent ended
        r_points, r_states = replay.sample(rng, n_replay)
        points = torch.cat([points[: B - n_replay], r_points])
        start = torch.cat([start[: B - n_replay], r_states])
    cache = model.prefix(points[:, :-1])
    steps = rng.randint(recipe.steps_min, recipe.steps_max)
    alpha = jittered_step_size(model.alpha, recipe.alpha_jitter, (B, N * T, 1), gen)
    states = unroll(model, cache, start, steps, alpha, recipe, gen)
    target = points[:, 1:].unsqueeze(1)  # (B, 1, T, 2)
    dists = [((s.view(B, N, T, 2) - target) ** 2).sum(-1) for s in states]  # each (B, N, T)
    if recipe.objective == "wta":  # the candidate nearest the target at the end is penalised
        winner = dists[-1].detach().argmin(dim=1, keepdim=True)  # (B, 1, T)
        weight = torch.full_like(dists[-1], recipe.wta_relax / max(1, N - 1))
        weight.scatter_(1, winner, 1.0)  # (B, N, T): 1 for the winner, relax/(N−1) otherwise
        dists = [(d * weight).sum(1) for d in dists]
    loss = dists[-1].mean() if recipe.final_only else torch.stack(dists).mean()
    if recipe.contrastive > 0:
        loss = loss + recipe.contrastive * contrastive_term(
            model, cache, states[-1], points, recipe
        )
    if replay is not None and recipe.replay > 0:
        replay.add(points, states[-1])
    final = dists[-1].detach()
    stats = {"loss": float(loss.detach()), "distance": float(final.sqrt().mean()), "steps": steps}
    stats["per_position"] = final.sqrt().mean(dim=(0, 1)).tolist()
    return loss, stats


def contrastive_term(model: PointEBT, cache, final: torch.Tensor, points, recipe) -> torch.Tensor:
    """E(target) − E(descents' end points, detached) + energy_reg·(E² of both), averaged."""
    T = points.shape[1] - 1
    candidates = torch.cat([points[:, 1:], final.detach()], dim=1)  # (B, T + N·T, 2)
    real_index = torch.arange(T).repeat(1 + final.shape[1] // T)
    energies = model.energy(cache, candidates, real_index)  # (B, T + N·T)
    positive, negative = energies[:, :T], energies[:, T:]
    gap = positive.mean() - negative.mean()
    return gap + recipe.energy_reg * (energies**2).mean()


def dsm_loss(model: PointEBT, points, recipe: PointRecipe, gen):
    """Denoising score matching at every σ of `dsm_scales`: ‖σ²∇E(y + σε) − σε‖², averaged."""
    T = points.shape[1] - 1
    cache = model.prefix(points[:, :-1])
    target = points[:, 1:]  # (B, T, 2)
    index = torch.arange(T)
    energy_fn = lambda y, step: model.energy(cache, y, index)  # noqa: E731
    losses = []
    for sigma in recipe.dsm_scales:
        noise = sigma * torch.randn(target.shape, generator=gen)
        policy = DescentPolicy(0, 0.0, create_graph=True)  # evaluate ∇E only
        (step,) = descend(
            target + noise, autograd_energy_and_grad(energy_fn, create_graph=True), policy
        )
        losses.append(((sigma**2 * step.grad - noise) ** 2).sum(-1).mean() / sigma**2)
    loss = torch.stack(losses).mean()
    return loss, {"loss": float(loss.detach())}


def regression_loss(model: PointRegressor, points):
    loss = ((model(points[:, :-1]) - points[:, 1:]) ** 2).sum(-1).mean()
    return loss, {"loss": float(loss.detach())}


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


def _loss(model, points, recipe, rng, gen, replay):
    if recipe.kind == "points-regressor":
        return regression_loss(model, points)
    if recipe.objective == "dsm":
        return dsm_loss(model, points, recipe, gen)
    return descent_loss(model, points, recipe, rng, gen, replay)


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
    replay = ReplayBuffer(recipe.replay_size) if recipe.replay > 0 else None
    metrics, losses, begin, stopped = [], [], time.perf_counter(), False
    for it in range(recipe.iters):
        # 1. a fresh batch of sequences from the task (in distribution)
        points = torch.from_numpy(task.sample(data_rng, recipe.batch, recipe.length))
        # 2. loss, backward, clip, step at the scheduled learning rate
        model.train()
        loss, _ = _loss(model, points, recipe, rng, gen, replay)
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
            model.eval()
            row = {
                "iter": it + 1,
                "loss": float(np.mean(losses[-recipe.eval_every :])),
                "lr": lr,
                "step_size": float(model.alpha) if hasattr(model, "alpha") else None,
                "seconds": round(time.perf_counter() - begin, 2),
                **(evaluate(model) if evaluate else {}),
            }
            metrics.append(row)
            if progress:
                progress(row, model)
        if stopped:
            break
    return TrainResult(model.eval(), metrics, stopped, time.perf_counter() - begin)


def _attach(model: torch.nn.Module, recipe: PointRecipe) -> torch.nn.Module:
    """What `ebt.load` attaches, so `think(model, ...)` uses the recipe's defaults (also inside
    a progress callback) and `ebt.save(model, dir)` stores the recipe."""
    model.recipe = recipe.to_dict()
    model.think_defaults = ThinkConfig.from_dict(recipe.think) if recipe.think else ThinkConfig()
    model.checkpoint_name = ""
    return model

"""Training objectives of the point models, one function each (the recipe picks one).

- "final" (`descent_loss`): the paper's optimisation-based recipe: unroll the descent from N
  starts, loss = squared distance of every descent's final candidate to the target.
- "wta" (`descent_loss`): winner-takes-all over the N descents (relaxed by `wta_relax`).
- "dsm" (`dsm_loss`): denoising score matching at several noise scales.
- `contrastive_term`: an optional E(target) − E(descents' ends) term for "wta"/"final".
- `regression_loss`: the MSE baseline.
Every descent runs through `descent.descend` (dsm only evaluates ∇E: 0 steps).
"""

from __future__ import annotations

import random

import torch

from ..descent import DescentPolicy, autograd_energy_and_grad, descend, jittered_step_size
from .model import PointEBT, PointRegressor


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


def descent_loss(model: PointEBT, points, recipe, rng, gen, replay):
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


def dsm_loss(model: PointEBT, points, recipe, gen):
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


def loss(model, points, recipe, rng, gen, replay):
    """The recipe's objective on sequences points (B, L, 2) → (loss, stats)."""
    if recipe.kind == "points-regressor":
        return regression_loss(model, points)
    if recipe.objective == "dsm":
        return dsm_loss(model, points, recipe, gen)
    return descent_loss(model, points, recipe, rng, gen, replay)

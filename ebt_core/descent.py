"""The descent: the one loop in which an EBT's candidate is updated ("thinking").

    for step in descend(start, energy_and_grad, DescentPolicy(steps=8, step_size=alpha)):
        step.state, step.energy, step.grad        # the state evaluated at step.index

Every kind of EBT (text, image, and any new one) plugs in an `energy_and_grad(state, index)`
function returning (energy (*batch), ∂E/∂state); `autograd_energy_and_grad` builds one from an
energy function, and the text EBT's hand-written fast path is another. The loop owns the rest:
the update rule, Langevin noise, accept-lower-only, early stopping on a tolerance, and the
check that every energy is finite. Training (`unroll`: with `create_graph=True`, so the loss
can backpropagate through ∇E) and inference use the same loop.

    candidate = read(state)                 # softmax for text, identity for images
    E         = energy(candidate)
    state'    = state − α ∂E/∂state + langevin · ε,   ε ~ N(0, 1)

This is plain gradient descent on E(read(state)), so at a small enough α the energy never
increases. (The official text EBT instead sets state' = p − α ∂E/∂p with p = softmax(state);
that map is not a descent on any function of the state, and the app's landscape plots, which
show E over the state space with the path on it, would not match the path. See README.)
An energy may instead ask for the mirror step state' = state − α ∂E/∂p (`mirror=True`,
answer EBTs with `mirror_descent`): a preconditioned descent on the same E(read(state)), whose
steps do not vanish where the softmax saturates.
Gradients are taken with `torch.autograd.grad` with respect to the state alone, so no
parameter `.grad` is ever filled by thinking.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

ReadFn = Callable[[torch.Tensor], torch.Tensor]
# (state, step index) → energy (*batch); the index lets a model use per-step embeddings
EnergyFn = Callable[[torch.Tensor, int], torch.Tensor]
# (state, step index) → (energy (*batch), ∂E/∂state shaped like state)
EnergyAndGrad = Callable[[torch.Tensor, int], tuple[torch.Tensor, torch.Tensor]]


class NonFiniteEnergyError(FloatingPointError, ValueError):
    """An energy came out NaN or infinite (a too-large step size, or a broken checkpoint)."""


def softmax_read(state: torch.Tensor) -> torch.Tensor:
    """Text candidates: logits state → distribution over the vocabulary."""
    return state.softmax(dim=-1)


def identity_read(state: torch.Tensor) -> torch.Tensor:
    """Image and point candidates: the state is the candidate itself."""
    return state


@dataclass(frozen=True)
class DescentPolicy:
    """Everything about a descent except the energy.

    steps: number of updates (the loop evaluates up to steps + 1 states).
    step_size: α, already resolved (see `resolve_step_size`); a tensor broadcastable to the
        state gives every candidate its own α (randomised step size in training).
    langevin: std of Gaussian noise added to the state after each update.
    accept_lower_only: an update that raises a candidate's energy is undone (batch axis 0).
    tolerance: stop once every |ΔE| < tolerance (0 = run all steps).
    freeze_settled: with a tolerance, each candidate (batch axis 0) also stops on its own: once
        its |ΔE| < tolerance it is settled and no later update moves it (energy-aware stopping
        per candidate, e.g. per image tile); the loop still ends when all have settled.
    evaluate_final: also evaluate the state after the last update (inference records it;
        training only needs the state, so it skips that forward pass).
    detach: cut the graph between steps (training, System 1).
    create_graph: keep the graph through ∇E so a loss can backpropagate through the descent.
    """

    steps: int
    step_size: float | torch.Tensor
    langevin: float = 0.0
    accept_lower_only: bool = False
    tolerance: float = 0.0
    freeze_settled: bool = False
    evaluate_final: bool = True
    detach: bool = False
    create_graph: bool = False
    generator: torch.Generator | None = None


@dataclass
class Step:
    """One evaluated state of a descent.

    index: 0 = the start, k = after k updates.
    state: the state evaluated here (*batch, *candidate); energy (*batch); grad like state.
    next_state: the state after this step's update (None for the last evaluated state).
    """

    index: int
    state: torch.Tensor
    energy: torch.Tensor
    grad: torch.Tensor
    next_state: torch.Tensor | None = None


def resolve_step_size(override: float | None, model) -> float:
    """The α a descent uses: the caller's, or (None) the model's trained α."""
    return float(model.step_size) if override is None else float(override)


def jittered_step_size(
    step_size: float | torch.Tensor,
    jitter: float,
    shape: tuple[int, ...],
    generator: torch.Generator | None = None,
) -> float | torch.Tensor:
    """Randomised step size (reference §2): α × log-uniform[1/jitter, jitter], drawn per entry
    of `shape` (broadcast against the state). jitter = 1 returns α unchanged."""
    if jitter <= 1.0:
        return step_size
    u = torch.rand(shape, generator=generator) * 2 - 1
    return step_size * torch.exp(u * math.log(jitter))


def check_finite(values: torch.Tensor, what: str = "energy") -> None:
    """Raise NonFiniteEnergyError when any of `values` (an energy, or ∂E/∂state) is NaN or
    infinite."""
    if not bool(torch.isfinite(values).all()):
        raise NonFiniteEnergyError(
            f"{what} is NaN or infinite: lower the step size, or check the checkpoint's weights"
        )


def autograd_energy_and_grad(
    energy_fn: EnergyFn,
    read: ReadFn = identity_read,
    create_graph: bool = False,
    mirror: bool = False,
) -> EnergyAndGrad:
    """An `energy_and_grad` from an energy of the read candidate, by autograd (w.r.t. the
    state only). Works under `torch.no_grad` too: thinking always needs ∇E.

    mirror=True returns ∂E/∂candidate (the gradient w.r.t. the read candidate, e.g. the
    probabilities) in place of ∂E/∂state, so the loop's update state − α ∂E/∂p is mirror
    descent (exponentiated gradient) on the simplex. It is still a descent direction in state
    space: with p = softmax(z), the change of E along −∂E/∂p is −gᵀ(diag p − ppᵀ)g ≤ 0, so at a
    small enough α the energy never increases, but the step does not shrink when a softmax
    saturates (∂E/∂z = (diag p − ppᵀ)∂E/∂p vanishes there; ∂E/∂p does not). The read must keep
    the state's shape."""

    def energy_and_grad(state: torch.Tensor, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            if not state.requires_grad:
                state = state.detach().requires_grad_(True)
            candidate = read(state)
            energy = energy_fn(candidate, index)
            check_finite(energy)  # before the backward pass, which would spread the NaN
            wrt = candidate if mirror else state
            (grad,) = torch.autograd.grad(energy.sum(), wrt, create_graph=create_graph)
        if not create_graph:
            return energy.detach(), grad.detach()
        return energy, grad

    return energy_and_grad


def update(
    state: torch.Tensor,
    grad: torch.Tensor,
    step_size: float | torch.Tensor,
    langevin: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The update rule: state − α·grad (+ Langevin noise). α may be a broadcastable tensor."""
    new = state - step_size * grad
    if langevin > 0:
        noise = torch.randn(new.shape, generator=generator, dtype=new.dtype, device=new.device)
        new = new + langevin * noise
    return new


def _keep_lower(new: Step, old: Step) -> Step:
    """Accept-lower-only: candidates whose energy rose go back to their previous state."""
    keep = new.energy <= old.energy  # (B,)
    mask = keep.reshape(-1, *([1] * (new.state.dim() - 1)))
    return Step(
        new.index,
        torch.where(mask, new.state, old.state),
        torch.where(keep, new.energy, old.energy),
        torch.where(mask, new.grad, old.grad),
    )


def descend(
    start: torch.Tensor, energy_and_grad: EnergyAndGrad, policy: DescentPolicy
) -> Iterator[Step]:
    """Run a descent from `start`, yielding every evaluated state (see `Step`).

    Yields steps + 1 Steps (index 0..steps) when `policy.evaluate_final`, else `steps` Steps
    whose `next_state` carries the descent on; fewer when the tolerance stops it early.
    Raises NonFiniteEnergyError as soon as an energy or its gradient is NaN or infinite.
    """
    state, previous, frozen_mask = start, None, None
    last = policy.steps if policy.evaluate_final else policy.steps - 1
    for index in range(last + 1):
        # 1. evaluate the state (the graph is cut first when training detaches steps)
        if policy.detach:
            state = state.detach()
        energy, grad = energy_and_grad(state, index)
        check_finite(energy)
        check_finite(grad, "∂E/∂state")  # a finite energy can still have an overflowing slope
        step = Step(index, state, energy, grad)
        # 2. accept-lower-only: undo the update for candidates whose energy rose
        if policy.accept_lower_only and previous is not None:
            step = _keep_lower(step, previous)
        # 3. stop at the last step, or once every candidate's energy has settled
        below = None  # (B,): which candidates' |ΔE| fell under the tolerance this step
        if previous is not None and policy.tolerance > 0:
            below = (step.energy - previous.energy).abs() < policy.tolerance
        settled = below is not None and bool(below.all())
        if policy.freeze_settled and below is not None:
            frozen_mask = below if frozen_mask is None else frozen_mask | below
        if index < policy.steps and not settled:
            step.next_state = update(
                step.state, step.grad, policy.step_size, policy.langevin, policy.generator
            )
            if frozen_mask is not None:  # settled candidates keep their state
                mask = frozen_mask.reshape(-1, *([1] * (step.state.dim() - 1)))
                step.next_state = torch.where(mask, step.state, step.next_state)
        yield step
        if step.next_state is None:
            return
        previous, state = step, step.next_state


def select_candidate(energies: np.ndarray, rule: str) -> int:
    """Best-of-N over (N, S+1) per-step energies (ThinkConfig.select): "min" keeps the lowest
    final energy, "max_gap" the candidate whose energy fell most."""
    if rule == "min":
        return int(np.argmin(energies[:, -1]))
    return int(np.argmax(energies[:, 0] - energies[:, -1]))  # "max_gap"


def unroll(
    start: torch.Tensor,
    energy_fn: EnergyFn,
    steps: int,
    step_size: float | torch.Tensor,
    langevin: float = 0.0,
    detach: bool = True,
    generator: torch.Generator | None = None,
    read: ReadFn = identity_read,
    create_graph: bool = True,
    mirror: bool = False,
) -> Iterator[Step]:
    """A training unroll: `steps` updates from `start`, keeping the graph through ∇E so a loss
    on the states backpropagates into the weights (second order), and no evaluation of the
    final state. Yields `steps` Steps; each `next_state` is the state after that update."""
    policy = DescentPolicy(
        steps,
        step_size,
        langevin,
        evaluate_final=False,
        detach=detach,
        create_graph=create_graph,
        generator=generator,
    )
    energy_and_grad = autograd_energy_and_grad(energy_fn, read, create_graph, mirror)
    return descend(start, energy_and_grad, policy)


@contextmanager
def frozen(model: torch.nn.Module) -> Iterator[None]:
    """Parameters stop requiring grad while thinking (∇ is taken w.r.t. the candidate only), so
    autograd skips the weights entirely. Restored afterwards."""
    flags = [p.requires_grad for p in model.parameters()]
    try:
        for p in model.parameters():
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in zip(model.parameters(), flags):
            p.requires_grad_(flag)

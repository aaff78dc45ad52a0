"""The descent: the one place where an EBT's candidate is updated ("thinking").

    candidate = read(state)                 # softmax for text, identity for images
    E         = energy(candidate)
    state'    = state − α ∂E/∂state + langevin · ε,   ε ~ N(0, 1)

This is plain gradient descent on E(read(state)), so at a small enough α the energy never
increases. (The official text EBT instead sets state' = p − α ∂E/∂p with p = softmax(state);
that map is not a descent on any function of the state, and the app's landscape plots, which
show E over the state space with the path on it, would not match the path. See README.)

Training (with `create_graph=True`, so the loss can backpropagate through ∇E) and inference
(first-order only) use these same functions. Gradients are taken with `torch.autograd.grad`
with respect to the state alone, so no parameter `.grad` is ever filled by thinking.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

EnergyFn = Callable[[torch.Tensor], torch.Tensor]
ReadFn = Callable[[torch.Tensor], torch.Tensor]


def softmax_read(state: torch.Tensor) -> torch.Tensor:
    """Text candidates: logits state → distribution over the vocabulary."""
    return state.softmax(dim=-1)


def identity_read(state: torch.Tensor) -> torch.Tensor:
    """Image candidates: the state is the image itself."""
    return state


@dataclass
class Evaluation:
    """Energy and gradient at one state. Shapes: state and grad alike; energy (*batch)."""

    state: torch.Tensor
    energy: torch.Tensor
    grad: torch.Tensor  # ∂E/∂state


def evaluate(
    state: torch.Tensor, energy_fn: EnergyFn, read: ReadFn, create_graph: bool = False
) -> Evaluation:
    """Energy of `read(state)` and its gradient with respect to the state."""
    with torch.enable_grad():  # thinking needs ∇E even when the caller is under no_grad
        if not state.requires_grad:
            state = state.detach().requires_grad_(True)
        energy = energy_fn(read(state))
        if not torch.isfinite(energy).all():
            raise FloatingPointError("energy is NaN or infinite; lower the step size")
        (grad,) = torch.autograd.grad(energy.sum(), state, create_graph=create_graph)
    if not create_graph:
        state, energy, grad = state.detach(), energy.detach(), grad.detach()
    return Evaluation(state, energy, grad)


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


def descent_step(
    state: torch.Tensor,
    energy_fn: EnergyFn,
    step_size: float | torch.Tensor,
    read: ReadFn = softmax_read,
    langevin: float = 0.0,
    generator: torch.Generator | None = None,
    create_graph: bool = False,
) -> tuple[Evaluation, torch.Tensor]:
    """Evaluate the energy at `state`, then take one step. Returns (evaluation, next state)."""
    ev = evaluate(state, energy_fn, read, create_graph)
    return ev, update(ev.state, ev.grad, step_size, langevin, generator)


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

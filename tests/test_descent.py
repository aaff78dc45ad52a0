"""The one descent loop (ebt_core.descent): invariants on a quadratic bowl and tiny seeded EBTs.

The bowl E(x) = ½‖x − c‖² has ∂E/∂x = x − c, so a step of size α maps x − c to (1 − α)(x − c):
every number the loop produces can be written down exactly.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

import ebt_core as ebt
from ebt_core.descent import (
    DescentPolicy,
    NonFiniteEnergyError,
    autograd_energy_and_grad,
    descend,
    jittered_step_size,
    unroll,
    update,
)
from ebt_core.image import training as image_training
from ebt_core.text import training as text_training
from ebt_core.text.think import energy_and_grad_for

from .conftest import tiny_ebt
from .test_image import photo, tiny_image_model

D = 5


def bowl(centre: torch.Tensor, calls: list | None = None):
    """energy_and_grad of E(x) = ½‖x − centre‖² over the last axis → (B,); counts its calls."""

    def energy_fn(x: torch.Tensor, index: int) -> torch.Tensor:
        if calls is not None:
            calls.append(index)
        return 0.5 * ((x - centre) ** 2).sum(-1)

    return autograd_energy_and_grad(energy_fn)


def start(batch: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, D, generator=torch.Generator().manual_seed(seed))  # (B, D)


def logits(model, n: int, seed: int = 0) -> torch.Tensor:
    """A random text start (n, V)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, model.config.vocab_size, generator=gen)


def energies(steps) -> np.ndarray:
    return torch.stack([s.energy for s in steps], 1).detach().numpy()  # (B, S+1)


# --- the shape of a descent ------------------------------------------------------------------


def test_a_descent_evaluates_steps_plus_one_states():
    calls, x0 = [], start()
    steps = list(descend(x0, bowl(torch.zeros(D), calls), DescentPolicy(steps=5, step_size=0.3)))
    assert [s.index for s in steps] == list(range(6)) and calls == list(range(6))
    assert steps[0].state is x0 and steps[-1].next_state is None
    for before, after in zip(steps, steps[1:]):
        assert before.next_state is after.state
    # the analytic bowl: x_k = (1 − α)^k x_0
    torch.testing.assert_close(steps[-1].state, 0.7**5 * x0)


def test_without_the_final_evaluation_every_step_carries_its_next_state():
    calls, x0 = [], start()
    policy = DescentPolicy(steps=4, step_size=0.5, evaluate_final=False)
    steps = list(descend(x0, bowl(torch.zeros(D), calls), policy))
    assert len(steps) == 4 and calls == [0, 1, 2, 3]
    assert all(s.next_state is not None for s in steps)
    torch.testing.assert_close(steps[-1].next_state, 0.5**4 * x0)


def test_the_update_is_a_gradient_step_with_each_candidates_own_step_size():
    x0, centre = start(), torch.ones(D)
    alpha = torch.tensor([[0.1], [0.5], [1.0]])  # (B, 1): one α per candidate
    (step, *_) = descend(x0, bowl(centre), DescentPolicy(steps=1, step_size=alpha))
    torch.testing.assert_close(step.grad, x0 - centre)
    torch.testing.assert_close(step.next_state, x0 - alpha * (x0 - centre))
    torch.testing.assert_close(step.next_state[2], centre)  # α = 1 jumps to the minimum
    torch.testing.assert_close(update(x0, step.grad, alpha), step.next_state)


# --- energy along the way --------------------------------------------------------------------


def test_energy_never_rises_at_a_small_step_size_on_the_bowl():
    steps = descend(start(), bowl(torch.ones(D)), DescentPolicy(steps=10, step_size=0.1))
    assert (np.diff(energies(steps), axis=1) <= 0).all()


@pytest.mark.parametrize("mode", ["kv", "prefix", "none"])
def test_energy_never_rises_at_a_small_step_size_on_a_tiny_text_ebt(mode):
    model = tiny_ebt(seed=2)
    ids = torch.tensor([[model.config.vocab.index(c) for c in "12+35="]])  # (1, T)
    with ebt.descent.frozen(model):
        eg = energy_and_grad_for(model, model.prefix(ids), ids, mode)
        trace = energies(descend(logits(model, 4) * 3, eg, DescentPolicy(steps=15, step_size=0.05)))
    assert (np.diff(trace, axis=1) <= 1e-7).all()
    assert (trace[:, -1] < trace[:, 0]).all()


def test_accept_lower_only_never_lets_an_energy_rise():
    """α = 2.5 overshoots the bowl's minimum (|1 − α| > 1): each plain step raises E."""
    x0, centre = start(), torch.ones(D)
    alpha = torch.tensor([[0.5], [2.5], [2.5]])  # candidate 0 descends, 1 and 2 overshoot
    plain = energies(descend(x0, bowl(centre), DescentPolicy(steps=4, step_size=alpha)))
    assert (np.diff(plain[1:], axis=1) > 0).all()  # the test bites: without it, E rises
    policy = DescentPolicy(steps=4, step_size=alpha, accept_lower_only=True)
    steps = list(descend(x0, bowl(centre), policy))
    guarded = energies(steps)
    assert (np.diff(guarded, axis=1) <= 0).all()
    np.testing.assert_array_equal(guarded[0], plain[0])  # an accepted step is untouched
    for step in steps:  # a refused step leaves the candidate where it was
        torch.testing.assert_close(step.state[1:], x0[1:])


def test_accept_lower_only_holds_with_langevin_noise_on_a_tiny_text_ebt():
    model = tiny_ebt(seed=3)
    ids = torch.tensor([[model.config.vocab.index(c) for c in "7+8="]])
    gen = torch.Generator().manual_seed(0)
    policy = DescentPolicy(12, 40.0, langevin=2.0, accept_lower_only=True, generator=gen)
    with ebt.descent.frozen(model):
        eg = energy_and_grad_for(model, model.prefix(ids), ids, "kv")
        trace = energies(descend(logits(model, 6), eg, policy))
    assert (np.diff(trace, axis=1) <= 0).all()


# --- early stopping --------------------------------------------------------------------------


def test_tolerance_stops_at_the_first_step_where_every_energy_settled():
    """On the bowl at α = ½, E_k = E_0 / 4^k, so |ΔE_k| = ¾ E_{k-1}: the stop is predictable."""
    x0 = start()
    e0 = 0.5 * (x0**2).sum(-1)  # (B,)
    tol = 0.01
    k = next(k for k in range(1, 50) if bool((0.75 * e0 / 4 ** (k - 1) < tol).all()))
    steps = list(descend(x0, bowl(torch.zeros(D)), DescentPolicy(30, 0.5, tolerance=tol)))
    assert len(steps) == k + 1 and steps[-1].next_state is None
    assert len(list(descend(x0, bowl(torch.zeros(D)), DescentPolicy(30, 0.5)))) == 31


def test_freeze_settled_stops_each_candidate_on_its_own():
    """Two candidates on the bowl, one already at the centre (ΔE = 0 from the first step) and
    one far away: with freeze_settled the first never moves again while the second keeps
    descending exactly as it would alone; the loop ends once both have settled."""
    x0 = torch.stack([torch.zeros(D), torch.full((D,), 3.0)])
    tol = 0.01
    policy = DescentPolicy(30, 0.5, tolerance=tol, freeze_settled=True)
    steps = list(descend(x0, bowl(torch.zeros(D)), policy))
    for step in steps:
        assert torch.equal(step.state[0], x0[0])  # settled at once: never moved
    alone = list(descend(x0[1:], bowl(torch.zeros(D)), DescentPolicy(30, 0.5, tolerance=tol)))
    assert len(steps) == len(alone) < 31
    for step, ref in zip(steps, alone):
        torch.testing.assert_close(step.state[1:], ref.state)


def test_freeze_settled_keeps_a_settled_candidate_where_it_settled():
    """A candidate whose one-step change fell below the tolerance stays at that state, even
    though its gradient is not zero there; without freezing it keeps moving."""
    x0 = torch.stack([torch.full((D,), 0.2), torch.full((D,), 5.0)])
    e0 = 0.5 * (x0**2).sum(-1)
    tol = float(0.75 * e0[0]) + 1e-6  # candidate 0 settles at the first ΔE, candidate 1 not
    policy = DescentPolicy(6, 0.5, tolerance=tol, freeze_settled=True)
    frozen = list(descend(x0, bowl(torch.zeros(D)), policy))
    moving = list(descend(x0, bowl(torch.zeros(D)), DescentPolicy(6, 0.5, tolerance=tol)))
    settled_state = x0[0] * 0.5  # after the one update before its ΔE was measured
    assert all(torch.allclose(s.state[0], settled_state) for s in frozen[1:])
    assert len(frozen) > 2 and not torch.allclose(moving[2].state[0], settled_state)


def test_think_reports_the_steps_the_tolerance_left_it(model):
    settled = ebt.ThinkConfig(steps=6, samples=2, tolerance=1e6)  # every |ΔE| is below it
    for token in ebt.think(model, "1+1=", settled, max_new_tokens=3).tokens:
        assert token.steps_used == 1 and token.energies.shape == (2, 2)
    never = ebt.ThinkConfig(steps=6, samples=2, tolerance=0.0)
    for token in ebt.think(model, "1+1=", never, max_new_tokens=3).tokens:
        assert token.steps_used == 6 and token.energies.shape == (2, 7)


# --- noise -----------------------------------------------------------------------------------


def _langevin_run(seed: int, langevin: float = 0.3) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    policy = DescentPolicy(steps=4, step_size=0.2, langevin=langevin, generator=gen)
    return torch.stack([s.state for s in descend(start(), bowl(torch.zeros(D)), policy)])


def test_langevin_noise_is_reproducible_for_a_seed_and_differs_across_seeds():
    torch.testing.assert_close(_langevin_run(0), _langevin_run(0), rtol=0, atol=0)
    assert not torch.allclose(_langevin_run(0), _langevin_run(1))
    # without noise the generator is never used: every seed gives the same descent
    torch.testing.assert_close(_langevin_run(0, 0.0), _langevin_run(1, 0.0), rtol=0, atol=0)


# --- gradients through the descent -----------------------------------------------------------


def _trainable_bowl(detach: bool, steps: int = 3, alpha: float = 0.25):
    """A training unroll on an energy with a learnable centre → (start, centre, final state)."""
    x0 = start().requires_grad_(True)
    centre = torch.nn.Parameter(torch.full((D,), 0.5))
    energy_fn = lambda x, _: 0.5 * ((x - centre) ** 2).sum(-1)
    trace = list(unroll(x0, energy_fn, steps, alpha, detach=detach))
    assert len(trace) == steps and all(s.next_state.requires_grad for s in trace)
    return x0, centre, trace[-1].next_state


def test_create_graph_lets_a_loss_backpropagate_into_the_energys_parameters():
    """x_S = c + (1 − α)^S (x_0 − c), so ∂Σx_S/∂c = 1 − (1 − α)^S per coordinate."""
    x0, centre, final = _trainable_bowl(detach=False)
    final.sum().backward()
    torch.testing.assert_close(centre.grad, torch.full((D,), 1 - 0.75**3) * len(x0))
    torch.testing.assert_close(x0.grad, torch.full_like(x0, 0.75**3))


def test_detach_cuts_the_graph_between_steps():
    """Detached, only the last step is differentiated: ∂Σx_S/∂c = α, and x_0 is unreachable."""
    x0, centre, final = _trainable_bowl(detach=True)
    (grad_start,) = torch.autograd.grad(final.sum(), x0, retain_graph=True, allow_unused=True)
    assert grad_start is None
    final.sum().backward()
    torch.testing.assert_close(centre.grad, torch.full((D,), 0.25) * len(x0))


def _batch(model, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids (2, 9) and a random start (2, 8, V) for the training unroll."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, model.config.vocab_size, (2, 9), generator=gen)
    return ids, torch.randn(2, 8, model.config.vocab_size, generator=gen)


def test_text_training_backpropagates_through_the_descent_into_the_weights():
    model = tiny_ebt(seed=4).train()
    ids, init = _batch(model)
    states, _ = text_training.ebt_unroll(model, ids, init, steps=2, step_size=1.0)
    text_training.masked_ce(states[-1], ids[:, 1:], torch.ones(2, 8)).backward()
    for name in ("energy_head.weight", "candidate_proj.weight", "blocks.0.attn.qkv.weight"):
        grad = model.get_parameter(name).grad
        assert grad is not None and float(grad.abs().sum()) > 0, name


def test_inference_fills_no_parameter_grad():
    """∇E is taken w.r.t. the state only, even when the weights require grad."""
    model = tiny_ebt(seed=5)
    ids = torch.tensor([[model.config.vocab.index(c) for c in "3+4="]])
    init = logits(model, 2, seed=1)
    for mode in ("kv", "prefix", "none"):
        eg = energy_and_grad_for(model, model.prefix(ids), ids, mode)
        steps = list(descend(init, eg, DescentPolicy(steps=3, step_size=1.0)))
        assert not any(s.state.requires_grad or s.energy.requires_grad for s in steps)
    assert all(p.grad is None and p.requires_grad for p in model.parameters())


# --- step size -------------------------------------------------------------------------------


def test_jittered_step_size_stays_in_its_log_uniform_range():
    alpha, jitter = 2.0, 3.0
    draws = jittered_step_size(alpha, jitter, (20_000, 1), torch.Generator().manual_seed(0))
    assert draws.shape == (20_000, 1)
    assert float(draws.min()) >= alpha / jitter and float(draws.max()) <= alpha * jitter
    assert float(draws.min()) < alpha / jitter * 1.01
    assert float(draws.max()) > alpha * jitter / 1.01
    log_ratio = (draws / alpha).log() / math.log(jitter)  # uniform on [-1, 1]
    assert abs(float(log_ratio.mean())) < 0.02
    assert abs(float((log_ratio < 0).float().mean()) - 0.5) < 0.02
    assert jittered_step_size(alpha, 1.0, (4, 1)) == alpha  # 1 = the fixed α


def test_resolve_step_size_uses_the_trained_alpha_unless_given(model):
    assert ebt.descent.resolve_step_size(None, model) == pytest.approx(2.0)
    assert ebt.descent.resolve_step_size(0.5, model) == 0.5


# --- non-finite energies ---------------------------------------------------------------------


def test_a_nan_or_infinite_energy_raises_one_clear_error():
    for centre in (torch.full((D,), math.nan), torch.full((D,), math.inf)):
        with pytest.raises(NonFiniteEnergyError, match="energy is NaN or infinite"):
            list(descend(start(), bowl(centre), DescentPolicy(steps=2, step_size=0.1)))
    assert issubclass(NonFiniteEnergyError, FloatingPointError)
    assert issubclass(NonFiniteEnergyError, ValueError)


def test_a_non_finite_energy_mid_descent_raises_after_the_finite_steps():
    def blows_up(state, index):  # finite until step 2
        energy = state.sum(-1) * (math.inf if index == 2 else 1.0)
        return energy, torch.ones_like(state)

    trace = descend(start(), blows_up, DescentPolicy(steps=4, step_size=0.1))
    assert [next(trace).index, next(trace).index] == [0, 1]
    with pytest.raises(NonFiniteEnergyError):
        next(trace)


def test_a_finite_energy_with_a_non_finite_gradient_raises():
    def bad_slope(state, index):
        return state.sum(-1), torch.full_like(state, math.nan)

    with pytest.raises(NonFiniteEnergyError, match="∂E/∂state"):
        list(descend(start(), bad_slope, DescentPolicy(steps=2, step_size=0.1)))


def _poisoned(model: torch.nn.Module, name: str) -> torch.nn.Module:
    """The model with one weight set to NaN (built in memory: `ebt.load` refuses NaN files)."""
    with torch.no_grad():
        model.get_parameter(name).view(-1)[0] = math.nan
    return model


TEXT_POISON = ["energy_head.weight", "blocks.0.attn.qkv.weight", "norm_f.weight"]


@pytest.mark.parametrize("weight", TEXT_POISON)
@pytest.mark.parametrize("cache", ["kv", "prefix", "none"])
def test_thinking_with_nan_weights_raises(weight, cache):
    model = _poisoned(tiny_ebt(), weight)
    with pytest.raises(NonFiniteEnergyError):
        ebt.think(model, "12+3=", ebt.ThinkConfig(steps=2, samples=2), 2, cache=cache)


@pytest.mark.parametrize("weight", TEXT_POISON)
def test_scoring_with_nan_weights_raises(weight):
    with pytest.raises(NonFiniteEnergyError):
        ebt.score(_poisoned(tiny_ebt(), weight), "12+3=", "15")


IMAGE_POISON = [
    ("image-ebt", "energy_head.weight"),
    ("image-ebt", "patch_embed.weight"),
    ("image-dit", "noise_head.weight"),  # no energy, but NaN noise must not become NaN frames
]


@pytest.mark.parametrize("kind, weight", IMAGE_POISON)
def test_denoising_with_nan_weights_raises(kind, weight):
    model = _poisoned(tiny_image_model(kind), weight)
    with pytest.raises(NonFiniteEnergyError):
        ebt.denoise(model, photo(), ebt.DenoiseConfig(noise=0.1, steps=2))


@pytest.mark.parametrize("weight", TEXT_POISON)
def test_text_training_with_nan_weights_raises(weight):
    model = _poisoned(tiny_ebt(), weight).train()
    ids, init = _batch(model)
    with pytest.raises(NonFiniteEnergyError):
        text_training.ebt_unroll(model, ids, init, steps=2, step_size=1.0)
    recipe = text_training.TextRecipe(batch=2, length=8)
    gen, rng = torch.Generator().manual_seed(0), random.Random(0)
    with pytest.raises(NonFiniteEnergyError):
        text_training.ebt_loss(model, ids, torch.ones(2, 8), recipe, rng, gen, None)


def test_image_training_with_nan_weights_raises():
    model = _poisoned(tiny_image_model(), "patch_embed.weight").train()
    clean = torch.rand(2, 3, 16, 16) * 2 - 1
    recipe = image_training.ImageRecipe()
    with pytest.raises(NonFiniteEnergyError):
        image_training.ebt_loss(
            model, clean, torch.zeros(2, dtype=torch.bool), recipe, torch.Generator()
        )

"""The hand-written inference gradient equals autograd's."""

import pytest
import torch

from ebt_core.descent import autograd_energy_and_grad, softmax_read
from ebt_core.text.fast_energy import energy_and_grad, fast_energy_and_grad

from .conftest import tiny_ebt


@pytest.mark.parametrize("entropy_weight", [0.0, 0.3])
def test_fast_energy_and_gradient_equal_autograd(entropy_weight):
    model = tiny_ebt(seed=3, step_embeddings=3, entropy_weight=entropy_weight)
    torch.nn.init.normal_(model.step_emb.weight)
    for block in model.blocks:  # make the norms' weights matter
        torch.nn.init.normal_(block.norm1.weight, 1.0, 0.3)
        torch.nn.init.normal_(block.norm2.weight, 1.0, 0.3)
    ids = torch.randint(0, 17, (1, 23), generator=torch.Generator().manual_seed(0))
    cache = model.prefix(ids)
    state = torch.randn(5, 17, dtype=torch.float32)
    for step in (0, 4):
        p = softmax_read(state).requires_grad_(True)
        ref = model.energy(cache, p.unsqueeze(1), step=step).squeeze(1)
        (ref_grad,) = torch.autograd.grad(ref.sum(), p)
        energy, grad = energy_and_grad(model, cache, p.detach(), step)
        torch.testing.assert_close(energy, ref.detach(), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(grad, ref_grad, rtol=1e-4, atol=1e-6)
        auto = autograd_energy_and_grad(
            lambda q, s: model.energy(cache, q.unsqueeze(1), step=s).squeeze(1), softmax_read
        )
        _, auto_grad = auto(state, step)
        _, fast_grad = fast_energy_and_grad(model, cache)(state, step)
        torch.testing.assert_close(fast_grad, auto_grad, rtol=1e-4, atol=1e-7)


def test_fast_path_matches_autograd_on_a_saturated_candidate():
    """With the entropy term, a softmax with exact zeros keeps a finite energy and gradient."""
    model = tiny_ebt(seed=4, entropy_weight=0.5)
    cache = model.prefix(torch.tensor([[1, 2, 3]]))
    state = torch.zeros(2, 17)
    state[:, 5] = 200.0  # p has exact zeros in float32
    auto = autograd_energy_and_grad(
        lambda q, s: model.energy(cache, q.unsqueeze(1), step=s).squeeze(1), softmax_read
    )
    auto_energy, auto_grad = auto(state, 0)
    fast_energy, fast_grad = fast_energy_and_grad(model, cache)(state, 0)
    assert torch.isfinite(fast_grad).all() and torch.isfinite(fast_energy).all()
    torch.testing.assert_close(fast_energy, auto_energy, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fast_grad, auto_grad, rtol=1e-4, atol=1e-7)

"""Invariants of the text EBT and Transformer++: causality, cache equivalence, double backward."""

import torch

import ebt_core as ebt
from ebt_core.descent import DescentPolicy, descend
from ebt_core.text.think import energy_and_grad_for

from .conftest import tiny_ebt, tiny_transformer

V = 17


def _ids(seed: int, length: int) -> torch.Tensor:
    return torch.randint(0, V, (1, length), generator=torch.Generator().manual_seed(seed))


def test_no_leakage_energy_at_i_ignores_tokens_after_i(model):
    ids = _ids(0, 12)
    probs = torch.softmax(torch.randn(1, 12, V), -1)
    base = model.energy_all_positions(model.prefix(ids), probs)  # (1, 12)
    changed = ids.clone()
    changed[0, 7:] = (changed[0, 7:] + 3) % V
    probs2 = probs.clone()
    probs2[0, 7:] = torch.softmax(torch.randn(5, V), -1)  # other candidates change too
    after = model.energy_all_positions(model.prefix(changed), probs2)
    torch.testing.assert_close(after[0, :7], base[0, :7])
    assert not torch.allclose(after[0, 7:], base[0, 7:])


def test_training_view_equals_single_position_inference(model):
    ids = _ids(1, 10)
    probs = torch.softmax(torch.randn(1, 10, V), -1)
    all_pos = model.energy_all_positions(model.prefix(ids), probs)[0]
    for i in range(10):
        single = model.energy(model.prefix(ids[:, : i + 1]), probs[:, i : i + 1])
        torch.testing.assert_close(single[0, 0], all_pos[i])


def test_incremental_prefix_equals_full_prefix(model):
    ids = _ids(2, 20)
    full = model.prefix(ids)
    cache = model.prefix(ids[:, :5])
    for t in range(5, 20):
        cache = model.prefix(ids[:, t : t + 1], past=cache)
    for a, b in zip(full.layers, cache.layers):
        torch.testing.assert_close(a.k, b.k)
        torch.testing.assert_close(a.v, b.v)


def test_cached_energies_and_gradients_equal_uncached(model):
    ids = _ids(3, 30)
    state = torch.randn(4, V)
    cache = model.prefix(ids)
    results = {
        mode: energy_and_grad_for(model, cache, ids, mode)(state, 0)
        for mode in ("kv", "prefix", "none")
    }
    for mode in ("prefix", "none"):
        torch.testing.assert_close(results[mode][0], results["kv"][0])
        torch.testing.assert_close(results[mode][1], results["kv"][1])


def test_think_with_and_without_cache_gives_the_same_run(model):
    cfg = ebt.ThinkConfig(steps=3, samples=2, seed=5, langevin=0.1)
    runs = [ebt.think(model, "12+3=", cfg, 4, cache=mode) for mode in ("kv", "none")]
    assert runs[0].text == runs[1].text
    for a, b in zip(runs[0].tokens, runs[1].tokens):
        torch.testing.assert_close(torch.tensor(a.energies), torch.tensor(b.energies))


def test_transformer_cached_logits_equal_full_forward():
    model = tiny_transformer()
    ids = _ids(4, 15)
    full = model(ids)  # (1, 15, V)
    cache = model.prefix(ids[:, :1])
    for t in range(1, 15):
        torch.testing.assert_close(model.next_logits(cache)[0], full[0, t - 1])
        cache = model.prefix(ids[:, t : t + 1], past=cache)


def test_double_backward_through_the_energy_gradient(model):
    model.train()
    ids = _ids(5, 8)
    p = torch.softmax(torch.randn(1, 8, V), -1).requires_grad_(True)
    energy = model.energy_all_positions(model.prefix(ids), p)
    (grad,) = torch.autograd.grad(energy.sum(), p, create_graph=True)
    (grad**2).sum().backward()  # second order: needs attention without fused SDPA
    assert model.candidate_proj.weight.grad is not None
    assert torch.isfinite(model.candidate_proj.weight.grad).all()


def test_step_embeddings_change_the_energy_and_clamp_past_the_last():
    model = tiny_ebt(step_embeddings=2)
    torch.nn.init.normal_(model.step_emb.weight)
    cache = model.prefix(_ids(6, 5))
    p = torch.softmax(torch.randn(1, 1, V), -1)
    e = [model.energy(cache, p, step=s) for s in range(4)]
    assert not torch.allclose(e[0], e[1])
    torch.testing.assert_close(e[1], e[3])


def test_entropy_weight_adds_tau_times_negative_entropy_to_the_energy():
    plain, free = tiny_ebt(seed=5), tiny_ebt(seed=5, entropy_weight=0.2)
    ids = torch.tensor([[1, 4, 2, 7]])
    probs = torch.randn(3, 4, 17, generator=torch.Generator().manual_seed(1)).softmax(-1)
    cache_a, cache_b = plain.prefix(ids.expand(3, -1)), free.prefix(ids.expand(3, -1))
    expected = plain.energy_all_positions(cache_a, probs) + 0.2 * (probs * probs.log()).sum(-1)
    torch.testing.assert_close(free.energy_all_positions(cache_b, probs), expected)


def test_entropy_term_alone_descends_to_the_uniform_distribution():
    """With the learned energy switched off, E = −τ·H: the fixed point is uniform."""
    model = tiny_ebt(seed=6, entropy_weight=1.0)
    torch.nn.init.zeros_(model.energy_head.weight)
    cache = model.prefix(torch.tensor([[1, 2]]))
    state = torch.randn(2, 17, generator=torch.Generator().manual_seed(0))
    trace = list(
        descend(
            state,
            energy_and_grad_for(model, cache, torch.tensor([[1, 2]]), "prefix"),
            DescentPolicy(steps=300, step_size=5.0),
        )
    )
    energies = torch.stack([s.energy for s in trace])
    state = trace[-1].state
    assert (energies[1:] <= energies[:-1] + 1e-6).all()  # a descent
    probs = state.softmax(-1)
    torch.testing.assert_close(probs, torch.full_like(probs, 1 / 17), atol=1e-3, rtol=0)


def test_predict_next_is_the_top_k_of_the_full_forwards_last_distribution():
    model = tiny_transformer(seed=3)
    context = "12+35="
    ids = torch.tensor([[model.config.vocab.index(c) for c in context]])
    with torch.no_grad():
        probs = model(ids)[0, -1].softmax(-1)  # (V,)
    top = ebt.predict_next(model, context, k=4)
    assert len(top) == 4 and all(a[1] >= b[1] for a, b in zip(top, top[1:]))
    chosen = [model.config.vocab.index(c) for c, _ in top]
    torch.testing.assert_close(torch.tensor([p for _, p in top]), probs[chosen])
    others = [i for i in range(len(probs)) if i not in chosen]
    assert float(probs[others].max()) <= top[-1][1] + 1e-6

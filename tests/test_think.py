"""think() and score(): records, selection, determinism, round trips, dynamic compute."""

import json

import numpy as np
import pytest
import torch

import ebt_core as ebt
from ebt_core.text.think import vocab_energies


def test_records_have_the_documented_shapes(model):
    cfg = ebt.ThinkConfig(steps=5, samples=3, seed=0)
    run = ebt.think(model, "7+8=", cfg, max_new_tokens=3)
    assert len(run.text) == 3 and len(run.tokens) == 3
    for i, tok in enumerate(run.tokens):
        assert tok.energies.shape == (3, 6)
        assert tok.states.shape == (3, 6, len(model.config.vocab))
        assert tok.grad_norms.shape == (3, 6)
        assert tok.steps_used == 5 and tok.position == i
        assert tok.char == run.text[i]
        # the emitted character is the chosen candidate's most probable one at the last step
        assert tok.top_k(tok.steps_used, 1)[0][0] == tok.char
        top = tok.top_k(0, 4)
        assert len(top) == 4 and all(a[1] >= b[1] for a, b in zip(top, top[1:]))
    assert run.context(2) == "7+8=" + run.text[:2]


def test_select_min_keeps_the_argmin_of_final_energies(model):
    run = ebt.think(model, "12+35=", ebt.ThinkConfig(steps=4, samples=6, seed=3), 4)
    for tok in run.tokens:
        assert tok.chosen == int(np.argmin(tok.energies[:, -1]))
        assert tok.ranking()[0] == tok.chosen


def test_select_max_gap_keeps_the_largest_energy_drop(model):
    cfg = ebt.ThinkConfig(steps=4, samples=6, seed=3, select="max_gap")
    for tok in ebt.think(model, "12+35=", cfg, 3).tokens:
        assert tok.chosen == int(np.argmax(tok.energies[:, 0] - tok.energies[:, -1]))


def test_same_seed_same_run_other_seed_other_starts(model):
    cfg = ebt.ThinkConfig(steps=3, samples=2, langevin=0.5, seed=11)
    a = ebt.think(model, "1+1=", cfg, 3)
    b = ebt.think(model, "1+1=", cfg, 3)
    assert a.to_dict() == b.to_dict()
    c = ebt.think(model, "1+1=", ebt.ThinkConfig(steps=3, samples=2, langevin=0.5, seed=12), 3)
    assert not np.array_equal(a.tokens[0].states[:, 0], c.tokens[0].states[:, 0])


def test_to_dict_is_json_safe_and_round_trips(model):
    run = ebt.think(model, "9+9=", ebt.ThinkConfig(steps=2, samples=2, seed=1), 2)
    data = json.loads(json.dumps(run.to_dict()))
    back = ebt.ThinkRun.from_dict(data)
    assert back.text == run.text and back.config == run.config and back.prompt == run.prompt
    for x, y in zip(back.tokens, run.tokens):
        np.testing.assert_array_equal(x.energies, y.energies)
        np.testing.assert_array_equal(x.states, y.states)
        assert x.top_k(1, 3) == y.top_k(1, 3)
    with pytest.raises(ValueError, match="format_version"):
        ebt.ThinkRun.from_dict({"prompt": "x"})


def test_thinking_fills_no_parameter_grad(model):
    model.zero_grad(set_to_none=True)
    with torch.no_grad():  # also works when the caller disabled autograd
        ebt.think(model, "3+4=", ebt.ThinkConfig(steps=3, samples=2), 2)
    ebt.score(model, "3+4=", "7")
    assert all(p.grad is None for p in model.parameters())
    assert all(p.requires_grad for p in model.parameters())  # frozen only while thinking


def test_energy_does_not_increase_at_a_small_step_size(trained_ebt):
    cfg = ebt.ThinkConfig(steps=12, step_size=0.05, samples=4, seed=0)
    for tok in ebt.think(trained_ebt, "25+17=", cfg, 3).tokens:
        assert (np.diff(tok.energies, axis=1) <= 1e-5).all()
        assert (tok.energies[:, -1] < tok.energies[:, 0]).all()


def test_accept_lower_only_never_raises_the_energy(trained_ebt):
    cfg = ebt.ThinkConfig(
        steps=10, step_size=50.0, samples=4, langevin=1.0, accept_lower_only=True, seed=0
    )
    for tok in ebt.think(trained_ebt, "25+17=", cfg, 3).tokens:
        assert (np.diff(tok.energies, axis=1) <= 0).all()


def test_tolerance_stops_at_the_first_step_where_every_energy_settles(trained_ebt):
    full = ebt.think(trained_ebt, "25+17=", ebt.ThinkConfig(steps=30, step_size=1.0), 4)
    deltas = [np.abs(np.diff(t.energies, axis=1)).max(axis=0) for t in full.tokens]  # (S,)
    tol = float(np.median(np.concatenate(deltas)))
    early = ebt.think(
        trained_ebt, "25+17=", ebt.ThinkConfig(steps=30, step_size=1.0, tolerance=tol), 4
    )
    for tok, d, ref in zip(early.tokens, deltas, full.tokens):
        settled = np.flatnonzero(d < tol)
        expected = int(settled[0]) + 1 if settled.size else 30
        assert tok.steps_used == expected
        assert tok.energies.shape[1] == tok.steps_used + 1
        np.testing.assert_array_equal(tok.energies, ref.energies[:, : expected + 1])
    assert any(t.steps_used < 30 for t in early.tokens)


def test_score_matches_the_vocabulary_energies(model):
    result = ebt.score(model, "12+3=", "15", ebt.ThinkConfig(steps=2, samples=3))
    assert result.energies.shape == (2,) and result.sample_energies.shape == (2, 3)
    cache = model.prefix(torch.tensor([[model.config.vocab.index(c) for c in "12+3="]]))
    energies = vocab_energies(model, cache)
    index = model.config.vocab.index("1")
    assert result.energies[0] == pytest.approx(float(energies[index]), abs=1e-5)
    assert result.vocab_rank[0] == int((energies < energies[index]).sum())
    assert ((0 <= result.sample_rank) & (result.sample_rank <= 3)).all()
    json.dumps(result.to_dict())


@pytest.mark.parametrize(
    "prompt, message",
    [
        ("", "non-empty"),
        ("12+a=", "outside the model's vocabulary"),
        (None, "non-empty"),
        ("1" * 2000, "exceeds the model's context"),
    ],
)
def test_bad_prompts_are_refused_with_a_clear_message(model, prompt, message):
    with pytest.raises(ValueError, match=message):
        ebt.think(model, prompt, ebt.ThinkConfig(steps=1), 2)


@pytest.mark.parametrize("n", [0, -1, 10_000, 2.0, True])
def test_bad_max_new_tokens_is_refused(model, n):
    with pytest.raises(ValueError, match="max_new_tokens"):
        ebt.think(model, "1+1=", ebt.ThinkConfig(steps=1), n)


def test_think_refuses_a_transformer_checkpoint():
    from .conftest import tiny_transformer

    with pytest.raises(ValueError, match="text EBT"):
        ebt.think(tiny_transformer(), "1+1=")

"""Records of thinking (ebt_core.records): JSON round trips and the views front ends read."""

from __future__ import annotations

import json

import numpy as np
import pytest

import ebt_core as ebt
from ebt_core.records import FORMAT_VERSION

VOCAB = "abcd"


def record(chosen: int = 1) -> ebt.TokenRecord:
    """A hand-made record: 3 candidates, 2 steps, vocabulary 'abcd'."""
    rng = np.random.default_rng(0)
    states = rng.normal(size=(3, 3, 4)).astype(np.float32)  # (N, S+1, V)
    states[1, -1] = [0.0, 5.0, 1.0, 0.0]  # the chosen candidate ends on 'b', then 'c'
    energies = np.array([[3.0, 2.0, 1.5], [3.0, 1.0, 0.25], [2.0, 1.0, 0.5]], np.float32)
    grad_norms = rng.uniform(size=(3, 3)).astype(np.float32)
    return ebt.TokenRecord("b", energies, states, grad_norms, chosen, 2, 0, VOCAB)


def json_round_trip(data: dict) -> dict:
    return json.loads(json.dumps(data))


def test_token_record_round_trips_with_identical_arrays():
    original = record()
    back = ebt.TokenRecord.from_dict(json_round_trip(original.to_dict()), VOCAB)
    for name in ("energies", "states", "grad_norms"):
        a, b = getattr(original, name), getattr(back, name)
        assert b.dtype == np.float32
        np.testing.assert_array_equal(a, b)
    assert (back.char, back.chosen, back.steps_used, back.position, back.vocab) == (
        "b",
        1,
        2,
        0,
        VOCAB,
    )


def test_think_run_round_trips_with_identical_arrays(model):
    run = ebt.think(model, "1+2=", ebt.ThinkConfig(steps=3, samples=2, langevin=0.1), 3)
    data = json_round_trip(run.to_dict())
    assert data["format_version"] == FORMAT_VERSION
    back = ebt.ThinkRun.from_dict(data)
    assert (back.prompt, back.text, back.config, back.step_size, back.vocab) == (
        run.prompt,
        run.text,
        run.config,
        run.step_size,
        run.vocab,
    )
    for a, b in zip(run.tokens, back.tokens):
        for name in ("energies", "states", "grad_norms"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert a.to_dict() == b.to_dict()
    assert back.to_dict() == data


def test_probs_are_the_softmax_of_the_states():
    tok = record()
    p = tok.probs()
    assert p.shape == (3, 3, 4)
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-6)
    z = tok.states[2, 1].astype(np.float64)
    np.testing.assert_allclose(tok.probs(1, 2), np.exp(z) / np.exp(z).sum(), rtol=1e-6)
    np.testing.assert_array_equal(tok.probs(step=-1), p[:, -1])
    np.testing.assert_array_equal(tok.probs(sample=0), p[0])
    with pytest.raises(ValueError, match="step must be in"):
        tok.probs(step=3)


def test_top_k_ranks_the_chosen_candidates_characters():
    tok = record()
    top = tok.top_k(2, k=2)
    assert [c for c, _ in top] == ["b", "c"]
    assert top[0][1] > top[1][1] and top[0][1] == pytest.approx(float(tok.probs(2, 1)[1]))
    assert len(tok.top_k(0, k=10)) == 4  # at most the vocabulary
    assert tok.top_k(2, k=1, sample=0)[0][0] == VOCAB[int(np.argmax(tok.states[0, 2]))]


def test_ranking_and_final_energy():
    tok = record()
    assert tok.ranking() == [1, 2, 0]  # final energies 1.5, 0.25, 0.5
    assert tok.final_energy == 0.25 and tok.samples == 3
    assert record(chosen=0).final_energy == 1.5


def test_score_result_to_dict_is_json_safe(model):
    result = ebt.score(model, "12+3=", "15", ebt.ThinkConfig(steps=2, samples=3))
    data = json_round_trip(result.to_dict())
    assert data["prompt"] == "12+3=" and data["answer"] == "15"
    np.testing.assert_array_equal(np.asarray(data["energies"], np.float32), result.energies)
    np.testing.assert_array_equal(np.asarray(data["sample_energies"], np.float32),
                                  result.sample_energies)  # fmt: skip
    assert data["vocab_rank"] == result.vocab_rank.tolist()
    assert data["sample_rank"] == result.sample_rank.tolist()
    assert result.total_energy == pytest.approx(float(result.energies.sum()))


@pytest.mark.parametrize("version", [None, 0, FORMAT_VERSION + 1, "1"])
def test_a_record_of_another_format_version_is_refused(model, version):
    data = ebt.think(model, "1+1=", ebt.ThinkConfig(steps=1), 1).to_dict()
    if version is None:
        del data["format_version"]
    else:
        data["format_version"] = version
    with pytest.raises(ValueError, match="format_version"):
        ebt.ThinkRun.from_dict(data)
    with pytest.raises(ValueError, match="format_version"):
        ebt.ThinkRun.from_dict([data])

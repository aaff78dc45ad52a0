"""Answer EBT invariants on tiny seeded models: attention pattern, cache, records, round trips,
bad inputs, the training losses."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import ebt_core as ebt
from ebt_core.answer import training as obj
from ebt_core.answer.data import get_task
from ebt_core.answer.model import AnswerEBT, AnswerModelConfig
from ebt_core.answer.think import _padded_energies, answer_energies, solve
from ebt_core.layers import rope, rope_table

TINY = dict(n_layer=2, n_head=2, d_model=32, step_size=5.0)


def tiny(task: str = "sum", seed: int = 0, **overrides) -> AnswerEBT:
    torch.manual_seed(seed)
    model = AnswerEBT(AnswerModelConfig(task=task, **{**TINY, **overrides})).eval()
    with torch.no_grad():  # a livelier energy than the N(0, 0.02²) init
        model.energy_head.weight.normal_(0, 0.5)
    return model


def probs_for(model: AnswerEBT, batch: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    c = model.config
    return torch.randn(batch, c.answer_length, c.vocab_size, generator=g).softmax(-1)


def cached_energy(model: AnswerEBT, prompt: str, probs: torch.Tensor) -> torch.Tensor:
    ids, lengths = obj.encode_prompts(model.task, [prompt])
    return model.energy(model.prompt_cache(ids, lengths), probs)


def joint_forward(model: AnswerEBT, prompt: str, probs: torch.Tensor):
    """Reference without a cache: prompt and answer in one sequence through every block, with
    the intended mask (prompt causal; answer rows see the prompt and the answer positions up to
    their own, or all of them with answer_attention="full"). → (energy (B,), prompt hidden
    (B, T, D))."""
    ids, _ = obj.encode_prompts(model.task, [prompt])
    B, K, T = probs.shape[0], probs.shape[1], ids.shape[1]
    x = torch.cat([model.tok_emb(ids).expand(B, -1, -1), model.candidate_proj(probs)], 1)
    n = T + K
    allowed = torch.arange(n)[None, :] <= torch.arange(n)[:, None]  # causal everywhere
    if model.config.answer_attention == "full":
        allowed[T:] = True
    hd = model.config.d_model // model.config.n_head
    table = rope_table(torch.arange(n), hd, model.config.rope_base)
    for block in model.blocks:
        a = block.attn
        qkv = a.qkv(block.norm1(x)).view(B, n, 3, a.n_head, hd).permute(2, 0, 3, 1, 4)
        q, k = rope(qkv[0], table), rope(qkv[1], table)
        s = (q @ k.transpose(-2, -1) / math.sqrt(hd)).masked_fill(~allowed, float("-inf"))
        y = (s.softmax(-1) @ qkv[2]).transpose(1, 2).reshape(B, n, -1)
        x = x + a.proj(y)
        x = x + block.mlp(block.norm2(x))
    hn = model.norm_f(x)
    energy = model.energy_head(hn[:, T:]).squeeze(-1).sum(-1)
    if model.config.likelihood_energy:  # candidate i scored by the head at position T + i − 1
        logq = model.lm_head(hn[:, T - 1 : T + K - 1]).log_softmax(-1)
        energy = energy - (probs * logq).sum((-1, -2))
    return energy, x[:, :T]


@pytest.mark.parametrize(
    "task, prompt, options",
    [("sum", "4857+5168=", {}), ("sudoku", "1.3..4.2....2..1=", {}),
     ("sum", "48+5=", {"answer_attention": "full"}), ("sum", "4+5=", {"likelihood_energy": False})],
)  # fmt: skip
def test_cached_energy_equals_the_joint_forward(task, prompt, options):
    model = tiny(task, **options)
    probs = probs_for(model, 3)
    with torch.no_grad():
        reference, _ = joint_forward(model, prompt, probs)
        assert torch.allclose(cached_energy(model, prompt, probs), reference, atol=1e-5)


@pytest.mark.parametrize("attention", ["causal", "full"])
def test_prompt_never_sees_the_answer_and_answers_see_each_other(attention):
    model = tiny(answer_attention=attention)
    probs = probs_for(model, 1).requires_grad_(True)
    with torch.no_grad():
        _, hidden_a = joint_forward(model, "12+34=", probs)
        _, hidden_b = joint_forward(model, "12+34=", probs_for(model, 1, seed=5))
    assert torch.equal(hidden_a, hidden_b)  # the prompt's stream ignores the answer
    ids, lengths = obj.encode_prompts(model.task, ["12+34="])
    terms = model.energy_terms(model.prompt_cache(ids, lengths), probs)[0]  # (K,)
    K = model.config.answer_length
    for i in range(K):  # term i depends on the answer positions up to i (all of them: "full")
        (grad,) = torch.autograd.grad(terms[i], probs, retain_graph=True)
        seen = [bool(grad[0, j].abs().sum() > 0) for j in range(K)]
        assert seen == [attention == "full" or j <= i for j in range(K)]
    (whole,) = torch.autograd.grad(terms.sum(), probs)  # the whole answer's energy: every position
    assert all(whole[0, j].abs().sum() > 0 for j in range(K))


def test_warm_started_energy_is_the_transformers_negative_log_likelihood():
    torch.manual_seed(0)
    vocab = get_task("sum").vocab
    config = ebt.TextModelConfig(n_layer=2, n_head=2, d_model=32, kind="transformer", vocab=vocab)
    base = ebt.Transformer(config).eval()
    model = tiny()
    model.load_state_dict({**model.state_dict(), **base.state_dict()})
    with torch.no_grad():  # what train.common.warm_start does, and no learned term yet
        model.candidate_proj.weight.copy_(base.tok_emb.weight.t())
        model.energy_head.weight.zero_()
    prompt, answer = "4857+5168=", "10025"
    line = ebt.CharTokenizer(vocab).encode_tensor(prompt + model.task.padded(answer))
    with torch.no_grad():
        logp = base(line[:, :-1]).log_softmax(-1)[0, len(prompt) - 1 :]  # (K, V)
    nll = -logp.gather(1, line[0, len(prompt) :, None]).sum()
    assert math.isclose(
        float(answer_energies(model, prompt, [answer])[0]), float(nll), rel_tol=1e-4
    )


def test_padded_batch_equals_each_prompt_alone():
    model = tiny()
    prompts = ["1+2=", "4857+5168=", "30+7="]
    probs = probs_for(model, 3)
    ids, lengths = obj.encode_prompts(model.task, prompts)
    with torch.no_grad():
        batched = model.energy(model.prompt_cache(ids, lengths), probs)
        alone = torch.cat(
            [cached_energy(model, p, probs[i : i + 1]) for i, p in enumerate(prompts)]
        )
    assert torch.allclose(batched, alone, atol=1e-5)


def test_think_records_whole_answers():
    model = tiny()
    cfg = ebt.ThinkConfig(steps=5, samples=4, seed=3)
    run = ebt.think(model, "4857+5168=", cfg)
    K, V = model.config.answer_length, model.config.vocab_size
    assert len(run.tokens) == K and run.config == cfg
    for i, tok in enumerate(run.tokens):
        assert tok.position == i and tok.states.shape == (4, 6, V)
        assert tok.energies.shape == tok.grad_norms.shape == (4, 6)
        np.testing.assert_array_equal(tok.energies, run.tokens[0].energies)  # shared energies
        assert tok.chosen == int(np.argmin(tok.energies[:, -1]))
        assert tok.char == model.config.vocab[tok.states[tok.chosen, -1].argmax()]
    assert run.text == get_task("sum").unpad("".join(t.char for t in run.tokens))
    assert not np.allclose(run.tokens[0].states[0, 0], run.tokens[0].states[1, 0])  # starts differ
    np.testing.assert_array_equal(run.tokens[0].states[0, 0], 0.0)  # candidate 0: zero start


def test_single_noiseless_sample_does_not_depend_on_the_seed():
    model = tiny("sudoku")
    runs = [ebt.think(model, "1.3..4.2....2..1=", ebt.ThinkConfig(steps=3, seed=s)) for s in (0, 9)]
    np.testing.assert_array_equal(runs[0].tokens[5].states, runs[1].tokens[5].states)


def test_solve_matches_think_and_shares_one_descent():
    model = tiny()
    cfg = ebt.ThinkConfig(steps=4, samples=3, seed=1)
    prompt = "4857+5168="
    at = solve(model, [prompt], cfg, (2, 4))
    run = ebt.think(model, prompt, cfg)
    assert at[1].chosen()[0] == run.text
    np.testing.assert_allclose(at[0].energies[0], run.tokens[0].energies[:, 2], rtol=1e-5)
    batched = solve(model, ["1+2=", prompt], cfg, (4,))[0]  # candidate 0 (zero start) is the same
    assert math.isclose(batched.energies[1, 0], at[1].energies[0, 0], rel_tol=1e-4)


def test_save_load_identical_and_run_json_round_trip(tmp_path):
    model = tiny("sudoku")
    cfg = ebt.ThinkConfig(steps=3, samples=2, seed=4)
    ebt.save(model, tmp_path / "m", think=cfg)
    loaded = ebt.load(tmp_path / "m")
    assert isinstance(loaded, AnswerEBT) and loaded.think_defaults == cfg
    a, b = ebt.think(model, "1.3..4.2....2..1=", cfg), ebt.think(loaded, "1.3..4.2....2..1=")
    assert b.checkpoint == "m" and {**a.to_dict(), "checkpoint": "m"} == b.to_dict()
    restored = ebt.ThinkRun.from_dict(json.loads(json.dumps(a.to_dict())))
    assert restored.to_dict() == a.to_dict() and restored.text == a.text


def test_score_is_the_whole_answers_energy():
    model = tiny()
    result = ebt.score(model, "12+35=", "47", ebt.ThinkConfig(steps=2, samples=3))
    K = model.config.answer_length
    assert result.answer == "47" + "\n" * (K - 2) and result.energies.shape == (K,)
    total = answer_energies(model, "12+35=", ["47"])[0]
    assert math.isclose(result.total_energy, float(total), rel_tol=1e-5, abs_tol=1e-5)
    assert result.sample_energies.shape == (K, 3) and result.vocab_rank.shape == (K,)
    # vocab_rank[0] counts the first character's replacements that lower the whole energy
    others = [d for d in "0123456789" if d != "4"]
    lower = answer_energies(model, "12+35=", [d + "7" for d in others]) < total
    pad = "\n" + "7" + "\n" * (K - 2)  # "\n" first: an answer that is not a digit string
    pad_lower = float(_padded_energies(model, "12+35=", [pad])[0]) < total
    other_symbols = _padded_energies(model, "12+35=", [c + "7" + "\n" * (K - 2) for c in "+="])
    expected = int(lower.sum()) + int(pad_lower) + int((other_symbols < total).sum())
    assert result.vocab_rank[0] == expected


@pytest.mark.parametrize(
    "call, field",
    [(lambda m: ebt.think(m, "12-3="), "prompt"), (lambda m: ebt.think(m, "1x+2="), "prompt"),
     (lambda m: ebt.score(m, "12+3=", "1a"), "answer"),
     (lambda m: ebt.score(m, "1+", "1"), "prompt"),
     (lambda m: ebt.think(m, "1+2=", "steps=3"), "config")],
)  # fmt: skip
def test_bad_inputs_name_the_field(call, field):
    with pytest.raises(ValueError, match=field):
        call(tiny())


def test_bad_config_fields_are_named():
    with pytest.raises(ValueError, match="task"):
        AnswerModelConfig(task="chess")
    with pytest.raises(ValueError, match="start_std"):
        AnswerModelConfig(start_std=-1.0)
    with pytest.raises(ValueError, match="loss"):
        obj.AnswerRecipe(loss="mse")
    with pytest.raises(ValueError, match="zero_start"):
        obj.AnswerRecipe(zero_start=1.0)


def test_any_solution_loss_equals_cross_entropy_when_the_solution_is_unique():
    task = get_task("sudoku")
    examples = [e for e in task.fixed("id", "val", 40) if len(task.targets(e.prompt)) == 1][:4]
    batch = obj.make_batch(task, examples)
    logits = torch.randn(len(examples), 16, len(task.vocab))
    ce = obj.answer_loss(logits, batch, "ce")
    anys = obj.answer_loss(logits, batch, "any_solution", obj.grid_ids(task))
    assert torch.allclose(ce, anys, atol=1e-5)


def test_any_solution_loss_prefers_one_solution_over_their_average():
    task = get_task("sudoku")
    ex = next(e for e in task.fixed("harder", "val", 60) if len(task.targets(e.prompt)) == 2)
    batch = obj.make_batch(task, [ex, ex])
    tok = ebt.CharTokenizer(task.vocab)
    one_hots = [F.one_hot(torch.tensor(tok.encode(s)), len(task.vocab)).float()
                for s in task.targets(ex.prompt)]  # fmt: skip
    committed = 8.0 * one_hots[0]
    average = 8.0 * (one_hots[0] + one_hots[1]) / 2
    logits = torch.stack([committed, average])
    grids = obj.grid_ids(task)
    single = [obj.answer_loss(logits[i : i + 1], obj.make_batch(task, [ex]), "any_solution", grids)
              for i in range(2)]  # fmt: skip
    assert single[0] < single[1]
    assert batch.solutions.sum(-1).tolist() == [2, 2]


@pytest.mark.parametrize("task, loss", [("sum", "ce"), ("sudoku", "any_solution")])
def test_ebt_loss_backpropagates_through_the_descent(task, loss):
    model = tiny(task).train()
    recipe = obj.AnswerRecipe(task=task, loss=loss, batch=6, steps_min=2, steps_max=2,
                              alpha_jitter=2.0, replay=0.5, final_only=True,
                              detach=False)  # fmt: skip
    rng, gen = random.Random(0), torch.Generator().manual_seed(0)
    replay = obj.ReplayBuffer(32)
    for _ in range(3):  # the third batch restarts half its answers from the buffer
        loss_value, stats = obj.ebt_loss(model, get_task(task), recipe, rng, gen, replay)
        model.zero_grad()
        loss_value.backward()
    assert torch.isfinite(loss_value) and stats["steps"] == 2 and len(replay) == 18
    assert model.blocks[0].attn.qkv.weight.grad.abs().sum() > 0
    assert model.alpha.grad is not None and model.alpha.grad != 0


def test_transformer_lines_mask_the_answer_and_terminator():
    task = get_task("sum")
    ids, mask = obj.line_batch(task, [task.sample(random.Random(0)) for _ in range(1)])
    ex = task.sample(random.Random(0))
    targets = "".join(task.vocab[i] for i, m in zip(ids[0, 1:].tolist(), mask[0]) if m)
    assert targets == ex.answer + "\n"


SUDOKU = "1.3..4.2....2..1="  # 10 blanks


def test_clamped_givens_never_move_and_their_states_do_not_matter():
    model = tiny("sudoku", clamp_givens=True)
    given = [c != "." for c in SUDOKU[:16]]
    run = ebt.think(model, SUDOKU, ebt.ThinkConfig(steps=4, samples=3, seed=1, langevin=0.0))
    for i, tok in enumerate(run.tokens):
        if given[i]:  # every candidate, every step: the given digit, never descended
            assert (tok.states.argmax(-1) == model.config.vocab.index(SUDOKU[i])).all()
            assert np.allclose(tok.states, tok.states[:, :1])
        else:
            assert not np.allclose(tok.states[:, -1], tok.states[:, 0])
    assert all(run.text[i] == SUDOKU[i] for i in range(16) if given[i])
    probs = probs_for(model, 2)
    scrambled = probs.clone()
    scrambled[:, torch.tensor(given)] = probs_for(model, 2, seed=5)[:, torch.tensor(given)]
    assert torch.allclose(cached_energy(model, SUDOKU, probs),
                          cached_energy(model, SUDOKU, scrambled))  # fmt: skip
    probs.requires_grad_(True)
    (grad,) = torch.autograd.grad(cached_energy(model, SUDOKU, probs).sum(), probs)
    assert grad[:, torch.tensor(given)].abs().sum() == 0
    assert grad[:, ~torch.tensor(given)].abs().sum() > 0


def test_clamp_givens_needs_sudoku_and_a_bool():
    with pytest.raises(ValueError, match="clamp_givens"):
        AnswerModelConfig(task="sum", clamp_givens=True)
    with pytest.raises(ValueError, match="clamp_givens"):
        AnswerModelConfig(task="sudoku", clamp_givens="yes")
    with pytest.raises(ValueError, match="tf_weight"):
        obj.AnswerRecipe(tf_weight=-1.0)


def test_teacher_forced_nll_is_the_likelihood_energy_of_the_right_answer():
    model = tiny("sum")
    with torch.no_grad():
        model.energy_head.weight.zero_()  # the energy is then the likelihood term alone
    task = get_task("sum")
    examples = task.fixed("id", "val", 3)
    batch = obj.make_batch(task, examples)
    cache = model.prompt_cache(batch.ids, batch.lengths)
    nll = model.teacher_forced_nll(cache, batch.targets)
    energies = [answer_energies(model, e.prompt, [e.answer])[0] for e in examples]
    assert math.isclose(nll.item(), float(np.mean(energies)) / model.config.answer_length,
                        rel_tol=1e-4)  # fmt: skip


def test_ebt_loss_adds_the_teacher_forced_term():
    task = get_task("sudoku")
    model = tiny("sudoku", clamp_givens=True).train()
    base = dict(task="sudoku", loss="any_solution", batch=4, steps_min=2, steps_max=2)
    losses = []
    for weight in (0.0, 1.0):
        rng, gen = random.Random(0), torch.Generator().manual_seed(0)
        recipe = obj.AnswerRecipe(**base, tf_weight=weight)
        losses.append(obj.ebt_loss(model, task, recipe, rng, gen))
    (plain, _), (with_tf, stats) = losses
    assert math.isclose((with_tf - plain).item(), stats["loss_tf"], rel_tol=1e-4)


def test_vocab_rank_never_counts_the_answer_itself(monkeypatch):
    """Batched energies of the unchanged answer can sit a rounding error below `total`."""
    from ebt_core.answer import think as answer_think

    model = tiny()
    K, vocab = model.config.answer_length, model.config.vocab
    padded = model.task.padded("47")
    total = float(answer_energies(model, "12+35=", ["47"])[0])

    def energies(_model, _prompt, variants):  # the answer itself just below, the rest above
        return np.array([total - 1e-6 if v == padded else total + 1.0 for v in variants])

    monkeypatch.setattr(answer_think, "_padded_energies", energies)
    result = ebt.score(model, "12+35=", "47", ebt.ThinkConfig(steps=1, samples=2))
    assert result.vocab_rank.tolist() == [0] * K and len(vocab) > 1


@pytest.mark.parametrize("task, prompt", [("sum", "4857+5168="), ("sudoku", SUDOKU)])
def test_landscape_slices_the_whole_answer_energy(task, prompt):
    from ebt_core.landscapes import _answer_energies

    model = tiny(task, clamp_givens=task == "sudoku")
    run = ebt.think(model, prompt, ebt.ThinkConfig(steps=2, samples=1, seed=0))
    scape = ebt.landscape(model, run, token=3, resolution=5)
    K, V = model.config.answer_length, model.config.vocab_size
    assert scape.energy.shape == (5, 5) and scape.axes.shape == (2, K * V)
    assert np.allclose(scape.off_plane, 0, atol=1e-5)  # 3 states span a plane exactly
    back = scape.center + scape.path[0] @ scape.axes  # (S+1, K·V): the states again
    again = _answer_energies(model, prompt, back.reshape(-1, K, V))
    assert np.allclose(again, run.tokens[0].energies[0], atol=1e-4)
    with pytest.raises(ValueError, match="method"):
        ebt.landscape(model, run, method="umap")


def test_mirror_gradient_is_the_gradient_wrt_the_probabilities_and_still_descends():
    from ebt_core.descent import autograd_energy_and_grad, softmax_read

    weights = torch.randn(3, 7, 13, generator=torch.Generator().manual_seed(1))
    energy_fn = lambda p, _: (weights * p).sum((-1, -2)) + (p**2).sum((-1, -2))
    z = torch.randn(3, 7, 13, generator=torch.Generator().manual_seed(2))
    _, g_mirror = autograd_energy_and_grad(energy_fn, softmax_read, mirror=True)(z, 0)
    _, g_state = autograd_energy_and_grad(energy_fn, softmax_read)(z, 0)
    p = z.softmax(-1)
    assert torch.allclose(g_mirror, weights + 2 * p, atol=1e-6)  # ∂E/∂p
    jacobian_times = p * (g_mirror - (p * g_mirror).sum(-1, keepdim=True))  # (diag p − ppᵀ) g
    assert torch.allclose(g_state, jacobian_times, atol=1e-6)  # the chain rule ties the two
    assert ((g_state * g_mirror).sum((-1, -2)) > 0).all()  # −∂E/∂p is a descent direction in z
    assert not torch.allclose(g_mirror, g_state)


def test_mirror_descent_thinks_with_the_probability_gradient_in_think_and_training():
    plain, mirror = tiny("sum", mirror_descent=False), tiny("sum", mirror_descent=True)
    mirror.load_state_dict(plain.state_dict())
    cfg = ebt.ThinkConfig(steps=3, samples=2)
    a, b = ebt.think(plain, "48+57=", cfg).tokens[0], ebt.think(mirror, "48+57=", cfg).tokens[0]
    assert np.allclose(a.energies[:, 0], b.energies[:, 0])  # same energy, same starts
    assert not np.allclose(a.states[:, 1:], b.states[:, 1:])  # different steps from there
    small = ebt.ThinkConfig(steps=6, samples=1, step_size=0.05)  # small α: energy never rises
    assert (np.diff(ebt.think(mirror, "48+57=", small).tokens[0].energies) <= 1e-5).all()
    assert AnswerModelConfig.from_dict(mirror.config.to_dict()).mirror_descent is True
    model = tiny("sum", mirror_descent=True).train()
    recipe = obj.AnswerRecipe(batch=4, steps_min=2, steps_max=2, detach=False)
    loss, _ = obj.ebt_loss(model, get_task("sum"), recipe, random.Random(0),
                           torch.Generator().manual_seed(0))  # fmt: skip
    loss.backward()
    assert model.alpha.grad is not None and model.alpha.grad != 0
    with pytest.raises(ValueError, match="mirror_descent"):
        AnswerModelConfig(mirror_descent=1)


def test_harder_fraction_mixes_the_harder_levels_train_part_into_every_batch():
    from ebt_core.answer.data import _part_of, carry_chain

    task = get_task("sum")
    plain = obj.training_examples(task, obj.AnswerRecipe(), random.Random(3), 50)
    rng = random.Random(3)
    assert plain == [task.sample(rng) for _ in range(50)]  # fraction 0: the old draws exactly
    recipe = obj.AnswerRecipe(harder_fraction=0.5)
    mixed = obj.training_examples(task, recipe, random.Random(0), 400)
    operands = [e.prompt[:-1].split("+") for e in mixed]
    hard = [ops for ops in operands
            if carry_chain(*map(int, ops)) >= 3 and all(len(x) == 4 for x in ops)]  # fmt: skip
    assert 0.4 < len(hard) / len(mixed) < 0.6
    assert all(_part_of(e.prompt) == "train" for e in mixed)
    with pytest.raises(ValueError, match="harder_fraction"):
        obj.AnswerRecipe(harder_fraction=1.0)

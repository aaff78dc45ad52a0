"""Inference for answer EBTs: `think` (one prompt, full records), `score` (the whole answer's
energy) and `solve` (many prompts at once, for evaluation).

N candidate answers (K positions × V logits each) descend jointly through the one descent loop
(`descent.descend`); the prompt's stream is computed once. Candidate 0 starts at the zero state
(every position uniform): with `samples=1` and no Langevin noise the answer does not depend on
the seed (the noiseless single sample). Candidates 1..N−1 start from N(0, start_std²), so
best-of-N compares genuinely different starts; the selection rule keeps one whole answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..config import ThinkConfig
from ..descent import (
    DescentPolicy,
    autograd_energy_and_grad,
    descend,
    frozen,
    resolve_step_size,
    softmax_read,
)
from ..records import ScoreResult, ThinkRun, TokenRecord
from ..tokenizer import CharTokenizer
from .model import AnswerEBT, PromptCache
from .training import encode_prompts


def _require(model) -> AnswerEBT:
    if not isinstance(model, AnswerEBT):
        kind = getattr(getattr(model, "config", None), "kind", type(model).__name__)
        raise ValueError(f"needs an answer EBT checkpoint (kind 'answer-ebt'), got {kind!r}")
    return model


def _config(model: AnswerEBT, config) -> ThinkConfig:
    if config is not None and not isinstance(config, ThinkConfig):
        raise ValueError(f"config must be a ThinkConfig or None, got {type(config).__name__}")
    return config if config is not None else getattr(model, "think_defaults", ThinkConfig())


def start_states(model: AnswerEBT, batch: int, samples: int, gen) -> torch.Tensor:
    """(batch·samples, K, V): per prompt, candidate 0 at 0, the others ~ N(0, start_std²)."""
    c = model.config
    start = c.start_std * torch.randn(batch, samples, c.answer_length, c.vocab_size, generator=gen)
    start[:, 0] = 0.0
    return start.reshape(batch * samples, c.answer_length, c.vocab_size)


def _repeat(cache: PromptCache, samples: int) -> PromptCache:
    """Each prompt's cache repeated for its N candidates (rows b·N .. b·N+N−1)."""
    if cache.lengths.shape[0] == 1:
        return cache  # one prompt: batch-1 keys broadcast against N candidates
    layers = [type(kv)(kv.k.repeat_interleave(samples, 0), kv.v.repeat_interleave(samples, 0))
              for kv in cache.layers]  # fmt: skip
    lengths = cache.lengths.repeat_interleave(samples)
    rep = lambda t: None if t is None else t.repeat_interleave(samples, 0)
    return PromptCache(layers, lengths, rep(cache.last_hidden), rep(cache.given),
                       rep(cache.given_probs))  # fmt: skip


def run_descent(model: AnswerEBT, prompts: list[str], cfg: ThinkConfig, alpha: float):
    """Descend cfg.samples candidates per prompt: the list of `descent.Step`s (states
    (B·N, K, V), energies (B·N,)). Prompts are checked (ValueError naming "prompt")."""
    ids, lengths = encode_prompts(model.task, prompts)
    gen = torch.Generator().manual_seed(cfg.seed)
    start = start_states(model, len(prompts), cfg.samples, gen)
    policy = DescentPolicy(
        cfg.steps, alpha, cfg.langevin, cfg.accept_lower_only, cfg.tolerance, generator=gen
    )
    with frozen(model):
        with torch.no_grad():
            cache = _repeat(model.prompt_cache(ids, lengths), cfg.samples)
        start = model.clamp_states(cache, start)  # given Sudoku cells (clamp_givens) stay put
        energy_fn = lambda p, s: model.energy(cache, p, s)
        mirror = model.config.mirror_descent
        energy_and_grad = autograd_energy_and_grad(energy_fn, softmax_read, mirror=mirror)
        return list(descend(start, energy_and_grad, policy))


def decode(model: AnswerEBT, states: torch.Tensor) -> list[str]:
    """Answers read from logit states (B, K, V): argmax per position, up to the terminator."""
    vocab = model.config.vocab
    return [model.task.unpad("".join(vocab[i] for i in row)) for row in states.argmax(-1).tolist()]


@dataclass
class Solved:
    """Answers (B, N) and final energies (B, N) of N candidates per prompt after `steps`."""

    steps: int
    answers: list[list[str]]
    energies: np.ndarray

    def chosen(self) -> list[str]:
        """The lowest-energy answer of each prompt (best-of-N)."""
        return [a[int(np.argmin(e))] for a, e in zip(self.answers, self.energies)]


def solve(model, prompts: list[str], cfg: ThinkConfig, at_steps=None) -> list[Solved]:
    """Many prompts at once: the candidates' answers and energies after each of `at_steps`
    (default: cfg.steps). One descent serves every step count (a k-step descent is the first
    k steps of a longer one)."""
    model = _require(model)
    alpha = resolve_step_size(cfg.step_size, model)
    trace = run_descent(model, prompts, cfg, alpha)
    out = []
    for k in at_steps or (cfg.steps,):
        step = trace[min(k, len(trace) - 1)]
        answers = decode(model, step.state)
        n = cfg.samples
        grouped = [answers[i : i + n] for i in range(0, len(answers), n)]
        out.append(Solved(k, grouped, step.energy.view(-1, n).numpy().copy()))
    return out


def think(model, prompt: str, config: ThinkConfig | None = None, **_ignored) -> ThinkRun:
    """Answer `prompt` by a joint descent of whole answers. Returns a ThinkRun whose `text` is
    the chosen answer and whose `tokens[i]` records answer position i: its states
    (N, S+1, V), ‖∂E/∂z_i‖ (N, S+1), and the whole answers' energies (N, S+1), shared by every
    position. `max_new_tokens` is ignored (an answer has K positions)."""
    model = _require(model)
    cfg = _config(model, config)
    alpha = resolve_step_size(cfg.step_size, model)
    trace = run_descent(model, [prompt], cfg, alpha)
    states = torch.stack([s.state for s in trace], 1)  # (N, S+1, K, V)
    energies = torch.stack([s.energy for s in trace], 1).numpy()  # (N, S+1)
    grads = torch.stack([s.grad.norm(dim=-1) for s in trace], 1).numpy()  # (N, S+1, K)
    if cfg.select == "min":
        chosen = int(np.argmin(energies[:, -1]))
    else:
        chosen = int(np.argmax(energies[:, 0] - energies[:, -1]))
    vocab, used = model.config.vocab, len(trace) - 1
    final = states[chosen, -1].argmax(-1).tolist()  # (K,)
    tokens = [
        TokenRecord(vocab[final[i]], energies.copy(), states[:, :, i].numpy().copy(),
                    grads[:, :, i].copy(), chosen, used, i, vocab)
        for i in range(model.config.answer_length)
    ]  # fmt: skip
    text = model.task.unpad("".join(t.char for t in tokens))
    name = getattr(model, "checkpoint_name", "")
    return ThinkRun(prompt, text, tokens, cfg, float(alpha), vocab, name)


def one_hot_energy_terms(model: AnswerEBT, prompt: str, answers: list[str]) -> torch.Tensor:
    """Per-position energy terms (A, K) of whole answers as one-hot candidates (padded to K)."""
    model = _require(model)
    tok = CharTokenizer(model.config.vocab)
    ids, lengths = encode_prompts(model.task, [prompt])
    rows = [tok.encode(model.task.padded(a), "answer") for a in answers]
    onehot = torch.nn.functional.one_hot(torch.tensor(rows), model.config.vocab_size).float()
    with torch.no_grad():
        return model.energy_terms(model.prompt_cache(ids, lengths), onehot)


def answer_energies(model, prompt: str, answers: list[str]) -> np.ndarray:
    """The whole-answer energies (A,) of answers to one prompt (each checked)."""
    model = _require(model)
    for a in answers:
        model.task.check_answer(a)
    return one_hot_energy_terms(model, prompt, answers).sum(-1).numpy()


def score(model, prompt: str, answer: str, config: ThinkConfig | None = None) -> ScoreResult:
    """The model as verifier of a whole answer. `answer` is taken padded to K positions
    (`ScoreResult.answer`); `energies` (K,) are its per-position energy terms, whose sum
    (`total_energy`) is the whole answer's energy; `vocab_rank[i]` ranks the answer's
    character at position i among all V characters there (the other positions kept);
    `sample_energies` (K, N) are the final energies of the model's own N descents (whole
    answers, the same row at every position) and `sample_rank` counts those below the answer's.
    """
    model = _require(model)
    model.task.check_answer(answer)
    cfg = _config(model, config)
    padded = model.task.padded(answer)
    terms = one_hot_energy_terms(model, prompt, [answer])[0]  # (K,)
    total = float(terms.sum())
    vocab, K = model.config.vocab, len(padded)
    variants = [padded[:i] + ch + padded[i + 1 :] for i in range(K) for ch in vocab]
    e = _padded_energies(model, prompt, variants).reshape(K, len(vocab))  # every 1-char change
    same = np.array([[ch == padded[i] for ch in vocab] for i in range(K)])  # the answer itself
    ranks = ((e < total) & ~same).sum(axis=1)  # batched energies differ from `total` by ~1e-7
    solved = solve(model, [prompt], cfg)[0]
    sample = np.tile(solved.energies[0].astype(np.float32), (len(padded), 1))  # (K, N)
    return ScoreResult(prompt, padded, terms.numpy().astype(np.float32), ranks,
                       sample, (sample < total).sum(axis=1))  # fmt: skip


def _padded_energies(model: AnswerEBT, prompt: str, padded: list[str]) -> np.ndarray:
    """Energies of K-character strings taken as they are (any vocabulary character anywhere)."""
    tok = CharTokenizer(model.config.vocab)
    ids, lengths = encode_prompts(model.task, [prompt])
    onehot = torch.nn.functional.one_hot(torch.tensor([tok.encode(p) for p in padded]),
                                         model.config.vocab_size).float()  # fmt: skip
    with torch.no_grad():
        return model.energy(model.prompt_cache(ids, lengths), onehot).numpy()

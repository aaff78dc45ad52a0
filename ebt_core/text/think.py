"""Inference for text EBTs: `think` (generate by descent, with full records) and `score`.

Per generated character: N candidate states start from N(0, start_std²), descend on the energy
for up to `steps` steps (early stop when every |ΔE| < tolerance), the selection rule keeps one
candidate, and its most probable character is emitted. The context's stream is computed once
and extended by one token per character (KV cache); each descent step only runs the candidate
position. For the cache-equivalence test and the benchmark, `cache="none"` runs the whole model
over the whole sequence at every step (as the official code does) and `cache="prefix"`
recomputes only the context's stream at every step.
"""

from __future__ import annotations

import numpy as np
import torch

from ..config import ThinkConfig, _check_int, require_model, think_config_for
from ..descent import (
    DescentPolicy,
    autograd_energy_and_grad,
    check_finite,
    descend,
    frozen,
    resolve_step_size,
    select_candidate,
    softmax_read,
)
from ..records import ScoreResult, ThinkRun, TokenRecord
from ..tokenizer import CharTokenizer, check_text
from .fast_energy import fast_energy_and_grad
from .model import KVCache, TextEBT

MAX_NEW_TOKENS = 512
CACHE_MODES = ("kv", "prefix", "none")
# Best-of-N whose candidates really differ, chosen for arith-ebt on the validation part by
# `python -m ebt_core.study.spread` (README "Results"): Langevin 1.0 after each of its default
# 2 steps makes the 16 candidates end on ≥ 2 characters at ~18 % of answer tokens (1–2 % with
# no noise); the lowest energy picks the right one at ~97 % of those, but that mostly undoes
# the noise: it is no better than the noiseless single sample. No preset helps english-ebt.
SPREAD_PRESET = ThinkConfig(steps=2, samples=16, langevin=1.0)


def _require_ebt(model) -> TextEBT:
    return require_model(model, TextEBT, "thinking needs a text EBT checkpoint (kind 'text-ebt')")


def _check_prompt(model: TextEBT, prompt: str, new_tokens: int) -> torch.Tensor:
    check_text("prompt", prompt)
    total = len(prompt) + new_tokens
    if total > model.config.max_context:
        raise ValueError(
            f"prompt ({len(prompt)} characters) + max_new_tokens ({new_tokens}) = {total} "
            f"exceeds the model's context of {model.config.max_context} characters"
        )
    return CharTokenizer(model.config.vocab).encode_tensor(prompt, "prompt")


def _energy_fn(model: TextEBT, cache: KVCache, ids: torch.Tensor, mode: str):
    """Energy of candidate distributions p (N, V) after the context ids (1, T) → (N,)."""
    if mode == "kv":  # only the candidate position runs, against the cached prefix
        return lambda p, step: model.energy(cache, p.unsqueeze(1), step=step).squeeze(1)
    if mode == "prefix":  # recompute the context's stream, then the candidate position
        return lambda p, step: model.energy(model.prefix(ids), p.unsqueeze(1), step=step).squeeze(1)

    def full_forward(p: torch.Tensor, step: int) -> torch.Tensor:
        # No cache: the whole model runs at every step, both streams over every position, as
        # the official implementation does; earlier positions hold the known next characters.
        known = torch.nn.functional.one_hot(ids[0, 1:], model.config.vocab_size).float()
        probs = torch.cat([known.expand(p.shape[0], -1, -1), p.unsqueeze(1)], dim=1)  # (N,T,V)
        return model.energy_all_positions(model.prefix(ids), probs, step=step)[:, -1]

    return full_forward


def energy_and_grad_for(model: TextEBT, cache: KVCache, ids: torch.Tensor, mode: str):
    """The descent's `energy_and_grad` for the next character after ids (1, T): the
    hand-written fast path for "kv", autograd for "prefix" and "none"."""
    if mode == "kv":
        return fast_energy_and_grad(model, cache)
    return autograd_energy_and_grad(_energy_fn(model, cache, ids, mode), softmax_read)


def _descend(model, cache, ids, cfg: ThinkConfig, alpha: float, gen, mode: str):
    """Descend N candidates for the next character. Returns arrays (N, S+1[, V]) and steps used."""
    start = model.config.start_std * torch.randn(  # (N, V)
        cfg.samples, model.config.vocab_size, generator=gen
    )
    policy = DescentPolicy(
        cfg.steps, alpha, cfg.langevin, cfg.accept_lower_only, cfg.tolerance, generator=gen
    )
    with frozen(model):
        steps = list(descend(start, energy_and_grad_for(model, cache, ids, mode), policy))
    return (
        torch.stack([s.state for s in steps], 1).numpy(),  # (N, S+1, V)
        torch.stack([s.energy for s in steps], 1).numpy(),  # (N, S+1)
        torch.stack([s.grad.norm(dim=-1) for s in steps], 1).numpy(),  # (N, S+1)
        len(steps) - 1,
    )


def _append(model: TextEBT, ids: torch.Tensor, cache: KVCache, token: int):
    """The context grown by one character: ids (1, T+1) and its cache, extended incrementally."""
    next_id = torch.tensor([[token]])
    with torch.no_grad():
        return torch.cat([ids, next_id], dim=1), model.prefix(next_id, past=cache)


def think(
    model: TextEBT,
    prompt: str,
    config: ThinkConfig | None = None,
    max_new_tokens: int = 16,
    cache: str = "kv",
) -> ThinkRun:
    """Generate `max_new_tokens` characters after `prompt` by energy descent.

    config: None uses the checkpoint's default ThinkConfig (`model.think_defaults`).
    cache: "kv" (default), or "prefix" / "none" to recompute without the cache (benchmarks).
    Raises NonFiniteEnergyError (a ValueError) if an energy comes out NaN or infinite.
    """
    if cache not in CACHE_MODES:
        raise ValueError(f"cache must be one of {CACHE_MODES}, got {cache!r}")
    model = _require_ebt(model)
    cfg = think_config_for(model, config)
    _check_int("max_new_tokens", max_new_tokens, 1, MAX_NEW_TOKENS)
    ids = _check_prompt(model, prompt, max_new_tokens)  # (1, T)
    vocab = model.config.vocab
    alpha = resolve_step_size(cfg.step_size, model)
    gen = torch.Generator().manual_seed(cfg.seed)
    records: list[TokenRecord] = []
    with frozen(model), torch.no_grad():
        kv = model.prefix(ids)
    for position in range(max_new_tokens):
        states, energies, grad_norms, used = _descend(model, kv, ids, cfg, alpha, gen, cache)
        chosen = select_candidate(energies, cfg.select)
        token = int(np.argmax(states[chosen, -1]))
        records.append(
            TokenRecord(vocab[token], energies, states, grad_norms, chosen, used, position, vocab)
        )
        ids, kv = _append(model, ids, kv, token)
    text = "".join(r.char for r in records)
    return ThinkRun(
        prompt, text, records, cfg, float(alpha), vocab, getattr(model, "checkpoint_name", "")
    )


def vocab_energies(model: TextEBT, cache: KVCache) -> torch.Tensor:
    """Energy of every one-hot candidate (each character of the vocabulary) → (V,)."""
    eye = torch.eye(model.config.vocab_size).unsqueeze(1)  # (V, 1, V)
    with torch.no_grad():
        energies = model.energy(cache, eye).squeeze(1)
    check_finite(energies)
    return energies


def score(
    model: TextEBT, prompt: str, answer: str, config: ThinkConfig | None = None
) -> ScoreResult:
    """Energies of a user-supplied continuation, character by character (the verifier view).

    Each answer character is scored as a one-hot candidate after prompt + the answer's earlier
    characters, ranked among all characters of the vocabulary and among the final energies of
    the model's own N descents at that position (config: None = the checkpoint's defaults).
    Raises NonFiniteEnergyError (a ValueError) if an energy comes out NaN or infinite.
    """
    model = _require_ebt(model)
    check_text("answer", answer)
    cfg = think_config_for(model, config)
    ids = _check_prompt(model, prompt, len(answer))
    answer_ids = CharTokenizer(model.config.vocab).encode(answer, "answer")
    gen = torch.Generator().manual_seed(cfg.seed)
    alpha = resolve_step_size(cfg.step_size, model)
    with torch.no_grad():
        cache = model.prefix(ids)
    energies, vocab_rank, sample_energies = [], [], []
    for token in answer_ids:
        all_e = vocab_energies(model, cache)  # (V,)
        energies.append(float(all_e[token]))
        vocab_rank.append(int((all_e < all_e[token]).sum()))
        _, e, _, _ = _descend(model, cache, ids, cfg, alpha, gen, "kv")
        sample_energies.append(e[:, -1])
        ids, cache = _append(model, ids, cache, token)
    energies_np = np.asarray(energies, dtype=np.float32)
    sample_np = np.stack(sample_energies).astype(np.float32)  # (len(answer), N)
    return ScoreResult(
        prompt,
        answer,
        energies_np,
        np.asarray(vocab_rank),
        sample_np,
        (sample_np < energies_np[:, None]).sum(axis=1),
    )

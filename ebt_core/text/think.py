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

from ..config import ThinkConfig
from ..descent import (
    DescentPolicy,
    EnergyAndGrad,
    autograd_energy_and_grad,
    descend,
    frozen,
    resolve_step_size,
    softmax_read,
)
from ..records import ScoreResult, ThinkRun, TokenRecord
from ..tokenizer import CharTokenizer
from . import fast_energy
from .model import KVCache, TextEBT, Transformer

MAX_NEW_TOKENS = 512


def _require_ebt(model) -> TextEBT:
    if not isinstance(model, TextEBT):
        kind = getattr(getattr(model, "config", None), "kind", type(model).__name__)
        raise ValueError(f"thinking needs a text EBT checkpoint (kind 'text-ebt'), got {kind!r}")
    return model


def _check_text(name: str, value) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a non-empty string, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must be a non-empty string, got ''")


def _check_config(config) -> None:
    if config is not None and not isinstance(config, ThinkConfig):
        raise ValueError(f"config must be a ThinkConfig or None, got {type(config).__name__}")


def _check_prompt(model: TextEBT, prompt: str, new_tokens: int) -> torch.Tensor:
    _check_text("prompt", prompt)
    total = len(prompt) + new_tokens
    if total > model.config.max_context:
        raise ValueError(
            f"prompt ({len(prompt)} characters) + max_new_tokens ({new_tokens}) = {total} "
            f"exceeds the model's context of {model.config.max_context} characters"
        )
    return CharTokenizer(model.config.vocab).encode_tensor(prompt, "prompt")


CACHE_MODES = ("kv", "prefix", "none")


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


def fast_energy_and_grad(model: TextEBT, cache: KVCache) -> EnergyAndGrad:
    """The hand-written backward for one position against the cache (same numbers as autograd,
    no autograd overhead), with ∂E/∂state by the chain rule through softmax:
    ∂E/∂z = p ⊙ (∂E/∂p − ⟨p, ∂E/∂p⟩)."""

    def energy_and_grad(state: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        p = softmax_read(state)
        energy, grad_p = fast_energy.energy_and_grad(model, cache, p, step)
        return energy, p * (grad_p - (p * grad_p).sum(-1, keepdim=True))

    return energy_and_grad


def energy_and_grad_for(model: TextEBT, cache: KVCache, ids: torch.Tensor, mode: str):
    """The descent's `energy_and_grad` for the next character after ids (1, T)."""
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
    steps = list(descend(start, energy_and_grad_for(model, cache, ids, mode), policy))
    return (
        torch.stack([s.state for s in steps], 1).numpy(),  # (N, S+1, V)
        torch.stack([s.energy for s in steps], 1).numpy(),  # (N, S+1)
        torch.stack([s.grad.norm(dim=-1) for s in steps], 1).numpy(),  # (N, S+1)
        len(steps) - 1,
    )


def _select(energies: np.ndarray, rule: str) -> int:
    if rule == "min":
        return int(np.argmin(energies[:, -1]))
    return int(np.argmax(energies[:, 0] - energies[:, -1]))  # "max_gap"


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
    """
    if cache not in CACHE_MODES:
        raise ValueError(f"cache must be one of {CACHE_MODES}, got {cache!r}")
    model = _require_ebt(model)
    _check_config(config)
    cfg = config if config is not None else getattr(model, "think_defaults", ThinkConfig())
    if (
        isinstance(max_new_tokens, bool)
        or not isinstance(max_new_tokens, int)
        or not (1 <= max_new_tokens <= MAX_NEW_TOKENS)
    ):
        raise ValueError(
            f"max_new_tokens must be an integer in [1, {MAX_NEW_TOKENS}], got {max_new_tokens!r}"
        )
    ids = _check_prompt(model, prompt, max_new_tokens)  # (1, T)
    vocab = model.config.vocab
    alpha = resolve_step_size(cfg.step_size, model)
    gen = torch.Generator().manual_seed(cfg.seed)
    records: list[TokenRecord] = []
    with frozen(model), torch.no_grad():
        kv = model.prefix(ids)
    for position in range(max_new_tokens):
        with frozen(model):
            states, energies, grad_norms, used = _descend(model, kv, ids, cfg, alpha, gen, cache)
        chosen = _select(energies, cfg.select)
        token = int(np.argmax(states[chosen, -1]))
        records.append(
            TokenRecord(vocab[token], energies, states, grad_norms, chosen, used, position, vocab)
        )
        next_id = torch.tensor([[token]])
        ids = torch.cat([ids, next_id], dim=1)
        with torch.no_grad():
            kv = model.prefix(next_id, past=kv)
    text = "".join(r.char for r in records)
    return ThinkRun(
        prompt, text, records, cfg, float(alpha), vocab, getattr(model, "checkpoint_name", "")
    )


def vocab_energies(model: TextEBT, cache: KVCache) -> torch.Tensor:
    """Energy of every one-hot candidate (each character of the vocabulary) → (V,)."""
    eye = torch.eye(model.config.vocab_size).unsqueeze(1)  # (V, 1, V)
    with torch.no_grad():
        return model.energy(cache, eye).squeeze(1)


def score(
    model: TextEBT, prompt: str, answer: str, config: ThinkConfig | None = None
) -> ScoreResult:
    """Energies of a user-supplied continuation, character by character (the verifier view).

    Each answer character is scored as a one-hot candidate after prompt + the answer's earlier
    characters, ranked among all characters of the vocabulary and among the final energies of
    the model's own N descents at that position (config: None = the checkpoint's defaults).
    """
    model = _require_ebt(model)
    _check_text("answer", answer)
    _check_config(config)
    cfg = config if config is not None else getattr(model, "think_defaults", ThinkConfig())
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
        with frozen(model):
            _, e, _, _ = _descend(model, cache, ids, cfg, alpha, gen, "kv")
        sample_energies.append(e[:, -1])
        next_id = torch.tensor([[token]])
        ids = torch.cat([ids, next_id], dim=1)
        with torch.no_grad():
            cache = model.prefix(next_id, past=cache)
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


def predict_next(model: Transformer, context: str, k: int = 5) -> list[tuple[str, float]]:
    """Top-k (char, prob) of a Transformer++ baseline for the character after `context`."""
    if not isinstance(model, Transformer):
        raise ValueError("predict_next needs a Transformer++ checkpoint (kind 'transformer')")
    _check_text("context", context)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= model.config.vocab_size:
        raise ValueError(f"k must be an integer in [1, {model.config.vocab_size}], got {k!r}")
    if len(context) > model.config.max_context:
        raise ValueError(f"context exceeds the model's {model.config.max_context} characters")
    ids = CharTokenizer(model.config.vocab).encode_tensor(context, "context")
    with torch.no_grad():
        probs = model.next_logits(model.prefix(ids))[0].softmax(-1)
    top = torch.topk(probs, min(k, probs.numel()))
    return [(model.config.vocab[int(i)], float(p)) for p, i in zip(top.values, top.indices)]

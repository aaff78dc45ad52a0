"""Held-out evaluation of text models: perplexity per descent step, best-of-N, exact match.

Perplexity counts the masked targets of a corpus's eval batches (answer characters for arith,
every character for English). For EBTs the candidates descend from the model's random start
with no noise; best-of-N keeps, per position, the candidate with the lowest final energy.
"""

from __future__ import annotations

import math

import torch

from .config import ThinkConfig
from .descent import frozen
from .objectives import ebt_unroll, masked_ce, transformer_nll  # noqa: F401 (re-exported)
from .text_model import TextEBT, Transformer
from .thinking import think


def ebt_nll(
    model: TextEBT,
    ids: torch.Tensor,
    mask: torch.Tensor,
    steps: int,
    samples: int = 1,
    step_size: float | None = None,
    seed: int = 0,
) -> tuple[list[float], float]:
    """NLL after each of 1..steps steps (first sample) and of best-of-N after `steps`.

    ids (B, T+1), mask (B, T). Returns (per-step NLLs, best-of-N NLL).
    """
    B, T = mask.shape
    V = model.config.vocab_size
    gen = torch.Generator().manual_seed(seed)
    start = model.config.start_std * torch.randn(samples, B, T, V, generator=gen)
    alpha = model.step_size if step_size is None else step_size
    rep = ids.repeat(samples, 1)  # (N*B, T+1), sample-major
    with frozen(model), torch.no_grad():
        states, _ = ebt_unroll(
            model, rep, start.reshape(-1, T, V), steps, alpha, create_graph=False
        )
        final = states[-1]  # (N*B, T, V)
        energy = model.energy_all_positions(model.prefix(rep[:, :-1]), final.softmax(-1))
    targets = ids[:, 1:]
    per_step = [float(masked_ce(s[:B], targets, mask)) for s in states]
    best = energy.view(samples, B, T).argmin(dim=0)  # (B, T)
    chosen = final.view(samples, B, T, V).gather(0, best[None, ..., None].expand(1, B, T, V))[0]
    return per_step, float(masked_ce(chosen, targets, mask))


def ppl(nll: float) -> float:
    return math.exp(nll)


def exact_match(
    model: TextEBT, examples: list[tuple[str, str]], config: ThinkConfig | None = None
) -> float:
    """Share of (prompt, answer) pairs that `think` answers exactly (greedy, one sample)."""
    correct = 0
    for prompt, answer in examples:
        run = think(model, prompt, config, max_new_tokens=len(answer))
        correct += run.text == answer
    return correct / max(1, len(examples))


def transformer_exact_match(model: Transformer, examples: list[tuple[str, str]]) -> float:
    """Greedy decoding of the baseline, same examples."""
    from .tokenizer import CharTokenizer

    tok = CharTokenizer(model.config.vocab)
    correct = 0
    with torch.no_grad():
        for prompt, answer in examples:
            cache = model.prefix(tok.encode_tensor(prompt))
            out = ""
            for _ in answer:
                nxt = int(model.next_logits(cache)[0].argmax())
                out += model.config.vocab[nxt]
                cache = model.prefix(torch.tensor([[nxt]]), past=cache)
            correct += out == answer
    return correct / max(1, len(examples))

"""The Transformer++ baseline of a whole-answer task: the answer generated left to right.

A `text.model.Transformer` trained on lines f"{prompt}{answer}\\n" (train/train_answer.py)
answers greedily, one character per forward pass, until the terminator or K characters.
"""

from __future__ import annotations

from collections import defaultdict

import torch

from ..text.model import Transformer
from ..tokenizer import CharTokenizer
from .data import PAD, Task


@torch.no_grad()
def _greedy(model: Transformer, ids: torch.Tensor, n: int) -> list[list[int]]:
    """n greedy characters after prompts ids (B, T) of equal length."""
    cache, out = model.prefix(ids), []
    for _ in range(n):
        nxt = model.next_logits(cache).argmax(-1)  # (B,)
        out.append(nxt)
        cache = model.prefix(nxt[:, None], past=cache)
    return torch.stack(out, 1).tolist()


def generate_answers(model: Transformer, task: Task, prompts: list[str]) -> list[str]:
    """Greedy answers of the baseline (prompts of equal length are batched together)."""
    if not isinstance(model, Transformer):
        raise ValueError("generate_answers needs a Transformer++ checkpoint (kind 'transformer')")
    tok = CharTokenizer(model.config.vocab)
    groups: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(prompts):
        task.check_prompt(p)
        groups[len(p)].append(i)
    answers = [""] * len(prompts)
    for idx in groups.values():
        ids = torch.tensor([tok.encode(prompts[i], "prompt") for i in idx])
        for i, chars in zip(idx, _greedy(model, ids, task.max_answer + 1)):
            answers[i] = task.unpad(tok.decode(chars) + PAD)
    return answers

"""Inference for the Transformer++ baseline: `predict_next`, its top-k next characters.

The baseline predicts the next character in one forward pass (no descent); front ends show
its top-k beside the EBT's candidates.
"""

from __future__ import annotations

import torch

from ..config import _check_int
from ..tokenizer import CharTokenizer, check_text
from .model import Transformer


def predict_next(model: Transformer, context: str, k: int = 5) -> list[tuple[str, float]]:
    """Top-k (char, prob) of a Transformer++ baseline for the character after `context`."""
    if not isinstance(model, Transformer):
        raise ValueError("predict_next needs a Transformer++ checkpoint (kind 'transformer')")
    check_text("context", context)
    _check_int("k", k, 1, model.config.vocab_size)
    if len(context) > model.config.max_context:
        raise ValueError(f"context exceeds the model's {model.config.max_context} characters")
    ids = CharTokenizer(model.config.vocab).encode_tensor(context, "context")  # (1, T)
    with torch.no_grad():
        probs = model.next_logits(model.prefix(ids))[0].softmax(-1)  # (V,)
    top = torch.topk(probs, min(k, probs.numel()))
    return [(model.config.vocab[int(i)], float(p)) for p, i in zip(top.values, top.indices)]

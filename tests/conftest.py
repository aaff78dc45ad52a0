"""Shared fixtures: tiny seeded models (CPU, milliseconds)."""

from __future__ import annotations

import random

import pytest
import torch

import ebt_core as ebt
from ebt_core import objectives as obj
from ebt_core.data import ARITH_VOCAB, get_corpus

TINY = dict(n_layer=2, n_head=2, d_model=32, vocab=ARITH_VOCAB, step_size=2.0)


def tiny_ebt(seed: int = 0, **overrides) -> ebt.TextEBT:
    torch.manual_seed(seed)
    return ebt.TextEBT(ebt.TextModelConfig(**{**TINY, **overrides})).eval()


def tiny_transformer(seed: int = 0) -> ebt.Transformer:
    torch.manual_seed(seed)
    return ebt.Transformer(ebt.TextModelConfig(**{**TINY, "kind": "transformer"})).eval()


@pytest.fixture
def model() -> ebt.TextEBT:
    return tiny_ebt()


@pytest.fixture(scope="session")
def trained_ebt() -> ebt.TextEBT:
    """A tiny EBT trained for a few seconds on arith: its landscape is no longer random."""
    model = tiny_ebt(seed=1)
    model.train()
    recipe = obj.TextRecipe(batch=16, length=24, steps_min=2, steps_max=2, lr=3e-3, warmup=5)
    corpus, rng, gen = get_corpus("arith"), random.Random(0), torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(40):
        ids, mask = corpus.train_batch(rng, recipe.batch, recipe.length)
        loss, _ = obj.ebt_loss(model, ids, mask, recipe, rng, gen, None)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()

"""Character-level text models: the autoregressive text EBT and the Transformer++ baseline.

Text EBT (reference §2): the candidate for the next character is a V-dim real state z. The
energy of a candidate is read as follows: p = softmax(z) is embedded through a bias-free
Linear(V→D) (not tied to the input embedding), runs through the candidate stream of the
causal blocks (see `layers.py`), and a final RMSNorm + bias-free Linear(D→1) gives a scalar.

Both models expose `prefix(tokens, past)` → `KVCache`, the real stream computed once per
context and extended incrementally as characters are generated.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..config import _BackboneConfig, _check_int, check_causal_ebt
from ..layers import (
    Block,
    LayerKV,
    LearnedStepSize,
    RMSNorm,
    init_weights,
    real_stream,
    rope_table,
)

TEXT_KINDS = ("text-ebt", "transformer")


@dataclass(frozen=True)
class TextModelConfig(_BackboneConfig):
    """Architecture of a character-level text model (EBT or Transformer++ baseline).

    vocab: the characters the model knows, in id order (the tokenizer lives in the config).
    step_size: α of the descent; learnable if `learn_step_size`.
    step_embeddings: number of learned step-index embeddings (0 = none); steps past the last
        index reuse the last embedding.
    start_std: std of the random logit state every descent starts from (training and thinking).
    entropy_weight: τ ≥ 0. The energy of a candidate distribution p is E_θ(p) − τ·H(p), with
        H(p) = −Σ p log p its entropy (a free energy). τ > 0 gives the descent a fixed point of
        finite confidence (p ∝ exp(−∂E_θ/∂p / τ)), so thinking longer converges instead of
        sharpening the prediction without bound. 0 = the plain learned energy.
    """

    kind: str = "text-ebt"
    vocab: str = "0123456789+=\n"
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 128
    mlp_ratio: float = 8 / 3
    max_context: int = 1024
    step_size: float = 10.0
    learn_step_size: bool = True
    step_embeddings: int = 0
    start_std: float = 1.0
    rope_base: float = 10000.0
    entropy_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in TEXT_KINDS:
            raise ValueError(f"kind must be one of {TEXT_KINDS}, got {self.kind!r}")
        if not isinstance(self.vocab, str) or len(self.vocab) < 2:
            raise ValueError("vocab must be a string of at least 2 characters")
        if len(set(self.vocab)) != len(self.vocab):
            raise ValueError("vocab must not contain repeated characters")
        check_causal_ebt(self)
        _check_int("step_embeddings", self.step_embeddings, 0, 1024)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)


@dataclass
class KVCache:
    """Per-layer keys/values of the real stream for `length` context tokens (+ last hidden)."""

    layers: list[LayerKV]
    last_hidden: torch.Tensor  # (B, D): final-layer hidden of the last real token

    @property
    def length(self) -> int:
        return self.layers[0].k.shape[2]


class _CausalStack(nn.Module):
    """Token embedding + blocks, running the real stream with an optional cache."""

    def __init__(self, config: TextModelConfig) -> None:
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.blocks = nn.ModuleList(
            Block(config.d_model, config.n_head, config.d_hidden) for _ in range(config.n_layer)
        )
        self.norm_f = RMSNorm(config.d_model)
        self.apply(init_weights)

    def _rope(self, positions: torch.Tensor):
        return rope_table(
            positions, self.config.d_model // self.config.n_head, self.config.rope_base
        )

    def _real(self, tokens: torch.Tensor, past: KVCache | None) -> tuple[torch.Tensor, list]:
        """tokens (B, T) → final hidden (B, T, D) and the full per-layer KV."""
        t_past = 0 if past is None else past.length
        if t_past + tokens.shape[1] > self.config.max_context:
            raise ValueError(
                f"context of {t_past + tokens.shape[1]} characters exceeds the model's "
                f"max_context of {self.config.max_context}"
            )
        x = self.tok_emb(tokens)  # (B, T, D)
        table = self._rope(torch.arange(t_past, t_past + tokens.shape[1], device=tokens.device))
        return real_stream(self.blocks, x, None if past is None else past.layers, table)

    def prefix(self, tokens: torch.Tensor, past: KVCache | None = None) -> KVCache:
        """Run the real stream over `tokens` (B, T), appended after `past` if given."""
        x, layers = self._real(tokens, past)
        return KVCache(layers, x[:, -1])


PROB_FLOOR = 1e-30  # log p is taken of max(p, floor): a saturated softmax has exact zeros


def neg_entropy(probs: torch.Tensor) -> torch.Tensor:
    """−H(p) = Σ p log p over the last axis (finite where entries of p underflow to 0)."""
    return (probs * probs.clamp_min(PROB_FLOOR).log()).sum(-1)


class TextEBT(_CausalStack, LearnedStepSize):
    """Autoregressive energy-based transformer over characters."""

    def __init__(self, config: TextModelConfig) -> None:
        if config.kind != "text-ebt":
            raise ValueError(f"TextEBT needs kind='text-ebt', got {config.kind!r}")
        super().__init__(config)
        self.candidate_proj = nn.Linear(config.vocab_size, config.d_model, bias=False)
        self.step_emb = (
            nn.Embedding(config.step_embeddings, config.d_model) if config.step_embeddings else None
        )
        self.energy_head = nn.Linear(config.d_model, 1, bias=False)
        self.apply(init_weights)
        self._init_step_size(config.step_size, config.learn_step_size)

    def energy(
        self,
        cache: KVCache,
        probs: torch.Tensor,
        real_index: torch.Tensor | None = None,
        step: int = 0,
    ) -> torch.Tensor:
        """Energies of candidate distributions against a cached context.

        probs: (B, Tc, V) candidate distributions. real_index (Tc,): the context token each
        candidate follows; default: every candidate follows the last cached token.
        Returns energies (B, Tc).
        """
        if real_index is None:
            real_index = torch.full(
                (probs.shape[1],), cache.length - 1, dtype=torch.long, device=probs.device
            )
        h = self.candidate_proj(probs)  # (B, Tc, D)
        if self.step_emb is not None:
            index = min(step, self.step_emb.num_embeddings - 1)
            h = h + self.step_emb.weight[index]
        table = self._rope(real_index + 1)  # a candidate sits where its token will go
        for block, kv in zip(self.blocks, cache.layers):
            h = block.candidate(h, kv, real_index, table)
        energy = self.energy_head(self.norm_f(h)).squeeze(-1)
        if self.config.entropy_weight:
            energy = energy + self.config.entropy_weight * neg_entropy(probs)
        return energy

    def energy_all_positions(
        self, cache: KVCache, probs: torch.Tensor, step: int = 0
    ) -> torch.Tensor:
        """Training view: probs (B, T, V), candidate i follows token i → energies (B, T)."""
        real_index = torch.arange(probs.shape[1], device=probs.device)
        return self.energy(cache, probs, real_index, step)


class Transformer(_CausalStack):
    """Transformer++ baseline: the same blocks with a next-character head."""

    def __init__(self, config: TextModelConfig) -> None:
        if config.kind != "transformer":
            raise ValueError(f"Transformer needs kind='transformer', got {config.kind!r}")
        super().__init__(config)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.apply(init_weights)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, T) → next-character logits (B, T, V)."""
        x, _ = self._real(tokens, None)
        return self.lm_head(self.norm_f(x))

    def next_logits(self, cache: KVCache) -> torch.Tensor:
        """Logits (B, V) of the character after the cached context."""
        return self.lm_head(self.norm_f(cache.last_hidden))

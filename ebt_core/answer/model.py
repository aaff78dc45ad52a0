"""Answer EBT: the energy E(prompt, Ŷ) of a whole answer Ŷ, descended jointly.

The prompt runs through the causal blocks as ordinary tokens (the real stream, computed once:
its per-layer keys/values are the cache). The answer is K positions, each a V-dim logit state
z_i read as p_i = softmax(z_i) and embedded by a bias-free Linear(V→D) (initialised, on a warm
start, as the transposed token embedding). Answer position i sits at RoPE position T + i, right
after the prompt; it attends to every prompt token and to every answer position (itself
included), never the other way round: the prompt never sees the answer. A final RMSNorm and a
bias-free Linear(D→1) give one energy term per position; the whole answer's energy is their
sum (plus τ·Σ_i −H(p_i) when `entropy_weight` τ > 0, as in the text EBT).

Likelihood term (`likelihood_energy`, ours): each position's term also holds
−⟨p_i, log softmax(lm_head(h_{i−1}))⟩, the cross-entropy of candidate i under a next-character
head read at the position before it (the prompt's last token for i = 0). Warm-started from a
Transformer++ of the same task (its lm_head and stack) with causal attention among the answer
positions, the energy at iteration 0 is the Transformer++'s negative log-likelihood of the
(soft) answer, so descending it is already a parallel (Jacobi-style) decoder that needs up to
K steps to settle; training then shapes the whole landscape. `answer_attention="full"` lets
every answer position see every other one instead.

The shared stack (token embedding, blocks, final norm) has the text models' parameter names,
so it warm-starts from a Transformer++ trained on the same task's lines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import _BackboneConfig, check_causal_ebt
from ..layers import CausalAttention, LayerKV, LearnedStepSize, init_weights, rope
from ..text.model import _CausalStack, neg_entropy
from .data import get_task

ANSWER_KINDS = ("answer-ebt",)
GIVEN_LOGIT = 8.0  # a given cell's logit state: softmax puts 0.999 on the given digit
ATTENTION = ("causal", "full")


@dataclass(frozen=True)
class AnswerModelConfig(_BackboneConfig):
    """Architecture of an answer EBT. `task` ("sum" or "sudoku") fixes the vocabulary, the
    prompt format and the number K of answer positions (see answer/data.py).

    step_size: α of the descent, learnable if `learn_step_size`. start_std: std of the random
    logit states the descent's candidates start from (candidate 0 starts at 0, see think.py).
    entropy_weight: τ ≥ 0 of the free-energy term (0 = the plain learned energy).
    mirror_descent: each step moves the logits by −α ∂E/∂p (the gradient w.r.t. the
    probabilities: mirror descent on the simplex) instead of −α ∂E/∂z, in thinking and in the
    training unrolls alike (descent.autograd_energy_and_grad, mirror=True).
    """

    kind: str = "answer-ebt"
    task: str = "sum"
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 128
    mlp_ratio: float = 8 / 3
    max_context: int = 64
    step_size: float = 20.0
    learn_step_size: bool = True
    start_std: float = 1.0
    rope_base: float = 10000.0
    entropy_weight: float = 0.0
    answer_attention: str = "causal"
    likelihood_energy: bool = True
    clamp_givens: bool = False
    mirror_descent: bool = False

    def __post_init__(self) -> None:
        if self.answer_attention not in ATTENTION:
            raise ValueError(
                f"answer_attention must be one of {ATTENTION}, got {self.answer_attention!r}"
            )
        if not isinstance(self.likelihood_energy, bool):
            raise ValueError(
                f"likelihood_energy must be true or false, got {self.likelihood_energy!r}"
            )
        for name in ("clamp_givens", "mirror_descent"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.clamp_givens and self.task != "sudoku":
            raise ValueError("clamp_givens needs task 'sudoku' (only a grid has given cells)")
        if self.kind not in ANSWER_KINDS:
            raise ValueError(f"kind must be one of {ANSWER_KINDS}, got {self.kind!r}")
        get_task(self.task)  # ValueError naming "task"
        check_causal_ebt(self)

    @property
    def vocab(self) -> str:
        return get_task(self.task).vocab

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def answer_length(self) -> int:
        return get_task(self.task).answer_length


@dataclass
class PromptCache:
    """The prompts' real stream: per-layer keys/values (B or 1, H, T, hd), each prompt's
    length (B,) (shorter prompts of a batch are right-padded; their pad keys are masked) and
    the final-layer hidden of each prompt's last token (B, D). With clamped givens, `given`
    (B, K) marks the answer positions the prompt gives and `given_probs` (B, K, V) holds them
    one-hot."""

    layers: list[LayerKV]
    lengths: torch.Tensor
    last_hidden: torch.Tensor
    given: torch.Tensor | None = None
    given_probs: torch.Tensor | None = None

    @property
    def key_ok(self) -> torch.Tensor:
        """(B, T) bool: which cached keys are real prompt tokens."""
        T = self.layers[0].k.shape[2]
        return torch.arange(T, device=self.lengths.device)[None, :] < self.lengths[:, None]


def answer_attention(
    attn: CausalAttention, x: torch.Tensor, cache_kv: LayerKV, key_ok, table, causal: bool
):
    """Answer positions x (B, K, D) attend to the prompt's keys (masked by key_ok (B, T)) and
    to the answer positions (those up to their own if `causal`, else all). `cache_kv` may have
    batch 1 (one prompt, N candidates)."""
    B, K, C = x.shape
    qkv = attn.qkv(x).view(B, K, 3, attn.n_head, attn.head_dim).permute(2, 0, 3, 1, 4)
    qk = rope(qkv[:2], table)  # table: (B, 1, K, hd/2), per row (prompts differ in length)
    q, k, v = qk[0], qk[1], qkv[2]  # (B, H, K, hd)
    scale = 1.0 / math.sqrt(attn.head_dim)
    s_prompt = (q @ cache_kv.k.transpose(-2, -1)) * scale  # (B, H, K, T)
    s_prompt = s_prompt.masked_fill(~key_ok[:, None, None, :], float("-inf"))
    s_answer = (q @ k.transpose(-2, -1)) * scale  # (B, H, K, K)
    if causal:
        later = torch.ones(K, K, dtype=torch.bool, device=x.device).triu(1)
        s_answer = s_answer.masked_fill(later, float("-inf"))
    weights = torch.cat([s_prompt, s_answer], dim=-1).softmax(dim=-1)
    T = cache_kv.k.shape[2]
    y = weights[..., :T] @ cache_kv.v + weights[..., T:] @ v  # (B, H, K, hd)
    return attn.proj(y.transpose(1, 2).reshape(B, K, C))


class AnswerEBT(_CausalStack, LearnedStepSize):
    """Energy-based transformer over whole answers (module docstring)."""

    def __init__(self, config: AnswerModelConfig) -> None:
        if config.kind != "answer-ebt":
            raise ValueError(f"AnswerEBT needs kind='answer-ebt', got {config.kind!r}")
        super().__init__(config)
        self.candidate_proj = nn.Linear(config.vocab_size, config.d_model, bias=False)
        self.energy_head = nn.Linear(config.d_model, 1, bias=False)
        if config.likelihood_energy:  # same name as the Transformer++'s head: warm-started
            self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.apply(init_weights)
        self._init_step_size(config.step_size, config.learn_step_size)

    @property
    def task(self):
        return get_task(self.config.task)

    def prompt_cache(self, ids: torch.Tensor, lengths: torch.Tensor | None = None) -> PromptCache:
        """The real stream of prompts ids (B, T) (right-padded; lengths (B,), default all T)."""
        if lengths is None:
            lengths = torch.full((ids.shape[0],), ids.shape[1], dtype=torch.long)
        if ids.shape[1] + self.config.answer_length > self.config.max_context:
            raise ValueError(
                f"prompt of {ids.shape[1]} characters + {self.config.answer_length} answer "
                f"positions exceeds the model's max_context of {self.config.max_context}"
            )
        x, layers = self._real(ids, None)  # (B, T, D)
        lengths = lengths.to(ids.device)
        last = x[torch.arange(ids.shape[0], device=ids.device), lengths - 1]  # (B, D)
        cache = PromptCache(layers, lengths, last)
        if self.config.clamp_givens:  # Sudoku: prompt cell i is answer position i
            K, blank = self.config.answer_length, self.config.vocab.index(".")
            cells = ids[:, :K]
            cache.given = cells != blank
            cache.given_probs = F.one_hot(cells, self.config.vocab_size).to(x.dtype)
        return cache

    def clamp_states(self, cache: PromptCache, states: torch.Tensor) -> torch.Tensor:
        """Logit states (B, K, V) with the given cells set to GIVEN_LOGIT one-hot (unchanged
        without clamped givens)."""
        if cache.given is None:
            return states
        return torch.where(cache.given[..., None], GIVEN_LOGIT * cache.given_probs, states)

    def _answer_hidden(self, cache: PromptCache, probs: torch.Tensor) -> torch.Tensor:
        """The normed final hidden (B, K, D) of answer candidates probs (B, K, V)."""
        K = probs.shape[1]
        positions = cache.lengths[:, None] + torch.arange(K, device=probs.device)  # (b, K)
        cos, sin = self._rope(positions.reshape(-1))
        table = (cos.view(-1, 1, K, cos.shape[-1]), sin.view(-1, 1, K, sin.shape[-1]))
        key_ok, causal = cache.key_ok, self.config.answer_attention == "causal"
        h = self.candidate_proj(probs)  # (B, K, D)
        for block, kv in zip(self.blocks, cache.layers):
            h = h + answer_attention(block.attn, block.norm1(h), kv, key_ok, table, causal)
            h = h + block.mlp(block.norm2(h))
        return self.norm_f(h)

    def energy_terms(self, cache: PromptCache, probs: torch.Tensor) -> torch.Tensor:
        """Per-position energy terms (B, K) of candidate answers probs (B, K, V); their sum
        over K is the whole answer's energy."""
        if cache.given is not None:  # the givens are read from the prompt, never descended
            probs = torch.where(cache.given[..., None], cache.given_probs, probs)
        hn = self._answer_hidden(cache, probs)
        terms = self.energy_head(hn).squeeze(-1)  # (B, K)
        if self.config.likelihood_energy:
            terms = terms + self._likelihood_terms(cache, hn, probs)
        if self.config.entropy_weight:
            terms = terms + self.config.entropy_weight * neg_entropy(probs)
        return terms

    def _likelihood_terms(self, cache: PromptCache, hn: torch.Tensor, probs: torch.Tensor):
        """−⟨p_i, log softmax(lm_head(h_{i−1}))⟩ (B, K); h_{−1} = the prompt's last token."""
        first = self.norm_f(cache.last_hidden).expand(hn.shape[0], -1)[:, None]  # (B, 1, D)
        before = torch.cat([first, hn[:, :-1]], dim=1)  # (B, K, D)
        return -(probs * self.lm_head(before).log_softmax(-1)).sum(-1)

    def teacher_forced_nll(self, cache: PromptCache, targets: torch.Tensor) -> torch.Tensor:
        """Mean next-character cross-entropy of target answers ids (B, K) under the likelihood
        head with the answer one-hot (the Transformer++'s loss): keeps the likelihood term
        sharp at the right answers while the descent trains (recipe `tf_weight`)."""
        if not self.config.likelihood_energy:
            raise ValueError("teacher_forced_nll needs likelihood_energy")
        probs = F.one_hot(targets, self.config.vocab_size).to(cache.last_hidden.dtype)
        return self._likelihood_terms(cache, self._answer_hidden(cache, probs), probs).mean()

    def energy(self, cache: PromptCache, probs: torch.Tensor, step: int = 0) -> torch.Tensor:
        """The whole answers' energies (B,) (`step` is unused: no step embeddings)."""
        return self.energy_terms(cache, probs).sum(-1)

"""Llama-style building blocks shared by the text EBT and the Transformer++ baseline.

RMSNorm, rotary position embeddings, SwiGLU and a causal attention written with explicit
matmuls: training differentiates through ∇E (double backward), which the fused CPU SDPA kernels
do not support.

Two streams run through the same blocks:
- the *real* stream: ordinary causal self-attention over the context tokens. Its per-layer keys
  and values are the KV cache;
- the *candidate* stream: candidate c sits right after real token r_c; it attends to real keys
  j ≤ r_c and to itself, never to other candidates. So the energy of position i sees only tokens
  ≤ i and its own candidate, and one prefix computation serves every descent step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def init_weights(module: nn.Module) -> None:
    """GPT-2 style initialisation of the causal stacks: Linear and Embedding weights ~ N(0, 0.02²)
    (use with `model.apply`)."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, self.weight.shape, self.weight, self.eps)


Rope = tuple[torch.Tensor, torch.Tensor]


def rope_table(positions: torch.Tensor, head_dim: int, base: float) -> Rope:
    """cos and sin (T, head_dim/2) of the rotary angles for the given positions."""
    half = head_dim // 2
    inv_freq = base ** (-torch.arange(half, dtype=torch.float32, device=positions.device) / half)
    angles = positions.to(torch.float32)[:, None] * inv_freq[None, :]
    return angles.cos(), angles.sin()


def rope(x: torch.Tensor, table: Rope) -> torch.Tensor:
    """Rotate channel pairs (i, i + hd/2) of x (..., T, hd) by the table's angles."""
    cos, sin = table
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class SwiGLU(nn.Module):
    def __init__(self, d_model: int, d_hidden: int) -> None:
        super().__init__()
        self.gate_up = nn.Linear(d_model, 2 * d_hidden, bias=False)
        self.down = nn.Linear(d_hidden, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


@dataclass
class LayerKV:
    """Keys and values of the real stream for one layer, RoPE already applied."""

    k: torch.Tensor  # (B, H, T, hd)
    v: torch.Tensor  # (B, H, T, hd)


class CausalAttention(nn.Module):
    """Two-stream causal attention (see the module docstring)."""

    def __init__(self, d_model: int, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.head_dim = d_model // n_head
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.proj = nn.Linear(d_model, d_model, bias=False)

    def _split(self, x: torch.Tensor, table: Rope):
        B, T, C = x.shape
        qkv = self.qkv(x).view(B, T, 3, self.n_head, self.head_dim).permute(2, 0, 3, 1, 4)
        qk = rope(qkv[:2], table)  # one rotation for q and k together
        return qk[0], qk[1], qkv[2]

    def _merge(self, y: torch.Tensor) -> torch.Tensor:
        B, H, T, hd = y.shape
        return self.proj(y.transpose(1, 2).reshape(B, T, H * hd))

    def real(
        self, x: torch.Tensor, past: LayerKV | None, table: Rope
    ) -> tuple[torch.Tensor, LayerKV]:
        """Causal self-attention of new real tokens x (B, T, C) after `past` cached tokens.

        table: rotary angles of positions t_past .. t_past+T-1.
        """
        t_past = 0 if past is None else past.k.shape[2]
        T = x.shape[1]
        positions = torch.arange(t_past, t_past + T, device=x.device)
        q, k, v = self._split(x, table)
        if past is not None:
            k = torch.cat([past.k.expand(k.shape[0], -1, -1, -1), k], dim=2)
            v = torch.cat([past.v.expand(v.shape[0], -1, -1, -1), v], dim=2)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # (B, H, T, t_past+T)
        allowed = positions[:, None] >= torch.arange(t_past + T, device=x.device)[None, :]
        scores = scores.masked_fill(~allowed, float("-inf"))
        y = scores.softmax(dim=-1) @ v
        return self._merge(y), LayerKV(k, v)

    def candidate(
        self, h: torch.Tensor, kv: LayerKV, real_index: torch.Tensor, table: Rope
    ) -> torch.Tensor:
        """Candidates h (B, Tc, C); candidate c follows real token real_index[c] (Tc,).

        Candidate c attends to real keys j ≤ real_index[c] and to its own key; its RoPE
        position is real_index[c] + 1, the slot of the token it predicts (`table` holds those
        angles). `kv` may have batch 1 (shared prefix for N candidates) or batch B.
        """
        q, k_self, v_self = self._split(h, table)
        B, H, Tc, hd = q.shape
        scale = 1.0 / math.sqrt(self.head_dim)
        s_self = (q * k_self).sum(-1, keepdim=True) * scale  # (B, H, Tc, 1)
        fold = kv.k.shape[0] == 1 and B > 1
        if fold:  # N candidates share one prefix: fold them into the query axis, no K/V copies
            q = q.transpose(0, 1).reshape(1, H, B * Tc, hd)
            real_index = real_index.repeat(B)
        s_real = q @ kv.k.transpose(-2, -1) * scale  # (B, H, Tc, T) or (1, H, B*Tc, T)
        allowed = real_index[:, None] >= torch.arange(kv.k.shape[2], device=h.device)[None, :]
        s_real = s_real.masked_fill(~allowed, float("-inf"))
        if fold:
            s_real = s_real.reshape(H, B, Tc, -1).transpose(0, 1)  # (B, H, Tc, T)
        weights = torch.cat([s_real, s_self], dim=-1).softmax(dim=-1)
        w_real = weights[..., :-1]
        if fold:
            w_real = w_real.transpose(0, 1).reshape(1, H, B * Tc, -1)
        y_real = w_real @ kv.v
        if fold:
            y_real = y_real.reshape(H, B, Tc, hd).transpose(0, 1)
        y = y_real + weights[..., -1:] * v_self
        return self._merge(y)


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, d_model: int, n_head: int, d_hidden: int) -> None:
        super().__init__()
        self.norm1 = RMSNorm(d_model)
        self.attn = CausalAttention(d_model, n_head)
        self.norm2 = RMSNorm(d_model)
        self.mlp = SwiGLU(d_model, d_hidden)

    def real(
        self, x: torch.Tensor, past: LayerKV | None, table: Rope
    ) -> tuple[torch.Tensor, LayerKV]:
        a, kv = self.attn.real(self.norm1(x), past, table)
        x = x + a
        return x + self.mlp(self.norm2(x)), kv

    def candidate(
        self, h: torch.Tensor, kv: LayerKV, real_index: torch.Tensor, table: Rope
    ) -> torch.Tensor:
        h = h + self.attn.candidate(self.norm1(h), kv, real_index, table)
        return h + self.mlp(self.norm2(h))


def real_stream(
    blocks: nn.ModuleList, x: torch.Tensor, past: list[LayerKV] | None, table: Rope
) -> tuple[torch.Tensor, list[LayerKV]]:
    """The real stream x (B, T, D) through every block, each appending to its layer's cached
    keys/values `past` (None = no context yet) → final hidden (B, T, D) and the per-layer KV."""
    layers = []
    for i, block in enumerate(blocks):
        x, kv = block.real(x, None if past is None else past[i], table)
        layers.append(kv)
    return x, layers


class LearnedStepSize(nn.Module):
    """Mixin for EBTs: the descent's α as a parameter (learnable) or a buffer (fixed)."""

    def _init_step_size(self, value: float, learnable: bool) -> None:
        alpha = torch.tensor(float(value))
        if learnable:
            self.alpha = nn.Parameter(alpha)
        else:
            self.register_buffer("alpha", alpha)

    @property
    def step_size(self) -> float:
        """The trained α."""
        return float(self.alpha.detach())

"""Inference fast path: energy and ∂E/∂p of N candidates at one position, gradient by hand.

`fast_energy_and_grad(model, cache)` is the descent's `energy_and_grad` for `think(cache="kv")`.

Thinking evaluates the energy of a single candidate position against a cached prefix, many
times. On a CPU that work is tiny and autograd's per-operation bookkeeping dominates, so this
module runs the candidate stream forward and backward with plain tensor operations (no graph),
about 3× faster. It is exact: `tests/test_fast_energy.py` checks it against autograd. Training
never uses it (it needs second-order gradients).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..descent import EnergyAndGrad, softmax_read
from ..layers import rope, rope_table
from .model import PROB_FLOOR, KVCache, TextEBT, neg_entropy


def _norm(x: torch.Tensor, weight: torch.Tensor, eps: float):
    r = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    xn = x * r
    return xn * weight, (xn, r, weight)


def _norm_back(saved, dy: torch.Tensor) -> torch.Tensor:
    xn, r, weight = saved
    dxn = dy * weight
    return r * (dxn - xn * (dxn * xn).mean(-1, keepdim=True))


@torch.no_grad()
def energy_and_grad(
    model: TextEBT, cache: KVCache, probs: torch.Tensor, step: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """probs (N, V) after the cached context (batch 1) → energies (N,), ∂E/∂probs (N, V)."""
    cfg = model.config
    table = rope_table(torch.tensor([cache.length]), cfg.d_model // cfg.n_head, cfg.rope_base)
    h = probs @ model.candidate_proj.weight.t()  # (N, D)
    if model.step_emb is not None:
        h = h + model.step_emb.weight[min(step, model.step_emb.num_embeddings - 1)]
    h, saved = _forward(model, cache, h, table)  # table: cos, sin (1, hd/2)
    f, nf = _norm(h, model.norm_f.weight, model.norm_f.eps)
    energy = (f @ model.energy_head.weight.t()).squeeze(-1)  # (N,)
    dh = _backward(model, saved, _norm_back(nf, model.energy_head.weight.expand(len(h), -1)), table)
    grad = dh @ model.candidate_proj.weight  # (N, V)
    if cfg.entropy_weight:  # + τ·Σ p log p; its gradient log p + 1 (log p + 0 below the floor)
        log_p = probs.clamp_min(PROB_FLOOR).log()
        energy = energy + cfg.entropy_weight * neg_entropy(probs)
        grad = grad + cfg.entropy_weight * (log_p + (probs >= PROB_FLOOR).to(probs.dtype))
    return energy, grad


def _forward(model: TextEBT, cache: KVCache, h: torch.Tensor, table) -> tuple[torch.Tensor, list]:
    """The candidate stream h (N, D) through every block, keeping what the backward needs."""
    N, H = h.shape[0], model.config.n_head
    hd = h.shape[1] // H
    scale = 1.0 / math.sqrt(hd)
    saved = []
    for block, kv in zip(model.blocks, cache.layers):
        K, Vv = kv.k[0], kv.v[0]  # (H, T, hd)
        a, n1 = _norm(h, block.norm1.weight, block.norm1.eps)
        q, k, v = (a @ block.attn.qkv.weight.t()).view(N, 3, H, hd).transpose(0, 2).unbind(1)
        q, k = rope(q, table), rope(k, table)  # (H, N, hd)
        s_real = q @ K.transpose(1, 2) * scale  # (H, N, T)
        s_self = (q * k).sum(-1, keepdim=True) * scale  # (H, N, 1)
        w = torch.cat([s_real, s_self], dim=-1).softmax(-1)  # (H, N, T+1)
        o = w[..., :-1] @ Vv + w[..., -1:] * v  # (H, N, hd)
        h = h + o.transpose(0, 1).reshape(N, -1) @ block.attn.proj.weight.t()
        b, n2 = _norm(h, block.norm2.weight, block.norm2.eps)
        gate, up = (b @ block.mlp.gate_up.weight.t()).chunk(2, dim=-1)
        act = F.silu(gate)
        h = h + (act * up) @ block.mlp.down.weight.t()
        saved.append((K, Vv, n1, q, k, v, w, n2, gate, up, act))
    return h, saved


def _backward(model: TextEBT, saved: list, dh: torch.Tensor, table) -> torch.Tensor:
    """dE/dh (N, D) at the top of the stream → dE/dh at its bottom, block by block in reverse."""
    cos, sin = table
    inverse = (cos, -sin)  # the transpose of a rotation is the rotation back
    N, H = dh.shape[0], model.config.n_head
    hd = dh.shape[1] // H
    scale = 1.0 / math.sqrt(hd)
    for block, (K, Vv, n1, q, k, v, w, n2, gate, up, act) in zip(
        reversed(model.blocks), reversed(saved)
    ):
        dm = dh @ block.mlp.down.weight  # (N, Dh)
        sig = torch.sigmoid(gate)
        dgate = dm * up * sig * (1 + gate * (1 - sig))
        db = torch.cat([dgate, dm * act], dim=-1) @ block.mlp.gate_up.weight
        dh = dh + _norm_back(n2, db)
        do = (dh @ block.attn.proj.weight).view(N, H, hd).transpose(0, 1)  # (H, N, hd)
        dw = torch.cat([do @ Vv.transpose(1, 2), (do * v).sum(-1, keepdim=True)], dim=-1)
        ds = w * (dw - (w * dw).sum(-1, keepdim=True)) * scale  # (H, N, T+1)
        dq = ds[..., :-1] @ K + ds[..., -1:] * k
        dk = ds[..., -1:] * q
        dv = w[..., -1:] * do
        dq, dk = rope(dq, inverse), rope(dk, inverse)
        dqkv = torch.stack([dq, dk, dv], dim=1).transpose(0, 2).reshape(N, -1)  # (N, 3D)
        dh = dh + _norm_back(n1, dqkv @ block.attn.qkv.weight)
    return dh


def fast_energy_and_grad(model: TextEBT, cache: KVCache) -> EnergyAndGrad:
    """The descent's `energy_and_grad` for the next character, by the hand-written backward
    above, with ∂E/∂state by the chain rule through softmax: ∂E/∂z = p ⊙ (∂E/∂p − ⟨p, ∂E/∂p⟩)."""

    def state_energy_and_grad(state: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        p = softmax_read(state)  # (N, V)
        energy, grad_p = energy_and_grad(model, cache, p, step)
        return energy, p * (grad_p - (p * grad_p).sum(-1, keepdim=True))

    return state_energy_and_grad

"""Point models: the autoregressive point EBT and the next-point regression baseline.

Both read a sequence of 2-D points through the same causal blocks as the text models (see
`layers.py`): real token t is embedded from (p_t, p_t − p_{t−1}) by a bias-free Linear(4→D).

Point EBT: the candidate for the next point is ŷ ∈ R² itself (read = identity). It enters the
candidate stream as the offset ŷ − p_t from the last context point (so the energy does not
depend on where in the plane a shape is drawn), through a small embedding: "linear"
(Linear(2→D)) or "fourier" (sin/cos of fixed random projections at `fourier_scale`, then
Linear(2F→D)). Final RMSNorm + bias-free Linear(D→1) gives the energy. Descents start at
p_t + start_std·ε.

Regressor: the same stack with a Linear(D→2) head predicting the offset to the next point,
trained by MSE. At a fork it predicts the mean of the branches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..layers import Block, LayerKV, LearnedStepSize, RMSNorm, rope_table
from ..text.model import KVCache
from .config import EMBEDDINGS, FRAMES, POINT_KINDS, PointModelConfig  # noqa: F401 (re-exported)


@dataclass
class PointCache(KVCache):
    """KV cache of the real stream plus the context's points (B, T, 2): candidates are
    embedded relative to the point they follow."""

    points: torch.Tensor | None = None

    @property
    def last_point(self) -> torch.Tensor:
        return self.points[:, -1]  # (B, 2)


def point_features(points: torch.Tensor, previous: torch.Tensor | None) -> torch.Tensor:
    """points (B, T, 2) after `previous` (B, 2) or None → (B, T, 4): point and its step."""
    first = points[:, :1] if previous is None else previous[:, None]
    before = torch.cat([first, points[:, :-1]], dim=1)
    return torch.cat([points, points - before], dim=-1)


def to_heading_frame(offset: torch.Tensor, points: torch.Tensor, real_index: torch.Tensor):
    """Offsets (B, Tc, 2) after points[:, real_index] in the frame of the step that reached
    that point (unit heading u and its left normal); the world frame where there is no step."""
    before = points[:, (real_index - 1).clamp(min=0)]  # (B, Tc, 2)
    step = points[:, real_index] - before
    length = step.norm(dim=-1, keepdim=True)
    world = torch.tensor([1.0, 0.0]).expand_as(step)
    u = torch.where(length > 1e-6, step / length.clamp(min=1e-6), world)  # (B, Tc, 2)
    along = (offset * u).sum(-1)
    left = offset[..., 1] * u[..., 0] - offset[..., 0] * u[..., 1]
    return torch.stack([along, left], dim=-1)


class _PointStack(nn.Module):
    """Point embedding + blocks, running the real stream with an optional cache."""

    def __init__(self, config: PointModelConfig) -> None:
        super().__init__()
        self.config = config
        self.point_emb = nn.Linear(4, config.d_model, bias=False)
        # absolute index of each point: RoPE alone gives only relative positions, and a task
        # can branch at a fixed index (fork: after the fourth point)
        self.index_emb = nn.Embedding(config.max_context, config.d_model)
        self.blocks = nn.ModuleList(
            Block(config.d_model, config.n_head, config.d_hidden) for _ in range(config.n_layer)
        )
        self.norm_f = RMSNorm(config.d_model)
        self.apply(self._init_weights)
        nn.init.normal_(self.point_emb.weight, std=0.5)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def _rope(self, positions: torch.Tensor):
        return rope_table(
            positions, self.config.d_model // self.config.n_head, self.config.rope_base
        )

    def _real(self, points: torch.Tensor, past: PointCache | None):
        """points (B, T, 2) → final hidden (B, T, D) and the per-layer KV."""
        t_past = 0 if past is None else past.length
        if t_past + points.shape[1] > self.config.max_context:
            raise ValueError(
                f"context of {t_past + points.shape[1]} points exceeds the model's "
                f"max_context of {self.config.max_context}"
            )
        features = point_features(points, None if past is None else past.last_point)
        x = self.point_emb(features * self.config.offset_scale)  # (B, T, D)
        x = x + self.index_emb.weight[t_past : t_past + points.shape[1]]
        table = self._rope(torch.arange(t_past, t_past + points.shape[1]))
        layers: list[LayerKV] = []
        for i, block in enumerate(self.blocks):
            x, kv = block.real(x, None if past is None else past.layers[i], table)
            layers.append(kv)
        return x, layers

    def prefix(self, points: torch.Tensor, past: PointCache | None = None) -> PointCache:
        """Run the real stream over `points` (B, T, 2), appended after `past` if given."""
        x, layers = self._real(points, past)
        if past is not None:
            points = torch.cat([past.points.expand(points.shape[0], -1, -1), points], dim=1)
        return PointCache(layers, x[:, -1], points)


class PointEBT(_PointStack, LearnedStepSize):
    """Autoregressive energy-based transformer over 2-D points."""

    def __init__(self, config: PointModelConfig) -> None:
        if config.kind != "points-ebt":
            raise ValueError(f"PointEBT needs kind='points-ebt', got {config.kind!r}")
        super().__init__(config)
        width = 2 if config.candidate_embedding == "linear" else 2 * config.fourier_features
        self.candidate_proj = nn.Linear(width, config.d_model, bias=False)
        self.energy_head = nn.Linear(config.d_model, 1, bias=False)
        self._init_weights(self.energy_head)
        # unit-scale embeddings of the (scaled) offsets: a 0.02-std init makes ∇E vanish
        nn.init.normal_(self.candidate_proj.weight, std=width**-0.5)
        # a learned offset of the candidate token: without it the blocks' RMSNorm would see
        # only the direction of W·offset, not its length (a linear embedding is homogeneous)
        self.candidate_token = nn.Parameter(torch.randn(config.d_model))
        if config.candidate_embedding == "fourier":  # fixed, saved with the weights
            gen = torch.Generator().manual_seed(0)
            freqs = torch.randn(2, config.fourier_features, generator=gen)
            self.register_buffer("fourier", freqs * config.fourier_scale * 2 * math.pi)
        self._init_step_size(config.step_size, config.learn_step_size)

    def embed_candidate(self, offset: torch.Tensor) -> torch.Tensor:
        """Candidate offsets from their context point (..., 2) → (..., D)."""
        offset = offset * self.config.offset_scale  # about unit size for the tasks' steps
        if self.config.candidate_embedding == "fourier":
            z = offset @ self.fourier  # (..., F)
            offset = torch.cat([z.sin(), z.cos()], dim=-1)
        return self.candidate_proj(offset) + self.candidate_token

    def energy(
        self, cache: PointCache, candidates: torch.Tensor, real_index: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Energies of candidate points against a cached context.

        candidates: (B, Tc, 2) points. real_index (Tc,): the context point each candidate
        follows; default: every candidate follows the last cached point. Returns (B, Tc).
        """
        if real_index is None:
            real_index = torch.full((candidates.shape[1],), cache.length - 1, dtype=torch.long)
        anchors = cache.points[:, real_index]  # (B or 1, Tc, 2)
        offset = candidates - anchors
        if self.config.candidate_frame == "heading":
            offset = to_heading_frame(offset, cache.points, real_index)
        h = self.embed_candidate(offset) + self.index_emb(real_index + 1)  # (B, Tc, D)
        table = self._rope(real_index + 1)  # a candidate sits where its point will go
        for block, kv in zip(self.blocks, cache.layers):
            h = block.candidate(h, kv, real_index, table)
        return self.energy_head(self.norm_f(h)).squeeze(-1)


class PointRegressor(_PointStack):
    """Next-point regression baseline: the same blocks with an MSE head."""

    def __init__(self, config: PointModelConfig) -> None:
        if config.kind != "points-regressor":
            raise ValueError(f"PointRegressor needs kind='points-regressor', got {config.kind!r}")
        super().__init__(config)
        self.head = nn.Linear(config.d_model, 2, bias=False)
        self._init_weights(self.head)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """points (B, T, 2) → predicted next points (B, T, 2)."""
        x, _ = self._real(points, None)
        return points + self.head(self.norm_f(x))

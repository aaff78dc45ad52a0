"""Inference for point EBTs: `think` (generate points by descent, with full records), `score`,
the regression baseline's `predict_point`, and `energy_grid` (the exact landscape at a context).

Per generated point: N candidates start at p_last + start_std·ε, descend on the energy through
the one descent loop (`descent.descend`), the selection rule keeps one candidate and its final
state is the next point. The context's stream is computed once and extended by one point per
generated point (KV cache); each descent step runs only the candidate position.
"""

from __future__ import annotations

import numpy as np
import torch

from ..config import MAX_SAMPLES, ThinkConfig, require_model, think_config_for
from ..descent import (
    DescentPolicy,
    autograd_energy_and_grad,
    descend,
    frozen,
    resolve_step_size,
    select_candidate,
)
from ..records import PointScoreResult, ThinkRun, TokenRecord
from .geometry import MAX_COORDINATE, check_points, default_window  # noqa: F401 (re-exported)
from .model import PointCache, PointEBT, PointRegressor

MAX_NEW_POINTS = 64


def _check_length(model, context: np.ndarray, new: int, name: str = "max_new_tokens") -> None:
    total = len(context) + new
    if total > model.config.max_context:
        raise ValueError(
            f"points ({len(context)}) + {name} ({new}) = {total} exceeds the model's "
            f"max_context of {model.config.max_context} points"
        )


def _tensor(points: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32))[None]  # (1, T, 2)


def descend_candidates(
    model: PointEBT,
    cache: PointCache,
    cfg: ThinkConfig,
    alpha: float,
    gen: torch.Generator,
    start: torch.Tensor | None = None,
):
    """N candidates for the point after the cache, from `start` (N, 2) or from random starts
    around the last point. Returns states (N, S+1, 2), energies and ‖∂E/∂ŷ‖ (N, S+1), and the
    steps used."""
    if start is None:
        start = cache.last_point + model.config.start_std * torch.randn(  # (N, 2)
            cfg.samples, 2, generator=gen
        )
    energy_fn = lambda y, step: model.energy(cache, y.unsqueeze(1)).squeeze(1)  # noqa: E731
    policy = DescentPolicy(
        cfg.steps, alpha, cfg.langevin, cfg.accept_lower_only, cfg.tolerance, generator=gen
    )
    with frozen(model):
        steps = list(descend(start, autograd_energy_and_grad(energy_fn), policy))
    return (
        torch.stack([s.state for s in steps], 1).numpy(),  # (N, S+1, 2)
        torch.stack([s.energy for s in steps], 1).numpy(),  # (N, S+1)
        torch.stack([s.grad.norm(dim=-1) for s in steps], 1).numpy(),  # (N, S+1)
        len(steps) - 1,
    )


def think(
    model: PointEBT,
    points,
    config: ThinkConfig | None = None,
    max_new_tokens: int = 1,
    start=None,
) -> ThinkRun:
    """Generate `max_new_tokens` points after `points` ((T, 2) pairs) by energy descent.

    start: optional (K, 2) starting candidates for the FIRST generated point (e.g. where a user
    clicked the landscape); they replace the N random starts (K plays the role of samples).
    """
    model = require_model(model, PointEBT, "thinking about points needs a 'points-ebt' checkpoint")
    cfg = think_config_for(model, config)
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int):
        raise ValueError(f"max_new_tokens must be an integer, got {max_new_tokens!r}")
    if not 1 <= max_new_tokens <= MAX_NEW_POINTS:
        raise ValueError(f"max_new_tokens must be in [1, {MAX_NEW_POINTS}], got {max_new_tokens}")
    context = check_points("points", points)
    _check_length(model, context, max_new_tokens)
    first = None if start is None else torch.from_numpy(check_points("start", start))  # (K, 2)
    if first is not None and len(first) > MAX_SAMPLES:
        raise ValueError(f"start must hold at most {MAX_SAMPLES} points, got {len(first)}")
    alpha = resolve_step_size(cfg.step_size, model)
    gen = torch.Generator().manual_seed(cfg.seed)
    with torch.no_grad():
        cache = model.prefix(_tensor(context))
    records: list[TokenRecord] = []
    for position in range(max_new_tokens):
        given = first if position == 0 else None
        states, energies, grad_norms, used = descend_candidates(
            model, cache, cfg, alpha, gen, given
        )
        chosen = select_candidate(energies, cfg.select)
        records.append(TokenRecord("", energies, states, grad_norms, chosen, used, position))
        with torch.no_grad():
            cache = model.prefix(_tensor(states[chosen, -1][None]), past=cache)
    return ThinkRun.for_points(
        context, records, cfg, float(alpha), getattr(model, "checkpoint_name", "")
    )


def score(model: PointEBT, points, continuation, config: ThinkConfig | None = None):
    """Energies of user-supplied next points, one by one (the verifier view).

    Each continuation point is scored as the candidate after the context and the
    continuation's earlier points, and ranked among the final energies of the model's own N
    descents there (config: None = the checkpoint's defaults).
    """
    model = require_model(model, PointEBT, "scoring points needs a 'points-ebt' checkpoint")
    cfg = think_config_for(model, config)
    context = check_points("points", points)
    answer = check_points("continuation", continuation)
    _check_length(model, context, len(answer), "len(continuation)")
    gen, alpha = torch.Generator().manual_seed(cfg.seed), resolve_step_size(cfg.step_size, model)
    with torch.no_grad():
        cache = model.prefix(_tensor(context))
    energies, sample_energies = [], []
    for point in answer:
        with torch.no_grad():
            energies.append(float(model.energy(cache, _tensor(point[None]))[0, 0]))
        _, e, _, _ = descend_candidates(model, cache, cfg, alpha, gen)
        sample_energies.append(e[:, -1])
        with torch.no_grad():
            cache = model.prefix(_tensor(point[None]), past=cache)
    energies_np = np.asarray(energies, dtype=np.float32)
    sample_np = np.stack(sample_energies).astype(np.float32)  # (K, N)
    rank = (sample_np < energies_np[:, None]).sum(axis=1)
    return PointScoreResult(context, answer, energies_np, sample_np, rank)


def predict_point(model: PointRegressor, points) -> np.ndarray:
    """The regression baseline's next point (2,) after `points` ((T, 2) pairs)."""
    model = require_model(
        model, PointRegressor, "predict_point needs a 'points-regressor' checkpoint"
    )
    context = check_points("points", points)
    _check_length(model, context, 0, "0")
    with torch.no_grad():
        return model(_tensor(context))[0, -1].numpy()


def energy_grid(model: PointEBT, points, a: np.ndarray, b: np.ndarray, chunk: int = 4096):
    """Exact energy of every candidate point (a[i], b[j]) after `points` → (len(b), len(a))."""
    model = require_model(model, PointEBT, "an energy grid needs a 'points-ebt' checkpoint")
    context = check_points("points", points)
    grid = np.stack(np.meshgrid(a, b), axis=-1).reshape(-1, 2)  # (R_b·R_a, 2), row = b
    out = []
    with torch.no_grad():
        cache = model.prefix(_tensor(context))
        for i in range(0, len(grid), chunk):
            cand = torch.from_numpy(grid[i : i + chunk].astype(np.float32))[:, None]  # (M, 1, 2)
            out.append(model.energy(cache, cand)[:, 0].numpy())
    return np.concatenate(out).reshape(len(b), len(a))

"""The DiT baseline's sampler: deterministic DDIM (η = 0) on the model's noise schedule.

    for state in ddim_trajectory(model, noisy, t, passes):   # x_t, then after each pass
        ...

One pass predicts the noise ε̂ = DiT(x_t, t), the clean image x̂_0 from it (`predict_clean`,
also the DiT's training-time PSNR), and steps to the next visited timestep (`ddim_step`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ..descent import check_finite
from .model import ImageDiT
from .tiles import tile_batches


def ddim_timesteps(t: int, passes: int) -> list[int]:
    """The timesteps a DDIM run visits from t: all of t..0 if passes ≥ t+1, else evenly spaced."""
    if passes >= t + 1:
        return list(range(t, -1, -1))
    return sorted({int(round(x)) for x in np.linspace(t, 0, passes)}, reverse=True)


def predict_clean(noisy: torch.Tensor, eps: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """x̂_0 = (x_t − √(1−ᾱ_t) ε̂) / √ᾱ_t, clamped to [-1, 1]; ᾱ broadcastable to x_t."""
    return ((noisy - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()).clamp(-1, 1)


def ddim_step(
    state: torch.Tensor, eps: torch.Tensor, alpha_bar: torch.Tensor, alpha_bar_next: torch.Tensor
) -> torch.Tensor:
    """One DDIM update (η = 0): x_t with predicted noise ε̂ → x_t' = √ᾱ_t' x̂_0 + √(1−ᾱ_t') ε̃.

    x̂_0 is clamped to the image range, and ε̃ = (x_t − √ᾱ_t x̂_0) / √(1−ᾱ_t) is the noise
    consistent with the clamped x̂_0 (with ε̂ itself, the clamped-away part of the prediction
    would be carried into x_t' and come back amplified at the next, lower level)."""
    x0 = predict_clean(state, eps, alpha_bar)
    consistent = (state - alpha_bar.sqrt() * x0) / (1 - alpha_bar).sqrt()
    return alpha_bar_next.sqrt() * x0 + (1 - alpha_bar_next).sqrt() * consistent


@torch.no_grad()
def ddim_trajectory(model: ImageDiT, noisy: torch.Tensor, t: int, passes: int) -> Iterator:
    """Yield x (n, C, crop, crop) at the start and after each DDIM pass; the last is x_0.
    Raises NonFiniteEnergyError (a ValueError) if the predicted noise is NaN or infinite."""
    abar, taus = model.alphas_cumprod, ddim_timesteps(t, passes)
    state = noisy
    yield state
    for i, tau in enumerate(taus):
        a = abar[tau]
        a_next = abar[taus[i + 1]] if i + 1 < len(taus) else torch.ones((), device=abar.device)
        steps = torch.full((len(state),), tau, dtype=torch.long, device=state.device)  # (n,)
        eps = torch.cat(
            [model(state[s], steps[s]) for s in tile_batches(len(state), state.shape[-1])]
        )
        check_finite(
            eps, "the DiT's predicted noise"
        )  # a broken checkpoint: say so, not NaN frames
        state = ddim_step(state, eps, a, a_next)
        yield state

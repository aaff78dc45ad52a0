"""Training objectives and held-out evaluation for the image models (no I/O here).

EBT (reference §4): the noisy crop is the start of the descent; unroll `steps_min`–`steps_max`
steps (α jittered per crop) with `create_graph=True` and apply SmoothL1 between every step's
candidate and the clean crop, so the loss backpropagates through ∇E (second order). With
`train_level_min` > 0 every crop gets its own level, uniform in [train_level_min, train_level];
`relative_loss` divides each crop's loss by its noise variance 1 − ᾱ, so every level counts alike
(as PSNR gains do) instead of the noisiest crops dominating; `signal_weight` multiplies it by ᾱ as
well, which is the DiT's noise MSE written in pixels (ᾱ/(1−ᾱ), the signal-to-noise ratio).
DiT: MSE between predicted and true noise, with t drawn uniformly from the low-noise part of the
schedule (levels ≤ `train_level`), or at the EBT's per-crop levels when `train_level_min` > 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..config import _check_float
from ..descent import frozen, jittered_step_size, unroll
from ..recipe import Recipe
from .data import ID_LEVEL, OOD_LEVEL, add_noise, check_extra_photos, psnr
from .ddim import ddim_trajectory, predict_clean
from .denoise import DenoiseConfig, descent_trajectory
from .model import IMAGE_KINDS, ImageDiT, ImageEBT, level_to_timestep


@dataclass(frozen=True)
class ImageRecipe(Recipe):
    """How an image model is trained (saved into the checkpoint's config as `recipe`).
    Shared fields: `Recipe`; the defaults that differ for images are restated here."""

    KINDS = IMAGE_KINDS

    kind: str = "image-ebt"
    denoise: dict = field(default_factory=dict)  # the checkpoint's default DenoiseConfig
    alpha_lr_mult: float = 1000.0  # α lives in the thousands: let Adam move it ~1 per step
    train_level: float = ID_LEVEL  # EBT: the level of every training input; DiT: the top level
    train_level_min: float = 0.0  # > 0 = per-crop levels, uniform in [this, train_level]
    log_levels: bool = False  # per-crop levels log-uniform instead (as many low as high)
    init_from: str = ""  # a checkpoint of the same kind and architecture to fine-tune
    relative_loss: bool = False  # EBT: each crop's loss ÷ its noise variance 1 − ᾱ
    signal_weight: bool = False  # EBT: and × ᾱ (the DiT's ε-MSE weighting of levels)
    eval_passes: int = 5  # DiT: DDIM passes of the held-out evaluation
    # EBT: "descent" = the loss on every unrolled step (reference §4); "estimate" (energy
    # "denoiser" only) = regress its estimate g(x̂, y, ℓ) on the clean crop, with x̂ = y or, for a
    # `self_condition` share of the crops, x̂ = g(y, y, ℓ) (no graph): one backward, no ∇E
    objective: str = "descent"
    self_condition: float = 0.5
    # data augmentation (both kinds): crops also turned by multiples of 90°, and photos shown
    # downscaled by a random factor in [min_scale, 1] (1 = native resolution only)
    rotate: bool = False
    min_scale: float = 1.0
    # the share of greyscale crops noised on each channel independently, as a greyscale photo
    # stored as RGB is noised by `denoise` (the rest get the same noise on every channel, as a
    # one-channel photo is); 0 = every greyscale crop gets grey noise
    grey_colour_noise: float = 0.0
    # the share of crops whose contrast is stretched and clipped (`clip_contrast`): photos in the
    # wild have clipped shadows and highlights, the training photos few; 0 = none
    clip_contrast: float = 0.0
    clip_gain: float = 2.0  # the largest gain a: x → clamp(a·x + b, −1, 1), a ~ U[1, clip_gain]
    # more bundled photos in the training split (names from data.EXTRA_PHOTOS), each drawn as
    # often as every other training photo; () = the training split as it always was
    extra_photos: tuple = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.train_level <= 1.0:
            raise ValueError(f"train_level must be in (0, 1], got {self.train_level}")
        if not 0.0 <= self.train_level_min <= self.train_level:
            raise ValueError(
                f"train_level_min must be in [0, train_level], got {self.train_level_min}"
            )
        for name in ("log_levels", "relative_loss", "signal_weight", "rotate"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.objective not in ("descent", "estimate"):
            raise ValueError(f"objective must be 'descent' or 'estimate', got {self.objective!r}")
        if not 0.0 <= self.self_condition <= 1.0:
            raise ValueError(f"self_condition must be in [0, 1], got {self.self_condition}")
        if self.objective == "estimate" and self.model.get("energy") != "denoiser":
            raise ValueError("objective 'estimate' trains the 'denoiser' energy: set model.energy")
        _check_float("min_scale", self.min_scale, 0.1, 1.0)
        _check_float("grey_colour_noise", self.grey_colour_noise, 0.0, 1.0)
        _check_float("clip_contrast", self.clip_contrast, 0.0, 1.0)
        _check_float("clip_gain", self.clip_gain, 1.0, 10.0)
        object.__setattr__(self, "extra_photos", check_extra_photos(self.extra_photos))
        if self.eval_passes < 1:
            raise ValueError(f"eval_passes must be >= 1, got {self.eval_passes}")
        DenoiseConfig.from_dict(self.denoise)  # fail at load time, not after training


def training_timesteps(recipe: ImageRecipe, batch: int, timesteps: int, gen) -> torch.Tensor:
    """The EBT's input levels as timesteps (B,): all at train_level, or (train_level_min > 0)
    per crop in [t(train_level_min), t(train_level)], uniform or (log_levels) log-uniform."""
    t_max = level_to_timestep(recipe.train_level, timesteps)
    if recipe.train_level_min <= 0:
        return torch.full((batch,), t_max, dtype=torch.long)
    t_min = level_to_timestep(recipe.train_level_min, timesteps)
    if not recipe.log_levels:
        return torch.randint(t_min, t_max + 1, (batch,), generator=gen)
    lo, hi = math.log(t_min + 1), math.log(t_max + 1)  # t + 1 = timesteps · level
    u = torch.rand(batch, generator=gen)
    return (torch.exp(lo + u * (hi - lo)).round() - 1).long().clamp(t_min, t_max)


def grey_noise_mask(grey: torch.Tensor, recipe: ImageRecipe, gen: torch.Generator) -> torch.Tensor:
    """grey (B,) bool → which crops get the same noise on every channel: the greyscale ones
    less a `grey_colour_noise` share of them, drawn per crop."""
    if recipe.grey_colour_noise <= 0:
        return grey
    coloured = torch.rand(len(grey), generator=gen) < recipe.grey_colour_noise
    return grey & ~coloured.to(grey.device)


def clip_contrast(clean: torch.Tensor, recipe: ImageRecipe, gen: torch.Generator) -> torch.Tensor:
    """clean (B, C, H, W) in [-1, 1] → a `clip_contrast` share of the crops (drawn per crop)
    stretched as a photo with clipped shadows and highlights is: x → clamp(a·x + b, −1, 1) with
    gain a ~ U[1, clip_gain] and offset b ~ U[−(a − 1), a − 1], so the stretched range [−a + b,
    a + b] still covers [−1, 1] and whatever falls outside it clips. Draws no random numbers
    when the share is 0 (a recipe without it trains as it always has)."""
    if recipe.clip_contrast <= 0:
        return clean
    n = len(clean)
    chosen = torch.rand(n, generator=gen) < recipe.clip_contrast  # (B,)
    gain = 1 + (recipe.clip_gain - 1) * torch.rand(n, generator=gen)  # (B,)
    offset = (gain - 1) * (2 * torch.rand(n, generator=gen) - 1)  # (B,)
    gain = torch.where(chosen, gain, torch.ones_like(gain)).to(clean).reshape(-1, 1, 1, 1)
    offset = torch.where(chosen, offset, torch.zeros_like(offset)).to(clean).reshape(-1, 1, 1, 1)
    return (gain * clean + offset).clamp(-1, 1)


def ebt_loss(model: ImageEBT, clean, grey, recipe: ImageRecipe, gen: torch.Generator):
    """clean (B, C, crop, crop) in [-1, 1], grey (B,) → (loss, stats)."""
    grey = grey_noise_mask(grey, recipe, gen)
    t = training_timesteps(recipe, len(clean), model.config.timesteps, gen).to(clean.device)
    abar = model.alphas_cumprod[t]  # (B,)
    noisy, _ = add_noise(clean, abar, gen, grey)  # (B, C, crop, crop)
    weight = 1 / (1 - abar) if recipe.relative_loss else torch.ones_like(abar)  # (B,)
    if recipe.signal_weight:
        weight = weight * abar
    if recipe.objective == "estimate":
        return _estimate_loss(model, clean, noisy, t, weight, recipe, gen)
    steps = int(torch.randint(recipe.steps_min, recipe.steps_max + 1, (), generator=gen))
    alpha = jittered_step_size(model.alpha, recipe.alpha_jitter, (len(clean), 1, 1, 1), gen)
    contexts = model.step_contexts(noisy, t)  # y and ℓ are read only with `context`

    def energy_fn(x: torch.Tensor, index: int) -> torch.Tensor:
        if not model.config.context:
            return model.energy(x)
        return model.energy(x, *contexts.at(index, x))

    losses = []
    for step in unroll(noisy, energy_fn, steps, alpha, recipe.langevin, recipe.detach, gen):
        state = step.next_state  # (B, C, crop, crop)
        per_crop = F.smooth_l1_loss(state, clean, reduction="none").flatten(1).mean(1)  # (B,)
        losses.append((per_crop * weight).mean())  # the loss on every step's candidate
    loss = torch.stack(losses).mean()
    stats = {
        "loss": loss.item(),
        "steps": steps,
        "psnr_noisy": psnr(noisy, clean).mean().item(),
        "psnr": psnr(state.detach(), clean).mean().item(),
    }
    return loss, stats


def _estimate_loss(model: ImageEBT, clean, noisy, t, weight, recipe: ImageRecipe, gen):
    """MSE between the denoiser energy's estimate g(x̂, y, ℓ) and the clean crop, each crop's
    × `weight` (its level's: `relative_loss`, `signal_weight`); x̂ = y, or g(y, y, ℓ) for a
    `self_condition` share of the crops (what the descent's first step reaches, roughly),
    read beside what the descent's later steps read (`ImageEBT.step_context`: y at ℓ, or with a
    refining landscape that first candidate at its refining level)."""
    candidate, context, at = noisy, noisy, t
    chosen = torch.rand(len(clean), generator=gen) < recipe.self_condition  # (B,)
    if chosen.any():
        with torch.no_grad():
            first = model.estimate(noisy[chosen], noisy[chosen], t[chosen])
        later, later_t = model.step_context(1, noisy[chosen], t[chosen], first)
        candidate, context, at = noisy.clone(), noisy.clone(), t.clone()
        candidate[chosen], context[chosen], at[chosen] = first, later, later_t
    estimate = model.estimate(candidate, context, at)
    per_crop = (estimate - clean).square().flatten(1).mean(1)  # (B,)
    loss = (per_crop * weight).mean()
    stats = {
        "loss": loss.item(),
        "psnr_noisy": psnr(noisy, clean).mean().item(),
        "psnr": psnr(estimate.detach().clamp(-1, 1), clean).mean().item(),
    }
    return loss, stats


def dit_loss(model: ImageDiT, clean, grey, recipe: ImageRecipe, gen: torch.Generator):
    """Noise-prediction MSE at t ~ U{0..t(train_level)}, or with train_level_min > 0 at the
    EBT's levels (`training_timesteps`: uniform or log-uniform). Returns (loss, stats)."""
    grey = grey_noise_mask(grey, recipe, gen)
    if recipe.train_level_min > 0:
        t = training_timesteps(recipe, len(clean), model.config.timesteps, gen)
    else:
        t_max = level_to_timestep(recipe.train_level, model.config.timesteps)
        t = torch.randint(0, t_max + 1, (clean.shape[0],), generator=gen)
    t = t.to(clean.device)  # (B,)
    noisy, eps = add_noise(clean, model.alphas_cumprod[t], gen, grey)
    predicted = model(noisy, t)  # (B, C, crop, crop)
    loss = F.mse_loss(predicted, eps)
    x0 = predict_clean(noisy, predicted.detach(), model.alphas_cumprod[t].reshape(-1, 1, 1, 1))
    return loss, {"loss": loss.item(), "psnr": psnr(x0, clean).mean().item()}


def evaluate_psnr(model, clean, grey, recipe: ImageRecipe, seed: int = 1234) -> dict:
    """Held-out PSNR at the ID and OOD levels (fixed noise). EBT: after each of eval_steps."""
    row = {}
    for split, level in (("id", ID_LEVEL), ("ood", OOD_LEVEL)):
        gen = torch.Generator().manual_seed(seed)
        t = level_to_timestep(level, model.config.timesteps)
        noisy, _ = add_noise(clean, model.alphas_cumprod[t], gen, grey)
        row[f"{split}_psnr_noisy"] = round(psnr(noisy, clean).mean().item(), 3)
        with frozen(model), torch.no_grad():
            if isinstance(model, ImageEBT):
                trajectory = descent_trajectory(
                    model, noisy, max(recipe.eval_steps), model.step_size, t=t
                )
                by_step = [psnr(state, clean).mean().item() for state, _ in trajectory]
                row[f"{split}_psnr_step"] = {
                    str(s): round(by_step[s], 3) for s in recipe.eval_steps
                }
            else:
                *_, final = ddim_trajectory(model, noisy, t, recipe.eval_passes)
                row[f"{split}_psnr"] = round(psnr(final, clean).mean().item(), 3)
    return row

"""Image denoising with an image EBT (thinking = descent on the energy) or the DiT baseline.

    out = ebt.denoise(model, pil_or_array, ebt.DenoiseConfig(noise=0.2, steps=4, seed=0))
    out.frames[0], out.frames[-1], out.energies, out.psnr, out.passes

Noise semantics. `noise` is the diffusion level ℓ of reference §4, not a plain std: the input
(taken as the clean image x_0, mapped to [-1, 1]) becomes x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε with
t = 1000ℓ − 1 on the model's linear schedule. So noise=0.1 is the paper's in-distribution level
(noise std 0.321 in [-1, 1] units = 0.16 in [0, 1] units; signal scaled by 0.947) and 0.2 its
out-of-distribution level (std 0.584 / 0.29). noise=0 means the input is already noisy: it is
used as the start as is, PSNR is not reported, and the DiT assumes it sits at `input_level`.

The image is cut into overlapping crop×crop tiles (image/tiles.py), all tiles are processed in
batches, and every frame is blended back at the input's size. EBT: the noisy tiles are the
start of the descent (`ebt_core.descent.descend` on the image energy); each frame is the state
before a step, plus the final state. DiT: DDIM (η = 0, image/ddim.py) from t down to 0; frames
are x_t after each pass.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..config import _check_float, _check_int, _JsonConfig
from ..descent import (
    DescentPolicy,
    EnergyAndGrad,
    autograd_energy_and_grad,
    descend,
    frozen,
    resolve_step_size,
)
from .data import add_noise, psnr
from .ddim import ddim_trajectory
from .io import ImageInput, data_url_to_frame, frame_to_data_url, read_image
from .model import ImageDiT, ImageEBT, level_to_timestep
from .settings import DEFAULT_EBT_STEPS, DEFAULT_EBT_TOLERANCE, MAX_DENOISE_STEPS  # no torch there
from .tiles import blend_tiles, split_tiles, tile_batches


@dataclass(frozen=True)
class DenoiseConfig(_JsonConfig):
    """How an image is noised and denoised.

    noise: diffusion level ℓ in [0.001, 1] applied to the input first (0.1 = in distribution,
        0.2 = out of distribution), or 0 = the input is already noisy (see the module docstring).
    steps: EBT descent steps; DiT DDIM passes (at most t+1, which is every timestep, the
        paper's setting). None = 2 for the EBT and t+1 for the DiT.
    step_size: α of the EBT's descent in [-1, 1] units; None = the trained α. EBT only.
    tolerance: energy-aware stopping: a tile stops moving once its energy changes by less than
        this in one step (the run ends when every tile has); None = DEFAULT_EBT_TOLERANCE,
        0 = every tile takes every step. EBT only.
    langevin: std of Gaussian noise added to the state after each step ([-1, 1] units). EBT only.
    seed: seeds the added noise and the Langevin noise; same seed → identical result.
    input_level: the level the DiT assumes an already-noisy input (noise=0) has.
    """

    noise: float = 0.1
    steps: int | None = None
    step_size: float | None = None
    tolerance: float | None = None
    langevin: float = 0.0
    seed: int = 0
    input_level: float = 0.1

    def __post_init__(self) -> None:
        _check_float("noise", self.noise, 0.0, 1.0)
        if 0 < self.noise < 0.001:
            raise ValueError(f"noise must be 0 or in [0.001, 1], got {self.noise}")
        if self.steps is not None:
            _check_int("steps", self.steps, 1, MAX_DENOISE_STEPS)
        if self.step_size is not None:
            _check_float("step_size", self.step_size, 0.0, 1e7, lo_open=True)
        if self.tolerance is not None:
            _check_float("tolerance", self.tolerance, 0.0, 1e3)
        _check_float("langevin", self.langevin, 0.0, 10.0)
        _check_int("seed", self.seed, 0, 2**63 - 1)
        _check_float("input_level", self.input_level, 0.001, 1.0)


@dataclass
class DenoiseResult:
    """One denoising run. All frames are at the input's size.

    frames: list of (H, W, C) float32 arrays in [0, 1]; C = 1 grey, 3 RGB, +1 with the input's
        alpha. frames[0] = the noisy start, frames[-1] = the result. EBT: steps+1 frames
        (fewer when every tile settled first, see DenoiseConfig.tolerance); DiT: passes+1.
    energies: EBT: mean tile energy of each frame (len(frames)); DiT: None.
    psnr: dB of each frame against the clean input (len(frames)); None when noise = 0.
    passes: network forward passes over the tiles (EBT: steps+1, each but the last with a
        backward; DiT: DDIM passes).
    level, timestep: the diffusion level of the start and its t.
    step_size: α used (EBT), else None.
    seconds: wall-clock of the run (noising, tiling, every pass, blending), None if unknown.
    tile_steps: EBT: the mean number of steps a tile moved before it settled (energy-aware
        stopping; at most len(frames) − 1); DiT: None.
    """

    frames: list[np.ndarray]
    energies: list[float] | None
    psnr: list[float] | None
    passes: int
    kind: str
    level: float
    timestep: int
    step_size: float | None
    config: DenoiseConfig = field(default_factory=DenoiseConfig)
    seconds: float | None = None
    tile_steps: float | None = None

    @property
    def result(self) -> np.ndarray:
        return self.frames[-1]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: frames as 8-bit PNG data URLs, non-finite numbers as None."""
        clean = lambda xs: None if xs is None else [x if math.isfinite(x) else None for x in xs]
        return {
            "frames": [frame_to_data_url(f) for f in self.frames],
            "energies": clean(self.energies),
            "psnr": clean(self.psnr),
            "passes": self.passes,
            "kind": self.kind,
            "level": self.level,
            "timestep": self.timestep,
            "step_size": self.step_size,
            "config": self.config.to_dict(),
            "seconds": self.seconds,
            "tile_steps": self.tile_steps,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DenoiseResult:
        """Inverse of `to_dict` (frames come back quantised to 1/255)."""
        nan = lambda xs: None if xs is None else [math.nan if x is None else x for x in xs]
        return cls(
            frames=[data_url_to_frame(u) for u in data["frames"]],
            energies=nan(data["energies"]),
            psnr=nan(data["psnr"]),
            passes=data["passes"],
            kind=data["kind"],
            level=data["level"],
            timestep=data["timestep"],
            step_size=data["step_size"],
            config=DenoiseConfig.from_dict(data["config"]),
            seconds=data.get("seconds"),
            tile_steps=data.get("tile_steps"),
        )


def tile_energy_and_grad(
    model: ImageEBT, last: int | None = None, context: tuple | None = None
) -> EnergyAndGrad:
    """The image EBT's energy and gradient over tiles (n, C, crop, crop), in bounded batches.
    At step index `last` (the final state: no update follows it) only the energy is computed
    and the gradient is returned as zeros, which saves a backward pass. `context`: (the noisy
    tiles (n, C, crop, crop), their timesteps (n,)) for an EBT with `config.context`; with
    `config.refine_level`, steps after the first read the first step's tiles instead
    (`ImageEBT.step_context`)."""

    contexts = model.step_contexts(*context) if context is not None else None

    def energy_and_grad(state: torch.Tensor, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        ctx = contexts.at(index, state) if contexts is not None else None

        def energy(x: torch.Tensor, s: slice) -> torch.Tensor:
            return model.energy(x) if ctx is None else model.energy(x, ctx[0][s], ctx[1][s])

        if index == last:
            with torch.no_grad():
                energies = [energy(state[s], s) for s in tile_batches(len(state), state.shape[-1])]
            return torch.cat(energies), torch.zeros_like(state)
        parts = []
        for s in tile_batches(len(state), state.shape[-1]):
            one = autograd_energy_and_grad(lambda x, _, s=s: energy(x, s))
            parts.append(one(state[s], index))
        return torch.cat([e for e, _ in parts]), torch.cat([g for _, g in parts])

    return energy_and_grad


def ebt_context(model: ImageEBT, start: torch.Tensor, t: int | torch.Tensor | None) -> tuple | None:
    """What an EBT with `config.context` reads beside the candidate: the noisy start and its
    timesteps (n,); None for an EBT without context."""
    if not model.config.context:
        return None
    t = torch.as_tensor(t, dtype=torch.long, device=start.device).expand(len(start))
    return start.detach(), t


def descent_trajectory(
    model: ImageEBT,
    start: torch.Tensor,
    steps: int,
    step_size: float,
    langevin: float = 0.0,
    generator: torch.Generator | None = None,
    t: int | torch.Tensor | None = None,
    tolerance: float = 0.0,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (state (n, C, crop, crop), energies (n,)) for the start and after each step. `t`:
    the start's noise timestep (one, or one per tile), needed by an EBT with `config.context`.
    `tolerance` > 0: a tile whose energy changes by less than it in one step stops moving, and
    the run ends early once every tile has (energy-aware stopping, DescentPolicy)."""
    if model.config.context and t is None:
        raise ValueError("this image EBT reads its context: pass the start's timestep t")
    context = ebt_context(model, start, t)
    policy = DescentPolicy(
        steps, step_size, langevin, tolerance=tolerance, freeze_settled=True, generator=generator
    )
    for step in descend(start, tile_energy_and_grad(model, steps, context), policy):
        yield step.state, step.energy


def _check(model, config: DenoiseConfig, channels: int) -> None:
    if not isinstance(model, (ImageEBT, ImageDiT)):
        kind = getattr(getattr(model, "config", None), "kind", type(model).__name__)
        raise ValueError(
            f"denoise needs an image checkpoint ('image-ebt' or 'image-dit'), got {kind!r}"
        )
    if isinstance(model, ImageDiT) and config.step_size is not None:
        raise ValueError("step_size is an EBT setting; the DiT samples with DDIM (leave it None)")
    if isinstance(model, ImageDiT) and config.tolerance is not None:
        raise ValueError("tolerance is an EBT setting; the DiT takes every pass (leave it None)")
    if isinstance(model, ImageDiT) and config.langevin > 0:
        raise ValueError("langevin is an EBT setting; the DiT samples with DDIM (leave it 0)")
    if channels == 3 and model.config.channels == 1:
        raise ValueError("this model is greyscale (channels=1); pass a greyscale image")


def _step_size(model, config: DenoiseConfig) -> float | None:
    if not isinstance(model, ImageEBT):
        return None
    return resolve_step_size(config.step_size, model)


def _trajectory(model, tiles: torch.Tensor, config: DenoiseConfig, t: int, gen) -> Iterator:
    """Yield (tiles, mean energy or None) for every frame of the run."""
    if isinstance(model, ImageEBT):
        alpha = _step_size(model, config)
        steps = config.steps or DEFAULT_EBT_STEPS
        tol = DEFAULT_EBT_TOLERANCE if config.tolerance is None else config.tolerance
        run = descent_trajectory(model, tiles, steps, alpha, config.langevin, gen, t, tol)
        for state, energies in run:
            yield state, float(energies.mean())
    else:
        for state in ddim_trajectory(model, tiles, t, config.steps or t + 1):
            yield state, None


def _noisy_start(model, clean: torch.Tensor, config: DenoiseConfig, gen) -> tuple:
    """The clean input (C, H, W) in [-1, 1] noised to the level (or taken as is, noise = 0)
    → (start (C, H, W), level, timestep)."""
    level = config.noise if config.noise > 0 else config.input_level
    t = level_to_timestep(level, model.config.timesteps)
    if config.noise == 0:
        return clean, level, t
    noisy, _ = add_noise(clean[None], model.alphas_cumprod[t], gen)
    return noisy[0], level, t


def denoise(
    model: ImageEBT | ImageDiT, image, config: DenoiseConfig | None = None
) -> DenoiseResult:
    """Noise `image` to level `config.noise` (unless 0), then denoise it. See DenoiseResult.

    Raises NonFiniteEnergyError (a ValueError) if an EBT energy comes out NaN or infinite.
    """
    if config is None:  # the checkpoint's defaults, if its recipe has them
        config = DenoiseConfig.from_dict(getattr(model, "recipe", {}).get("denoise", {}))
    started = time.perf_counter()
    source: ImageInput = read_image(image)
    _check(model, config, source.colour.shape[2])
    # 1. the start: the clean input in [-1, 1] units, noised to the level (or taken as is)
    gen = torch.Generator().manual_seed(config.seed)
    clean = torch.from_numpy(source.colour).permute(2, 0, 1) * 2 - 1  # (C, H, W)
    start, level, t = _noisy_start(model, clean, config, gen)
    # 2. overlapping tiles, replicated to the model's channels (grey → RGB)
    grey_in_rgb_model = clean.shape[0] == 1 and model.config.channels == 3
    tiles, grid = split_tiles(
        start.expand(3, -1, -1) if grey_in_rgb_model else start, model.config.crop
    )
    # 3. run, blending every frame back to the input's size
    frames, energies, psnrs = [], [], []
    moved, previous = torch.zeros(len(tiles)), None  # steps each tile moved (energy-aware stop)
    with frozen(model), torch.no_grad():  # ∇E is taken w.r.t. the tiles only
        device = model.alphas_cumprod.device
        for state, energy in _trajectory(model, tiles.to(device), config, t, gen):
            if previous is not None:
                moved += (state != previous).flatten(1).any(dim=1).cpu().float()
            previous = state
            units = blend_tiles(state.cpu(), grid)  # (C', H, W)
            if grey_in_rgb_model:
                units = units.mean(dim=0, keepdim=True)
            colour = ((units.clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy().astype(np.float32)
            frames.append(source.attach_alpha(colour))
            energies.append(energy)
            psnrs.append(float(psnr(units[None], clean[None])[0]))
    is_ebt = isinstance(model, ImageEBT)
    return DenoiseResult(
        frames=frames,
        energies=energies if is_ebt else None,
        psnr=psnrs if config.noise > 0 else None,
        passes=len(frames) if is_ebt else len(frames) - 1,
        kind=model.config.kind,
        level=level,
        timestep=t,
        step_size=_step_size(model, config),
        config=config,
        seconds=time.perf_counter() - started,
        tile_steps=float(moved.mean()) if is_ebt else None,
    )

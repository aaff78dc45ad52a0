"""Image models: the denoising EBT and its diffusion baseline (DiT), on one patch backbone.

Both read a crop×crop image in [-1, 1] units cut into (crop/patch)² patches, run bidirectional
transformer blocks with adaLN-Zero modulation (DiT style), and differ only in what conditions
the modulation and what the head reads out (reference §4):

- ImageEBT: the modulation comes from ONE learned constant vector; a bias-free Linear(D→1) per
  patch gives patch energies, and the image energy is their mean, shape (B,). The candidate is
  the image itself; denoising = gradient descent on the energy from the noisy image.
- ImageDiT: the modulation comes from a sinusoidal timestep embedding; a per-patch linear head
  predicts the noise ε. Sampled with DDIM (see image/ddim.py).

With `energy="denoiser"` the EBT's head un-embeds to pixels too, and the energy is the distance
from the candidate to the model's own estimate of the clean image, ½‖x̂ − g(x̂, y, ℓ)‖²; with
`head="resize"` both models un-embed at pixel resolution (no patch grid in their outputs).

Heads and modulations are zero-initialised, so E ≡ 0 (and ε̂ ≡ 0) at init (the denoiser
energy: g ≡ y, or y/√ᾱ with estimate_form "noise"). Attention is written
with plain matmuls: EBT training differentiates through ∇E (double backward).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import _BackboneConfig, _check_float, _check_int, check_backbone
from ..layers import LearnedStepSize, SwiGLU

IMAGE_KINDS = ("image-ebt", "image-dit")
ENERGY_HEADS = ("linear", "residual", "denoiser")
PIXEL_HEADS = ("patch", "resize")
ESTIMATE_FORMS = ("residual", "noise")
REFINE_CONTEXTS = ("clean", "renoise")


@dataclass(frozen=True)
class ImageModelConfig(_BackboneConfig):
    """Architecture of an image EBT or DiT.

    crop: side of the square images the model sees (the tile size of `denoise`).
    patch: side of one patch; crop must be a multiple of it.
    energy: the EBT's head. "linear": a bias-free Linear(D→1) per patch (reference §4).
        "residual": the head un-embeds to pixels like the DiT's noise head, giving a residual
        r(x) (what the model would remove), and a patch's energy is ½‖r‖² over its pixels: E ≥ 0,
        0 where nothing is left to remove, and ∇E ≈ r near the image manifold.
        "denoiser": E = ½‖x̂ − g‖² with g = y + h(x̂, y, ℓ) the model's own estimate of the clean
        image (h through the pixel head, like the DiT's noise): the energy measures how far the
        candidate is from what the model, reading the candidate, would make of it (the energy
        parameterisation of Salimans & Ho, 2021, "Should EBMs model the energy or the score?").
        ∇E = (x̂ − g) − J_gᵀ(x̂ − g), so one step of α = n_patches jumps near g and later steps
        refine it. Needs `context`. Unused by the DiT.
    overlap: pixels by which each patch's embedding (and the DiT's un-embedding) reaches into
        its neighbours on every side: a (patch + 2·overlap)² convolution with stride `patch`.
        0 = the plain per-patch linear map, whose outputs (and the EBT's ∇E) jump at every
        patch edge: a block mosaic. Overlapping patches blend across the edges.
    head: how patch features become pixels (the DiT's noise, the EBT's residual/denoiser).
        "patch": the transpose of the patch embedding (per-patch linear, or with overlap the
        windowed transposed convolution) — its outputs still step at patch edges. "resize": the
        features, projected to `head_channels`, are upsampled bilinearly to pixel resolution,
        joined by the noisy image, and go through two 3×3 convolutions (GELU between): a
        pixel-resolution path with no patch grid in it (resize-convolution rather than a
        strided transpose, as Odena et al. 2016 advise against checkerboards).
    head_channels: width of the "resize" head.
    estimate_form: how the "denoiser" energy's head pixels h make its estimate g: "residual",
        g = y + h; "noise", g = (y − √(1−ᾱ)·h)/√ᾱ, h read as the noise, as the DiT reads ε̂.
    refine_level: 0 (off), or the noise level ℓ_r of the EBT's refining landscape: the first
        step descends E(x̂ | y, ℓ) from y as always; every later step descends E(x̂ | x̂₁, ℓ_r),
        reading the first step's candidate x̂₁ as its context at the low level ℓ_r (an annealed
        pair of landscapes, as IRED anneals its energies, Du et al. 2024; as DDIM's last passes
        read the first estimate at a low level). Needs the "denoiser" energy.
    refine_ratio: 0 (off), or ρ in (0, 0.99]: the refining level follows the start's level,
        ℓ_r = ρ·ℓ per tile (as DDIM's passes step down in proportion to where they start),
        instead of the fixed `refine_level`; a tile whose ρ·ℓ lies below `refine_min` keeps
        descending E(x̂ | y, ℓ) (a landscape at a level the model never trained on misleads:
        read at 0.004 the shipped estimator loses 0.8 dB at noise 0.02).
    refine_min: the lowest refining level `refine_ratio` uses (the lowest training level).
    refine_context: what the refining steps read as their noisy context. "clean": x̂₁ itself
        (a smooth image labelled with the level ℓ_r). "renoise": x̂₁ carried to ℓ_r along the
        noise it implies, √ᾱ_r·x̂₁ + √(1−ᾱ_r)·ε̂ with ε̂ = (y − √ᾱ·x̂₁)/√(1−ᾱ) — DDIM's
        deterministic step (η = 0), so the context looks like what the estimator was trained
        on: a noisy image at its level.
    window: multiply those overlapping kernels by a fixed separable tent that falls to ~0 at
        their borders (with overlap = patch/2 the tents of neighbouring patches sum to 1), so a
        patch's contribution fades out instead of stopping at an edge: no block steps.
    context: the EBT's energy also reads the noisy image it started from and its noise level,
        E(x̂ | y, ℓ): the noisy tile enters the patch embedding beside the candidate (2C input
        channels) and ℓ's timestep embedding joins the constant condition, as the DiT is told
        its timestep. The descent still moves the candidate only, from y. Needs overlap > 0.
        Unused by the DiT.
    step_size: initial α of the EBT's descent, in [-1, 1] image units; learnable if
        `learn_step_size`. Unused by the DiT.
    timesteps, beta_start, beta_end: the linear diffusion schedule that defines noise levels
        (level ℓ ↔ t = timesteps·ℓ − 1) for both kinds; the DiT is conditioned on t.
    """

    kind: str = "image-ebt"
    energy: str = "linear"
    crop: int = 32
    patch: int = 4
    overlap: int = 0
    window: bool = False
    context: bool = False
    head: str = "patch"
    head_channels: int = 32
    refine_level: float = 0.0
    refine_ratio: float = 0.0
    refine_min: float = 0.01
    refine_context: str = "clean"
    estimate_form: str = "residual"
    channels: int = 3
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 128
    mlp_ratio: float = 2.0
    step_size: float = 1000.0
    learn_step_size: bool = True
    timesteps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02

    def __post_init__(self) -> None:
        if self.kind not in IMAGE_KINDS:
            raise ValueError(f"kind must be one of {IMAGE_KINDS}, got {self.kind!r}")
        _check_int("crop", self.crop, 4, 512)
        _check_int("patch", self.patch, 1, 64)
        if self.crop % self.patch:
            raise ValueError(f"crop ({self.crop}) must be a multiple of patch ({self.patch})")
        _check_int("overlap", self.overlap, 0, self.patch)
        if self.window and not self.overlap:
            raise ValueError("window needs overlap > 0 (it shapes the overlapping kernels)")
        if not isinstance(self.context, bool):
            raise ValueError(f"context must be true or false, got {self.context!r}")
        if self.context and (self.kind != "image-ebt" or not self.overlap):
            raise ValueError("context is an image-ebt option and needs overlap > 0")
        if self.energy not in ENERGY_HEADS:
            raise ValueError(f"energy must be one of {ENERGY_HEADS}, got {self.energy!r}")
        if self.energy == "denoiser" and not self.context:
            raise ValueError("energy='denoiser' needs context (its estimate starts from y)")
        if self.head not in PIXEL_HEADS:
            raise ValueError(f"head must be one of {PIXEL_HEADS}, got {self.head!r}")
        _check_int("head_channels", self.head_channels, 1, 1024)
        if self.estimate_form not in ESTIMATE_FORMS:
            raise ValueError(
                f"estimate_form must be one of {ESTIMATE_FORMS}, got {self.estimate_form!r}"
            )
        _check_float("refine_level", self.refine_level, 0.0, 1.0)
        if self.refine_level:
            if self.energy != "denoiser" or self.kind != "image-ebt":
                raise ValueError("refine_level is for the image-ebt's 'denoiser' energy")
            if round(self.timesteps * self.refine_level) < 1:
                raise ValueError(
                    f"refine_level must be 0 (off) or at least 1/timesteps = "
                    f"{1 / self.timesteps:g}, got {self.refine_level:g}"
                )
        _check_float("refine_ratio", self.refine_ratio, 0.0, 0.99)
        _check_float("refine_min", self.refine_min, 0.0, 1.0, lo_open=True)
        if self.refine_context not in REFINE_CONTEXTS:
            raise ValueError(
                f"refine_context must be one of {REFINE_CONTEXTS}, got {self.refine_context!r}"
            )
        if self.refine_context != "clean" and not (self.refine_level or self.refine_ratio):
            raise ValueError(
                "refine_context is read by the refining steps: set refine_ratio or refine_level"
            )
        if self.refine_ratio:
            if self.energy != "denoiser" or self.kind != "image-ebt":
                raise ValueError("refine_ratio is for the image-ebt's 'denoiser' energy")
            if self.refine_level:
                raise ValueError("set refine_level (a fixed level) or refine_ratio, not both")
            if round(self.timesteps * self.refine_min) < 1:
                raise ValueError(
                    f"refine_min must be at least 1/timesteps = {1 / self.timesteps:g}, "
                    f"got {self.refine_min:g}"
                )
        if self.head == "resize" and self.kind == "image-ebt" and self.energy == "linear":
            raise ValueError("head='resize' is for pixel outputs: energy 'residual' or 'denoiser'")
        if self.head == "resize" and self.kind == "image-ebt" and not self.context:
            raise ValueError("head='resize' reads the noisy image: the image-ebt needs context")
        if self.channels not in (1, 3) or isinstance(self.channels, bool):
            raise ValueError(f"channels must be 1 or 3, got {self.channels!r}")
        check_backbone(self.n_layer, self.n_head, self.d_model, self.mlp_ratio)
        _check_float("step_size", self.step_size, 0.0, 1e7, lo_open=True)
        if not isinstance(self.learn_step_size, bool):
            raise ValueError(f"learn_step_size must be true or false, got {self.learn_step_size!r}")
        _check_int("timesteps", self.timesteps, 10, 100_000)
        _check_float("beta_start", self.beta_start, 0.0, 0.5, lo_open=True)
        _check_float("beta_end", self.beta_end, self.beta_start, 0.999)

    @property
    def n_patches(self) -> int:
        return (self.crop // self.patch) ** 2

    @property
    def patch_dim(self) -> int:
        return self.channels * self.patch**2

    @property
    def in_channels(self) -> int:
        """Channels the patch embedding reads: the candidate's, and the noisy image's too
        with `context`."""
        return self.channels * (2 if self.context else 1)


def noise_schedule(config: ImageModelConfig) -> torch.Tensor:
    """ᾱ_t of the linear beta schedule, shape (timesteps,), float64 for exact levels."""
    betas = torch.linspace(
        config.beta_start, config.beta_end, config.timesteps, dtype=torch.float64
    )
    return torch.cumprod(1.0 - betas, dim=0)


def kernel_window(config: ImageModelConfig) -> torch.Tensor:
    """(k, k) with k = patch + 2·overlap: a separable tent, (min(i, k−1−i) + ½)/(k/2) per axis,
    when `config.window`, else ones (the kernels as learned)."""
    k = config.patch + 2 * config.overlap
    if not config.window:
        return torch.ones(k, k)
    i = torch.arange(k, dtype=torch.float32)
    tent = (torch.minimum(i, k - 1 - i) + 0.5) / (k / 2)  # (k,)
    return tent[:, None] * tent[None, :]


def level_to_timestep(level: float, timesteps: int) -> int:
    """Noise level ℓ ∈ (0, 1] → diffusion step t = round(timesteps·ℓ) − 1 (reference §4)."""
    t = round(timesteps * level) - 1
    if not 0 <= t < timesteps:
        raise ValueError(f"noise level {level} is outside (0, 1] on a {timesteps}-step schedule")
    return t


class BidirectionalAttention(nn.Module):
    """Bidirectional multi-head self-attention over patches, plain matmuls (double backward)."""

    def __init__(self, d_model: int, n_head: int) -> None:
        super().__init__()
        self.n_head, self.head_dim = n_head, d_model // n_head
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.proj = nn.Linear(d_model, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, D = x.shape
        qkv = self.qkv(x).view(B, N, 3, self.n_head, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # each (B, H, N, hd)
        weights = (q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)).softmax(dim=-1)  # (B,H,N,N)
        return self.proj((weights @ v).transpose(1, 2).reshape(B, N, D))


def _norm(x: torch.Tensor) -> torch.Tensor:
    """LayerNorm without affine parameters: adaLN supplies the scale and shift."""
    return F.layer_norm(x, x.shape[-1:], eps=1e-6)


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale[:, None]) + shift[:, None]


class AdaLNBlock(nn.Module):
    """DiT block: attention and SwiGLU, each scaled, shifted and gated by the condition."""

    def __init__(self, d_model: int, n_head: int, d_hidden: int) -> None:
        super().__init__()
        self.attn = BidirectionalAttention(d_model, n_head)
        self.mlp = SwiGLU(d_model, d_hidden)
        self.ada = nn.Linear(d_model, 6 * d_model)  # zero-initialised: the block starts as identity

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x (B, N, D), cond (B, D) → (B, N, D)."""
        shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(F.silu(cond)).chunk(6, dim=-1)
        x = x + gate1[:, None] * self.attn(_modulate(_norm(x), shift1, scale1))
        return x + gate2[:, None] * self.mlp(_modulate(_norm(x), shift2, scale2))


class ResizeHead(nn.Module):
    """Patch features → pixels at pixel resolution: Linear(D → h) per patch, bilinear ×patch
    upsampling (its kinks sit at patch centres, not edges), the noisy image joined as C more
    channels, then 3×3 conv (h+C → h), GELU, 3×3 conv (h → C). The last conv is the one that
    is zero-initialised (`last`)."""

    def __init__(self, d_model: int, channels: int, patch: int, hidden: int) -> None:
        super().__init__()
        self.patch = patch
        self.proj = nn.Linear(d_model, hidden)
        self.conv = nn.Conv2d(hidden + channels, hidden, 3, padding=1)
        self.last = nn.Conv2d(hidden, channels, 3, padding=1)

    def upsample(self, tokens: torch.Tensor, side: int) -> torch.Tensor:
        """tokens (B, N, h) on a square grid → (B, h, side, side), bilinear."""
        g = side // self.patch
        grid = tokens.transpose(1, 2).reshape(len(tokens), -1, g, g)  # (B, h, g, g)
        return F.interpolate(grid, scale_factor=self.patch, mode="bilinear", align_corners=False)

    def forward(self, features: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
        """features (B, N, D), noisy (B, C, side, side) with N = (side/patch)² → like noisy."""
        up = self.upsample(self.proj(features), noisy.shape[-1])
        return self.last(F.gelu(self.conv(torch.cat([up, noisy], dim=1))))


def _output_layer(head: nn.Module) -> nn.Module:
    """The layer that writes a pixel head's output."""
    return head.last if isinstance(head, ResizeHead) else head


def _zero_output(head: nn.Module) -> None:
    """Zero the layer that writes a pixel head's output (E or ε̂ starts at its reference)."""
    last = _output_layer(head)
    nn.init.zeros_(last.weight)
    if last.bias is not None:
        nn.init.zeros_(last.bias)


class _PatchBackbone(nn.Module):
    """Patch embedding + learned positions + adaLN blocks + a modulated final norm."""

    def __init__(self, config: ImageModelConfig, kind: str) -> None:
        if config.kind != kind:
            raise ValueError(f"{type(self).__name__} needs kind={kind!r}, got {config.kind!r}")
        super().__init__()
        self.config = config
        D = config.d_model
        p, o = config.patch, config.overlap
        if o:  # overlapping patches: each token reads a (p+2o)² window around its patch
            self.patch_embed = nn.Conv2d(config.in_channels, D, p + 2 * o, stride=p, padding=o)
        else:
            self.patch_embed = nn.Linear(config.patch_dim, D)
        self.pos_emb = nn.Parameter(torch.zeros(1, config.n_patches, D))
        self.blocks = nn.ModuleList(
            AdaLNBlock(D, config.n_head, config.d_hidden) for _ in range(config.n_layer)
        )
        self.final_ada = nn.Linear(D, 2 * D)
        # the fixed tent over the overlapping kernels (window=True), else ones
        self.register_buffer("kernel_window", kernel_window(config), persistent=False)
        # ᾱ_t (timesteps,): defines the noise levels of both kinds; rebuilt from the config
        self.register_buffer("alphas_cumprod", noise_schedule(config).float(), persistent=False)

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        nn.init.normal_(self.pos_emb, std=0.02)
        for ada in [b.ada for b in self.blocks] + [self.final_ada]:  # adaLN-Zero
            nn.init.zeros_(ada.weight)
            nn.init.zeros_(ada.bias)

    def _check_shape(self, images: torch.Tensor, channels: int | None = None) -> None:
        c = self.config
        channels = channels or c.channels
        if tuple(images.shape[1:]) != (channels, c.crop, c.crop):
            raise ValueError(
                f"images must be (B, {channels}, {c.crop}, {c.crop}), got {tuple(images.shape)}"
            )

    def patchify(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, crop, crop) → (B, N, C·p·p), patches in row-major order."""
        self._check_shape(images)
        B, C, H, W = images.shape
        p = self.config.patch
        x = images.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5)
        return x.reshape(B, (H // p) * (W // p), C * p * p)

    def unpatchify(self, patches: torch.Tensor) -> torch.Tensor:
        """(B, N, C·p·p) → (B, C, crop, crop)."""
        B, c, p = patches.shape[0], self.config, self.config.patch
        g = c.crop // p
        x = patches.reshape(B, g, g, c.channels, p, p).permute(0, 3, 1, 4, 2, 5)
        return x.reshape(B, c.channels, c.crop, c.crop)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, C, crop, crop) → patch tokens (B, N, D), without positions."""
        if isinstance(self.patch_embed, nn.Linear):
            return self.patch_embed(self.patchify(images))
        self._check_shape(images, self.config.in_channels)
        conv, c = self.patch_embed, self.config
        weight = conv.weight * self.kernel_window  # (D, C, k, k)
        grid = F.conv2d(images, weight, conv.bias, stride=c.patch, padding=c.overlap)
        return grid.flatten(2).transpose(1, 2)  # (B, D, g, g) → (B, N, D)

    def pixel_head(self) -> nn.Module:
        """A head from patch features to pixels (config.head): a `ResizeHead`; or the transpose
        of the overlapping embedding (neighbouring patches blend), or a per-patch
        Linear(D → C·p²) without overlap."""
        c = self.config
        p, o = c.patch, c.overlap
        if c.head == "resize":
            return ResizeHead(c.d_model, c.channels, c.patch, c.head_channels)
        if o:
            return nn.ConvTranspose2d(c.d_model, c.channels, p + 2 * o, p, padding=o)
        return nn.Linear(c.d_model, c.patch_dim)

    def to_pixels(
        self, head: nn.Module, features: torch.Tensor, noisy: torch.Tensor | None = None
    ) -> torch.Tensor:
        """features (B, N, D) through a `pixel_head` → (B, C, crop, crop). The "resize" head
        also reads the noisy image (B, C, crop, crop)."""
        if isinstance(head, ResizeHead):
            if noisy is None:
                raise ValueError("the resize head reads the noisy image: pass it")
            return head(features, noisy)
        if isinstance(head, nn.Linear):
            return self.unpatchify(head(features))
        c = self.config
        g = c.crop // c.patch
        grid = features.transpose(1, 2).reshape(len(features), -1, g, g)  # (B, D, g, g)
        weight = head.weight * self.kernel_window  # (D, C, k, k)
        return F.conv_transpose2d(grid, weight, head.bias, stride=c.patch, padding=c.overlap)

    def features(self, images: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """images (B, C, crop, crop), cond (B, D) → final patch features (B, N, D)."""
        x = self.embed(images) + self.pos_emb  # (B, N, D)
        for block in self.blocks:
            x = block(x, cond)
        shift, scale = self.final_ada(F.silu(cond)).chunk(2, dim=-1)
        return _modulate(_norm(x), shift, scale)


class ImageEBT(_PatchBackbone, LearnedStepSize):
    """Energy of a candidate image: mean of per-patch energies. Lower = cleaner."""

    def __init__(self, config: ImageModelConfig) -> None:
        super().__init__(config, "image-ebt")
        self.cond = nn.Parameter(torch.randn(config.d_model))  # the one constant condition
        if config.context:  # the noise level's timestep, as the DiT's
            D = config.d_model
            self.t_embed = nn.Sequential(nn.Linear(D, D), nn.SiLU(), nn.Linear(D, D))
        if config.energy in ("residual", "denoiser"):
            self.energy_head = self.pixel_head()
        else:
            self.energy_head = nn.Linear(config.d_model, 1, bias=False)
        self._init_weights()
        if config.energy == "residual":  # E = ½‖r‖² is flat at r ≡ 0: start small, not zero
            last = _output_layer(self.energy_head)
            nn.init.normal_(last.weight, std=1e-3)
            nn.init.zeros_(last.bias)
        elif config.energy == "denoiser":  # g ≡ y at init: E = ½‖x̂ − y‖², ∇E = 0 at the start
            _zero_output(self.energy_head)
        else:
            nn.init.zeros_(self.energy_head.weight)  # E ≡ 0 at init; α·∇E still trains (§4)
        self._init_step_size(config.step_size, config.learn_step_size)

    def patch_energies(
        self,
        candidate: torch.Tensor,
        noisy: torch.Tensor | None = None,
        t: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """candidate (B, C, crop, crop) in [-1, 1] units → energies (B, N), one per patch. With
        `context`, also the noisy start (B, C, crop, crop) and its timesteps t (B,)."""
        features = self._read(candidate, noisy, t)  # (B, N, D)
        if self.config.energy == "linear":
            return self.energy_head(features).squeeze(-1)
        residual = self.to_pixels(self.energy_head, features, noisy)  # (B, C, crop, crop)
        if self.config.energy == "denoiser":  # x̂ − g: the distance to the model's estimate
            residual = candidate - self._estimate_from(residual, noisy, t)
        return 0.5 * self.patchify(residual.square()).sum(dim=-1)  # ½‖r‖² per patch

    def _read(self, candidate, noisy, t) -> torch.Tensor:
        """The final patch features (B, N, D) of the candidate, beside the noisy image and its
        level's timestep with `context`."""
        cond = self.cond.expand(candidate.shape[0], -1)  # (B, D)
        if not self.config.context:
            return self.features(candidate, cond)
        if noisy is None or t is None:
            raise ValueError("this image EBT reads its context: pass the noisy image and t")
        self._check_shape(candidate)
        self._check_shape(noisy)
        cond = cond + self.t_embed(timestep_embedding(t, self.config.d_model))
        return self.features(torch.cat([candidate, noisy], dim=1), cond)  # 2C input channels

    def estimate(
        self, candidate: torch.Tensor, noisy: torch.Tensor, t: torch.Tensor
    ) -> torch.Tensor:
        """The "denoiser" energy's estimate g(x̂, y, ℓ) = y + h (B, C, crop, crop): where the
        energy would put its minimum if g did not move with x̂."""
        if self.config.energy != "denoiser":
            raise ValueError(
                f"only the 'denoiser' energy has an estimate, not {self.config.energy!r}"
            )
        head = self.to_pixels(self.energy_head, self._read(candidate, noisy, t), noisy)
        return self._estimate_from(head, noisy, t)

    def step_context(
        self, index: int, noisy: torch.Tensor, t: torch.Tensor, first: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """What step `index` of a descent reads beside the candidate: the noisy start and its
        timesteps t (n,), or with `refine_level` after the first step, the first step's
        candidate `first` (n, C, crop, crop; detached) at the refining level's timestep; with
        `refine_ratio`, at ρ·ℓ for the tiles where that is ≥ `refine_min` (the others keep
        reading the noisy start at t). With refine_context "renoise", x̂₁ is carried to that
        level along the noise it implies (see ImageModelConfig)."""
        c = self.config
        if index == 0 or not (c.refine_level or c.refine_ratio):
            return noisy, t
        if first is None:
            raise ValueError("a refining step reads the first step's candidate: pass it")
        if c.refine_level:
            refine = torch.full_like(t, level_to_timestep(c.refine_level, c.timesteps))
            return self._refining_context(first, noisy, t, refine), refine
        # level ℓ ↔ t = timesteps·ℓ − 1, so ρ·ℓ ↔ round(ρ·(t + 1)) − 1
        refine = torch.round(c.refine_ratio * (t + 1).double()).long() - 1  # (n,)
        use = refine >= level_to_timestep(c.refine_min, c.timesteps)  # (n,) bool
        refine = torch.where(use, refine, t)
        context = self._refining_context(first, noisy, t, refine)
        return torch.where(use.reshape(-1, 1, 1, 1), context, noisy), refine

    def _refining_context(
        self, first: torch.Tensor, noisy: torch.Tensor, t: torch.Tensor, refine: torch.Tensor
    ) -> torch.Tensor:
        """x̂₁ (n, C, crop, crop) as read at timesteps `refine` (n,): as is ("clean"), or
        re-noised from y at t along its implied noise ("renoise", a DDIM step)."""
        if self.config.refine_context == "clean":
            return first
        abar = self.alphas_cumprod.to(first.dtype)
        a, a_r = abar[t].reshape(-1, 1, 1, 1), abar[refine].reshape(-1, 1, 1, 1)
        eps = (noisy - a.sqrt() * first) / (1 - a).sqrt()  # the noise x̂₁ implies in y
        return a_r.sqrt() * first + (1 - a_r).sqrt() * eps

    def step_contexts(self, noisy: torch.Tensor, t: torch.Tensor) -> StepContexts:
        """The contexts of one descent from `noisy` at timesteps t (n,), step by step."""
        return StepContexts(self, noisy, t)

    def _estimate_from(self, head: torch.Tensor, noisy: torch.Tensor, t: torch.Tensor):
        """g from the head's pixels h (B, C, crop, crop): y + h ("residual"), or as the DiT reads
        its noise prediction, (y − √(1−ᾱ_t)·h)/√ᾱ_t ("noise")."""
        if self.config.estimate_form == "residual":
            return noisy + head
        abar = self.alphas_cumprod[t].reshape(-1, 1, 1, 1)  # (B, 1, 1, 1)
        return (noisy - (1 - abar).sqrt() * head) / abar.sqrt()

    def energy(
        self,
        candidate: torch.Tensor,
        noisy: torch.Tensor | None = None,
        t: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """candidate (B, C, crop, crop) → image energies (B,); `noisy`, `t`: see patch_energies."""
        return self.patch_energies(candidate, noisy, t).mean(dim=-1)

    forward = energy


class StepContexts:
    """What each step of one descent reads beside the candidate (`ImageEBT.step_context`):
    `at(index, state)` is called with every step's whole state in order, and keeps the first
    step's (detached), which the refining steps read with `refine_level` or `refine_ratio`."""

    def __init__(self, model: ImageEBT, noisy: torch.Tensor, t: torch.Tensor) -> None:
        self.model, self.noisy, self.t = model, noisy, t
        self.first: torch.Tensor | None = None

    def at(self, index: int, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(context (n, C, crop, crop), timesteps (n,)) for step `index` at `state`."""
        if index == 1:
            self.first = state.detach()
        return self.model.step_context(index, self.noisy, self.t, self.first)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps t (B,) → (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    angles = t.float()[:, None] * freqs[None, :].to(t.device)  # (B, half)
    return torch.cat([angles.cos(), angles.sin()], dim=-1)


class ImageDiT(_PatchBackbone):
    """Diffusion baseline: predicts the noise ε in a noisy image x_t given t."""

    def __init__(self, config: ImageModelConfig) -> None:
        super().__init__(config, "image-dit")
        D = config.d_model
        self.t_embed = nn.Sequential(nn.Linear(D, D), nn.SiLU(), nn.Linear(D, D))
        self.noise_head = self.pixel_head()
        self._init_weights()
        _zero_output(self.noise_head)

    def forward(self, noisy: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """noisy (B, C, crop, crop), t (B,) integer steps → predicted noise (B, C, crop, crop)."""
        cond = self.t_embed(timestep_embedding(t, self.config.d_model))  # (B, D)
        return self.to_pixels(self.noise_head, self.features(noisy, cond), noisy)


GROWABLE_FIELDS = ("n_layer", "head_channels", "crop")


def grown_state(model: _PatchBackbone, base: _PatchBackbone) -> dict[str, torch.Tensor]:
    """A state dict for `model` that computes exactly what the smaller `base` computes, so a
    fine-tune can add capacity without losing what `base` learned (function-preserving growth,
    as Net2Net widens and deepens a trained network, Chen et al. 2016).

    `model` may have more adaLN blocks (`n_layer`) and a wider "resize" head (`head_channels`)
    than `base`, and must match it everywhere else. The extra blocks keep their adaLN-Zero
    initialisation (zero modulation, so zero gates: each is the identity until it trains);
    the extra head channels keep `model`'s input weights, and every weight that would carry
    them into an existing channel or into the output is zero. The weights that would write the
    new parts into the output (the new blocks' modulation, the head's new output columns) get
    non-zero gradients from the first step, and the rest trains once they move.

    `model` may also read larger tiles (`crop`, same `patch`). That step is close to, not
    exactly, function-preserving: the learned positions are resampled bicubically from the
    base's patch grid to the larger one (corner to corner, so a tile's edges keep their edge
    positions), and an EBT's α is multiplied by the ratio of patch counts, since its energy
    averages over patches (the same α·∇E moves each pixel as far)."""
    if type(model) is not type(base):
        raise ValueError(f"cannot grow an {type(base).__name__} into an {type(model).__name__}")
    small, big = base.config, model.config
    shrunk = [k for k in GROWABLE_FIELDS if getattr(big, k) < getattr(small, k)]
    if shrunk:
        raise ValueError(f"{', '.join(shrunk)} may only grow (a model cannot lose capacity)")
    if big.patch != small.patch:
        raise ValueError(f"patch must stay {small.patch} when a model grows, got {big.patch}")
    h, H = small.head_channels, big.head_channels
    heads = {n for n, m in model.named_modules() if isinstance(m, ResizeHead)}
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for i in range(small.n_layer, big.n_layer):  # adaLN-Zero: the extra blocks are identities
        state[f"blocks.{i}.ada.weight"].zero_()
        state[f"blocks.{i}.ada.bias"].zero_()
    for key, value in base.state_dict().items():
        if key == "pos_emb" and big.crop != small.crop:
            side, new_side = small.crop // small.patch, big.crop // big.patch
            state[key] = _resample_positions(value, side, new_side)
            continue
        if key == "alpha" and big.crop != small.crop:
            state[key] = value * (big.n_patches / small.n_patches)
            continue
        owner = next((n for n in heads if key.startswith(n + ".")), None)
        if owner is None or h == H:
            state[key] = value.clone()
            continue
        leaf = key[len(owner) + 1 :]
        new = state[key]
        if leaf in ("proj.weight", "proj.bias", "conv.bias"):
            new[:h] = value
        elif leaf == "conv.weight":  # input channels: [features (h → H), noisy image (C)]
            new[:h, :h], new[:h, h:H], new[:h, H:] = value[:, :h], 0.0, value[:, h:]
        elif leaf == "last.weight":
            new[:, :h], new[:, h:] = value, 0.0
        else:  # last.bias
            new.copy_(value)
    return state


def _resample_positions(pos: torch.Tensor, side: int, new_side: int) -> torch.Tensor:
    """Learned positions (1, side², D) on a side × side patch grid → (1, new_side², D),
    resampled bicubically corner to corner."""
    grid = pos.reshape(1, side, side, -1).permute(0, 3, 1, 2)  # (1, D, side, side)
    grid = F.interpolate(grid, size=(new_side, new_side), mode="bicubic", align_corners=True)
    return grid.permute(0, 2, 3, 1).reshape(1, new_side * new_side, -1).contiguous()

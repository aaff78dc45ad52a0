"""Photographs that ship inside PyPI packages, as crops for training and held-out evaluation.

Sources (all bundled with the installed wheels; nothing is downloaded):
- scikit-image's `skimage.data` (only the images stored in the wheel; the ones it fetches with
  pooch are not used), and
- scikit-learn's `load_sample_images()` (china, flower).

The split is BY IMAGE, so held-out crops come from photographs never seen in training:
- train: coffee, rocket, immunohistochemistry, motorcycle (stereo left view), flower, the
  Hubble deep field, and the greyscale moon, brick, grass, gravel, clock;
- validation (settings are chosen here, and training logs its PSNR here): chelsea and the
  greyscale coins;
- held-out (reported only): astronaut, china and the greyscale camera.
A recipe may add more bundled images to the training split (`extra_photos`, checked by
`check_extra_photos`): `EXTRA_PHOTOS`, the ones outside the splits that load offline and are
photographs or scans — retina (a colour fundus photograph with a clipped black surround), cell
(microscopy, with its own sensor noise), microaneurysms (a greyscale 102² retinal crop), page and
text (scanned documents); the others are graphics or synthetic.
Greyscale photographs are replicated to three channels (and get the same noise on every
channel, as `denoise` does for greyscale inputs).

Images are float32 in [-1, 1] units, (C, H, W). Noise follows the diffusion forward process
x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε with level ℓ ↔ t = 1000ℓ − 1 (reference §4).
"""

from __future__ import annotations

from functools import cache, lru_cache

import numpy as np
import torch
import torch.nn.functional as F

TRAIN_IMAGES = (
    "skimage:coffee",
    "skimage:rocket",
    "skimage:immunohistochemistry",
    "skimage:stereo_motorcycle",
    "sklearn:flower",
    "skimage:hubble_deep_field",
    "skimage:moon",
    "skimage:brick",
    "skimage:grass",
    "skimage:gravel",
    "skimage:clock",
)
VALIDATION_IMAGES = ("skimage:chelsea", "skimage:coins")
HELDOUT_IMAGES = ("skimage:astronaut", "sklearn:china", "skimage:camera")
EXTRA_PHOTOS = (
    "skimage:retina",
    "skimage:cell",
    "skimage:microaneurysms",
    "skimage:page",
    "skimage:text",
)
ID_LEVEL, OOD_LEVEL = 0.1, 0.2  # in distribution (training) and out of distribution


@cache
def load_photo(name: str) -> np.ndarray:
    """A bundled photograph by name ("skimage:coffee", "sklearn:china") → (H, W, 3) uint8."""
    source, _, key = name.partition(":")
    if source == "skimage":
        import skimage.data

        image = getattr(skimage.data, key)()
        if isinstance(image, tuple):  # stereo_motorcycle: (left, right, disparity)
            image = image[0]
    elif source == "sklearn":
        from sklearn.datasets import load_sample_image

        image = load_sample_image(f"{key}.jpg")
    else:
        raise ValueError(f"unknown photo source {source!r} in {name!r}; use skimage: or sklearn:")
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3].astype(np.uint8))


def clip_stretch(image: np.ndarray, share: float) -> np.ndarray:
    """(H, W, C) uint8 → the same photo with its contrast stretched linearly so that about
    `share` of its values clip to 0 and as many to 255 (the `share` and 1 − `share` quantiles
    over all channels map to 0 and 255). Photos in the wild often have clipped shadows and
    highlights; the validation photos hardly any, so `scripts/eval_denoise.py --clip` uses this
    to check a setting on them too. share = 0 stretches the range to 0–255 without clipping."""
    if not 0.0 <= share < 0.5:
        raise ValueError(f"share must be in [0, 0.5), got {share!r}")
    x = image.astype(np.float64)
    lo, hi = np.quantile(x, share), np.quantile(x, 1.0 - share)
    if hi <= lo:
        raise ValueError("the photo is flat: there is no contrast to stretch")
    return np.clip((x - lo) / (hi - lo) * 255.0, 0, 255).round().astype(np.uint8)


def to_units(image: np.ndarray) -> torch.Tensor:
    """(H, W, C) uint8 → (C, H, W) float32 in [-1, 1]."""
    return torch.from_numpy(image).permute(2, 0, 1).float() / 127.5 - 1.0


def add_noise(
    clean: torch.Tensor,
    alpha_bar: torch.Tensor,
    generator: torch.Generator | None = None,
    grey: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward diffusion: clean (B, C, H, W) in [-1, 1], ᾱ scalar or (B,) → (noisy, ε).

    grey (B,) bool: those samples get the same ε on every channel (they are greyscale).
    """
    eps = torch.randn(clean.shape, generator=generator, dtype=clean.dtype)  # (B, C, H, W)
    if grey is not None:
        eps = torch.where(grey[:, None, None, None], eps[:, :1].expand_as(eps), eps)
    a = alpha_bar.to(clean.dtype).reshape(-1, *([1] * (clean.dim() - 1)))
    return a.sqrt() * clean + (1 - a).sqrt() * eps, eps


SPLITS = {"train": TRAIN_IMAGES, "validation": VALIDATION_IMAGES, "heldout": HELDOUT_IMAGES}


def check_extra_photos(names) -> tuple[str, ...]:
    """A recipe's `extra_photos` → a tuple of names, or a ValueError naming the one that is not
    allowed: each must be one of EXTRA_PHOTOS, listed once (never a validation or held-out
    photo, nor a training photo a second time)."""
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise ValueError(f"extra_photos must be a list of photo names, got {names!r}")
    for name in names:
        if name in VALIDATION_IMAGES or name in HELDOUT_IMAGES:
            raise ValueError(f"extra_photos: {name!r} is a validation or held-out photo")
        if name in TRAIN_IMAGES:
            raise ValueError(f"extra_photos: {name!r} is a training photo already")
        if name not in EXTRA_PHOTOS:
            raise ValueError(f"extra_photos: {name!r} is not one of {list(EXTRA_PHOTOS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"extra_photos lists a photo twice: {list(names)}")
    return tuple(names)


class ImageCorpus:
    """Random training crops (flips; optionally rotations and downscaling) and fixed validation /
    held-out crops."""

    def __init__(self, crop: int = 32, extra: tuple[str, ...] = ()) -> None:
        self.crop = crop
        self.train_names = TRAIN_IMAGES + check_extra_photos(extra)
        self.train_images = [to_units(load_photo(n)) for n in self.train_names]
        self.train_grey = [_is_grey(n) for n in self.train_names]

    def train_batch(
        self,
        batch: int,
        generator: torch.Generator,
        rotate: bool = False,
        min_scale: float = 1.0,
    ) -> tuple[torch.Tensor, ...]:
        """Random crops → (clean (B, 3, crop, crop), grey (B,) bool). Images drawn uniformly,
        each crop flipped left–right with probability ½.

        rotate: also turn each crop by a random multiple of 90° (with the flip: any of the
            square's 8 symmetries). min_scale < 1: each crop shows its photo downscaled by a
            factor s ~ U[min_scale, 1] (a (crop/s)² window resized to crop², antialiased), as
            the app downscales uploads to 256 px. The defaults draw exactly the random numbers
            of the plain crops (a recipe without these options trains as it always has).
        """
        if not 0.0 < min_scale <= 1.0:
            raise ValueError(f"min_scale must be in (0, 1], got {min_scale}")
        picks = torch.randint(len(self.train_images), (batch,), generator=generator).tolist()
        crops = []
        for i in picks:
            image = self.train_images[i]
            side = self.crop
            if min_scale < 1.0:
                scale = min_scale + (1.0 - min_scale) * float(torch.rand((), generator=generator))
                side = min(round(self.crop / scale), *image.shape[1:])
            y = int(torch.randint(image.shape[1] - side + 1, (1,), generator=generator))
            x = int(torch.randint(image.shape[2] - side + 1, (1,), generator=generator))
            crop = image[:, y : y + side, x : x + side]
            if side != self.crop:
                crop = F.interpolate(
                    crop[None], size=(self.crop, self.crop), mode="bilinear", antialias=True
                )[0].clamp(-1, 1)
            if torch.rand((), generator=generator) < 0.5:
                crop = crop.flip(-1)
            if rotate:
                crop = crop.rot90(int(torch.randint(4, (), generator=generator)), dims=(1, 2))
            crops.append(crop)
        grey = torch.tensor([self.train_grey[i] for i in picks])
        return torch.stack(crops), grey

    def eval_batch(self, batch: int, split: str = "validation") -> tuple[torch.Tensor, ...]:
        """Deterministic crops of the split's photos on a regular grid, spread evenly over them
        → (clean (B, 3, crop, crop), grey (B,) bool)."""
        names = SPLITS[split]
        per_image = -(-batch // len(names))
        side = int(np.ceil(np.sqrt(per_image)))
        crops, grey = [], []
        for name in names:
            image, is_grey = to_units(load_photo(name)), _is_grey(name)
            ys = np.linspace(0, image.shape[1] - self.crop, side).astype(int)
            xs = np.linspace(0, image.shape[2] - self.crop, side).astype(int)
            cells = [(y, x) for y in ys for x in xs][:per_image]
            crops += [image[:, y : y + self.crop, x : x + self.crop] for y, x in cells]
            grey += [is_grey] * len(cells)
        return torch.stack(crops[:batch]), torch.tensor(grey[:batch])


def _is_grey(name: str) -> bool:
    image = load_photo(name)
    return bool(
        (image[:, :, 0] == image[:, :, 1]).all() and (image[:, :, 1] == image[:, :, 2]).all()
    )


@lru_cache(maxsize=4)
def get_image_corpus(crop: int = 32, extra: tuple[str, ...] = ()) -> ImageCorpus:
    """The shared corpus for a crop size and extra training photos (photographs are decoded
    once per process)."""
    return ImageCorpus(crop, extra)


def psnr(candidate: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """PSNR in dB per image: (B, C, H, W) in [-1, 1] units → (B,).

    Reference §4: 10·log10(255² / MSE) on images mapped to [0, 255] and clamped there.
    """
    a = (candidate.clamp(-1, 1) + 1) * 127.5
    b = (clean.clamp(-1, 1) + 1) * 127.5
    mse = ((a - b) ** 2).flatten(1).mean(dim=1)  # (B,)
    return 10 * torch.log10(255.0**2 / mse)

"""What `denoise` accepts as an image, and how frames travel as JSON.

Accepted: a PIL image, or a numpy array (H, W), (H, W, 1), (H, W, 2), (H, W, 3) or (H, W, 4);
dtype uint8 (0–255) or float in [0, 1]. Channels: greyscale, greyscale + alpha, RGB, RGBA.
Alpha is split off, never denoised, and re-attached unchanged to every frame. PIL modes other
than L/LA/RGB/RGBA (P, 1, CMYK, YCbCr, ...) are converted to RGB (RGBA when they carry
transparency); 16/32-bit modes are refused. Sides must be MIN_SIDE..MAX_SIDE pixels: a larger
image is refused (downscale it first), never silently resized.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np

MIN_SIDE, MAX_SIDE = 8, 1024
_DIRECT_MODES = ("L", "LA", "RGB", "RGBA")
_WIDE_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")


@dataclass
class ImageInput:
    """An input image split into colour (H, W, C), C ∈ {1, 3}, and alpha (H, W, 1) or None."""

    colour: np.ndarray  # float32 in [0, 1]
    alpha: np.ndarray | None  # float32 in [0, 1]

    def attach_alpha(self, colour: np.ndarray) -> np.ndarray:
        """Colour (H, W, C) → (H, W, C[+1]) with the input's alpha re-attached."""
        if self.alpha is None:
            return colour
        return np.concatenate([colour, self.alpha], axis=2)


def _from_pil(image) -> np.ndarray:
    if image.mode in _WIDE_MODES:
        raise ValueError(
            f"PIL image mode {image.mode!r} (16/32-bit) is not supported; "
            "convert it to 'RGB' or 'L' first"
        )
    if image.mode not in _DIRECT_MODES:
        transparent = image.mode in ("PA", "RGBa") or "transparency" in image.info
        image = image.convert("RGBA" if transparent else "RGB")
    return np.asarray(image)


def _to_float(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"image dtype must be uint8 (0-255) or float in [0, 1], got {array.dtype}")
    if not np.isfinite(array).all():
        raise ValueError("image contains NaN or infinite values")
    lo, hi = float(array.min()), float(array.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(
            f"float images must lie in [0, 1], got values in [{lo:.3g}, {hi:.3g}] "
            "(for 0-255 data pass a uint8 array)"
        )
    return array.astype(np.float32)


def read_image(image) -> ImageInput:
    """A PIL image or numpy array → ImageInput. Raises ValueError saying what is allowed."""
    if hasattr(image, "mode") and hasattr(image, "convert"):  # PIL.Image without importing PIL
        array = _from_pil(image)
    elif isinstance(image, np.ndarray):
        array = image
    else:
        raise ValueError(f"image must be a PIL image or a numpy array, got {type(image).__name__}")
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4):
        raise ValueError(
            f"image must have shape (H, W) or (H, W, C) with C in 1, 2, 3, 4 "
            f"(grey, grey+alpha, RGB, RGBA), got {array.shape}"
        )
    H, W = array.shape[:2]
    if min(H, W) < MIN_SIDE or max(H, W) > MAX_SIDE:
        raise ValueError(
            f"image is {H}×{W} pixels; each side must be {MIN_SIDE} to {MAX_SIDE} pixels "
            "(downscale larger images first, e.g. PIL's Image.thumbnail)"
        )
    array = _to_float(array)
    has_alpha = array.shape[2] in (2, 4)
    colour = array[:, :, :-1] if has_alpha else array
    alpha = array[:, :, -1:] if has_alpha else None
    return ImageInput(np.ascontiguousarray(colour), alpha)


def frame_to_data_url(frame: np.ndarray) -> str:
    """(H, W, C) float in [0, 1] → 'data:image/png;base64,...' (8-bit PNG; lossy to 1/255)."""
    from PIL import Image

    pixels = np.round(np.clip(frame, 0, 1) * 255).astype(np.uint8)
    if pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def data_url_to_frame(url: str) -> np.ndarray:
    """Inverse of `frame_to_data_url` → (H, W, C) float32 in [0, 1]."""
    from PIL import Image

    prefix = "data:image/png;base64,"
    if not isinstance(url, str) or not url.startswith(prefix):
        raise ValueError("frame must be a 'data:image/png;base64,' string")
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(url[len(prefix) :]))))
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    return pixels.astype(np.float32) / 255.0

"""What `denoise` accepts as an image, how image files are opened safely, and frames as JSON.

Accepted by `read_image`: a PIL image, a numpy array (H, W), (H, W, 1..4), or an image file
(a path, bytes or a binary file object, opened with `open_image`).
- dtype uint8 (0–255), uint16 (0–65535) or float in [0, 1].
- Channels: greyscale, greyscale + alpha, RGB, RGBA. Alpha is split off, never denoised, and
  re-attached unchanged to every frame.
- PIL modes: L/LA/RGB/RGBA as is; 16-bit greyscale (I;16*) as 0–65535; 32-bit integer (I) must
  hold 0–65535; float (F) must lie in [0, 1]; every other mode (1, P, PA, CMYK, YCbCr, LAB, ...)
  is converted to RGB (RGBA when it carries transparency).
- PIL images are read as they display: an EXIF orientation is applied (so a rotated photo's
  frames come back with height and width swapped). An animated image gives its current frame
  (the first one right after opening).
- Sides must be MIN_SIDE..MAX_SIDE pixels: a larger image is refused, never silently resized.
  Front ends that want to downscale call `fit_within` first and tell the user.
Files: an empty, truncated or non-image file, or one whose header declares more than
MAX_PIXELS pixels (a decompression bomb), raises ValueError before any large allocation.
"""

from __future__ import annotations

import base64
import io
import os
import warnings
from dataclasses import dataclass

import numpy as np

MIN_SIDE, MAX_SIDE = 8, 1024
MAX_PIXELS = 50_000_000  # a file declaring more is refused before decoding (50 megapixels)
MAX_ASPECT = MAX_SIDE // MIN_SIDE  # 128:1; more elongated images cannot fit the side bounds
_DIRECT_MODES = ("L", "LA", "RGB", "RGBA")
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")


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


@dataclass
class OpenedImage:
    """An image file decoded by `open_image`.

    image: PIL image, fully loaded, EXIF orientation applied, first frame if animated.
    notes: human-readable remarks about what was done (e.g. "animated: first of 12 frames").
    original: (height, width) of the file's image as displayed, before any reduced decoding.
    """

    image: object  # PIL.Image.Image (PIL is imported lazily)
    notes: list[str]
    original: tuple[int, int]


def _describe(source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return f"image file {os.path.basename(os.fspath(source))!r}"
    return "image data"


def open_image(source, max_side: int | None = None) -> OpenedImage:
    """Decode an image file safely: a path, bytes, or a binary file object → OpenedImage.

    max_side: when given, JPEGs are decoded at a reduced scale close to it (fast for huge
    photos); the result may still exceed it (call `fit_within` to downscale exactly).
    Raises ValueError saying what was wrong: missing, empty, not an image, truncated,
    or more than MAX_PIXELS pixels.
    """
    from PIL import Image, UnidentifiedImageError

    name = _describe(source)
    source = _readable(source, name)
    with warnings.catch_warnings():
        # PIL only warns between MAX_IMAGE_PIXELS and twice that: make every bomb an error
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return _decode(Image.open(source), name, max_side)  # open reads the header only
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
            raise ValueError(f"{name} is too large to decode safely: {err}") from err
        except UnidentifiedImageError as err:
            raise ValueError(
                f"{name} is not an image format that can be read "
                "(use PNG, JPEG, WebP, GIF, BMP or TIFF)"
            ) from err
        except (OSError, SyntaxError, EOFError) as err:  # PIL's errors for broken data
            raise ValueError(f"{name} is truncated or corrupted: {err}") from err


def _readable(source, name: str):
    """A path, bytes or file object → something PIL can open; refuses missing/empty input."""
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise ValueError(f"{name} is empty (0 bytes)")
        return io.BytesIO(source)
    if isinstance(source, (str, os.PathLike)):
        if not os.path.isfile(source):
            raise ValueError(f"{name} does not exist or is not a file")
        if os.path.getsize(source) == 0:
            raise ValueError(f"{name} is empty (0 bytes)")
        return source
    if not hasattr(source, "read"):
        raise ValueError(
            f"image must be a path, bytes, a file object, a PIL image or a numpy array, "
            f"got {type(source).__name__}"
        )
    return source


def _decode(image, name: str, max_side: int | None) -> OpenedImage:
    """Check the header's size, then decode the (first) frame and apply the EXIF orientation."""
    from PIL import ImageOps

    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ValueError(
            f"{name} declares {width}×{height} = {width * height:,} pixels; at most "
            f"{MAX_PIXELS:,} are decoded (possible decompression bomb)"
        )
    notes = []
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        image.seek(0)
        notes.append(f"animated image: using the first of its {frames} frames")
    if max_side is not None and image.format == "JPEG":
        image.draft(image.mode, (max_side, max_side))  # decode at 1/2, 1/4 or 1/8
    image.load()
    original = (height, width)
    if _orientation(image) != 1:
        if _orientation(image) >= 5:  # 5..8 turn the image by 90°
            original = (width, height)
        image = ImageOps.exif_transpose(image)
        notes.append("EXIF orientation applied")
    return OpenedImage(image, notes, original)


def _orientation(image) -> int:
    """The EXIF orientation tag (1 = as stored; 2..8 = mirrored and/or rotated)."""
    try:
        return int(image.getexif().get(0x0112, 1))
    except (TypeError, ValueError, OSError):  # an unreadable EXIF block: show as stored
        return 1


def fit_within(image, max_side: int):
    """A PIL image with both sides ≤ max_side: the image itself when it fits, else a copy
    downscaled with its aspect ratio kept (Lanczos). Raises ValueError when the result would
    have a side below MIN_SIDE (an image too small or too elongated to denoise)."""
    from PIL import Image

    if isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < MIN_SIDE:
        raise ValueError(f"max_side must be an integer ≥ {MIN_SIDE}, got {max_side!r}")
    width, height = image.size
    scale = min(1.0, max_side / max(width, height))
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    if min(width, height) < MIN_SIDE:
        raise ValueError(
            f"image is {height}×{width} pixels (height×width); each side must be at least "
            f"{MIN_SIDE} pixels"
        )
    if min(new_w, new_h) < MIN_SIDE:
        raise ValueError(
            f"image is {height}×{width} pixels (height×width): too elongated; fitted within "
            f"{max_side} pixels it would be {new_h}×{new_w}, below the minimum side of "
            f"{MIN_SIDE} (aspect ratio at most {max_side // MIN_SIDE}:1)"
        )
    if scale == 1.0:
        return image
    if image.mode not in _DIRECT_MODES:  # Lanczos needs an 8-bit or float mode
        image = image.convert(_pil_target_mode(image))
    return image.resize((new_w, new_h), Image.Resampling.LANCZOS)


def _pil_target_mode(image) -> str:
    if image.mode in _SIXTEEN_BIT or image.mode in ("I", "F"):
        return "F" if image.mode == "F" else "I"
    transparent = image.mode in ("PA", "RGBa", "La") or "transparency" in image.info
    if image.mode in ("1",):
        return "L"
    return "RGBA" if transparent else "RGB"


def _from_pil(image) -> np.ndarray:
    from PIL import ImageOps

    if _orientation(image) != 1:
        image = ImageOps.exif_transpose(image)
    if image.mode in _SIXTEEN_BIT:
        return np.asarray(image).astype(np.uint16)  # native byte order
    if image.mode == "I":
        array = np.asarray(image)
        if array.size and (array.min() < 0 or array.max() > 65535):
            raise ValueError(
                f"PIL mode 'I' (32-bit integer) images must hold 0-65535 (16-bit data), "
                f"got values in [{array.min()}, {array.max()}]"
            )
        return array.astype(np.uint16)
    if image.mode == "F":
        return np.asarray(image)  # float32: checked to lie in [0, 1] by _to_float
    if image.mode not in _DIRECT_MODES:
        image = image.convert(_pil_target_mode(image))
    return np.asarray(image)


def _to_float(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(
            f"image dtype must be uint8 (0-255), uint16 (0-65535) or float in [0, 1], "
            f"got {array.dtype}"
        )
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
    """A PIL image, numpy array or image file → ImageInput. Raises ValueError saying what is
    allowed (see the module docstring)."""
    if isinstance(image, (str, os.PathLike, bytes, bytearray)) or hasattr(image, "read"):
        image = open_image(image).image
    if hasattr(image, "mode") and hasattr(image, "convert"):  # PIL.Image without importing PIL
        array = _from_pil(image)
    elif isinstance(image, np.ndarray):
        array = image
    else:
        raise ValueError(
            "image must be a PIL image or a numpy array (or an image file: a path, bytes or "
            f"a binary file object), got {type(image).__name__}"
        )
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
            "(downscale larger images first, e.g. PIL's Image.thumbnail or "
            "ebt_core.image.io.fit_within)"
        )
    array = _to_float(array)
    has_alpha = array.shape[2] in (2, 4)
    colour = array[:, :, :-1] if has_alpha else array
    alpha = array[:, :, -1:] if has_alpha else None
    return ImageInput(np.ascontiguousarray(colour), alpha)


def to_uint8(frame: np.ndarray) -> np.ndarray:
    """(H, W, C) float in [0, 1] → uint8 for display or saving; (H, W) when C = 1."""
    pixels = np.round(np.clip(frame, 0, 1) * 255).astype(np.uint8)
    return pixels[:, :, 0] if pixels.shape[2] == 1 else pixels


def frame_to_data_url(frame: np.ndarray) -> str:
    """(H, W, C) float in [0, 1] → 'data:image/png;base64,...' (8-bit PNG; lossy to 1/255)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(to_uint8(frame)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def data_url_to_frame(url: str) -> np.ndarray:
    """Inverse of `frame_to_data_url` → (H, W, C) float32 in [0, 1]."""
    prefix = "data:image/png;base64,"
    if not isinstance(url, str) or not url.startswith(prefix):
        raise ValueError("frame must be a 'data:image/png;base64,' string")
    try:
        data = base64.b64decode(url[len(prefix) :], validate=True)
    except ValueError as err:
        raise ValueError(f"frame is not valid base64: {err}") from err
    pixels = np.asarray(open_image(data).image)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    return pixels.astype(np.float32) / 255.0

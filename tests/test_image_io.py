"""Bad image files and modes: opening, refusing and downscaling photos (ebt_core.image.io)."""

from __future__ import annotations

import io
import math
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

import ebt_core as ebt
from app.inputs import image_from_upload
from ebt_core.image.io import MAX_PIXELS, fit_within, open_image, read_image

from .test_image import tiny_image_model

NAN, INF = math.nan, math.inf


# ---- image files ----------------------------------------------------------------------------
def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares width×height pixels but holds almost no data (a bomb)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(tag + data))
        return struct.pack(">I", len(data)) + tag + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def photo(h: int = 40, w: int = 60) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


BAD_FILES = [
    ("empty", lambda: b"", "empty"),
    ("text", lambda: b"hello, not an image", "not an image format"),
    ("truncated png", lambda: encode(photo())[:150], "truncated or corrupted"),
    ("truncated jpeg", lambda: encode(photo(), "JPEG")[:300], "truncated or corrupted"),
    ("bomb over our cap", lambda: png_header_only(8000, 8000), "decompression bomb"),
    ("bomb over PIL's cap", lambda: png_header_only(30000, 30000), "too large to decode"),
    ("1x1", lambda: encode(Image.new("RGB", (1, 1))), r"1×1 pixels.*(8 to 1024|at least 8)"),
    ("1x5000", lambda: encode(Image.new("L", (5000, 1))), r"1×5000 pixels"),
    ("too large for the API", lambda: encode(Image.new("L", (2000, 30))), "downscale"),
    ("I 32-bit out of range", lambda: encode(Image.new("I", (20, 20), 70000), "TIFF"), "0-65535"),
    ("F out of [0, 1]", lambda: encode(Image.new("F", (20, 20), 3.5), "TIFF"), r"\[0, 1\]"),
]


@pytest.mark.parametrize("make, message", [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_bad_image_files_are_refused_by_the_api(make, message):
    data = make()
    with pytest.raises(ValueError, match=message) as info:
        ebt.denoise(tiny_image_model(), data, ebt.DenoiseConfig(steps=1))
    assert "image" in str(info.value)


def test_bad_files_on_disk_name_the_file(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="'empty.png' is empty"):
        read_image(empty)
    with pytest.raises(ValueError, match="'missing.png' does not exist"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "notes.png").write_text("not a picture")
    with pytest.raises(ValueError, match="'notes.png' is not an image"):
        read_image(str(tmp_path / "notes.png"))


def _animated() -> bytes:
    frames = [Image.new("RGB", (30, 20), (80 * i, 0, 0)) for i in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def _rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° when displayed
    return encode(Image.new("RGB", (60, 20), (200, 10, 10)), "JPEG", exif=exif.tobytes())


GOOD_FILES = [  # (name, file bytes, (H, W, C) of the colour, has alpha, expected note)
    ("L", lambda: encode(photo().convert("L")), (40, 60, 1), False, None),
    ("LA", lambda: encode(photo().convert("LA")), (40, 60, 1), True, None),
    ("RGBA", lambda: encode(photo().convert("RGBA")), (40, 60, 3), True, None),
    ("palette", lambda: encode(photo().convert("P")), (40, 60, 3), False, None),
    ("palette+transparency", lambda: encode(photo().convert("P"), transparency=0), (40, 60, 3),
     True, None),
    ("1-bit", lambda: encode(photo().convert("1")), (40, 60, 1), False, None),
    ("CMYK jpeg", lambda: encode(photo().convert("CMYK"), "JPEG"), (40, 60, 3), False, None),
    ("I;16", lambda: encode(Image.fromarray(np.full((20, 30), 40000, np.uint16))), (20, 30, 1),
     False, None),
    ("I", lambda: encode(Image.new("I", (30, 20), 30000), "TIFF"), (20, 30, 1), False, None),
    ("F", lambda: encode(Image.new("F", (30, 20), 0.5), "TIFF"), (20, 30, 1), False, None),
    ("animated gif", _animated, (20, 30, 3), False, "first of its 3 frames"),
    ("EXIF rotated", _rotated_jpeg, (60, 20, 3), False, "EXIF orientation"),
]  # fmt: skip


@pytest.mark.parametrize(
    "make, shape, alpha, note", [c[1:] for c in GOOD_FILES], ids=[c[0] for c in GOOD_FILES]
)
def test_every_common_image_mode_is_read(make, shape, alpha, note):
    data = make()
    source = read_image(data)
    assert source.colour.shape == shape and (source.alpha is not None) == alpha
    assert source.colour.dtype == np.float32 and 0 <= source.colour.min() <= 1
    assert source.colour.max() <= 1
    notes = open_image(data).notes
    assert any(note in n for n in notes) if note else notes == []


def test_sixteen_bit_values_keep_their_scale():
    image = Image.fromarray(np.full((20, 30), 32768, np.uint16))
    assert read_image(encode(image)).colour.mean() == pytest.approx(32768 / 65535)
    assert read_image(np.full((20, 30), 65535, np.uint16)).colour.min() == 1.0


def test_huge_photos_are_downscaled_quickly_for_the_app():
    import time

    data = encode(Image.new("RGB", (6000, 4000), (10, 20, 30)), "JPEG", quality=50)
    start = time.perf_counter()
    image, note = image_from_upload(data_to_path(data), max_side=256)
    assert time.perf_counter() - start < 3.0  # JPEG draft mode: no full 24 MP decode
    assert image.size == (256, 171) and "downscaled from 4000×6000 to 171×256" in note
    with pytest.raises(ValueError, match="each side must be 8 to 1024"):
        read_image(data)  # the Python API refuses instead of resizing behind the caller's back


def data_to_path(data: bytes, suffix: str = ".jpg") -> str:
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=suffix, delete=False) as f:
        f.write(data)
    return f.name


@pytest.mark.parametrize(
    "size, max_side, message",
    [
        ((5000, 10), 256, "too elongated"),
        ((3, 3), 256, "at least 8"),
        ((1, 600), 256, "at least 8"),
        ((3000, 20), 256, "aspect ratio at most 32:1"),
    ],
)
def test_fit_within_refuses_what_cannot_fit(size, max_side, message):
    with pytest.raises(ValueError, match=message):
        fit_within(Image.new("L", size), max_side)


def test_fit_within_keeps_small_images_and_the_aspect_ratio():
    small = Image.new("RGB", (100, 50))
    assert fit_within(small, 256) is small
    assert fit_within(Image.new("I;16", (1000, 500)), 256).size == (256, 128)
    assert MAX_PIXELS >= 24_000_000  # a phone photo is not a bomb


@pytest.mark.parametrize(
    "value, message",
    [(None, "image is required"), (42, "image must be"), (np.zeros((9, 9, 5), np.uint8), "1..4")],
)
def test_app_upload_helper_refuses_non_images(value, message):
    with pytest.raises(ValueError, match=message):
        image_from_upload(value)

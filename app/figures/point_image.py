"""The exact landscape of a point EBT as a clickable picture (PIL): gr.Plot has no click event in
Gradio 6, but gr.Image.select reports the clicked pixel (`gr.SelectData.index` = [x, y] in the
image's own pixels, whatever size it is shown at), and this module draws the picture, so it
knows exactly which candidate point each pixel is: `pixel_to_point` inverts `point_to_pixel`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

import ebt_core as ebt

# Viridis (the plotly figures' colour scale) at 9 evenly spaced stops: dark = low energy.
_VIRIDIS = np.array(
    [
        [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
        [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37],
    ],
    dtype=np.float64,
)  # fmt: skip
SIZE = (560, 540)  # width, height of the picture
_MARGIN = dict(left=58, top=54, right=14, bottom=44)  # the top one clears gr.Image's label
CHOSEN = (214, 39, 40)
OTHER = (245, 245, 245)
MODE = (255, 255, 255)
BASELINE = (255, 140, 0)
CLICKED = (0, 200, 255)


@dataclass(frozen=True)
class Frame:
    """Where the candidate plane sits in the picture: the plot area's pixels (left, top,
    width, height) show x in [x_lo, x_hi] left to right and y in [y_lo, y_hi] bottom to top."""

    left: int
    top: int
    width: int
    height: int
    x_lo: float
    x_hi: float
    y_lo: float
    y_hi: float

    @classmethod
    def of(cls, scape: ebt.Landscape, size: tuple[int, int] = SIZE) -> Frame:
        m = _MARGIN
        width, height = size[0] - m["left"] - m["right"], size[1] - m["top"] - m["bottom"]
        a, b = scape.a, scape.b
        return cls(m["left"], m["top"], width, height, a[0], a[-1], b[0], b[-1])

    def point_to_pixel(self, x: float, y: float) -> tuple[float, float]:
        px = self.left + (x - self.x_lo) / (self.x_hi - self.x_lo) * (self.width - 1)
        py = self.top + (self.y_hi - y) / (self.y_hi - self.y_lo) * (self.height - 1)
        return px, py

    def pixel_to_point(self, px: float, py: float) -> tuple[float, float] | None:
        """The candidate point at pixel (px, py), None outside the plot area."""
        if not (0 <= px - self.left <= self.width - 1 and 0 <= py - self.top <= self.height - 1):
            return None
        x = self.x_lo + (px - self.left) / (self.width - 1) * (self.x_hi - self.x_lo)
        y = self.y_hi - (py - self.top) / (self.height - 1) * (self.y_hi - self.y_lo)
        return float(x), float(y)


def _colours(energy: np.ndarray, bands: int = 16) -> np.ndarray:
    """Energies (R, R) → RGB uint8 (R, R, 3) on the viridis stops in `bands` bands (like the
    contour's levels), square-root spaced from the grid's minimum: monotone, dark = low, and
    the basins near the minimum get more bands than the far, high corners of the plane."""
    lo, hi = float(energy.min()), float(energy.max())
    t = np.sqrt((energy - lo) / (hi - lo)) if hi > lo else np.zeros_like(energy)
    t = np.minimum(np.floor(t * bands), bands - 1) / (bands - 1)
    pos = t * (len(_VIRIDIS) - 1)
    i = np.clip(pos.astype(int), 0, len(_VIRIDIS) - 2)
    frac = (pos - i)[..., None]
    return (_VIRIDIS[i] * (1 - frac) + _VIRIDIS[i + 1] * frac).round().astype(np.uint8)


def _heatmap(scape: ebt.Landscape, frame: Frame) -> Image.Image:
    """The energy interpolated onto the plot area's pixels, then coloured (so the bands have
    sharp edges); row 0 of the grid (y_lo) at the bottom."""
    grid = Image.fromarray(np.ascontiguousarray(scape.energy[::-1], np.float32))  # mode F
    r_y, r_x = scape.energy.shape
    box = (0.5, 0.5, r_x - 0.5, r_y - 0.5)  # grid points at the area's edges, not cell edges
    fine = grid.resize((frame.width, frame.height), Image.BILINEAR, box=box)
    return Image.fromarray(_colours(np.asarray(fine)))


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    step = 10 ** np.floor(np.log10((hi - lo) / n))
    step *= next(k for k in (1, 2, 5, 10) if (hi - lo) / (step * k) <= n)
    return [float(v) for v in np.arange(np.ceil(lo / step) * step, hi + 1e-9, step)]


def _axes(draw: ImageDraw.ImageDraw, frame: Frame, font) -> None:
    """Tick labels below and left of the plot area, and the axis names."""
    f = frame
    draw.rectangle([f.left - 1, f.top - 1, f.left + f.width, f.top + f.height], outline=(90,) * 3)
    bottom = f.top + f.height
    for x in _ticks(f.x_lo, f.x_hi):
        px, _ = f.point_to_pixel(x, f.y_lo)
        draw.line([px, bottom, px, bottom + 4], fill=(90,) * 3)
        draw.text((px, bottom + 6), f"{x:g}", fill=(40,) * 3, font=font, anchor="mt")
    for y in _ticks(f.y_lo, f.y_hi):
        _, py = f.point_to_pixel(f.x_lo, y)
        draw.line([f.left - 5, py, f.left - 1, py], fill=(90,) * 3)
        draw.text((f.left - 7, py), f"{y:g}", fill=(40,) * 3, font=font, anchor="rm")
    draw.text((f.left + f.width / 2, bottom + 24), "x", fill=(40,) * 3, font=font, anchor="mt")
    draw.text((12, f.top + f.height / 2), "y", fill=(40,) * 3, font=font, anchor="mm")


def _dot(draw, xy, radius: float, fill, outline=(0, 0, 0)) -> None:
    x, y = xy
    draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=fill, outline=outline)


def _cross(draw, xy, radius: float, fill, width: int = 3) -> None:
    x, y = xy
    draw.line([x - radius, y - radius, x + radius, y + radius], fill=fill, width=width)
    draw.line([x - radius, y + radius, x + radius, y - radius], fill=fill, width=width)


def _context(draw, frame: Frame, context) -> None:
    """The context's points (black dots joined by a line) where they fall in the plot area."""
    inside = [
        frame.point_to_pixel(x, y)
        for x, y in context
        if frame.x_lo <= x <= frame.x_hi and frame.y_lo <= y <= frame.y_hi
    ]
    if len(inside) > 1:
        draw.line(inside, fill=(0, 0, 0), width=2)
    for xy in inside:
        _dot(draw, xy, 4, (0, 0, 0), (255, 255, 255))


def _marks(draw, frame: Frame, scape: ebt.Landscape, step: int, baseline, start) -> None:
    """Modes, paths up to `step`, marbles at `step` (chosen red, last), baseline, start."""
    to_px = frame.point_to_pixel
    for mode in scape.modes if scape.modes is not None else []:
        _cross(draw, to_px(*mode), 8, (0, 0, 0), 5)
        _cross(draw, to_px(*mode), 8, MODE, 2)
    order = [i for i in range(len(scape.path)) if i != scape.chosen]
    order += [scape.chosen] if 0 <= scape.chosen < len(scape.path) else []
    for i in order:
        trail = [to_px(*p) for p in scape.path[i, : step + 1]]
        colour = CHOSEN if i == scape.chosen else OTHER
        if len(trail) > 1:
            draw.line(trail, fill=colour, width=2 if i == scape.chosen else 1)
        _dot(draw, trail[-1], 6 if i == scape.chosen else 4, colour)
    if baseline is not None:
        x, y = to_px(*baseline)
        draw.polygon([(x, y - 8), (x + 8, y), (x, y + 8), (x - 8, y)], fill=BASELINE, outline=0)
    if start is not None:
        _dot(draw, to_px(*start), 5, None, CLICKED)


def landscape_image(
    scape: ebt.Landscape, step: int, title: str, baseline=None, start=None, context=()
) -> tuple[np.ndarray, Frame]:
    """The exact landscape (viridis by energy rank, dark = low) with the context's points
    (black), every candidate's path up to `step` and its marble at `step`, the true modes (×),
    the regression baseline's prediction (orange diamond) and a clicked start (blue ring).
    Returns the picture (H, W, 3) and its Frame (pixel ↔ candidate point)."""
    frame = Frame.of(scape)
    picture = Image.new("RGB", SIZE, (255, 255, 255))
    picture.paste(_heatmap(scape, frame), (frame.left, frame.top))
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=13)
    _axes(draw, frame, font)
    draw.text((frame.left, frame.top - 8), title, fill=(20,) * 3, font=font, anchor="lb")
    _context(draw, frame, context)
    _marks(draw, frame, scape, step, baseline, start)
    return np.asarray(picture), frame

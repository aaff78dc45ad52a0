"""Overlapping tiles: run a fixed-size image model on an image of any size without seams.

    tiles, grid = split_tiles(image, crop)        # image (C, H, W) → tiles (n, C, crop, crop)
    image = blend_tiles(tiles, grid)              # back to (C, H, W)

Neighbouring tiles overlap by `overlap` pixels (default TILE_OVERLAP = 8, at most half a tile;
the last tile sits flush with the border). Each tile is weighted by a separable trapezoid: 1 in
its middle, falling linearly to small (never zero) values over `overlap` pixels at its edges;
the blend divides by the summed weights. Where two ramps overlap they sum to a constant, so a
tile's contribution fades in and out linearly: no seams, and a constant image stays exactly
constant. (Half-tile overlaps, as before, cost twice the tiles of 8-pixel ones at crop 32.)
Images smaller than one tile are mirror-padded up to the tile size and cropped back after
blending.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

TILE_PIXELS = 64 * 32 * 32  # pixels per network call (64 tiles of 32²): bounds memory
TILE_OVERLAP = 8  # pixels shared by neighbouring tiles (at most crop/2)


@dataclass(frozen=True)
class TileGrid:
    """Where the tiles of one image sit. `padded` is the (H, W) after mirror padding."""

    size: tuple[int, int]  # (H, W) of the original image
    padded: tuple[int, int]
    crop: int
    starts: tuple[tuple[int, int], ...]  # (y, x) of each tile's top-left corner
    overlap: int = 0  # pixels shared by neighbours; 0 = half a tile


def resolve_overlap(crop: int, overlap: int | None = None) -> int:
    """The overlap used for `crop`-pixel tiles: `overlap` (default TILE_OVERLAP), at most
    crop/2, at least 1."""
    wanted = TILE_OVERLAP if overlap is None else overlap
    return max(1, min(crop // 2, wanted))


def tile_starts(length: int, crop: int, overlap: int | None = None) -> list[int]:
    """Tile offsets along one axis of `length` ≥ crop: every crop − overlap pixels, the last
    flush at the end."""
    stride = max(1, crop - resolve_overlap(crop, overlap))
    starts = list(range(0, length - crop + 1, stride))
    if starts[-1] != length - crop:
        starts.append(length - crop)
    return starts


def tile_weight(crop: int, overlap: int | None = None) -> torch.Tensor:
    """Separable trapezoid (crop, crop): 0.5/overlap at the edges, rising linearly to 1 over
    `overlap` pixels (with overlap = crop/2: a tent)."""
    ramp = resolve_overlap(crop, overlap)
    i = torch.arange(crop, dtype=torch.float32)
    edge = torch.minimum(i + 0.5, crop - i - 0.5) / ramp  # (crop,)
    trapezoid = edge.clamp(max=1.0)
    return trapezoid[:, None] * trapezoid[None, :]


def _mirror_pad(image: torch.Tensor, crop: int) -> torch.Tensor:
    """Pad (C, H, W) on the bottom/right by reflection until both sides are ≥ crop."""
    while image.shape[1] < crop or image.shape[2] < crop:
        pad_h = min(max(0, crop - image.shape[1]), image.shape[1] - 1)
        pad_w = min(max(0, crop - image.shape[2]), image.shape[2] - 1)
        if pad_h == pad_w == 0:
            raise ValueError(f"cannot pad an image of size {tuple(image.shape[1:])} to {crop}")
        image = F.pad(image[None], (0, pad_w, 0, pad_h), mode="reflect")[0]
    return image


def split_tiles(
    image: torch.Tensor, crop: int, overlap: int | None = None
) -> tuple[torch.Tensor, TileGrid]:
    """image (C, H, W) → tiles (n, C, crop, crop) and their grid."""
    size = (image.shape[1], image.shape[2])
    image = _mirror_pad(image, crop)
    overlap = resolve_overlap(crop, overlap)
    ys, xs = tile_starts(image.shape[1], crop, overlap), tile_starts(image.shape[2], crop, overlap)
    starts = tuple((y, x) for y in ys for x in xs)
    tiles = torch.stack([image[:, y : y + crop, x : x + crop] for y, x in starts])
    return tiles, TileGrid(size, (image.shape[1], image.shape[2]), crop, starts, overlap)


def blend_tiles(tiles: torch.Tensor, grid: TileGrid) -> torch.Tensor:
    """tiles (n, C, crop, crop) → image (C, H, W): tent-weighted average where tiles overlap."""
    C, crop = tiles.shape[1], grid.crop
    weight = tile_weight(crop, grid.overlap or crop // 2).to(tiles.dtype)
    total = torch.zeros(C, *grid.padded, dtype=tiles.dtype)  # (C, Hp, Wp)
    norm = torch.zeros(1, *grid.padded, dtype=tiles.dtype)
    for tile, (y, x) in zip(tiles, grid.starts):
        total[:, y : y + crop, x : x + crop] += tile * weight
        norm[:, y : y + crop, x : x + crop] += weight
    H, W = grid.size
    return (total / norm)[:, :H, :W]


def tile_batches(n: int, crop: int, pixels: int = TILE_PIXELS) -> list[slice]:
    """Slices cutting n tiles of crop × crop into batches (one network call each) of at most
    `pixels` pixels, at least one tile: the activations' memory depends on the pixels, so
    larger tiles go fewer to a call (64 of 32², 28 of 48²)."""
    size = max(1, pixels // (crop * crop))
    return [slice(i, min(n, i + size)) for i in range(0, n, size)]

"""How a denoised image looks beyond its PSNR: the block-edge ratio of a patch mosaic.

    block_edge_ratio(frame, patch=4)   # ≈ 1 for a natural or noisy image, > 1 for a mosaic

A patch model whose outputs (or, for an EBT, whose ∇E) are computed patch by patch can leave
visible p×p blocks: pixel steps across patch edges are larger than steps inside patches. The
ratio is the mean |finite difference| across pixel boundaries at multiples of the patch size ÷
the mean elsewhere, over both axes (issue 15 asks ≤ 1.15).
"""

from __future__ import annotations

import numpy as np


def block_edge_ratio(image: np.ndarray, patch: int = 4) -> float:
    """image (H, W) or (H, W, C), float or uint8 → mean |Δ| across patch edges ÷ elsewhere."""
    x = np.asarray(image, dtype=np.float64)
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3 or min(x.shape[:2]) <= patch:
        raise ValueError(f"image must be (H, W[, C]) larger than the patch, got {image.shape}")
    across_cols = np.abs(np.diff(x, axis=1))  # (H, W-1, C): between columns j and j+1
    across_rows = np.abs(np.diff(x, axis=0))  # (H-1, W, C)
    col_edge = (np.arange(x.shape[1] - 1) + 1) % patch == 0  # (W-1,)
    row_edge = (np.arange(x.shape[0] - 1) + 1) % patch == 0  # (H-1,)
    edge = np.concatenate([across_cols[:, col_edge].ravel(), across_rows[row_edge].ravel()])
    inner = np.concatenate([across_cols[:, ~col_edge].ravel(), across_rows[~row_edge].ravel()])
    return float(edge.mean() / inner.mean()) if inner.mean() > 0 else float("nan")

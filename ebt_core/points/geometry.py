"""Points as input, with numpy only (the app parses contexts before any model is loaded):
validation of (x, y) sequences and the square window a landscape is drawn over."""

from __future__ import annotations

import numpy as np

MAX_COORDINATE = 1e4


def check_points(name: str, points, min_len: int = 1) -> np.ndarray:
    """A sequence of (x, y) pairs → float32 array (T, 2); ValueError naming `name` otherwise."""
    try:
        arr = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a list of (x, y) pairs: {err}") from err
    if arr.size == 0:
        arr = arr.reshape(0, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must have shape (T, 2) (a list of (x, y) pairs), got {arr.shape}")
    if len(arr) < min_len:
        raise ValueError(f"{name} must hold at least {min_len} point(s), got {len(arr)}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must hold finite numbers (no NaN or infinity)")
    if np.abs(arr).max(initial=0.0) > MAX_COORDINATE:
        raise ValueError(f"{name}: coordinates must lie within ±{MAX_COORDINATE:g}")
    return arr.astype(np.float32)


def default_window(points: np.ndarray, extra: np.ndarray | None = None, margin: float = 0.3):
    """A square window (lo, hi) per axis around points (M, 2) and extra points."""
    pts = points if extra is None or not len(extra) else np.concatenate([points, extra])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = max(float((hi - lo).max()), 0.2)
    mid, half = (lo + hi) / 2, span * (0.5 + margin)
    return mid - half, mid + half

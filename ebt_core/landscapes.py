"""Energy landscapes: 2-D slices of E over the candidate's state space, with the descent on them.

    scape = ebt.landscape(model, run, token=0, resolution=41, method="pca")
    scape.energy        # (R, R) energy at center + a[i]·axes[0] + b[j]·axes[1]
    scape.path          # (N, S+1, 2) every candidate's states projected on the plane
    scape.off_plane     # (N, S+1) distance of each state from the plane (how honest the slice is)

The plane goes through the mean of all N candidates' states; "pca" spans it with the top two
principal directions of those states (axes labelled with explained variance), "random" with two
seeded random orthonormal directions. The states are logits, so every grid point is a valid
candidate (softmax(point)) and the slice shows exactly the function the descent minimises.

Answer EBTs: the candidate is the whole answer (K positions × V logits, flattened to K·V), so
the plane cuts the whole-answer energy that the joint descent minimises; `token` only picks
which position's record to take the shared paths from (they are the same for every position).

Point EBTs (2-D candidates) get the exact landscape, method "exact": the grid covers the
candidate plane itself (center 0, axes the unit vectors, off_plane all zero, path = the states),
framing every candidate's path and the task's true `modes` if given; `point_landscape` does
the same at any context without a run (e.g. a fixed probe context during training).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .answer.model import AnswerEBT
from .answer.training import encode_prompts
from .points.geometry import check_points, default_window
from .points.model import PointEBT
from .points.tasks import TASKS
from .points.think import energy_grid
from .records import ThinkRun
from .text.model import TextEBT
from .tokenizer import CharTokenizer

METHODS = ("pca", "random")
POINT_METHODS = ("exact",)
MAX_RESOLUTION = 101


@dataclass
class Landscape:
    token: int
    method: str
    center: np.ndarray  # (V,)
    axes: np.ndarray  # (2, V) orthonormal
    explained: np.ndarray  # (2,) share of the states' variance along each axis
    a: np.ndarray  # (R,) grid coordinates along axes[0]
    b: np.ndarray  # (R,) grid coordinates along axes[1]
    energy: np.ndarray  # (R, R): energy[j, i] at a[i], b[j] (row = b, as plotting expects)
    path: np.ndarray  # (N, S+1, 2)
    path_energy: np.ndarray  # (N, S+1) recorded energies of the states themselves
    off_plane: np.ndarray  # (N, S+1)
    chosen: int
    modes: np.ndarray | None = None  # (K, 2) the task's true next points (exact landscapes)

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (v.tolist() if isinstance(v, np.ndarray) else v)
            for k, v in vars(self).items()
            if not (k == "modes" and v is None)  # text landscapes keep their exact JSON
        }


def _plane(points: np.ndarray, method: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two orthonormal directions (2, V) and the share of variance they explain (2,)."""
    centered = points - points.mean(axis=0)
    total = float((centered**2).sum()) or 1.0
    rng = np.random.default_rng(seed)
    if method == "pca":
        _, s, vt = np.linalg.svd(centered, full_matrices=False)
        axes = vt[:2]
        if axes.shape[0] < 2 or s[1] < 1e-9 * max(s[0], 1e-12):  # degenerate: a straight path
            extra = rng.standard_normal(points.shape[1])
            extra -= axes[0] * (extra @ axes[0])
            axes = np.stack([axes[0], extra / np.linalg.norm(extra)])
    else:
        q, _ = np.linalg.qr(rng.standard_normal((points.shape[1], 2)))
        axes = q.T
    explained = ((centered @ axes.T) ** 2).sum(axis=0) / total
    return axes.astype(np.float64), explained


def _grid(coords: np.ndarray, resolution: int, margin: float, min_span: float) -> np.ndarray:
    """Grid over the coordinates' range plus `margin` of it each side, at least `min_span` wide
    (so a nearly straight path still gets a readable slice, not a sliver)."""
    lo, hi = float(coords.min()), float(coords.max())
    span = max(hi - lo, min_span, 1e-3)
    mid, half = (lo + hi) / 2, span * (0.5 + margin)
    return np.linspace(mid - half, mid + half, resolution)


def _ensure_token(run: ThinkRun, token) -> int:
    if isinstance(token, bool) or not isinstance(token, int) or not 0 <= token < len(run.tokens):
        raise ValueError(f"token must be an integer in [0, {len(run.tokens) - 1}], got {token!r}")
    return token


def _energies(model: TextEBT, context: str, states: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Energy of every logit state (M, V) as the candidate after `context` → (M,)."""
    ids = CharTokenizer(model.config.vocab).encode_tensor(context, "context")
    out = []
    with torch.no_grad():
        cache = model.prefix(ids)
        for i in range(0, len(states), chunk):
            probs = torch.from_numpy(states[i : i + chunk]).float().softmax(-1)
            out.append(model.energy(cache, probs.unsqueeze(1)).squeeze(1).numpy())
    return np.concatenate(out)


def _check_grid_args(margin, resolution) -> None:
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 <= margin <= 10:
        raise ValueError(f"margin must be a number in [0, 10], got {margin!r}")
    if (
        isinstance(resolution, bool)
        or not isinstance(resolution, int)
        or not (3 <= resolution <= MAX_RESOLUTION)
    ):
        raise ValueError(
            f"resolution must be an integer in [3, {MAX_RESOLUTION}], got {resolution}"
        )


def landscape(
    model: TextEBT | PointEBT,
    run: ThinkRun,
    token: int = 0,
    resolution: int = 41,
    method: str | None = None,
    margin: float = 0.3,
    seed: int = 0,
    modes=None,
) -> Landscape:
    """The energy on a plane through the descent of generated token `token` of `run`.

    method: "pca" (default) or "random" for text EBTs; "exact" (the only one) for point EBTs.
    modes: point EBTs only, (K, 2) true next points to mark and frame; None = those of the
        task in the model's recipe (none if it has no task), [] = none.
    """
    if isinstance(model, PointEBT):
        return _point_run_landscape(model, run, token, resolution, method, margin, modes)
    method = "pca" if method is None else method
    _check_text_args(model, run, token, resolution, method, margin, seed)
    if isinstance(model, AnswerEBT):
        return _answer_landscape(model, run, token, resolution, method, margin, seed)
    return _text_landscape(model, run, token, resolution, method, margin, seed)


def _check_text_args(model, run, token, resolution, method, margin, seed) -> None:
    if not isinstance(model, (TextEBT, AnswerEBT)):
        raise ValueError(
            "landscape needs a text, answer or point EBT checkpoint "
            "(kind 'text-ebt', 'answer-ebt' or 'point-ebt')"
        )
    if isinstance(model, AnswerEBT) and len(run.tokens) != model.config.answer_length:
        raise ValueError("the run was not made by this answer EBT (another answer length)")
    if model.config.vocab != run.vocab:
        raise ValueError("the run was made by a model with another vocabulary")
    _ensure_token(run, token)
    _check_grid_args(margin, resolution)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")


def _slice(states: np.ndarray, record, token, resolution, method, margin, seed, energies):
    """The plane through candidate states (N, S+1, D) (arguments checked) and the energy on a
    grid over it: `energies(points (M, D)) → (M,)` evaluates the model."""
    points = states.reshape(-1, states.shape[-1])
    center = points.mean(axis=0)
    axes, explained = _plane(points, method, seed)
    rel = states - center
    path = rel @ axes.T  # (N, S+1, 2)
    off_plane = np.linalg.norm(rel - path @ axes, axis=-1)  # (N, S+1)
    spans = np.ptp(path.reshape(-1, 2), axis=0)
    wide = float(spans.max()) / 2  # neither side of the slice narrower than half the other
    a, b = (_grid(path[..., i], resolution, margin, wide) for i in (0, 1))
    grid = center + b[:, None, None] * axes[1] + a[None, :, None] * axes[0]  # (R, R, D)
    energy = energies(grid.reshape(-1, grid.shape[-1])).reshape(resolution, resolution)
    return Landscape(token, method, center, axes, explained, a, b, energy, path,
                     record.energies, off_plane, record.chosen)  # fmt: skip


def _text_landscape(model, run, token, resolution, method, margin, seed) -> Landscape:
    """The slice through a text EBT's descent of token `token` (arguments checked)."""
    record = run.tokens[token]
    states = record.states.astype(np.float64)  # (N, S+1, V)
    energies = lambda points: _energies(model, run.context(token), points)
    return _slice(states, record, token, resolution, method, margin, seed, energies)


def _answer_energies(model: AnswerEBT, prompt: str, states: np.ndarray, chunk=256) -> np.ndarray:
    """Whole-answer energies of logit states (M, K, V) after `prompt` → (M,)."""
    ids, lengths = encode_prompts(model.task, [prompt])
    out = []
    with torch.no_grad():
        cache = model.prompt_cache(ids, lengths)  # batch 1: broadcast against the chunk
        for i in range(0, len(states), chunk):
            probs = torch.from_numpy(states[i : i + chunk]).float().softmax(-1)
            out.append(model.energy(cache, probs).numpy())
    return np.concatenate(out)


def _answer_landscape(model, run, token, resolution, method, margin, seed) -> Landscape:
    """The slice through the joint descent of whole answers (arguments checked)."""
    states = np.stack([t.states for t in run.tokens], axis=2).astype(np.float64)  # (N,S+1,K,V)
    N, S1, K, V = states.shape
    energies = lambda points: _answer_energies(model, run.prompt, points.reshape(-1, K, V))
    return _slice(states.reshape(N, S1, K * V), run.tokens[token], token, resolution, method,
                  margin, seed, energies)  # fmt: skip


def _point_run_landscape(model, run, token, resolution, method, margin, modes) -> Landscape:
    if run.kind != "points":
        raise ValueError("the run was not made by a point EBT")
    if method not in (None, *POINT_METHODS):
        raise ValueError(f"method must be one of {POINT_METHODS} for points, got {method!r}")
    _ensure_token(run, token)
    return point_landscape(model, run.context(token), resolution, margin, modes, run, token)


def _paths(run: ThinkRun | None, token: int):
    """Every candidate's states (N, S+1, 2), their energies and the chosen index; N = 0 and
    chosen = -1 without a run."""
    if run is None:
        return np.zeros((0, 1, 2)), np.zeros((0, 1), np.float32), -1
    record = run.tokens[token]
    return record.states.astype(np.float64), record.energies, record.chosen


def _check_window(window) -> np.ndarray:
    """((x_lo, y_lo), (x_hi, y_hi)) → array (2, 2); ValueError naming `window` otherwise."""
    arr = check_points("window", window, 2)
    if arr.shape != (2, 2) or not (arr[0] < arr[1]).all():
        raise ValueError(f"window must be ((x_lo, y_lo), (x_hi, y_hi)) with lo < hi, got {window}")
    return arr.astype(np.float64)


def _task_modes(model: PointEBT, context: np.ndarray) -> np.ndarray:
    """The true next points after `context` of the task the model was trained on, if known."""
    task = (getattr(model, "recipe", None) or {}).get("task")
    return TASKS[task].modes(context) if task in TASKS else np.zeros((0, 2))


def point_landscape(
    model: PointEBT,
    points,
    resolution: int = 41,
    margin: float = 0.3,
    modes=None,
    run: ThinkRun | None = None,
    token: int = 0,
    window: tuple | None = None,
) -> Landscape:
    """Exact landscape of a point EBT for the point after `points` ((T, 2) pairs).

    Without a run the grid frames the last context point ± the model's start spread (and
    `modes`); `window` ((x_lo, y_lo), (x_hi, y_hi)) fixes it instead (e.g. a probe context
    watched during training). The path arrays are then empty (N = 0) and chosen is -1.
    modes: as in `landscape` (None = the model's task's modes for this context).
    """
    if not isinstance(model, PointEBT):
        raise ValueError("point_landscape needs a 'points-ebt' checkpoint")
    _check_grid_args(margin, resolution)
    context = check_points("points", points)
    modes = _task_modes(model, context) if modes is None else check_points("modes", modes, 0)
    path, path_energy, chosen = _paths(run, token)
    if window is None:
        spread = 2 * model.config.start_std * np.array([[-1.0, -1.0], [1.0, 1.0]])
        frame = path.reshape(-1, 2) if len(path) else context[-1] + spread
        window = default_window(frame, modes, margin)
    (x_lo, y_lo), (x_hi, y_hi) = _check_window(window)
    a, b = np.linspace(x_lo, x_hi, resolution), np.linspace(y_lo, y_hi, resolution)
    flat = path.reshape(-1, 2)
    centered = flat - flat.mean(axis=0) if len(flat) else flat
    total = float((centered**2).sum()) or 1.0
    return Landscape(
        token,
        "exact",
        np.zeros(2),
        np.eye(2),
        (centered**2).sum(axis=0) / total,
        a,
        b,
        energy_grid(model, context, a, b),
        path,
        path_energy,
        np.zeros(path.shape[:2]),
        chosen,
        modes.astype(np.float64),
    )


def project_paths(run: ThinkRun, token: int = 0, method: str = "pca", seed: int = 0) -> np.ndarray:
    """All N candidates' states of one token projected to 2-D → (N, S+1, 2).

    method: "pca" (instant) or "umap" (needs the optional `umap-learn` package; imported only
    here because it takes ~20 s to import on 2 CPUs).
    """
    _ensure_token(run, token)
    states = run.tokens[token].states.astype(np.float64)
    points = states.reshape(-1, states.shape[-1])
    if method == "pca":
        axes, _ = _plane(points, "pca", seed)
        return ((points - points.mean(axis=0)) @ axes.T).reshape(*states.shape[:2], 2)
    if method == "umap":
        try:
            import umap  # noqa: PLC0415 - deliberately lazy
        except ImportError as err:
            raise ValueError("method 'umap' needs `pip install umap-learn`; use 'pca'") from err
        n_neighbors = max(2, min(15, len(points) - 1))
        emb = umap.UMAP(n_components=2, n_neighbors=n_neighbors, random_state=seed)
        return emb.fit_transform(points).reshape(*states.shape[:2], 2)
    raise ValueError(f"method must be 'pca' or 'umap', got {method!r}")

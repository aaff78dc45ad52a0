"""Point EBT work for the Landscape and Playground tabs: contexts as text, fresh contexts of a
task, and a run with its exact landscape. (A descent from a clicked start is
`ebt.think(model, context, config, 1, start=[point])`.)
"""

from __future__ import annotations

import re

import numpy as np

import ebt_core as ebt
from ebt_core.points.geometry import check_points, default_window
from ebt_core.points.tasks import COLLINEAR, TASKS, get_task

MAX_CONTEXT_CHARS = 2000
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
# the Playground's probe (and the default context): four collinear points along +x, ending at 0
PROBE = np.array([[-0.75, 0.0], [-0.5, 0.0], [-0.25, 0.0], [0.0, 0.0]], dtype=np.float32)


def context_text(points: np.ndarray) -> str:
    """Points (T, 2) → "x, y; x, y; …" (what the context box shows and `parse_context` reads)."""
    return "; ".join(f"{x:.3f}, {y:.3f}" for x, y in np.asarray(points, dtype=np.float64))


def parse_context(text) -> np.ndarray:
    """ "x, y; x, y; …" (any brackets ignored) → points (T, 2); ValueError naming `context`."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("context must be points as 'x, y; x, y; …', got nothing")
    if len(text) > MAX_CONTEXT_CHARS:
        raise ValueError(f"context must be at most {MAX_CONTEXT_CHARS} characters")
    pairs = [p for p in re.split(r"[;\n]", text.replace("(", "").replace(")", "")) if p.strip()]
    points = []
    for pair in pairs:
        values = re.findall(_NUMBER, pair.replace("[", " ").replace("]", " "))
        leftover = re.sub(_NUMBER, "", pair).replace(",", "").replace("[", "").replace("]", "")
        if len(values) != 2 or leftover.strip():
            raise ValueError(f"context must be points as 'x, y; x, y; …': cannot read {pair!r}")
        points.append([float(v) for v in values])
    return check_points("context", points)


def probe_context(task: str) -> np.ndarray:
    """A fixed context of `task` (the Playground watches its landscape while training)."""
    if task in ("fork", "trifork"):
        return PROBE
    return get_task(task).sample(np.random.default_rng(0), 1, COLLINEAR)[0]


def fresh_context(task: str, seed: int) -> np.ndarray:
    """A context of `task` drawn from `seed` (COLLINEAR points: a fork's branching point)."""
    rng = np.random.default_rng([seed, 7])  # never the training stream of a recipe seed
    return get_task(task).sample(rng, 1, COLLINEAR)[0]


def modes_of(task: str | None, context: np.ndarray) -> np.ndarray | None:
    """The task's true next points after `context`, None when unknown (or no task)."""
    if task not in TASKS:
        return None
    modes = get_task(task).modes(context)
    return modes if len(modes) else None


def landscape_of(model, run: ebt.ThinkRun, resolution: int, modes, window=None):
    """The exact landscape of the run's first point: framing its paths and the modes, or over
    a fixed `window` widened to the paths if they leave it."""
    if window is not None:
        paths = run.tokens[0].states.reshape(-1, 2)
        (x_lo, y_lo), (x_hi, y_hi) = window
        inside = (paths >= (x_lo, y_lo)).all() and (paths <= (x_hi, y_hi)).all()
        window = window if inside else default_window(paths, np.asarray(window))
    return ebt.point_landscape(
        model, run.context(0), resolution, modes=modes, run=run, window=window
    )

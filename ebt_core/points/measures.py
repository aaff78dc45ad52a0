"""Measurements of point models on fresh fork contexts (the issue's done-when criteria).

    report = fork_report(model, regressor, split="test")   # a dict of plain numbers

Contexts come from seeds never used in training (training draws from its recipe seed; the
validation split uses VAL_SEED, the test split TEST_SEED). All numbers go through the public
API (`think`, `score`, `predict_point`), so they measure what a user gets.
"""

from __future__ import annotations

import numpy as np

from ..config import ThinkConfig
from .model import PointEBT, PointRegressor
from .tasks import COLLINEAR, get_task
from .think import predict_point, score, think

NEAR = 0.06  # "within 0.06 of a true mode"
VAL_SEED, TEST_SEED = 1_000_003, 2_000_003
SPLITS = {"val": VAL_SEED, "test": TEST_SEED}


def fork_contexts(n: int, split: str = "test", shift: float = 0.0, task: str = "fork"):
    """n contexts of four collinear points (n, 4, 2) and their true next-point modes (n, K, 2)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    t = get_task(task)
    rng = np.random.default_rng(SPLITS[split] + int(round(1000 * shift)))
    contexts = t.sample(rng, n, COLLINEAR, shift)
    return contexts, np.stack([t.modes(c) for c in contexts])


def _defaults(model, **changes) -> ThinkConfig:
    base = getattr(model, "think_defaults", None) or ThinkConfig()
    return ThinkConfig.from_dict({**base.to_dict(), **changes})


def candidate_metrics(model: PointEBT, contexts, modes, config: ThinkConfig) -> dict:
    """Share of final candidates within NEAR of a mode, share per mode, chosen's distance."""
    near, per_mode, chosen_d = [], [], []
    for context, m in zip(contexts, modes):
        record = think(model, context, config, 1).tokens[0]
        final = record.states[:, -1]  # (N, 2)
        dist = np.linalg.norm(final[:, None] - m[None], axis=-1)  # (N, K)
        close = dist.min(1) < NEAR
        near.append(close.mean())
        per_mode.append([(close & (dist.argmin(1) == k)).mean() for k in range(len(m))])
        chosen_d.append(dist[record.chosen].min())
    per_mode, chosen_d = np.asarray(per_mode), np.asarray(chosen_d)
    return {
        "near_share": float(np.mean(near)),
        "mode_shares": per_mode.mean(0).round(4).tolist(),
        "contexts_both_modes_20": float((per_mode.min(1) >= 0.2).mean()),
        "chosen_distance": float(chosen_d.mean()),
        "chosen_near_share": float((chosen_d < NEAR).mean()),
    }


def chosen_distance(model: PointEBT, contexts, modes, config: ThinkConfig) -> float:
    """Mean distance of the chosen candidate to its context's nearest mode."""
    d = [
        np.linalg.norm(think(model, c, config, 1).points[0] - m, axis=-1).min()
        for c, m in zip(contexts, modes)
    ]
    return float(np.mean(d))


def steps_curve(model, contexts, modes, steps=(1, 2, 4, 8), samples: int | None = None) -> dict:
    """Chosen candidate's mean distance to the nearest mode per number of descent steps."""
    extra = {} if samples is None else {"samples": samples}
    return {
        s: chosen_distance(model, contexts, modes, _defaults(model, steps=s, **extra))
        for s in steps
    }


def basins(model: PointEBT, contexts, modes) -> dict:
    """Share of contexts whose exact energy is lower at every mode than at their midpoint."""
    ok, gaps = [], []
    for context, m in zip(contexts, modes):
        probes = np.concatenate([m, m.mean(0, keepdims=True)])
        e = np.array([score(model, context, p[None], _defaults(model, samples=1)).energies[0]
                      for p in probes])  # fmt: skip
        ok.append(bool((e[:-1] < e[-1]).all()))
        gaps.append(float(e[-1] - e[:-1].max()))
    return {"two_basins_share": float(np.mean(ok)), "midpoint_minus_mode_energy": np.mean(gaps)}


def regressor_metrics(model: PointRegressor, contexts, modes) -> dict:
    """Distance of the regression baseline's prediction to the modes' midpoint and to a mode."""
    pred = np.stack([predict_point(model, c) for c in contexts])
    return {
        "to_midpoint": float(np.linalg.norm(pred - modes.mean(1), axis=-1).mean()),
        "to_nearest_mode": float(np.linalg.norm(pred[:, None] - modes, axis=-1).min(1).mean()),
    }


def fork_report(model, regressor=None, n: int = 100, split: str = "test", shift: float = 0.0):
    """The done-when numbers on n fresh fork contexts (32 candidates, the checkpoint's
    default steps and step size)."""
    contexts, modes = fork_contexts(n, split, shift)
    out = {"contexts": n, "split": split, "shift": shift}
    if model is not None:
        out.update(candidate_metrics(model, contexts, modes, _defaults(model, samples=32)))
        out["steps_curve"] = steps_curve(model, contexts, modes, samples=32)
        out.update(basins(model, contexts, modes))
    if regressor is not None:
        out["regressor"] = regressor_metrics(regressor, contexts, modes)
    return out

"""Widget values → validated ebt_core configs, and bad input → `gr.Error` with a precise message.

The Gradio events of `main.py` run with `preprocess=False`, so the values arriving here are the
raw JSON a browser or `gradio_client` sent; every check names the field it rejects.
"""

from __future__ import annotations

from contextlib import contextmanager

import gradio as gr

import ebt_core as ebt

# UI bounds: one request must stay responsive on a 2-CPU machine shared by every visitor.
LIMITS = {"steps": 64, "samples": 16, "max_new_tokens": 64, "langevin": 5.0, "tolerance": 1.0}
MAX_SEED = 2**63 - 1


@contextmanager
def user_errors():
    """ebt_core reports bad input as ValueError naming the field; show that message to the user."""
    try:
        yield
    except ValueError as err:
        raise gr.Error(str(err)) from err


def int_in(name: str, value, lo: int, hi: int) -> int:
    """An integer in [lo, hi] (a JSON number such as 8.0 counts as the integer 8)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer between {lo} and {hi}, got {value!r}")
    return value


def float_in(name: str, value, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise ValueError(f"{name} must be a number between {lo} and {hi}, got {value!r}")
    return float(value)


def think_config(
    steps, step_size, langevin, samples, select, tolerance, seed, accept_lower_only
) -> ebt.ThinkConfig:
    """Widget values → ThinkConfig; step_size 0 means the checkpoint's trained α."""
    step_size = float_in("step_size", step_size, 0.0, 1e6)
    if not isinstance(accept_lower_only, bool):
        raise ValueError(f"accept_lower_only must be true or false, got {accept_lower_only!r}")
    return ebt.ThinkConfig(
        steps=int_in("steps", steps, 1, LIMITS["steps"]),
        step_size=step_size or None,
        langevin=float_in("langevin", langevin, 0.0, LIMITS["langevin"]),
        samples=int_in("samples", samples, 1, LIMITS["samples"]),
        select=select,
        accept_lower_only=accept_lower_only,
        tolerance=float_in("tolerance", tolerance, 0.0, LIMITS["tolerance"]),
        seed=int_in("seed", seed, 0, MAX_SEED),
    )


def widget_values(config: ebt.ThinkConfig) -> tuple:
    """A checkpoint's default ThinkConfig as widget values, in `think_config`'s order.

    Defaults beyond the UI bounds are shown at the bound (a display default, not a user choice).
    """
    return (
        min(config.steps, LIMITS["steps"]),
        config.step_size or 0,
        min(config.langevin, LIMITS["langevin"]),
        min(config.samples, LIMITS["samples"]),
        config.select,
        min(config.tolerance, LIMITS["tolerance"]),
        config.seed,
        config.accept_lower_only,
    )

"""Widget values → validated ebt_core inputs, the app's limits, and bad input → `gr.Error`.

The Gradio events run with `preprocess=False`, so the values arriving here are the raw JSON a
browser or `gradio_client` sent; every check names the field it rejects and what is allowed.
`LIMITS` is the one source of the app's bounds (sliders, checks, docs/LIMITS.md): they keep one
request within about 10–20 s on a busy 2-CPU host and the server responsive for everyone.
"""

from __future__ import annotations

import inspect
import logging
import math
import os
from contextlib import contextmanager

import gradio as gr
import numpy as np

import ebt_core as ebt

# UI bounds: one request must stay responsive on a 2-CPU machine shared by every visitor.
LIMITS = {
    # Think / Score / Landscape (per request)
    "steps": 64,  # descent steps per character
    "samples": 16,  # candidates N per character
    "max_new_tokens": 64,  # characters generated
    "langevin": 5.0,
    "tolerance": 1.0,
    "step_size": 1e6,  # α; 0 in the UI = the trained α
    "descent_steps": 1024,  # steps × max_new_tokens: the sequential work of one request
    "work": 8192,  # steps × samples × max_new_tokens: candidate-steps of one request
    "answer_chars": 64,  # /score: characters of the answer (one descent each)
    "resolution": 101,  # /landscape: grid points per side (resolution² energies)
    # Denoise (per request)
    "image_side": 256,  # longer side after downscaling an upload (the app downscales)
    "denoise_steps": 32,  # EBT descent steps or DiT passes
    "denoise_work": 256 * 256 * 8,  # height × width × EBT steps: 8 steps on a 256² photo
    "denoise_langevin": 1.0,  # in [-1, 1] pixel units: beyond this the frames are pure noise
    "dit_passes": 100,  # DDIM passes of the DiT baseline: every timestep at level 0.1
    "upload_mb": 10,  # largest upload, megabytes: demo.launch(max_file_size=MAX_UPLOAD_BYTES)
    # Point EBTs (Landscape tab's exact landscapes, Playground)
    "point_samples": 64,  # candidates N per generated point
    "train_iters": 3000,  # Playground: training iterations
    "train_samples": 16,  # Playground: descents per position while training
    "train_steps": 8,  # Playground: unrolled descent steps (steps_max)
    "train_work": 48_000,  # Playground: iters × samples × steps_max of one training
    "train_seconds": 150,  # Playground: a training stops after this long (the model is kept)
    "trainings": 1,  # Playground trainings at once (the next visitor's waits in the queue)
    # Server
    "concurrency": 2,  # events running at once: demo.queue(default_concurrency_limit=...)
    "queue_size": 32,  # events waiting at most: demo.queue(max_size=...); more are refused
}
MAX_SEED = 2**63 - 1
MAX_UPLOAD_BYTES = LIMITS["upload_mb"] * 1024 * 1024

log = logging.getLogger("ebt_explorer")


def user_error(message: str) -> gr.Error:
    """A `gr.Error` for bad input: shown to the user, one line in the server log (the request
    was refused, nothing broke: no traceback, which gradio would print for a plain gr.Error)."""
    log.warning("user error: %s", message.replace("\n", " "))
    return gr.Error(message, print_exception=False)


@contextmanager
def user_errors():
    """Bad input (ValueError naming the field, from here or ebt_core) → `gr.Error` with that
    message and one line in the log. Anything else is a bug: logged with its traceback (once),
    shown as a short message (never a bare "Error"), and the server keeps serving."""
    try:
        yield
    except gr.Error:
        raise
    except ValueError as err:
        raise user_error(str(err)) from err
    except Exception as err:  # the last line of defence of a shared server
        log.exception("unexpected error in an EBT Explorer event")
        raise gr.Error(
            f"internal error ({type(err).__name__}); the request was not completed and the "
            "details are in the server log",
            print_exception=False,  # log.exception above printed the traceback once
        ) from err


def int_in(name: str, value, lo: int, hi: int) -> int:
    """An integer in [lo, hi] (a JSON number such as 8.0 counts as the integer 8)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer between {lo} and {hi}, got {value!r}")
    return value


def float_in(name: str, value, lo: float, hi: float) -> float:
    """A finite number in [lo, hi] (NaN and ±inf are refused by name)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number between {lo} and {hi}, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number between {lo} and {hi}, got {value}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be a number between {lo} and {hi}, got {value!r}")
    return float(value)


def text_in(name: str, value, max_chars: int) -> str:
    """A non-empty string of at most `max_chars` characters."""
    if not isinstance(value, str) or not value:
        shown = repr(value) if isinstance(value, str) else type(value).__name__
        raise ValueError(f"{name} must be a non-empty string, got {shown}")
    if len(value) > max_chars:
        raise ValueError(f"{name} must be at most {max_chars} characters, got {len(value)}")
    return value


def think_config(
    steps, step_size, langevin, samples, select, tolerance, seed, accept_lower_only
) -> ebt.ThinkConfig:
    """Widget values → ThinkConfig; step_size 0 means the checkpoint's trained α. The app checks
    its limits; ThinkConfig checks the meaning (select, accept_lower_only)."""
    step_size = float_in("step_size", step_size, 0.0, LIMITS["step_size"])
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


# /think's parameters in order: the exports take them too (app/export_tab.py)
THINK_PARAMETERS = ("prompt", "checkpoint", "steps", "step_size", "langevin", "samples", "select",
                    "tolerance", "seed", "max_new_tokens", "accept_lower_only")  # fmt: skip


def takes_think_parameters(*extra: str):
    """Decorator: a handler `(self, *params)` gets /think's parameter names, then `extra` (each
    defaulting to 0; accept_lower_only, the last of THINK_PARAMETERS, to False). Gradio names an
    endpoint's API parameters after its handler's signature, so /think and the exports share
    this one list instead of spelling it out in each handler."""
    P = inspect.Parameter
    names = ("self", *THINK_PARAMETERS[:-1])
    defaults = (("accept_lower_only", False), *((name, 0) for name in extra))
    signature = inspect.Signature(
        [P(n, P.POSITIONAL_OR_KEYWORD) for n in names]
        + [P(n, P.POSITIONAL_OR_KEYWORD, default=d) for n, d in defaults]
    )

    def named(handler):
        handler.__signature__ = signature
        return handler

    return named


def check_think_work(config: ebt.ThinkConfig, max_new_tokens: int) -> None:
    """Refuse a request whose work exceeds the budgets (each bound alone is not enough: 64
    steps × 16 samples × 64 tokens would take minutes on 2 CPUs)."""
    steps, samples, n = config.steps, config.samples, max_new_tokens
    if steps * n > LIMITS["descent_steps"]:
        raise ValueError(
            f"steps × max_new_tokens = {steps} × {n} = {steps * n} exceeds this server's budget "
            f"of {LIMITS['descent_steps']}; lower steps or max_new_tokens"
        )
    if steps * samples * n > LIMITS["work"]:
        raise ValueError(
            f"steps × samples × max_new_tokens = {steps} × {samples} × {n} = "
            f"{steps * samples * n} exceeds this server's budget of {LIMITS['work']}; "
            "lower steps, samples or max_new_tokens"
        )


# A DDIM pass is a forward only, about a third of an EBT step (forward + backward).
DIT_WORK_FACTOR = 3


def denoise_limits(height: int, width: int) -> tuple[int, int]:
    """The most EBT steps and DiT passes the work budget allows on a height × width photo: the
    sliders' maxima and the checks below follow this one rule, so no slider offers a value the
    server refuses. (At least 1 each: an upload is at most image_side² pixels.)"""
    pixels = max(1, height * width)
    steps = min(LIMITS["denoise_steps"], LIMITS["denoise_work"] // pixels)
    passes = min(LIMITS["dit_passes"], DIT_WORK_FACTOR * LIMITS["denoise_work"] // pixels)
    return max(1, steps), max(1, passes)


def check_denoise_work(height: int, width: int, passes: int) -> None:
    """Refuse a denoising run whose pixels × network passes exceed the budget."""
    passes = int_in("steps", passes, 1, LIMITS["denoise_steps"])
    work = height * width * passes
    if work > LIMITS["denoise_work"]:
        raise ValueError(
            f"image {height}×{width} × {passes} steps = {work:,} pixel-passes exceeds this "
            f"server's budget of {LIMITS['denoise_work']:,}; lower steps or use a smaller image"
        )


def denoise_config(photo, noise, steps, step_size, langevin, seed) -> ebt.DenoiseConfig:
    """Widget values → DenoiseConfig for an image EBT on `photo` (a PIL image); step_size 0
    means the trained α. DenoiseConfig checks the meaning (noise 0 or at least 0.001)."""
    steps = int_in("steps", steps, 1, LIMITS["denoise_steps"])
    check_denoise_work(photo.size[1], photo.size[0], steps)
    step_size = float_in("step_size", step_size, 0.0, LIMITS["step_size"])
    return ebt.DenoiseConfig(
        noise=float_in("noise", noise, 0.0, 1.0),
        steps=steps,
        step_size=step_size or None,
        langevin=float_in("langevin", langevin, 0.0, LIMITS["denoise_langevin"]),
        seed=int_in("seed", seed, 0, MAX_SEED),
    )


def dit_config(photo, noise, seed, dit_passes) -> ebt.DenoiseConfig:
    """Widget values → DenoiseConfig for the DiT baseline on `photo` (DDIM passes as steps)."""
    passes = int_in("dit_passes", dit_passes, 1, LIMITS["dit_passes"])
    work, budget = photo.size[0] * photo.size[1] * passes, DIT_WORK_FACTOR * LIMITS["denoise_work"]
    if work > budget:
        raise ValueError(
            f"image {photo.size[1]}×{photo.size[0]} × {passes} dit_passes = {work:,} "
            f"pixel-passes exceeds this server's budget of {budget:,}; "
            "lower dit_passes or use a smaller image"
        )
    noise = float_in("noise", noise, 0.0, 1.0)
    return ebt.DenoiseConfig(noise=noise, steps=passes, seed=int_in("seed", seed, 0, MAX_SEED))


def _upload_path(value):
    """A gradio FileData dict (preprocess=False), a path, or None → path or None."""
    if isinstance(value, dict):
        return value.get("path")
    if isinstance(value, (str, os.PathLike)):
        return value
    return None


def image_from_upload(value, max_side: int | None = None):
    """An uploaded image (FileData dict or path; a PIL image or uint8 array in-process) →
    (PIL image no larger than `max_side`, note). The note says what was done to the upload
    (downscaled, first frame of an animation, EXIF rotation), "" when nothing was."""
    from PIL import Image

    max_side = LIMITS["image_side"] if max_side is None else max_side
    if value is None:
        raise ValueError("image is required: upload a picture (PNG, JPEG, WebP, GIF, BMP, TIFF)")
    notes: list[str] = []
    if isinstance(value, np.ndarray):
        if value.dtype != np.uint8 or value.ndim not in (2, 3) or value.shape[-1] > 4:
            raise ValueError(
                f"image array must be uint8 (H, W) or (H, W, 1..4), got {value.dtype} {value.shape}"
            )
        squeeze = value.ndim == 3 and value.shape[2] == 1  # PIL has no (H, W, 1) mode
        value = Image.fromarray(value[:, :, 0] if squeeze else value)
    if hasattr(value, "mode") and hasattr(value, "size"):
        image, original = value, (value.size[1], value.size[0])
    elif (path := _upload_path(value)) is not None:
        opened = ebt.open_image(path, max_side=max_side)
        image, notes, original = opened.image, opened.notes, opened.original
    else:
        raise ValueError(
            f"image must be an uploaded image file, got {type(value).__name__} "
            f"(allowed: PNG, JPEG, WebP, GIF, BMP, TIFF; at least {ebt.MIN_SIDE} pixels a side)"
        )
    fitted = ebt.fit_within(image, max_side)
    if (fitted.size[1], fitted.size[0]) != original:
        notes.append(
            f"downscaled from {original[0]}×{original[1]} to {fitted.size[1]}×{fitted.size[0]} "
            f"pixels (this server's limit is {max_side} pixels a side)"
        )
    return fitted, "; ".join(notes)


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

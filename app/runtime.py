"""The checkpoints this app offers, loaded once and shared read-only by every visitor and tab."""

from __future__ import annotations

import ctypes
from concurrent.futures import ThreadPoolExecutor

import gradio as gr

import ebt_core as ebt

CHECKPOINTS = ebt.checkpoints_dir()
EBTS = ebt.available("text-ebt")
TRANSFORMERS = ebt.available("transformer")
IMAGE_MODELS = ebt.available("image")
DEFAULT_EBT = "arith-ebt" if "arith-ebt" in EBTS else (EBTS[0] if EBTS else None)

if gr.NO_RELOAD:  # survives reloads
    MODELS: dict = {}
    # Model work runs on these two threads only. Gradio serves events from a growing pool of
    # worker threads, and each new thread that runs torch gets its own per-thread state and
    # malloc arena: with `/denoise` the server's RSS grew ~25 % under 8 clients (a plateau, not
    # a leak); with a fixed pair of threads it stays flat. Two = the queue's concurrency limit.
    COMPUTE = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ebt-compute")


def _trim() -> None:
    """Hand freed heap pages back to the OS (glibc keeps them otherwise: RSS would sit at the
    high-water mark of the largest concurrent requests). A no-op where libc is not glibc."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def compute(fn, *args, **kwargs):
    """Run `fn(*args, **kwargs)` on a model-work thread and wait for it (exceptions propagate)."""
    try:
        return COMPUTE.submit(fn, *args, **kwargs).result()
    finally:
        _trim()


def get_model(name: str):
    model = MODELS.get(name)
    # Absent, or built by an ebt_core module that a reload has since replaced.
    if not isinstance(model, (ebt.TextEBT, ebt.Transformer, ebt.ImageEBT, ebt.ImageDiT)):
        model = MODELS[name] = ebt.load(CHECKPOINTS / name)
    return model


def ebt_model(name):
    """A text EBT offered by this app (never an arbitrary path sent by a client)."""
    if name not in EBTS:
        raise ValueError(f"checkpoint must be one of {EBTS} (in {CHECKPOINTS}), got {name!r}")
    return get_model(name)


def image_model(name):
    """An image checkpoint (EBT or DiT) offered by this app."""
    if name not in IMAGE_MODELS:
        raise ValueError(
            f"checkpoint must be one of {IMAGE_MODELS} (in {CHECKPOINTS}), got {name!r}"
        )
    return get_model(name)


def baseline_name(checkpoint: str) -> str | None:
    """The Transformer++ trained beside an EBT named X-ebt is X-transformer."""
    name = checkpoint.removesuffix("-ebt") + "-transformer"
    return name if checkpoint.endswith("-ebt") and name in TRANSFORMERS else None

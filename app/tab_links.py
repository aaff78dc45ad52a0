"""Permalinks of the Landscape and Denoise tabs (app/permalink.py has the mechanism): their keys
are their API parameters (`/landscape`, and `/denoise` + the DiT's `dit_passes`, `image` naming
one of the Denoise examples); a page load reads a link, checks each value like its widget's
and shows that run; each tab's "Copy link" button gives its state back as a link.

The tab modules call `copy_link(...)` in their layout and `landscape_loader`/`denoise_loader`
in place of their first-view load (each falls back to the tab's first view without a link).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from app import permalink
from app.inputs import LIMITS, MAX_SEED, float_in, int_in

LANDSCAPE_KEYS = ("prompt", "checkpoint", "token", "resolution", "method", "steps", "samples")
LANDSCAPE_KEYS += ("seed",)  # /landscape's parameters
DENOISE_KEYS = ("image", "checkpoint", "noise", "steps", "step_size", "langevin", "seed")
DENOISE_KEYS += ("dit_passes",)  # /denoise's parameters, then the DiT baseline's passes
permalink.register("landscape", LANDSCAPE_KEYS)
permalink.register("denoise", DENOISE_KEYS)


def copy_link(tab: str, inputs: list) -> None:
    """A "Copy link" button and the link it gives (lay out where the button should appear);
    `inputs`: the tab's widgets in `permalink.TABS[tab]` order."""
    button = gr.Button("🔗 Copy link", size="sm", elem_id=f"{tab}-copy-link")
    link = gr.Textbox(label="Link to this view", interactive=False, buttons=["copy"])
    js = permalink.copy_link_js(tab).replace("const v = values[i];", _IMAGE_NAME)
    button.click(None, inputs, link, js=js, api_visibility="private")


# an uploaded or example image is a FileData dict in the browser: the link keeps its file name
_IMAGE_NAME = """let v = values[i];
            if (v && typeof v === 'object') v = (v.orig_name || v.path || '').split('/').pop();"""


def _query(request) -> tuple[str | None, dict, list[str]]:
    return permalink.read(dict(request.query_params) if request is not None else {})


def _choice(name: str, allowed) -> Callable:
    def check(value):
        if value not in allowed:
            raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
        return value

    return check


def _bounded(name: str, cast, lo, hi) -> Callable:
    return lambda value: cast(name, value, lo, hi)


# ---- Landscape --------------------------------------------------------------------------------
def landscape_state(tab, think: SimpleNamespace, values: dict) -> tuple[dict, list[str]]:
    """A link's /landscape values, each checked like its widget's (bad → default + message)."""
    from app.landscape_tab import DEFAULT_RESOLUTION, MIN_RESOLUTION
    from app.think_tab import setting_checks

    first = think.prompt.value or "12+35="  # the Think tab's first example
    errors, name = [], values.get("checkpoint", tab.registry.default_ebt)
    if name not in tab.registry.text_ebts:
        errors.append(f"checkpoint must be one of {tab.registry.text_ebts}, got {name!r}")
        name = tab.registry.default_ebt
    steps, samples = tab.think_defaults(name)
    defaults = dict(prompt=first, token=0, resolution=DEFAULT_RESOLUTION, method="pca")
    defaults |= dict(steps=steps, samples=samples, seed=0)
    checks = {
        "prompt": setting_checks(tab.registry.text_ebt(name))["prompt"],
        "token": _bounded("token", int_in, 0, LIMITS["max_new_tokens"] - 1),
        "resolution": _bounded("resolution", int_in, MIN_RESOLUTION, LIMITS["resolution"]),
        "method": _choice("method", ("pca", "random")),
        "steps": _bounded("steps", int_in, 1, LIMITS["steps"]),
        "samples": _bounded("samples", int_in, 1, LIMITS["samples"]),
        "seed": _bounded("seed", int_in, 0, MAX_SEED),
    }
    state, bad = permalink.validated(values, checks, defaults)
    return state | {"checkpoint": name}, errors + bad


def landscape_loader(tab, think: SimpleNamespace) -> Callable:
    """The Landscape tab's page load: a ?tab=landscape link's landscape, else its first view
    (`think`: the Think tab's widgets; its prompt's initial value is the default prompt).
    Outputs: the tab's 8 outputs, then prompt, checkpoint and its 6 controls (LANDSCAPE_KEYS
    order from "token")."""

    def load(request: gr.Request):
        where, values, unknown = _query(request)
        if where != "landscape" or not tab.registry.default_ebt:
            return (*tab.first_view(), *(gr.skip(),) * len(LANDSCAPE_KEYS))
        state, errors = landscape_state(tab, think, values)
        args = [state[k] for k in LANDSCAPE_KEYS]
        try:
            views = list(tab.landscape(*args, progress=_quiet))
        except gr.Error as err:  # e.g. a token beyond the model's context
            errors.append(str(err))
            views = list(tab.first_view())
        message = permalink.notice(errors, unknown)
        if message and isinstance(views[2], str):
            views[2] = f"{message}\n\n{views[2]}"
        return (*views, *args)

    return load


# ---- Denoise ----------------------------------------------------------------------------------
def denoise_state(tab, values: dict) -> tuple[dict, list[str]]:
    """A link's /denoise values (image: an example's file name), checked like the widgets'."""
    from app.denoise_tab import DEFAULT_DIT_PASSES

    examples = {Path(path).name: (path, noise) for path, noise in tab.examples}
    first = next(iter(examples), None)
    defaults = dict(image=first, checkpoint=tab.registry.default_image_ebt, steps=2)
    defaults |= dict(noise=tab.examples[0][1] if tab.examples else 0.1, step_size=0, langevin=0.0)
    defaults |= dict(seed=0, dit_passes=DEFAULT_DIT_PASSES)
    checks = {
        "image": _choice("image", list(examples)),
        "checkpoint": _choice("checkpoint", tab.registry.image_ebts),
        "noise": _bounded("noise", float_in, 0.0, 1.0),
        "steps": _bounded("steps", int_in, 1, LIMITS["denoise_steps"]),
        "step_size": _bounded("step_size", float_in, 0.0, LIMITS["step_size"]),
        "langevin": _bounded("langevin", float_in, 0.0, LIMITS["denoise_langevin"]),
        "seed": _bounded("seed", int_in, 0, MAX_SEED),
        "dit_passes": _bounded("dit_passes", int_in, 1, LIMITS["dit_passes"]),
    }
    state, errors = permalink.validated(values, checks, defaults)
    return state | {"path": examples[state["image"]][0] if state["image"] else None}, errors


def denoise_loader(tab) -> Callable:
    """The Denoise tab's page load: a ?tab=denoise link's run (EBT, then the DiT), else the
    first view. Outputs: the first view's 11, then the 8 controls (DENOISE_KEYS order)."""

    def load(request: gr.Request):
        where, values, unknown = _query(request)
        if where != "denoise":
            return (*tab.first_view(), *(gr.skip(),) * len(DENOISE_KEYS))
        return denoise_outputs(tab, values, unknown)

    return load


def denoise_outputs(tab, values: dict, unknown=(), intro: str = "") -> tuple:
    """A link's (or a guide preset's) /denoise values → the loader's outputs; `intro` and any
    bad value's message go above the summary."""
    state, errors = denoise_state(tab, values)
    s = SimpleNamespace(**state)
    try:
        ebt_views = tab.denoise(s.path, s.checkpoint, s.noise, s.steps, s.step_size,
                                s.langevin, s.seed, progress=_quiet)  # fmt: skip
        dit = tab.denoise_baseline(s.path, s.noise, s.seed, s.dit_passes, ebt_views[-1],
                                   _quiet)  # fmt: skip
        views = [*ebt_views[:6], *dit[2:], ebt_views[8], *dit[:2]]
    except gr.Error as err:  # e.g. steps × pixels beyond the budget
        errors.append(str(err))
        views = list(tab.first_view())
    message = "\n\n".join(m for m in (intro, permalink.notice(errors, list(unknown))) if m)
    if message:
        views[0] = f"{message}\n\n{views[0]}"
    controls = [s.path, *(state[k] for k in DENOISE_KEYS[1:])]
    return (*views, *controls)


def _quiet(*_args, **_kwargs) -> None:
    """Progress callback for work done in a page load."""

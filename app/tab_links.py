"""Permalinks of the Landscape and Denoise tabs (app/permalink.py has the mechanism): their keys
are their API parameters (`/landscape`, and `/denoise` + the DiT's `dit_passes`, `image` naming
one of the Denoise examples); a page load reads a link, checks each value like its widget's
and shows that run; each tab's "Copy link" button gives its state back as a link.

The tab modules call `copy_link(...)` in their layout, `landscape_loader`/`denoise_loader`/
`points_loader` on page load (a link to the tab: its view; no link: nothing, the page stays
light) and `on_open` when the tab is selected (its first view, the first time).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
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


def on_open(tab: str, first_view: Callable[[], tuple], outputs: int) -> Callable:
    """A tab's select event: its first view the first time it is opened (`shown`: the tab's
    state, None until it shows something), or nothing to send when it shows something already
    or the page's link is to this tab (its page load fills it)."""

    def opened(shown, request: gr.Request):
        where, _, _ = _query(request)
        if shown is not None or where == tab:
            return (gr.skip(),) * outputs
        return first_view()

    return opened


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


def _link_loader(tab_id: str, n_outputs: int, outputs: Callable) -> Callable:
    """A page load that answers a ?tab=`tab_id` link with outputs(values, unknown) and leaves
    its `n_outputs` outputs alone for any other URL."""

    def load(request: gr.Request):
        where, values, unknown = _query(request)
        if where != tab_id:
            return (gr.skip(),) * n_outputs
        return outputs(values, unknown)

    load.__qualname__ = f"{tab_id}_loader.<locals>.load"  # named after its tab, like the others
    return load


def landscape_loader(tab, think: SimpleNamespace) -> Callable:
    """The Landscape tab's page load: a ?tab=landscape link's landscape, else nothing (the
    first view comes when the tab is opened: `on_open`) (`think`: the Think tab's widgets; its
    prompt's initial value is the default prompt). Outputs: the tab's 8 outputs, then prompt,
    checkpoint and its 6 controls (LANDSCAPE_KEYS order from "token")."""

    def load(request: gr.Request):
        where, values, unknown = _query(request)
        if where != "landscape" or not tab.registry.default_ebt:
            return (gr.skip(),) * (8 + len(LANDSCAPE_KEYS))
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
    """The Denoise tab's page load: a ?tab=denoise link's run (EBT, then the DiT), else nothing
    (the first view comes when the tab is opened: `on_open`). Outputs: the first view's 11,
    then the 8 controls (DENOISE_KEYS order)."""

    return _link_loader("denoise", 11 + len(DENOISE_KEYS), partial(denoise_outputs, tab))


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


# ---- Playground -------------------------------------------------------------------------------
PLAYGROUND_KEYS = ("task", "objective", "iters", "lr", "samples", "steps_min", "steps_max")
PLAYGROUND_KEYS += ("step_size", "alpha_jitter", "langevin", "replay", "final_only", "detach")
PLAYGROUND_KEYS += ("start_std", "seed")  # /playground_train's parameters
permalink.register("playground", PLAYGROUND_KEYS)
PLAYGROUND_NOTE = "The recipe is filled in from the link: press **Train** to train it."


def _flag(name: str) -> Callable:
    def check(value):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value

    return check


def playground_state(values: dict) -> tuple[dict, list[str]]:
    """A link's /playground_train values, each checked like the widget's (as playground_recipe
    checks them); a recipe the fields allow but the server does not (budget, steps_max <
    steps_min) → every lever's default, with the message."""
    from app.landscape_points import TASK_CHOICES
    from app.live_training import playground_recipe
    from app.playground_tab import D
    from ebt_core.points.recipe import OBJECTIVES

    defaults = dict(task="fork", step_size=1.0)
    defaults |= {k: getattr(D, k) for k in PLAYGROUND_KEYS if k not in defaults}
    checks = {
        "task": _choice("task", TASK_CHOICES),
        "objective": _choice("objective", OBJECTIVES),
        "iters": _bounded("iters", int_in, 1, LIMITS["train_iters"]),
        "lr": _bounded("lr", float_in, 1e-5, 0.1),
        "samples": _bounded("samples", int_in, 1, LIMITS["train_samples"]),
        "steps_min": _bounded("steps_min", int_in, 1, 64),
        "steps_max": _bounded("steps_max", int_in, 1, LIMITS["train_steps"]),
        "step_size": _bounded("step_size", float_in, 1e-3, 100.0),
        "alpha_jitter": _bounded("alpha_jitter", float_in, 1.0, 10.0),
        "langevin": _bounded("langevin", float_in, 0.0, 1.0),
        "replay": _bounded("replay", float_in, 0.0, 0.9),
        "final_only": _flag("final_only"),
        "detach": _flag("detach"),
        "start_std": _bounded("start_std", float_in, 0.01, 2.0),
        "seed": _bounded("seed", int_in, 0, MAX_SEED),
    }
    state, errors = permalink.validated(values, checks, defaults)
    try:
        playground_recipe(*(state[k] for k in PLAYGROUND_KEYS))
    except ValueError as err:
        return defaults, [*errors, str(err)]
    return state, errors


def playground_outputs(values: dict, unknown=(), intro: str = "") -> tuple:
    """A link's (or a guide preset's) values → the status line, then the 15 levers
    (PLAYGROUND_KEYS order). Nothing is trained: training starts with the Train button."""
    state, errors = playground_state(values)
    parts = (intro, permalink.notice(errors, list(unknown)), PLAYGROUND_NOTE)
    return ("\n\n".join(p for p in parts if p), *(state[k] for k in PLAYGROUND_KEYS))


def playground_loader() -> Callable:
    """The Playground's page load: a ?tab=playground link fills the levers (no training)."""

    return _link_loader("playground", 1 + len(PLAYGROUND_KEYS), playground_outputs)


# ---- Landscape: the Point EBT section ---------------------------------------------------------
POINTS_KEYS = ("checkpoint", "task", "context", "steps", "samples", "seed", "resolution")
permalink.register("points", POINTS_KEYS)  # its show handler's parameters (a shipped checkpoint)


def points_state(section, values: dict) -> tuple[dict, list[str]]:
    """A link's Point EBT values, each checked like its widget's (bad → default + message)."""
    from app.landscape_points import DEFAULT_RESOLUTION, TASK_CHOICES
    from app.point_runs import context_text, parse_context, probe_context

    def context_check(value):
        if not isinstance(value, str):
            raise ValueError(f"context must be points 'x, y; x, y; …', got {value!r}")
        parse_context(value)  # raises a ValueError naming the context
        return value

    names = list(section.registry.point_ebts)
    defaults = dict(checkpoint=names[0] if names else None, task="fork", steps=8, samples=16)
    defaults |= dict(context=context_text(probe_context("fork")), seed=0)
    defaults |= dict(resolution=DEFAULT_RESOLUTION)
    checks = {
        "checkpoint": _choice("checkpoint", names),
        "task": _choice("task", TASK_CHOICES),
        "context": context_check,
        "steps": _bounded("steps", int_in, 1, LIMITS["steps"]),
        "samples": _bounded("samples", int_in, 1, LIMITS["point_samples"]),
        "seed": _bounded("seed", int_in, 0, MAX_SEED),
        "resolution": _bounded("resolution", int_in, 3, LIMITS["resolution"]),
    }
    return permalink.validated(values, checks, defaults)


def points_outputs(section, values: dict, unknown=(), intro: str = "") -> tuple:
    """A link's (or a guide preset's) values → the viewer's 6 outputs (that view, thought),
    then the 7 controls (POINTS_KEYS order); messages go above the summary."""
    state, errors = points_state(section, values)
    args = [state[k] for k in POINTS_KEYS]
    try:
        views = list(section.show(*args, None))
    except gr.Error as err:
        errors.append(str(err))
        views = list(section.first_view())
    message = "\n\n".join(m for m in (intro, permalink.notice(errors, list(unknown))) if m)
    if message and isinstance(views[3], str):
        views[3] = f"{message}\n\n{views[3]}"
    return (*views, *args)


def points_loader(section) -> Callable:
    """The Point EBT section's page load: a ?tab=points link's view, else nothing (the first
    view comes when the section is opened: `on_open`)."""

    return _link_loader("points", 6 + len(POINTS_KEYS), partial(points_outputs, section))

"""The Landscape tab: the energy on a plane through one token's descent, and all N paths.

The tab opens on the landscape of the token selected on the Think tab ("Show landscape" replays
the stored run: no thinking). Stable API (gradio_client), no hidden state:

    /landscape(prompt, checkpoint, token, resolution, method, steps, samples, seed)

thinks `prompt` itself (the checkpoint's default ThinkConfig with steps, samples and seed
overridden) up to generated token `token`, then slices the energy through that token's descent
(`method` "pca" or "random" plane, `resolution`² grid) and projects the N paths with PCA.
The UMAP projection is a UI-only control (umap-learn is optional and slow to import).
"""

from __future__ import annotations

import dataclasses

import gradio as gr

import ebt_core as ebt
from app import figures
from app.inputs import LIMITS, MAX_SEED, check_think_work, int_in, user_errors
from app.models import compute, ebt_model
from ebt_core.landscapes import MAX_RESOLUTION, METHODS

MIN_RESOLUTION = 3  # ebt.landscape's smallest grid
DEFAULT_RESOLUTION = 41
PROJECTIONS = ("pca", "umap")
INTRO = """**Energy landscape of one generated character.** The descent moves a candidate's logit
state through a V-dimensional space; these charts slice the energy along a plane through the
candidates' states (PCA of the paths, or random directions) and draw the paths on it. Each path
point shows its recorded energy and its distance from the plane (hover): far from the plane, the
slice is only an approximation of what the descent saw."""


# ---- validation -----------------------------------------------------------------------------
def _slice_args(resolution, method, seed) -> tuple[int, str, int]:
    resolution = int_in("resolution", resolution, MIN_RESOLUTION, MAX_RESOLUTION)
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    return resolution, method, int_in("seed", seed, 0, MAX_SEED)


def _projection(method) -> str:
    if not isinstance(method, str) or method not in PROJECTIONS:
        raise ValueError(f"projection must be one of {list(PROJECTIONS)}, got {method!r}")
    return method


def _check_room(model: ebt.TextEBT, prompt, token: int) -> None:
    """Token `token` needs prompt + token + 1 characters of context; say so in terms of token."""
    room = model.config.max_context - len(prompt) if isinstance(prompt, str) else None
    if room is not None and token >= room:
        raise ValueError(
            f"token must be below {room} after a prompt of {len(prompt)} characters (the "
            f"model's context is {model.config.max_context} characters), got {token}"
        )


# ---- views: a run and one of its tokens → widget values -------------------------------------
def projection_view(run: ebt.ThinkRun, token: int, projection: str, seed: int) -> tuple:
    """Projection of the N candidates' paths and its summary."""
    coords = ebt.project_paths(run, token, projection, seed)  # (N, S+1, 2)
    return (
        figures.path_projection(run, token, coords, projection),
        figures.summarize_projection(run, token, coords, projection),
    )


def landscape_view(model, run, token, resolution, method, seed, projection, progress=None) -> tuple:
    """Every Landscape output for token `token` of `run`, and the state that names what is
    shown (so the Projection control can redraw it)."""
    if progress is not None:
        progress(0.3, desc=f"Energy on a {resolution}×{resolution} grid")
    scape = compute(ebt.landscape, model, run, token, resolution, method, seed=seed)
    if progress is not None:
        progress(0.8, desc="Projecting the paths" + (" (UMAP)" if projection == "umap" else ""))
    return (
        figures.landscape_contour(run, scape),
        figures.landscape_surface(run, scape),
        figures.summarize_landscape(run, scape),
        figures.off_plane_plot(run, scape),
        figures.summarize_off_plane(run, scape),
        *projection_view(run, token, projection, seed),
        {"run": run.to_dict(), "token": token},
    )


def initial_view(run_dict) -> tuple | None:
    """The startup run's first token at the default settings (computed once, at build time)."""
    if not run_dict:
        return None
    try:
        run = ebt.ThinkRun.from_dict(run_dict)
        model = ebt_model(run.checkpoint)
        return landscape_view(model, run, 0, DEFAULT_RESOLUTION, "pca", 0, "pca")
    except ValueError as err:
        print(f"EBT Explorer: no precomputed landscape ({err})")
        return None


# ---- handlers -------------------------------------------------------------------------------
def landscape(
    prompt,
    checkpoint,
    token,
    resolution,
    method,
    steps,
    samples,
    seed,
    progress=gr.Progress(),  # noqa: B008 - gradio's way to ask for a progress tracker
):
    """Think `prompt` up to generated token `token` (the checkpoint's default ThinkConfig with
    steps, samples and seed overridden), then the energy slice through that token's descent and
    the PCA projection of its N candidates' paths."""
    with user_errors():
        model = ebt_model(checkpoint)
        token = int_in("token", token, 0, LIMITS["max_new_tokens"] - 1)
        resolution, method, seed = _slice_args(resolution, method, seed)
        config = dataclasses.replace(
            model.think_defaults,
            steps=int_in("steps", steps, 1, LIMITS["steps"]),
            samples=int_in("samples", samples, 1, LIMITS["samples"]),
            seed=seed,
        )
        _check_room(model, prompt, token)
        check_think_work(config, token + 1)
        progress(0, desc="Thinking")
        run = compute(ebt.think, model, prompt, config, max_new_tokens=token + 1)
        return landscape_view(model, run, token, resolution, method, seed, "pca", progress)


def show(run_dict, token, resolution, method, seed, projection, progress=gr.Progress()):  # noqa: B008
    """The Think tab's run (no thinking): its selected token's landscape."""
    with user_errors():
        if not run_dict:
            raise ValueError("there is no run to show yet: press Think on the Think tab first")
        run = ebt.ThinkRun.from_dict(run_dict)
        model = ebt_model(run.checkpoint)
        token = int_in("token", 0 if token is None else token, 0, len(run.tokens) - 1)
        resolution, method, seed = _slice_args(resolution, method, seed)
        projection = _projection(projection)
        return landscape_view(model, run, token, resolution, method, seed, projection, progress)


def reproject(shown, projection, seed, progress=gr.Progress()):  # noqa: B008
    """Redraw the projection of the landscape on show with the Projection control's method."""
    if not shown:
        return gr.skip()
    with user_errors():
        projection = _projection(projection)
        seed = int_in("seed", seed, 0, MAX_SEED)
        if projection == "umap":
            progress(0, desc="UMAP (its first import takes ~20 s)")
        run = ebt.ThinkRun.from_dict(shown["run"])
        return projection_view(run, shown["token"], projection, seed)


def redraw_unless_pca(shown, projection, seed, progress=gr.Progress()):  # noqa: B008
    """After /landscape (which draws PCA): redraw the projection only if UMAP is selected."""
    return gr.skip() if projection == "pca" else reproject(shown, projection, seed, progress)


def think_defaults(checkpoint):
    """The Think-again controls: the checkpoint's default steps, and its default samples but at
    least 4 (a display default: several paths make a more telling landscape)."""
    with user_errors():
        config = ebt_model(checkpoint).think_defaults
    return min(config.steps, LIMITS["steps"]), min(max(config.samples, 4), LIMITS["samples"])


# ---- layout and events ----------------------------------------------------------------------
def _slider(lo: int, hi: int, value: int, label: str) -> gr.Slider:
    return gr.Slider(lo, hi, value=value, step=1, precision=0, label=label)


def build(prompt, checkpoint, token, run_state) -> None:
    """Lay out the tab inside the current gr.Tab and wire its events (api_name="landscape").

    prompt, checkpoint, token: the Think tab's widgets; run_state: its run (a ThinkRun dict).
    """
    first = initial_view(run_state.value) or (None,) * 8
    steps0, samples0 = think_defaults(checkpoint.value) if checkpoint.value else (8, 4)
    gr.Markdown(INTRO)
    with gr.Row():
        resolution = _slider(MIN_RESOLUTION, MAX_RESOLUTION, DEFAULT_RESOLUTION, "Resolution")
        method = gr.Radio(
            [("PCA of the paths", "pca"), ("Random directions", "random")],
            value="pca",
            label="Plane",
        )
        seed = gr.Number(0, minimum=0, maximum=MAX_SEED, precision=0, label="Seed")
        projection = gr.Radio(
            [("PCA", "pca"), ("UMAP (optional package)", "umap")], value="pca", label="Projection"
        )
    show_btn = gr.Button("Show landscape of the Think tab's token", variant="primary")
    with gr.Accordion("Think again here (the /landscape API)", open=False):
        gr.Markdown(
            "Thinks the Think tab's prompt with the checkpoint's default settings except the "
            "steps, samples and seed chosen here, up to the given token, then shows its landscape."
        )
        with gr.Row():
            api_token = _slider(0, LIMITS["max_new_tokens"] - 1, 0, "Token (position)")
            steps = _slider(1, LIMITS["steps"], steps0, "Steps")
            samples = _slider(1, LIMITS["samples"], samples0, "Samples N")
        api_btn = gr.Button("Think & show landscape")
    with gr.Row():
        contour = gr.Plot(first[0], label="Energy slice (contour)")
        surface = gr.Plot(first[1], label="Energy slice (3-D surface)")
    slice_md = gr.Markdown(first[2])
    with gr.Row():
        with gr.Column():
            off_plane = gr.Plot(first[3], label="Off-plane distance")
            off_md = gr.Markdown(first[4])
        with gr.Column():
            paths = gr.Plot(first[5], label="Candidate paths")
            paths_md = gr.Markdown(first[6])
    shown = gr.State(first[7])

    outputs = [contour, surface, slice_md, off_plane, off_md, paths, paths_md, shown]
    private = dict(api_visibility="private", preprocess=False)
    redraw = dict(inputs=[shown, projection, seed], outputs=[paths, paths_md], **private)
    api_inputs = [prompt, checkpoint, api_token, resolution, method, steps, samples, seed]
    api_btn.click(landscape, api_inputs, outputs, api_name="landscape", preprocess=False).success(
        redraw_unless_pca, **redraw
    )
    show_inputs = [run_state, token, resolution, method, seed, projection]
    show_btn.click(show, show_inputs, outputs, **private)
    projection.input(reproject, **redraw)
    checkpoint.change(think_defaults, checkpoint, [steps, samples], api_visibility="private")

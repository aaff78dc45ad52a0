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
import importlib.util
import threading
from collections.abc import Callable
from types import SimpleNamespace

import gradio as gr

import ebt_core as ebt
from app import figures, tab_links
from app.inputs import LIMITS, MAX_SEED, check_think_work, int_in, user_errors
from app.page_load import PageLoad
from app.runtime import Registry, compute

MIN_RESOLUTION = 3  # ebt.landscape's smallest grid
DEFAULT_RESOLUTION = 41
# UMAP is offered only where umap-learn is installed (no extra installs it): a radio left on an
# option that always fails would make every later "Show landscape" fail too (issue 16).
HAS_UMAP = importlib.util.find_spec("umap") is not None
PROJECTIONS = ("pca", "umap") if HAS_UMAP else ("pca",)
INTRO = """**Energy landscape of one generated character.** The descent moves a candidate's logit
state through a V-dimensional space; these charts slice the energy along a plane through the
candidates' states (PCA of the paths, or random directions) and draw the paths on it. Each path
point shows its recorded energy and its distance from the plane (hover): far from the plane, the
slice is only an approximation of what the descent saw."""
N_OUTPUTS = (
    8  # contour, surface, slice summary, off-plane plot and summary, paths and summary, shown
)


# ---- validation (the app's limits; ebt.landscape checks the method and the plane) -----------
def _slice_args(resolution, seed) -> tuple[int, int]:
    resolution = int_in("resolution", resolution, MIN_RESOLUTION, LIMITS["resolution"])
    return resolution, int_in("seed", seed, 0, MAX_SEED)


def _projection(method) -> str:
    if method == "umap" and not HAS_UMAP:
        raise ValueError(
            "projection 'umap' needs the optional umap-learn package (pip install umap-learn), "
            "which this server does not have; use 'pca'"
        )
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


# ---- handlers -------------------------------------------------------------------------------
PROGRESS = gr.Progress()  # gradio spots this default and reports progress per event


class LandscapeTab:
    """The tab's handlers over one registry; `first_run` gives the Think tab's first run."""

    def __init__(self, registry: Registry, first_run: Callable[[], dict | None]):
        self.registry = registry
        self.first_run = first_run
        self._first: dict = {}
        self._first_lock = threading.Lock()

    def landscape(self, prompt, checkpoint, token, resolution, method, steps, samples, seed,
                  progress=PROGRESS):  # fmt: skip
        """Think `prompt` up to generated token `token` (the checkpoint's default ThinkConfig
        with steps, samples and seed overridden), then the energy slice through that token's
        descent and the PCA projection of its N candidates' paths."""
        with user_errors():
            model = self.registry.thinker(checkpoint)  # a text or a whole-answer EBT
            answer = isinstance(model, ebt.AnswerEBT)
            last = model.config.answer_length - 1 if answer else LIMITS["max_new_tokens"] - 1
            token = int_in("token", token, 0, last)
            resolution, seed = _slice_args(resolution, seed)
            config = dataclasses.replace(
                model.think_defaults,
                steps=int_in("steps", steps, 1, LIMITS["steps"]),
                samples=int_in("samples", samples, 1, LIMITS["samples"]),
                seed=seed,
            )
            if answer:  # one joint descent of the whole answer, whatever the position
                model.task.check_prompt(prompt)
            else:
                _check_room(model, prompt, token)
            check_think_work(config, 1 if answer else token + 1)
            progress(0, desc="Thinking")
            run = compute(ebt.think, model, prompt, config, max_new_tokens=token + 1)
            return landscape_view(model, run, token, resolution, method, seed, "pca", progress)

    def show(self, run_dict, token, resolution, method, seed, projection, progress=PROGRESS):
        """The Think tab's run (no thinking): its selected token's landscape."""
        with user_errors():
            if not run_dict:
                raise ValueError("there is no run to show yet: press Think on the Think tab first")
            run = ebt.ThinkRun.from_dict(run_dict)
            model = self.registry.thinker(run.checkpoint)
            token = int_in("token", 0 if token is None else token, 0, len(run.tokens) - 1)
            resolution, seed = _slice_args(resolution, seed)
            projection = _projection(projection)
            return landscape_view(model, run, token, resolution, method, seed, projection, progress)

    @staticmethod
    def reproject(shown, projection, seed, progress=PROGRESS):
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

    @staticmethod
    def redraw_unless_pca(shown, projection, seed, progress=PROGRESS):
        """After /landscape (which draws PCA): redraw the projection only if UMAP is selected."""
        return (
            gr.skip()
            if projection == "pca"
            else LandscapeTab.reproject(shown, projection, seed, progress)
        )

    def think_defaults(self, checkpoint):
        """The Think-again controls: the checkpoint's default steps, and its default samples but
        at least 4 (a display default: several paths make a more telling landscape)."""
        with user_errors():
            config = self.registry.think_defaults(checkpoint)
        return min(config.steps, LIMITS["steps"]), min(max(config.samples, 4), LIMITS["samples"])

    def first_view(self) -> tuple:
        """The first run's first token at the default settings: computed when the tab is first
        opened or by the warm-up, then shared; skipped when there is no first run."""
        with self._first_lock:
            if "views" not in self._first:
                self._first["views"] = self._first_landscape()
        views = self._first["views"]
        return views if views is not None else (gr.skip(),) * N_OUTPUTS

    def _first_landscape(self) -> tuple | None:
        run_dict = self.first_run()
        if not run_dict:
            return None
        try:
            run = ebt.ThinkRun.from_dict(run_dict)
            model = self.registry.thinker(run.checkpoint)
            return landscape_view(model, run, 0, DEFAULT_RESOLUTION, "pca", 0, "pca")
        except ValueError as err:
            print(f"EBT Explorer: no precomputed landscape ({err})")
            return None

    # ---- layout and events ------------------------------------------------------------------
    def build(self, loads: PageLoad, think: SimpleNamespace, page: gr.Tab) -> None:
        """Lay out the tab inside the current gr.Tab and wire its events (api_name="landscape").
        `think`: the Think tab's widgets (prompt, checkpoint, token, run_state); `page`: the
        gr.Tab whose opening shows the first view."""
        default = think.checkpoint.value
        gr.Markdown(INTRO)
        w = _controls(*(self.think_defaults(default) if default else (8, 4)))
        with gr.Row():
            contour = gr.Plot(label="Energy slice (contour)")
            surface = gr.Plot(label="Energy slice (3-D surface)")
        slice_md = gr.Markdown()
        with gr.Row():
            with gr.Column():
                off_plane = gr.Plot(label="Off-plane distance")
                off_md = gr.Markdown()
            with gr.Column():
                paths = gr.Plot(label="Candidate paths")
                paths_md = gr.Markdown()
        shown = gr.State(None)
        outputs = [contour, surface, slice_md, off_plane, off_md, paths, paths_md, shown]
        self._wire(loads, think, w, outputs)
        opened = tab_links.on_open("landscape", self.first_view, N_OUTPUTS)
        page.select(opened, shown, outputs, api_visibility="private")

    def _wire(
        self, loads: PageLoad, think: SimpleNamespace, w: SimpleNamespace, outputs: list
    ) -> None:
        private = dict(api_visibility="private", preprocess=False)
        shown, paths, paths_md = outputs[-1], outputs[5], outputs[6]
        redraw = dict(inputs=[shown, w.projection, w.seed], outputs=[paths, paths_md], **private)
        api_inputs = [think.prompt, think.checkpoint, w.api_token, w.resolution, w.method]
        api_inputs += [w.steps, w.samples, w.seed]
        api_event = w.api_btn.click(
            self.landscape, api_inputs, outputs, api_name="landscape", preprocess=False
        )
        api_event.success(self.redraw_unless_pca, **redraw)
        show_inputs = [think.run_state, think.token, w.resolution, w.method, w.seed, w.projection]
        show_event = w.show_btn.click(self.show, show_inputs, outputs, **private)
        for event in (api_event, show_event):  # a failure clears the charts: nothing stale
            event.failure(failed_view, None, outputs, api_visibility="private")
        w.projection.input(self.reproject, **redraw)
        controls = [w.steps, w.samples]
        think.checkpoint.change(
            self.think_defaults, think.checkpoint, controls, api_visibility="private"
        )
        # page load: a ?tab=landscape link's landscape (app/tab_links.py); opening: first view
        link_out = [think.prompt, think.checkpoint, w.api_token, w.resolution, w.method]
        link_out += [w.steps, w.samples, w.seed]  # tab_links.LANDSCAPE_KEYS order
        load = tab_links.landscape_loader(self, think)
        loads.add(load, [*outputs, *link_out])
        with w.link_row:
            tab_links.copy_link("landscape", link_out)


def failed_view() -> tuple:
    """Every output after a failed request: charts emptied, the slice summary saying why."""
    stale = (
        "⚠ **The landscape failed** (the message is shown at the top right); the previous "
        "charts were cleared so that they are not mistaken for this request's."
    )
    return (None, None, stale, None, "", None, "", None)


def _slider(lo: int, hi: int, value: int, label: str) -> gr.Slider:
    return gr.Slider(lo, hi, value=value, step=1, precision=0, label=label)


def _controls(steps: int, samples: int) -> SimpleNamespace:
    w = SimpleNamespace()
    with gr.Row():
        w.resolution = _slider(
            MIN_RESOLUTION, LIMITS["resolution"], DEFAULT_RESOLUTION, "Resolution"
        )
        w.method = gr.Radio(
            [("PCA of the paths", "pca"), ("Random directions", "random")],
            value="pca",
            label="Plane",
        )
        w.seed = gr.Number(0, minimum=0, maximum=MAX_SEED, precision=0, label="Seed")
        umap = [("UMAP (optional package)", "umap")] if HAS_UMAP else []
        w.projection = gr.Radio([("PCA", "pca"), *umap], value="pca", label="Projection")
    w.show_btn = gr.Button("Show landscape of the Think tab's token", variant="primary")
    w.link_row = gr.Row()  # the Copy link button (app/tab_links.py)
    with gr.Accordion("Think again here (the /landscape API)", open=False):
        gr.Markdown(
            "Thinks the Think tab's prompt with the checkpoint's default settings except the "
            "steps, samples and seed chosen here, up to the given token, then shows its landscape."
        )
        with gr.Row():
            w.api_token = _slider(0, LIMITS["max_new_tokens"] - 1, 0, "Token (position)")
            w.steps = _slider(1, LIMITS["steps"], steps, "Steps")
            w.samples = _slider(1, LIMITS["samples"], samples, "Samples N")
        w.api_btn = gr.Button("Think & show landscape")
    return w

"""Exact landscapes of point EBTs: a viewer (picture, contour, surface, step slider, Play) shared
by the Landscape tab's "Point EBT" section and the Playground, and that section's handlers.

A point EBT's candidate is the next point, so the energy over the candidate plane is drawn
whole and every candidate's path lies on it: marbles roll down as the step slider moves (the
server redraws each step: gr.Plot drops Plotly animation frames). The picture is a gr.Image
because gr.Plot has no click event in Gradio 6: `gr.Image.select` delivers the clicked pixel
(`gr.SelectData.index`), which `figures.point_image.Frame` maps exactly to a candidate point,
and a new descent starts there.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from types import SimpleNamespace

import gradio as gr
import numpy as np

import ebt_core as ebt
from app import guide, tab_links
from app.figures import points as point_figures
from app.figures.point_image import Frame, landscape_image
from app.inputs import LIMITS, MAX_SEED, int_in, user_errors
from app.page_load import PageLoad
from app.point_runs import (
    context_text,
    fresh_context,
    landscape_of,
    modes_of,
    parse_context,
    probe_context,
)
from app.runtime import Registry, compute

PLAYGROUND = "your Playground model"
TASK_CHOICES = ["fork", "trifork", "circle", "spiral"]
DEFAULT_RESOLUTION = 41
INTRO = """**Exact energy landscape of a point EBT.** Its candidate is the next point of a 2-D
sequence, so the energy over the whole candidate plane is drawn, not a slice: dark = low
energy (the picture's colour bands are square-root spaced to show the basins). Black dots are the
context's points, white marbles the N candidates at the chosen descent step (red = the one
kept), × the task's true next points, the orange diamond the regression baseline's prediction
(at a fork: the average of the branches). **Click the picture to start a new descent there.**"""


@dataclass
class PointView:
    """What a viewer shows: the run, its landscape, and where they came from (`source`: a
    checkpoint name or PLAYGROUND; the model is looked up again for a click)."""

    source: str
    task: str | None
    run: ebt.ThinkRun
    scape: ebt.Landscape
    baseline: np.ndarray | None
    note: str = ""
    start: tuple[float, float] | None = None
    # the sessions in which a click replaced this view: the timer's ticks that the page sent
    # before the new view reached it still carry this one, and must not draw it (or stop the
    # timer) over the new descent (seen in the browser test: the old view's last step ended on
    # screen). Per session, because one view object (a tab's first view) may be shown to many.
    superseded_in: set = field(default_factory=set)

    def superseded(self, request: gr.Request | None) -> bool:
        """Whether a click replaced this view in `request`'s session (never without one: a
        handler called directly has no page whose ticks could arrive late)."""
        return request is not None and _session(request) in self.superseded_in

    @property
    def last_step(self) -> int:
        return self.run.tokens[0].steps_used


def _session(request: gr.Request) -> str:
    """The visitor's session id."""
    return getattr(request, "session_hash", None) or ""


def point_config(model, steps, samples, seed) -> ebt.ThinkConfig:
    """The checkpoint's default ThinkConfig with the viewer's steps, samples and seed."""
    return dataclasses.replace(
        getattr(model, "think_defaults", None) or ebt.ThinkConfig(),
        steps=int_in("steps", steps, 1, LIMITS["steps"]),
        samples=int_in("samples", samples, 1, LIMITS["point_samples"]),
        seed=int_in("seed", seed, 0, MAX_SEED),
    )


def think_view(model, source, task, context, config, resolution, baseline=None) -> PointView:
    """Think one point after `context` and compute its exact landscape (on the model threads)."""
    resolution = int_in("resolution", resolution, 3, LIMITS["resolution"])
    run = compute(ebt.think, model, context, config, 1)
    scape = compute(landscape_of, model, run, resolution, modes_of(task, context))
    guess = None if baseline is None else compute(ebt.predict_point, baseline, context)
    return PointView(source, task, run, scape, guess)


def _title(view: PointView, step: int) -> str:
    name = view.source if view.source != PLAYGROUND else "Playground model"
    return f"{name}: step {step} of {view.last_step}"


def render(view: PointView, step: int) -> tuple:
    """Picture, contour, surface and summary of `view` at descent step `step`."""
    step = max(0, min(int(step), view.last_step))
    title = _title(view, step) + " · click to descend from a point"
    context = view.run.context(0)
    picture, _ = landscape_image(view.scape, step, title, view.baseline, view.start, context)
    summary = point_figures.summarize_points(view.scape, step, view.baseline)
    return (
        picture,
        point_figures.point_contour(view.scape, step, _title(view, step), view.baseline, context),
        point_figures.point_surface(view.scape, step, _title(view, step)),
        f"{view.note} {summary}".strip(),
    )


def view_outputs(view: PointView, step: int | None = None) -> tuple:
    """Every viewer output for a fresh view (at its final step unless `step` is given)."""
    step = view.last_step if step is None else step
    return (
        *render(view, step),
        gr.Slider(minimum=0, maximum=view.last_step, value=step),
        view,
    )


def clicked_view(view: PointView, model, index) -> PointView | None:
    """A new descent from the candidate point under pixel `index` ([x, y] of the picture):
    one candidate, the view's steps and step size; None outside the plot area."""
    px, py = (int(v) for v in index)
    start = Frame.of(view.scape).pixel_to_point(px, py)
    if start is None:
        return None
    config = dataclasses.replace(view.run.config, samples=1)
    run = compute(ebt.think, model, view.run.context(0), config, 1, start=[start])
    scape, resolution = view.scape, view.scape.energy.shape[0]
    window = ((scape.a[0], scape.b[0]), (scape.a[-1], scape.b[-1]))
    scape = compute(landscape_of, model, run, resolution, scape.modes, window)
    end = run.tokens[0].states[0, -1]
    note = (
        f"Descent from the clicked point ({start[0]:.3f}, {start[1]:.3f}) (pixel {px}, {py}) "
        f"to ({end[0]:.3f}, {end[1]:.3f})."
    )
    fresh = set()  # its own: the old view is the one marked superseded, not this one
    return dataclasses.replace(
        view, run=run, scape=scape, note=note, start=start, superseded_in=fresh
    )


class PointViewer:
    """The widgets of one viewer and its replay events; `model_of(view, trained)` gives the
    model behind a view (for a click)."""

    def __init__(self, model_of):
        self.model_of = model_of

    def build(self, name: str) -> SimpleNamespace:
        """The widgets; `name` prefixes their elem_id (the picture is `{name}-picture`)."""
        w = SimpleNamespace()
        with gr.Row():
            w.picture = gr.Image(
                label="Exact landscape: click to start a descent there", format="png",
                interactive=False, buttons=["download"], height=540,
                elem_id=f"{name}-picture",
            )  # fmt: skip
            with gr.Column():
                w.summary = gr.Markdown(elem_id=f"{name}-summary")
                w.step = gr.Slider(0, 1, value=0, step=1, precision=0, label="Descent step")
                with gr.Row():
                    w.play = gr.Button("▶ Play", size="sm")
                    w.pause = gr.Button("Pause", size="sm")
        with gr.Row():
            w.contour = gr.Plot(label="Exact landscape (contour)")
            w.surface = gr.Plot(label="Exact landscape (surface)")
        w.timer = gr.Timer(0.5, active=False)
        w.view = gr.State(None)
        w.outputs = [w.picture, w.contour, w.surface, w.summary, w.step, w.view]
        return w

    def wire(self, w: SimpleNamespace, trained) -> None:
        # one at a time and in order: a tick of the old descent still running when a click
        # starts a new one must not land after it (stopping the timer on the old summary)
        private = dict(api_visibility="private", concurrency_limit=1,
                       concurrency_id=f"{id(w)}-viewer")  # fmt: skip
        shown = [w.picture, w.contour, w.surface, w.summary]
        # the animation's frames show no loading overlay: an overlay over the picture would
        # swallow a click meant to start a new descent (the picture is busy every tick)
        quiet = dict(private, show_progress="hidden")
        w.step.input(self.show_step, [w.view, w.step], shown, trigger_mode="always_last", **quiet)
        w.play.click(self.play, [w.view, w.step], [w.timer, w.step, *shown], **quiet)
        w.pause.click(lambda: gr.Timer(active=False), None, w.timer, **quiet)
        w.timer.tick(self.tick, [w.view, w.step], [w.timer, w.step, *shown], **quiet)
        w.picture.select(self.click, [w.view, trained], [w.timer, *w.outputs], **private)

    @staticmethod
    def show_step(view, step, request: gr.Request = None):
        if view is None or view.superseded(request):
            return gr.skip()
        return render(view, step)

    @staticmethod
    def play(view, step):
        """Start the timer, from step 0 when the marbles already sit at the end."""
        if view is None:
            return gr.skip()
        step = 0 if step >= view.last_step else int(step)
        return gr.Timer(active=True), step, *render(view, step)

    @staticmethod
    def tick(view, step, request: gr.Request = None):
        """One step forward per tick; the timer stops at the final step."""
        if view is None:
            return gr.Timer(active=False), *(gr.skip(),) * 5
        if view.superseded(request):  # a tick of the descent a click replaced: leave it alone
            return (gr.skip(),) * 6
        step = min(int(step) + 1, view.last_step)
        return gr.Timer(active=step < view.last_step), step, *render(view, step)

    def click(self, view, trained, evt: gr.SelectData, request: gr.Request = None):
        """A click on the picture: descend from that point and play the descent from step 0."""
        with user_errors():
            if view is None:
                raise ValueError("there is no landscape to click yet: press Think first")
            new = clicked_view(view, self.model_of(view.source, trained), evt.index)
        if new is None:
            return gr.skip()
        if request is not None:
            view.superseded_in.add(_session(request))
        return gr.Timer(active=True), *view_outputs(new, 0)


class PointLandscape:
    """The Landscape tab's "Point EBT" section: a shipped point EBT or this visitor's
    Playground model thinks one point after a context; its exact landscape is shown."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self.viewer = PointViewer(self.model_of)
        self._first: dict = {}
        self._first_lock = threading.Lock()

    def model_of(self, source, trained):
        """The point EBT behind `source` (a checkpoint of this app, or PLAYGROUND)."""
        if source == PLAYGROUND:
            if trained is None:
                raise ValueError("there is no Playground model yet: train one on the Playground")
            return trained.model
        return self.registry.point_ebt(source)

    def show(self, checkpoint, task, context, steps, samples, seed, resolution, trained):
        """Think the point after `context` and show its exact landscape, with the task's modes
        and (if this app has one for the task) the regression baseline's prediction."""
        with user_errors():
            model = self.model_of(checkpoint, trained)
            if task not in TASK_CHOICES:
                raise ValueError(f"task must be one of {TASK_CHOICES}, got {task!r}")
            config = point_config(model, steps, samples, seed)
            baseline = self.registry.point_regressor(task)
            view = think_view(
                model, checkpoint, task, parse_context(context), config, resolution, baseline
            )
            return view_outputs(view)

    @staticmethod
    def new_context(task, seed):
        with user_errors():
            return context_text(fresh_context(task, int_in("seed", seed, 0, MAX_SEED)))

    def first_view(self):
        """The default checkpoint at the probe fork context: computed when first opened."""
        with self._first_lock:
            if "outputs" not in self._first:
                name = next(iter(self.registry.point_ebts), None)
                self._first["outputs"] = None if name is None else self.show(
                    name, "fork", context_text(probe_context("fork")), 8, 16, 0,
                    DEFAULT_RESOLUTION, None,
                )  # fmt: skip
        return self._first["outputs"] or (gr.skip(),) * 6

    def build(self, loads: PageLoad, trained, page: gr.Tab) -> SimpleNamespace:
        """Lay out the section inside the current tab and wire its events (all private);
        opening `page` (its gr.Tab) shows the first view."""
        gr.Markdown(INTRO)
        choices = [*self.registry.point_ebts, PLAYGROUND]
        with gr.Row():
            checkpoint = gr.Dropdown(choices, value=choices[0], label="Point EBT")
            task = gr.Dropdown(TASK_CHOICES, value="fork", label="Task (true modes, contexts)")
            seed = gr.Number(0, minimum=0, maximum=MAX_SEED, precision=0, label="Seed")
            new = gr.Button("New context of the task", size="sm")
        context = gr.Textbox(
            context_text(probe_context("fork")), label="Context points (x, y; x, y; …)"
        )
        with gr.Row():
            steps = gr.Slider(1, LIMITS["steps"], value=8, step=1, label="Steps")
            samples = gr.Slider(1, LIMITS["point_samples"], value=16, step=1, label="Samples N")
            resolution = gr.Slider(3, LIMITS["resolution"], value=DEFAULT_RESOLUTION, step=1,
                                   label="Resolution")  # fmt: skip
        button = gr.Button("Think & show the exact landscape", variant="primary")
        controls = [checkpoint, task, context, steps, samples, seed, resolution]  # POINTS_KEYS
        tab_links.copy_link("points", controls)
        guide_box = gr.Column()
        w = self.viewer.build("points")
        private = dict(api_visibility="private")
        new.click(self.new_context, [task, seed], context, **private)
        button.click(self.show, [*controls, trained], w.outputs, **private)
        self.viewer.wire(w, trained)
        if self.registry.point_ebts:  # page load: a ?tab=points link's view; opening: first
            load_out = [*w.outputs, *controls]
            loads.add(tab_links.points_loader(self), load_out)
            opened = tab_links.on_open("points", self.first_view, len(w.outputs))
            page.select(opened, w.view, w.outputs, **private)
            with guide_box:  # presets are applied like links
                guide.buttons("points", list(self.registry.point_ebts), self.preset, load_out)
        return w

    def preset(self, values: dict, intro: str = "") -> tuple:
        """A guide preset (a link's values) → the view and the controls."""
        return tab_links.points_outputs(self, values, intro=intro)

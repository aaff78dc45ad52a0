"""The Playground tab: train a tiny point EBT live with the paper's recipe levers, watch its loss
and its exact landscape at a fixed probe context change every few iterations, stop it any
time, think with it, and download it as a checkpoint zip (unzip → `ebt.load(folder)`).

Stable API (gradio_client; the trained model lives in the caller's session, as gr.State):
    /playground_train(task, objective, iters, lr, samples, steps_min, steps_max, step_size,
                      alpha_jitter, langevin, replay, final_only, detach, start_std, seed)
        → status, loss curve, probe landscape, check on fresh contexts, checkpoint zip
    /playground_think(context, steps, samples, seed) → picture, contour, surface, summary, step

A training runs on one of the app's two model threads (the other keeps serving everyone
else), one at a time app-wide; it stops after LIMITS["train_seconds"] and keeps what it learnt.
"""

from __future__ import annotations

import queue
from types import SimpleNamespace

import gradio as gr

from app import guide, tab_links
from app.figures import points as point_figures
from app.inputs import LIMITS, user_errors
from app.landscape_points import (
    PLAYGROUND,
    TASK_CHOICES,
    PointViewer,
    point_config,
    think_view,
    view_outputs,
)
from app.live_training import (
    CHECK_CONTEXTS,
    SLOT,
    LiveTraining,
    Trained,
    discard,
    export_zip,
    playground_recipe,
    task_check,
)
from app.page_load import PageLoad
from app.point_runs import PROBE, context_text, fresh_context, parse_context, probe_context
from app.runtime import Registry, compute
from ebt_core.points.recipe import PointRecipe

INTRO = """**Train a point EBT live.** A tiny model (2 blocks, 32 wide) learns to continue 2-D
point sequences; every few iterations the loss and the exact energy landscape at a fixed probe
context are redrawn (× = the true next points, white = the model's candidates after 8 descent
steps). Try the **objective**: the paper's plain loss (unroll the descent, pull the final
candidate to the target) collapses a fork to the midpoint of its two branches, like the
regression baseline; winner-takes-all over N descents grows one basin per branch."""
OBJECTIVE_CHOICES = [
    ("winner-takes-all over N descents (shipped points-ebt)", "wta"),
    ("plain: the paper's final-candidate loss", "final"),
    ("denoising score matching", "dsm"),
]
D = PointRecipe()  # the levers' defaults: the shipped points-ebt's recipe
PROBE_TEXT = context_text(PROBE)  # the default context: the fork probe
WAIT = 0.25  # seconds between looks at the training's progress


def _check_line(check: dict, task: str) -> str:
    shares = " / ".join(f"{s:.0%}" for s in check["mode_shares"])
    verdict = "✅ meets" if check["passed"] else "❌ misses"
    return (
        f"**Check on {CHECK_CONTEXTS} fresh {task} contexts, 32 candidates each:** "
        f"{check['near_share']:.0%} of the candidates end within 0.06 of a true mode "
        f"(share per mode {shares}); the chosen candidate lies {check['chosen_distance']:.3f} "
        f"from a mode on average, within 0.06 in {check['chosen_near_share']:.0%} of the "
        f"contexts. {verdict} the issue's criteria (≥ 80 % near, each mode ≥ 20 %, chosen "
        "within 0.06)."
    )


def _status(row: dict, recipe: PointRecipe, note: str = "") -> str:
    return (
        f"Iteration {row['iter']} of {recipe.iters} · loss {row['loss']:.4g} · "
        f"{row['seconds']:.1f} s{note}"
    )


class PlaygroundTab:
    """The tab's handlers: training (a generator streaming progress), stop, think, layout."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self.viewer = PointViewer(lambda source, trained: self._model(trained))
        self._jobs: dict[str, LiveTraining] = {}  # session → its running training (Stop)

    @staticmethod
    def _model(trained):
        if trained is None:
            raise ValueError("there is no trained model yet: press Train first")
        return trained.model

    @staticmethod
    def state() -> gr.State:
        """This visitor's trained model (removed with their session)."""
        return gr.State(None, time_to_live=3 * 3600, delete_callback=discard)

    # ---- handlers ---------------------------------------------------------------------------
    def train(self, task="fork", objective=D.objective, iters=D.iters, lr=D.lr,
              samples=D.samples, steps_min=D.steps_min, steps_max=D.steps_max, step_size=1.0,
              alpha_jitter=D.alpha_jitter, langevin=D.langevin, replay=D.replay,
              final_only=D.final_only, detach=D.detach, start_std=D.start_std, seed=D.seed,
              request: gr.Request = None):  # fmt: skip
        """Train a point EBT with these levers; yields (status, loss, probe landscape, check,
        zip, trained) as it goes; the last yield holds the trained model and its zip."""
        with user_errors():
            recipe = playground_recipe(
                task, objective, iters, lr, samples, steps_min, steps_max, step_size,
                alpha_jitter, langevin, replay, final_only, detach, start_std, seed,
            )  # fmt: skip
        while not SLOT.acquire(timeout=1.0):
            yield ("Another visitor's model is training; yours starts when it ends.",
                   *(gr.skip(),) * 5)  # fmt: skip
        job = LiveTraining(recipe)
        session = getattr(request, "session_hash", None) or "local"
        self._jobs[session] = job
        try:
            job.start()
            yield from self._stream(job)
            yield self._finish(job)
        finally:
            job.stop.set()  # the visitor left or the event was cancelled: stop training
            self._jobs.pop(session, None)

    def _stream(self, job: LiveTraining):
        rows: list[dict] = []
        probe = probe_context(job.recipe.task)
        while not (job.done and job.updates.empty()):
            try:
                row, scape = job.updates.get(timeout=WAIT)
            except queue.Empty:  # nothing new yet
                continue
            rows.append(row)
            last = scape.path.shape[1] - 1
            title = f"Probe context after {row['iter']} iterations"
            yield (
                _status(row, job.recipe, " · training…"),
                point_figures.training_loss(rows),
                point_figures.point_contour(scape, last, title, context=probe),
                gr.skip(), gr.skip(), gr.skip(),
            )  # fmt: skip

    def _finish(self, job: LiveTraining) -> tuple:
        with user_errors():
            result = job.future.result()  # re-raises a training error
            check = compute(task_check, result.model, job.recipe.task)
            name = f"playground-{job.recipe.task}-ebt"
            zip_path = compute(export_zip, result.model, result.metrics, name)
        trained = Trained(result.model, job.recipe.to_dict(), result.metrics, check, zip_path,
                          result.seconds, result.stopped)  # fmt: skip
        row = result.metrics[-1]
        how = " · stopped" if result.stopped and not job.timed_out else ""
        how += f" · stopped at the {LIMITS['train_seconds']} s limit" if job.timed_out else ""
        status = _status(row, job.recipe, f"{how} · done in {result.seconds:.1f} s")
        return status, gr.skip(), gr.skip(), _check_line(check, job.recipe.task), zip_path, trained

    def stop(self, request: gr.Request = None):
        """The Stop button: this visitor's training ends after its current iteration."""
        job = self._jobs.get(getattr(request, "session_hash", None) or "local")
        if job is not None:
            job.stop.set()

    def think(self, context=PROBE_TEXT, steps=8, samples=32, seed=0, trained=None):
        """Think the point after `context` with the trained model; its exact landscape."""
        with user_errors():
            model = self._model(trained)
            context = parse_context(context)
            config = point_config(model, steps, samples, seed)
            baseline = self.registry.point_regressor(trained.task)
            view = think_view(model, PLAYGROUND, trained.task, context, config, 41, baseline)
            return view_outputs(view)

    @staticmethod
    def new_context(trained, task, seed):
        with user_errors():
            return context_text(fresh_context(trained.task if trained else task, int(seed)))

    # ---- layout and events ------------------------------------------------------------------
    def build(self, loads: PageLoad, trained: gr.State) -> SimpleNamespace:
        gr.Markdown(INTRO)
        w = _levers()
        with gr.Row():
            w.train_btn = gr.Button("Train", variant="primary")
            w.stop_btn = gr.Button("Stop")
        w.link_row = gr.Row()  # the Copy link button (app/tab_links.py)
        w.guide_box = gr.Column()  # the guide's presets (app/guide.py)
        w.status = gr.Markdown(
            "Press **Train** (the default recipe takes about a minute).",
            elem_id="playground-status",
        )
        with gr.Row():
            w.loss = gr.Plot(label="Training loss")
            w.probe = gr.Plot(label="Exact landscape at the probe context (live)",
                              elem_id="playground-probe")  # fmt: skip
        w.check = gr.Markdown(elem_id="playground-check")
        w.zip = gr.File(label="Trained model: checkpoint zip (unzip, then ebt.load(folder))")
        gr.Markdown("### Think with the trained model")
        with gr.Row():
            w.context = gr.Textbox(context_text(probe_context("fork")),
                                   label="Context points (x, y; x, y; …)", scale=3)  # fmt: skip
            w.new_btn = gr.Button("New context of the task", size="sm", scale=1)
        with gr.Row():
            w.steps = gr.Slider(1, LIMITS["steps"], value=8, step=1, label="Steps")
            w.samples = gr.Slider(1, LIMITS["point_samples"], value=32, step=1, label="Samples N")
            w.seed = gr.Number(0, minimum=0, precision=0, label="Seed")
        w.think_btn = gr.Button("Think with the trained model", variant="primary")
        w.viewer = self.viewer.build("playground")
        self._wire(w, trained)
        self._links(loads, w)
        return w

    @staticmethod
    def _links(loads: PageLoad, w: SimpleNamespace) -> None:
        """Permalink (?tab=playground&task=…, the levers) and the guide: both fill the levers
        and the status line; neither trains (the visitor presses Train)."""
        levers = [w.task, w.objective, w.iters, w.lr, w.samples_train, w.steps_min, w.steps_max,
                  w.step_size, w.alpha_jitter, w.langevin, w.replay, w.final_only, w.detach,
                  w.start_std, w.train_seed]  # fmt: skip
        outputs = [w.status, *levers]  # tab_links.playground_outputs order
        with w.link_row:
            tab_links.copy_link("playground", levers)
        loads.add(tab_links.playground_loader(), outputs)
        with w.guide_box:
            guide.buttons("playground", [], tab_links.playground_outputs, outputs)

    def _wire(self, w: SimpleNamespace, trained: gr.State) -> None:
        levers = [w.task, w.objective, w.iters, w.lr, w.samples_train, w.steps_min, w.steps_max,
                  w.step_size, w.alpha_jitter, w.langevin, w.replay, w.final_only, w.detach,
                  w.start_std, w.train_seed]  # fmt: skip
        outputs = [w.status, w.loss, w.probe, w.check, w.zip, trained]
        w.train_btn.click(
            self.train, levers, outputs, api_name="playground_train", preprocess=False,
            concurrency_limit=LIMITS["trainings"], concurrency_id="playground_train",
        )  # fmt: skip
        w.stop_btn.click(self.stop, None, None, api_visibility="private", queue=False)
        think_in = [w.context, w.steps, w.samples, w.seed, trained]
        think_out = w.viewer.outputs
        w.think_btn.click(self.think, think_in, think_out, api_name="playground_think",
                          preprocess=False)  # fmt: skip
        w.new_btn.click(self.new_context, [trained, w.task, w.seed], w.context,
                        api_visibility="private")  # fmt: skip
        self.viewer.wire(w.viewer, trained)


def _levers() -> SimpleNamespace:
    """The recipe's levers, defaulting to the shipped points-ebt's recipe."""
    w = SimpleNamespace()
    with gr.Row():
        w.task = gr.Dropdown(TASK_CHOICES, value="fork", label="Task")
        w.objective = gr.Radio(OBJECTIVE_CHOICES, value=D.objective, label="Objective")
    with gr.Row():
        w.iters = gr.Slider(10, LIMITS["train_iters"], value=D.iters, step=10, label="Iterations")
        w.lr = gr.Number(D.lr, minimum=0, label="Learning rate")
        w.samples_train = gr.Slider(1, LIMITS["train_samples"], value=D.samples, step=1,
                                    label="Descents N per position")  # fmt: skip
        w.train_seed = gr.Number(D.seed, minimum=0, precision=0, label="Training seed")
    with gr.Row():
        w.steps_min = gr.Slider(1, LIMITS["train_steps"], value=D.steps_min, step=1,
                                label="Descent steps: min")  # fmt: skip
        w.steps_max = gr.Slider(1, LIMITS["train_steps"], value=D.steps_max, step=1,
                                label="max (randomised steps when max > min)")  # fmt: skip
        w.step_size = gr.Number(1.0, minimum=0, label="Step size α")
        w.alpha_jitter = gr.Slider(
            1, 10, value=D.alpha_jitter, step=0.1, label="α jitter (× log-uniform[1/j, j])"
        )
    with gr.Row():
        w.langevin = gr.Slider(0, 1, value=D.langevin, step=0.01, label="Langevin noise")
        w.replay = gr.Slider(0, 0.9, value=D.replay, step=0.05, label="Replay buffer share")
        w.start_std = gr.Slider(0.01, 2, value=D.start_std, step=0.01, label="Start spread")
        w.final_only = gr.Checkbox(D.final_only, label="Loss on the final step only")
        w.detach = gr.Checkbox(D.detach, label="Detach between steps")
    return w

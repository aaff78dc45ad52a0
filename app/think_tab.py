"""The Think tab: a text EBT generates a continuation by energy descent, and every character's
descent can be replayed step by step (energy curves, top-k, best-of-N, the Transformer++). A
whole-answer EBT (sum-ebt, sudoku-ebt) answers all its positions at once: the same views show
the whole answer at the scrubbed step (a grid for Sudoku) and best-of-N over whole answers.

Stable API (gradio_client), no hidden state:
    /think(prompt, checkpoint, steps, step_size, langevin, samples, select, tolerance, seed,
           max_new_tokens, accept_lower_only=False)
    /score(prompt, answer, checkpoint)
The first example is thought by the first page load (then shared), never at import.
"""

from __future__ import annotations

import dataclasses
import threading
from types import SimpleNamespace

import gradio as gr

import ebt_core as ebt
from app import figures, guide, permalink
from app.export_tab import Exports
from app.figures import answer as answers
from app.figures.answer_score import answer_score_figure, summarize_answer_score
from app.inputs import (
    LIMITS,
    MAX_SEED,
    THINK_PARAMETERS,
    check_think_work,
    float_in,
    int_in,
    takes_think_parameters,
    text_in,
    think_config,
    user_errors,
    widget_values,
)
from app.page_load import PageLoad
from app.runtime import (
    TOP_K,
    Registry,
    baseline_key,
    baseline_prediction,
    compute,
    load_examples,
)
from ebt_core.answer.data import Task

PREDICTIONS_KEPT = 1024  # Transformer++ predictions remembered (each a few characters)
SUB_STEPS = 4  # Play frames per descent step: the curves grow in quarter steps
MIN_PLAY_FRAMES = 12
PLAY_INTERVAL = 0.25  # seconds per Play frame
SCROLL_TO_RESULT = """() => {
    const el = document.getElementById('think-result');
    if (el) el.scrollIntoView({behavior: 'smooth', block: 'start'});
}"""
STALE = (
    '<div class="ebt-stale" role="alert">⚠ {what} failed (the message is shown at the top '
    "right); the previous result was cleared so that it is not mistaken for this one.</div>"
)
NO_DEFAULTS = (8, 0, 0.0, 1, "min", 0.0, 0, False)  # the settings without a checkpoint
SCORE_HINT = (
    "A text EBT scores each character; a whole-answer EBT scores the whole answer at once: "
    "type all of it (`10025` for `4857+5168=`; for Sudoku the 16 cells row by row)."
)


SETTINGS = ("steps", "step_size", "langevin", "samples", "select", "tolerance", "seed")
SETTINGS += ("accept_lower_only",)  # think_config's order (the widgets' order)
LINK_KEYS = (*THINK_PARAMETERS, "token", "step")
permalink.register("think", LINK_KEYS)  # /think's parameters, then the selected token and step


def _choice(name: str, allowed: tuple):
    def check(value):
        if value not in allowed:
            raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
        return value

    return check


def _flag(name: str):
    def check(value):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value

    return check


def setting_checks(model: ebt.TextEBT | ebt.AnswerEBT) -> dict:
    """One check per link key: the same bounds as the widgets (and as /think)."""
    vocab = model.config.vocab

    def prompt(value):
        text_in("prompt", value, model.config.max_context)
        if isinstance(model, ebt.AnswerEBT):  # "a+b=", or 16 cells then "="
            model.task.check_prompt(value)
            return value
        outside = sorted(set(value) - set(vocab))
        if outside:
            raise ValueError(f"prompt has characters outside the model's vocabulary: {outside}")
        return value

    def bounded(name, cast, lo, hi):
        return lambda v: cast(name, v, lo, hi)

    return {
        "prompt": prompt,
        "steps": bounded("steps", int_in, 1, LIMITS["steps"]),
        "step_size": bounded("step_size", float_in, 0.0, LIMITS["step_size"]),
        "langevin": bounded("langevin", float_in, 0.0, LIMITS["langevin"]),
        "samples": bounded("samples", int_in, 1, LIMITS["samples"]),
        "select": _choice("select", ("min", "max_gap")),
        "tolerance": bounded("tolerance", float_in, 0.0, LIMITS["tolerance"]),
        "seed": bounded("seed", int_in, 0, MAX_SEED),
        "max_new_tokens": bounded("max_new_tokens", int_in, 1, LIMITS["max_new_tokens"]),
        "accept_lower_only": _flag("accept_lower_only"),
        "token": bounded("token", int_in, 0, LIMITS["max_new_tokens"] - 1),
        "step": bounded("step", int_in, 0, LIMITS["steps"]),
    }


def work_tokens(model, max_new_tokens: int) -> int:
    """The sequential descents a request makes: one per character, or one for a whole answer
    (its positions descend together)."""
    return 1 if isinstance(model, ebt.AnswerEBT) else max_new_tokens


# ---- views: a run (or one token / one step of it) → widget values ---------------------------
def step_view(run: ebt.ThinkRun, token: int, step: float, task: Task | None = None) -> tuple:
    """Energy curves drawn up to `step` (fractional while playing), top-k bars and their text
    summary at the recorded step at or before it. An answer run (`task` given) shows its whole
    answer at that step instead of the top-k bars (a grid for Sudoku; `token` outlined)."""
    whole = int(step)
    if task is not None:
        return (
            answers.answer_curves(run, token, step),
            answers.answer_grid(run, task, whole, token),
            answers.summarize_answer_step(run, task, token, whole),
        )
    summary = (
        f"{figures.summarize_curves(run, token, whole)} {figures.summarize_topk(run, token, whole)}"
    )
    return (
        figures.energy_curves(run, token, step),
        figures.topk_bars(run, token, whole, TOP_K),
        summary,
    )


def play_frames(last: int) -> int:
    """Frames of one Play: SUB_STEPS per descent step, at least MIN_PLAY_FRAMES (with the
    default 2 steps Play still lasts MIN_PLAY_FRAMES × PLAY_INTERVAL = 3 s)."""
    return max(last * SUB_STEPS, MIN_PLAY_FRAMES)


def play_view(run: ebt.ThinkRun, token: int, frame: int, task: Task | None = None) -> tuple:
    """Timer, frame, step slider and step view at Play frame `frame` (the curves grow)."""
    last = _last_step(run, token)
    frames = play_frames(last)
    frame = min(frame, frames)
    at = last * frame / frames
    return gr.Timer(active=frame < frames), frame, int(at), *step_view(run, token, at, task)


def restore(run_dict) -> ebt.ThinkRun | None:
    return ebt.ThinkRun.from_dict(run_dict) if run_dict else None


def _last_step(run: ebt.ThinkRun, token: int) -> int:
    return run.tokens[token].steps_used


class ThinkTab:
    """The tab's handlers over one registry of checkpoints, its layout and its events."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self.examples = load_examples(registry.thinkers)
        self._first: dict = {}
        self._first_lock = threading.Lock()
        self._predictions: dict[tuple, object] = {}  # the Transformer++'s, by (name, key)
        self._predictions_lock = threading.Lock()
        self.first_run_in_page = False  # True once app.main put the first run into the page

    # ---- views that need the registry (the Transformer++ baseline, an answer's task) --------
    def task_of(self, run: ebt.ThinkRun) -> Task | None:
        """The task of a whole-answer EBT's run (sums, Sudoku); None for a text EBT's run."""
        return self.registry.answer_task(run.checkpoint)

    def _baseline(self, run: ebt.ThinkRun, token: int, task: Task | None) -> str:
        """The Transformer++ trained beside the EBT: its next character here, or (answer EBTs)
        its whole answer generated left to right (each prediction computed once)."""
        name = self.registry.baseline(run.checkpoint)
        if not name:
            return figures.baseline_text(None, [], "")
        try:
            key = (name, baseline_key(run, token, task))
            if key not in self._predictions:
                prediction = baseline_prediction(self.registry.get(name), run, token, task)
                self._remember(key, prediction)
            prediction = self._predictions[key]
        except ValueError as err:  # e.g. the context outgrew the baseline's window
            return f"Transformer++ baseline unavailable here: {err}"
        if task is not None:
            return answers.answer_baseline_text(name, prediction, run.text, task, run.prompt)
        return figures.baseline_text(name, prediction, run.tokens[token].char)

    def _remember(self, key: tuple, prediction) -> None:
        """Keep a baseline prediction (at most PREDICTIONS_KEPT, the oldest dropped first)."""
        with self._predictions_lock:
            self._predictions[key] = prediction
            while len(self._predictions) > PREDICTIONS_KEPT:
                self._predictions.pop(next(iter(self._predictions)))

    def token_view(self, run: ebt.ThinkRun, token: int) -> tuple:
        """Step slider (at the final step), that step's view, best-of-N table (an answer run's:
        its distinct whole answers), baseline text."""
        tok, task = run.tokens[token], self.task_of(run)
        if task is None:
            table = figures.best_of_n_table(run, token)
            summary = figures.summarize_table(run, token)
        else:
            table, summary = (
                answers.answer_table(run, task),
                answers.summarize_answer_table(run, task),
            )
        return (
            gr.Slider(minimum=0, maximum=tok.steps_used, value=tok.steps_used),
            *step_view(run, token, tok.steps_used, task),
            table,
            f"{summary}\n\n{self._baseline(run, token, task)}",
        )

    def run_view(self, run: ebt.ThinkRun) -> tuple:
        """Every Think-tab output for a fresh run, showing its first token at its final step."""
        task = self.task_of(run)
        if task is None:
            choices = [(f"{i}: {figures.show_char(t.char)}", i) for i, t in enumerate(run.tokens)]
            strip, summary = figures.token_strip(run), figures.summarize_run(run)
        else:
            choices = [
                (answers.position_label(task, i, t.char), i) for i, t in enumerate(run.tokens)
            ]
            strip, summary = (
                answers.answer_strip(run, task),
                answers.summarize_answer_run(run, task),
            )
        return (
            run.text,
            strip,
            summary,
            gr.Dropdown(choices=choices, value=0),
            *self.token_view(run, 0),
            run.to_dict(),
        )

    # ---- API handlers -----------------------------------------------------------------------
    @takes_think_parameters()  # named like `thought`'s: app.inputs.THINK_PARAMETERS
    def think(self, *params):
        """Generate a continuation by energy descent; returns the text, the token strip and the
        first token's descent (energy curves, top-k, best-of-N table, Transformer++ baseline)."""
        with user_errors():
            return self.run_view(self.thought(*params))

    def thought(
        self,
        prompt,
        checkpoint,
        steps,
        step_size,
        langevin,
        samples,
        select,
        tolerance,
        seed,
        max_new_tokens,
        accept_lower_only=False,
    ) -> ebt.ThinkRun:
        """The run /think shows (its parameters validated; ValueError names a bad one): the
        exports (app/export_tab.py) think through here too. A whole-answer EBT (sum-ebt,
        sudoku-ebt) answers all positions at once: max_new_tokens is checked only."""  # fmt: skip
        model = self.registry.thinker(checkpoint)
        config = think_config(
            steps, step_size, langevin, samples, select, tolerance, seed, accept_lower_only
        )
        n = int_in("max_new_tokens", max_new_tokens, 1, LIMITS["max_new_tokens"])
        check_think_work(config, work_tokens(model, n))
        return compute(ebt.think, model, prompt, config, max_new_tokens=n)

    def example_settings(self, prompt, checkpoint) -> tuple:
        """An example's settings as widget values: its checkpoint's defaults, with the
        example's own "settings" (e.g. 16 samples for a Sudoku with several solutions)."""
        settings = dict(zip(SETTINGS, self.settings_for(checkpoint)))
        for e in self.examples:
            if e["prompt"] == prompt and e["checkpoint"] == checkpoint:
                settings |= {k: v for k, v in e.get("settings", {}).items() if k in settings}
        return tuple(settings[k] for k in SETTINGS)

    def think_example(self, prompt, checkpoint, max_new_tokens):
        """An example click: think it at its settings (`example_settings`), which the knobs
        then show (so what is on screen is what was run)."""
        settings = self.example_settings(prompt, checkpoint)
        with user_errors():
            run = self.thought(prompt, checkpoint, *settings[:7], max_new_tokens, settings[7])
        return (*settings, *self.run_view(run))

    def score(self, prompt, answer, checkpoint, samples=None):
        """Energy of each character of `answer` after `prompt` (a whole-answer EBT: the whole
        answer's energy and its terms per position): the EBT as a verifier, against `samples`
        descents of its own (None = the checkpoint's default; the UI sends the Think tab's N)."""
        with user_errors():
            text_in("answer", answer, LIMITS["answer_chars"])
            model = self.registry.thinker(checkpoint)
            config = model.think_defaults
            if samples is not None:
                samples = int_in("samples", samples, 1, LIMITS["samples"])
                config = dataclasses.replace(config, samples=samples)
            result = compute(ebt.score, model, prompt, answer, config)
            task = self.registry.answer_task(checkpoint)
        if task is not None:
            return answer_score_figure(result), summarize_answer_score(result, task)
        return figures.score_figure(result), figures.summarize_score(result)

    @staticmethod
    def failed_run_view() -> tuple:
        """Every Think-tab output after a failed request: emptied, the strip saying why (so a
        stale "47" never sits beside the prompt that failed)."""
        empty_step = gr.Slider(minimum=0, maximum=1, value=0)
        return (
            "",
            STALE.format(what="Think"),
            "",
            gr.Dropdown(choices=[], value=None),
            empty_step,
            None,
            None,
            "",
            None,
            "",
            None,
        )

    @staticmethod
    def failed_score_view() -> tuple:
        return None, STALE.format(what="Score")

    # ---- UI handlers: replay the stored run (no model call) --------------------------------
    def select_token(self, run_dict, token):
        run = restore(run_dict)
        if run is None:
            return gr.skip()
        return gr.Timer(active=False), *self.token_view(run, token)

    def show_step(self, run_dict, token, step):
        run = restore(run_dict)
        if run is None:
            return gr.skip()
        return step_view(run, token, min(int(step), _last_step(run, token)), self.task_of(run))

    def play(self, run_dict, token, step):
        """Start Play from `step` (from 0 when the animation already sits at the end): the
        curves grow frame by frame, SUB_STEPS frames per descent step."""
        run = restore(run_dict)
        if run is None:
            return gr.skip()
        last = _last_step(run, token)
        start = 0 if step >= last else int(step) * play_frames(last) // max(last, 1)
        return play_view(run, token, start, self.task_of(run))

    def tick(self, run_dict, token, frame):
        """Timer tick while playing: one frame forward; the timer stops at the final step."""
        run = restore(run_dict)
        if run is None:
            return (gr.Timer(active=False), *(gr.skip(),) * 5)
        return play_view(run, token, int(frame or 0) + 1, self.task_of(run))

    def step_once(self, run_dict, token, step):
        """The Step button: one step forward, back to 0 after the final step."""
        run = restore(run_dict)
        if run is None:
            return gr.skip()
        step = 0 if step >= _last_step(run, token) else int(step) + 1
        return step, *step_view(run, token, step, self.task_of(run))

    def show_run(self, run_dict):
        """Every output for a stored run (no thinking)."""
        run = restore(run_dict)
        return gr.skip() if run is None else self.run_view(run)

    def settings_for(self, checkpoint):
        """The checkpoint's default ThinkConfig as widget values."""
        with user_errors():
            return widget_values(self.registry.think_defaults(checkpoint))

    # ---- the first page load ----------------------------------------------------------------
    def first_run(self) -> dict | None:
        """The first example at its checkpoint's defaults: thought by the first page load, then
        shared by every later one (None when it cannot be thought here)."""
        with self._first_lock:
            if "run" not in self._first:
                self._first["run"] = self._think_first_example()
            return self._first["run"]

    def _think_first_example(self) -> dict | None:
        default = self.registry.default_ebt
        if not self.examples or self.examples[0]["checkpoint"] != default:
            return None
        example = self.examples[0]
        try:
            model = self.registry.get(default)
            config = think_config(*widget_values(model.think_defaults))
            run = compute(ebt.think, model, example["prompt"], config, example["max_new_tokens"])
        except ValueError as err:  # a checkpoint that cannot read its own example: start empty
            print(f"EBT Explorer: no precomputed first run ({err})")
            return None
        return run.to_dict()

    def adopt_first_run(self, found: dict | None) -> bool:
        """Take the first run thought by the helper process (app/first_page.py) as this tab's
        first run, with the Transformer++'s prediction at its first character, when it is the
        run `first_run` would think here: the first example, at its checkpoint's defaults as
        the widgets hold them. False (nothing taken) otherwise."""
        if not isinstance(found, dict) or not isinstance(found.get("run"), dict):
            return False
        run, default = found["run"], self.registry.default_ebt
        if not self.examples or self.examples[0]["checkpoint"] != default:
            return False
        example = self.examples[0]
        try:
            settings = think_config(*widget_values(self.registry.think_defaults(default)))
        except ValueError:
            return False
        same = (run.get("checkpoint"), run.get("prompt"), run.get("config"))
        if same != (default, example["prompt"], settings.to_dict()):
            return False
        try:
            restore(run)
        except (ValueError, KeyError, TypeError):  # not a run this version can read
            return False
        baseline = found.get("baseline")
        if isinstance(baseline, dict) and baseline.get("name") == self.registry.baseline(default):
            prediction = baseline.get("prediction")
            if isinstance(prediction, list):  # (character, probability) pairs, as JSON lists
                prediction = [tuple(pair) for pair in prediction]
            self._remember((baseline["name"], baseline.get("key")), prediction)
        with self._first_lock:
            self._first.setdefault("run", run)
        return True

    def show_first_run(self):
        """Page load: the first example's run (thought by the first page load only)."""
        return self.show_run(self.first_run())

    # ---- permalinks: ?tab=think&prompt=...&steps=... (app/permalink.py) ----------------------
    def link_state(self, values: dict) -> tuple[dict, list[str]]:
        """A link's values → the state to show, each value checked like its widget's (a bad one
        → the default, and a message naming the field)."""
        first = self.examples[0] if self.examples else {"prompt": "", "max_new_tokens": 8}
        errors, name = [], values.get("checkpoint", self.registry.default_ebt)
        if name not in self.registry.thinkers:
            errors.append(f"checkpoint must be one of {self.registry.thinkers}, got {name!r}")
            name = self.registry.default_ebt
        defaults = dict(zip(SETTINGS, self.settings_for(name)), token=0, step=None)
        defaults |= {"prompt": first["prompt"], "max_new_tokens": first["max_new_tokens"]}
        model = self.registry.thinker(name)
        if isinstance(model, ebt.AnswerEBT):  # its own example's prompt, not arith's
            own = next((e for e in self.examples if e["checkpoint"] == name), None)
            defaults["prompt"] = own["prompt"] if own else values.get("prompt", "")
        state, bad = permalink.validated(values, setting_checks(model), defaults)
        try:
            config = think_config(*(state[k] for k in SETTINGS))
            check_think_work(config, work_tokens(model, state["max_new_tokens"]))
        except ValueError as err:
            bad.append(f"{err} (the checkpoint's defaults are used)")
            state |= {k: defaults[k] for k in (*SETTINGS, "max_new_tokens")}
        return state | {"checkpoint": name}, errors + bad

    def link_views(self, state: dict) -> tuple[tuple, list[str]]:
        """Think the link's state; its token and step selected (clamped, with a message)."""
        model = self.registry.thinker(state["checkpoint"])
        config = think_config(*(state[k] for k in SETTINGS))
        n = state["max_new_tokens"]
        run = compute(ebt.think, model, state["prompt"], config, max_new_tokens=n)
        views, errors = list(self.run_view(run)), []
        token, step = state["token"], state["step"]
        if token >= len(run.tokens):
            errors.append(f"token must be below {len(run.tokens)} for this run, got {token}")
            token = 0
        views[3] = gr.Dropdown(choices=views[3].choices, value=token)
        views[4:10] = self.token_view(run, token)
        last = _last_step(run, token)
        if step is not None and step > last:
            errors.append(f"step must be at most {last} for token {token}, got {step}")
        if step is not None and step <= last:
            views[4] = gr.Slider(minimum=0, maximum=last, value=step)
            views[5:8] = step_view(run, token, step, self.task_of(run))
        return tuple(views), errors

    def on_load(self, request: gr.Request):
        """Page load: the run a ?tab=think link describes, or the first example's run (nothing
        to send when the page itself holds it: `first_run_in_page`)."""
        query = dict(request.query_params) if request is not None else {}
        tab, values, unknown = permalink.read(query)
        if tab != "think" or not self.registry.default_ebt:
            first = self.show_first_run() if not self.first_run_in_page else (gr.skip(),) * 11
            return (*(gr.skip(),) * (3 + len(SETTINGS)), *first, gr.skip())
        return self.link_outputs(values, unknown)

    def link_outputs(self, values: dict, unknown=(), intro: str = "") -> tuple:
        """A link's (or a guide preset's) values → every load output: the widgets, the run's
        views and the notice (`intro`, then any bad value named)."""
        state, errors = self.link_state(values)
        try:
            views, more = self.link_views(state)
        except ValueError as err:  # e.g. a prompt longer than the model's context
            views, more = self.show_first_run(), [f"{err} (the first example is shown)"]
        widgets = (state["prompt"], state["checkpoint"], state["max_new_tokens"])
        widgets += tuple(state[k] for k in SETTINGS)
        message = permalink.notice(errors + more, list(unknown))
        if message:
            gr.Warning("This link had values the app cannot use: see the Think tab.")
        return (*widgets, *views, "\n\n".join(m for m in (intro, message) if m))

    # ---- layout and events ------------------------------------------------------------------
    def build(self) -> SimpleNamespace:
        """Lay out the tab inside the current gr.Tab; returns its widgets, which the other tabs
        read (prompt, checkpoint, token, run_state) and `wire` connects. The examples come
        first (above the fold); the widgets they fill are rendered below them."""
        w = self._inputs()
        self._examples(w)
        w.guide_box = gr.Column()  # the guide (app/guide.py), filled when the events are wired
        with gr.Row():
            self._controls(w)
            w.__dict__.update(vars(self._outputs()))
        return w

    def _inputs(self) -> SimpleNamespace:
        """The widgets an example fills (created unrendered: the examples come first)."""
        first = self.examples[0] if self.examples else {"prompt": "", "max_new_tokens": 8}
        w = SimpleNamespace()
        w.prompt = gr.Textbox(label="Prompt", value=first["prompt"], render=False)
        w.checkpoint = gr.Dropdown(
            self.registry.thinkers,
            value=self.registry.default_ebt,
            label="Checkpoint (text EBT, or a whole-answer EBT: sums, Sudoku)",
            render=False,
        )
        w.max_new_tokens = gr.Slider(
            1, LIMITS["max_new_tokens"], value=first["max_new_tokens"], step=1, precision=0,
            label="Max new tokens", render=False,
        )  # fmt: skip
        return w

    def _examples(self, w: SimpleNamespace) -> None:
        w.examples = None
        if self.examples:
            w.examples = gr.Examples(
                [[e["prompt"], e["checkpoint"], e["max_new_tokens"]] for e in self.examples],
                [w.prompt, w.checkpoint, w.max_new_tokens],
                label="Examples: click one to think it",
                cache_examples=False,
                api_visibility="private",
                elem_id="think-examples",
            )

    def _controls(self, w: SimpleNamespace) -> None:
        default = self.registry.default_ebt
        defaults = self.settings_for(default) if default else NO_DEFAULTS
        steps, step_size, langevin, samples, select, tolerance, seed, lower_only = defaults
        with gr.Column(scale=1, min_width=280):
            w.prompt.render()
            w.checkpoint.render()
            w.max_new_tokens.render()
            w.steps = _int_slider("steps", 1, steps, "Steps (descent steps per character)")
            w.step_size = gr.Number(step_size, minimum=0, label="Step size α (0 = trained α)")
            w.langevin = gr.Slider(
                0, LIMITS["langevin"], value=langevin, step=0.05, label="Langevin noise"
            )
            w.samples = _int_slider("samples", 1, samples, "Samples N (best-of-N)")
            w.select = gr.Radio(["min", "max_gap"], value=select, label="Select")
            w.tolerance = gr.Slider(
                0,
                LIMITS["tolerance"],
                value=tolerance,
                step=0.001,
                label="Tolerance (early stop when every |ΔE| < tol; 0 = off)",
            )
            w.seed = gr.Number(seed, minimum=0, precision=0, label="Seed")
            w.accept_lower_only = gr.Checkbox(lower_only, label="Accept lower energy only")
            w.think_btn = gr.Button("Think", variant="primary")
            self._score(w)

    @staticmethod
    def _score(w: SimpleNamespace) -> None:
        with gr.Accordion("Score your own answer (the EBT as a verifier)", open=True):
            w.answer = gr.Textbox(label="Your answer (continues the prompt)", placeholder="47")
            gr.Markdown(SCORE_HINT, elem_classes="ebt-score-hint")
            w.score_btn = gr.Button("Score")
            w.score_plot = gr.Plot(label="Energy of each character", elem_classes="ebt-plot")
            w.score_md = gr.Markdown(label="Score summary")

    @staticmethod
    def _outputs() -> SimpleNamespace:
        w = SimpleNamespace()
        with gr.Column(scale=2, elem_id="think-result"):
            w.link_md = gr.Markdown(elem_classes="ebt-link-notice")  # a link's bad values
            w.continuation = gr.Textbox(label="Continuation", interactive=False)
            w.strip = gr.HTML(label="Token strip")
            w.run_md = gr.Markdown(label="Run summary")
            with gr.Row():
                w.token = gr.Dropdown(label="Token (position: character)", choices=[])
                w.step = gr.Slider(0, 1, value=0, step=1, precision=0, label="Step")
            with gr.Row():
                w.play_btn = gr.Button("▶ Play", size="sm")
                w.pause_btn = gr.Button("Pause", size="sm")
                w.step_btn = gr.Button("Step +1", size="sm")
                w.copy_btn = gr.Button("🔗 Copy link", size="sm", elem_id="think-copy-link")
            w.link = gr.Textbox(
                label="Link to this run (the settings, token and step)",
                interactive=False,
                buttons=["copy"],
                elem_id="think-link",
            )
            w.timer = gr.Timer(PLAY_INTERVAL, active=False)
            w.frame = gr.State(0)  # the Play frame (SUB_STEPS per descent step)
            with gr.Row():
                w.energy_plot = gr.Plot(label="Energy vs step", elem_classes="ebt-plot")
                w.topk_plot = gr.Plot(  # top-k bars, or an answer EBT's whole answer
                    label="Chosen candidate at this step", elem_classes="ebt-plot"
                )
            w.step_md = gr.Markdown(label="Step summary")
            w.table = gr.Dataframe(
                headers=figures.BEST_OF_N_HEADERS,
                label="Best-of-N",
                interactive=False,
                elem_classes="ebt-table",
            )
            w.token_md = gr.Markdown(label="Token summary")
            w.exports = Exports.build()
        w.run_state = gr.State(None)  # this visitor's run (ThinkRun.to_dict)
        return w

    def wire(self, loads: PageLoad, w: SimpleNamespace) -> None:
        """The tab's events (api_name "think" and "score"), wired after the other tabs' so that
        the API lists /landscape, /denoise, /denoise_baseline, /think, /score as it always did."""
        settings = [w.steps, w.step_size, w.langevin, w.samples, w.select, w.tolerance, w.seed]
        settings.append(w.accept_lower_only)
        step_out = [w.energy_plot, w.topk_plot, w.step_md]
        token_out = [w.step, *step_out, w.table, w.token_md]
        run_out = [w.continuation, w.strip, w.run_md, w.token, *token_out, w.run_state]
        w.run_out, w.settings = run_out, settings  # permalinks and presets set these
        private = dict(api_visibility="private")
        replay = [w.run_state, w.token, w.step]
        play_out = [w.timer, w.frame, w.step, *step_out]
        think_in = [w.prompt, w.checkpoint, *settings[:-1], w.max_new_tokens, settings[-1]]
        w.think_btn.click(
            self.think, think_in, run_out, api_name="think", preprocess=False
        ).failure(self.failed_run_view, None, run_out, **private)
        score_in = [w.prompt, w.answer, w.checkpoint, w.samples]
        score_out = [w.score_plot, w.score_md]
        w.score_btn.click(
            self.score, score_in, score_out, api_name="score", preprocess=False
        ).failure(self.failed_score_view, None, score_out, **private)
        Exports(self).wire(w.exports, think_in, w.token)
        # .input, not .change: a link or an example sets the checkpoint and its own settings
        w.checkpoint.input(self.settings_for, w.checkpoint, settings, **private)
        w.token.input(self.select_token, replay[:2], [w.timer, *token_out], **private)
        w.step.input(self.show_step, replay, step_out, trigger_mode="always_last", **private)
        w.play_btn.click(self.play, replay, play_out, **private)
        w.pause_btn.click(lambda: gr.Timer(active=False), None, w.timer, **private)
        w.step_btn.click(self.step_once, replay, [w.step, *step_out], **private)
        w.timer.tick(self.tick, [w.run_state, w.token, w.frame], play_out, **private)
        self._wire_examples(w, private)
        link_in = [*think_in, w.token, w.step]  # permalink.TABS["think"] order
        w.copy_btn.click(None, link_in, w.link, js=permalink.copy_link_js("think"), **private)
        load_out = [w.prompt, w.checkpoint, w.max_new_tokens, *settings, *run_out, w.link_md]
        loads.add(self.on_load, load_out)
        with w.guide_box:  # the guide's presets are applied like links
            guide.buttons("think", self.registry.thinkers, self.link_outputs, load_out)
            guide.buttons("answers", self.registry.thinkers, self.link_outputs, load_out)

    def _wire_examples(self, w: SimpleNamespace, private: dict) -> None:
        """An example click fills the prompt, scrolls the result area into view and thinks."""
        if w.examples is None:
            return
        example_in = [w.prompt, w.checkpoint, w.max_new_tokens]
        w.examples.load_input_event.then(None, None, None, js=SCROLL_TO_RESULT, **private).then(
            self.think_example, example_in, [*w.settings, *w.run_out], preprocess=False, **private
        ).failure(self.failed_run_view, None, w.run_out, **private)


def _int_slider(name: str, lo: int, value: int, label: str) -> gr.Slider:
    return gr.Slider(lo, LIMITS[name], value=value, step=1, precision=0, label=label)

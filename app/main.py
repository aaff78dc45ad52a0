"""EBT Explorer, the Gradio front end: watch a text EBT think, character by character.

    gradio app/main.py                                # reload mode while editing
    python app/main.py                                # plain launch
    EBT_CHECKPOINTS=/my/checkpoints python app/main.py

Stable API (gradio_client), no hidden state:
    /think(prompt, checkpoint, steps, step_size, langevin, samples, select, tolerance, seed,
           max_new_tokens, accept_lower_only=False)
    /score(prompt, answer, checkpoint)
    /landscape(prompt, checkpoint, token, resolution, method, steps, samples, seed)
    /denoise(image, checkpoint, noise, steps, step_size, langevin, seed)   image: handle_file(path)
    /denoise_baseline(image, noise, seed, dit_passes)                      the DiT baseline
"""

import ctypes
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # a hosted Space runs this file without pip-installing the repo
    sys.path.insert(0, str(ROOT))

import gradio as gr  # noqa: E402


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each worker thread its own malloc arena and keeps freed memory in it, so the
    server's RSS kept growing under concurrent clients (scripts/loadtest.py). Same effect as
    MALLOC_ARENA_MAX=2; a no-op where libc is not glibc."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # -8 = M_ARENA_MAX
    except (OSError, AttributeError):
        pass


_limit_malloc_arenas()

import ebt_core as ebt  # noqa: E402
from app import denoise_tab, figures, landscape_tab  # noqa: E402
from app.inputs import (  # noqa: E402
    LIMITS,
    MAX_UPLOAD_BYTES,
    check_think_work,
    int_in,
    text_in,
    think_config,
    user_errors,
    widget_values,
)
from app.models import (  # noqa: E402
    CHECKPOINTS,
    DEFAULT_EBT,
    EBTS,
    baseline_name,
    compute,
    ebt_model,
    get_model,
)

TOP_K = 5
EXAMPLES = [  # the first one is thought at startup when its checkpoint is the default
    e
    for e in json.loads((ROOT / "assets/examples/think_prompts.json").read_text(encoding="utf-8"))
    if e["checkpoint"] in EBTS
]


# ---- views: a run (or one token / one step of it) → widget values ---------------------------
def step_view(run: ebt.ThinkRun, token: int, step: int) -> tuple:
    """Energy curves, top-k bars and their text summary for one step of one token."""
    summary = (
        f"{figures.summarize_curves(run, token, step)} {figures.summarize_topk(run, token, step)}"
    )
    return (
        figures.energy_curves(run, token, step),
        figures.topk_bars(run, token, step, TOP_K),
        summary,
    )


def token_view(run: ebt.ThinkRun, token: int) -> tuple:
    """Step slider (at the final step), that step's view, best-of-N table, baseline text."""
    tok = run.tokens[token]
    name = baseline_name(run.checkpoint)
    try:
        preds = ebt.predict_next(get_model(name), run.context(token), TOP_K) if name else []
        baseline = figures.baseline_text(name, preds, tok.char)
    except ValueError as err:  # e.g. the context outgrew the baseline's window
        baseline = f"Transformer++ baseline unavailable here: {err}"
    return (
        gr.Slider(minimum=0, maximum=tok.steps_used, value=tok.steps_used),
        *step_view(run, token, tok.steps_used),
        figures.best_of_n_table(run, token),
        f"{figures.summarize_table(run, token)}\n\n{baseline}",
    )


def run_view(run: ebt.ThinkRun) -> tuple:
    """Every Think-tab output for a fresh run, showing its first token at its final step."""
    choices = [(f"{i}: {figures.show_char(t.char)}", i) for i, t in enumerate(run.tokens)]
    return (
        run.text,
        figures.token_strip(run),
        figures.summarize_run(run),
        gr.Dropdown(choices=choices, value=0),
        *token_view(run, 0),
        run.to_dict(),
    )


def restore(run_dict) -> ebt.ThinkRun | None:
    return ebt.ThinkRun.from_dict(run_dict) if run_dict else None


def _last_step(run: ebt.ThinkRun, token: int) -> int:
    return run.tokens[token].steps_used


# ---- handlers -------------------------------------------------------------------------------
def think(
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
):
    """Generate a continuation by energy descent; returns the text, the token strip and the
    first token's descent (energy curves, top-k, best-of-N table, Transformer++ baseline)."""
    with user_errors():
        model = ebt_model(checkpoint)
        config = think_config(
            steps, step_size, langevin, samples, select, tolerance, seed, accept_lower_only
        )
        n = int_in("max_new_tokens", max_new_tokens, 1, LIMITS["max_new_tokens"])
        check_think_work(config, n)
        return run_view(compute(ebt.think, model, prompt, config, max_new_tokens=n))


def score(prompt, answer, checkpoint):
    """Energy of each character of `answer` after `prompt`: the EBT as a verifier."""
    with user_errors():
        text_in("answer", answer, LIMITS["answer_chars"])
        result = compute(ebt.score, ebt_model(checkpoint), prompt, answer)
    return figures.score_figure(result), figures.summarize_score(result)


def select_token(run_dict, token):
    run = restore(run_dict)
    if run is None:
        return gr.skip()
    return gr.Timer(active=False), *token_view(run, token)


def show_step(run_dict, token, step):
    run = restore(run_dict)
    if run is None:
        return gr.skip()
    return step_view(run, token, min(int(step), _last_step(run, token)))


def play(run_dict, token, step):
    """Start the timer; from step 0 when the animation already sits at the end."""
    run = restore(run_dict)
    if run is None:
        return gr.skip()
    step = 0 if step >= _last_step(run, token) else int(step)
    return gr.Timer(active=True), step, *step_view(run, token, step)


def tick(run_dict, token, step):
    """Timer tick while playing: one step forward; the timer stops at the final step."""
    run = restore(run_dict)
    if run is None:
        return gr.Timer(active=False), gr.skip(), gr.skip(), gr.skip(), gr.skip()
    last = _last_step(run, token)
    step = min(int(step) + 1, last)
    return gr.Timer(active=step < last), step, *step_view(run, token, step)


def step_once(run_dict, token, step):
    """The Step button: one step forward, back to 0 after the final step."""
    run = restore(run_dict)
    if run is None:
        return gr.skip()
    step = 0 if step >= _last_step(run, token) else int(step) + 1
    return step, *step_view(run, token, step)


def show_run(run_dict):
    """Page load: show the run precomputed at startup (no thinking on the request path)."""
    run = restore(run_dict)
    return gr.skip() if run is None else run_view(run)


def settings_for(checkpoint):
    """The checkpoint's default ThinkConfig as widget values."""
    with user_errors():
        return widget_values(ebt_model(checkpoint).think_defaults)


def first_run() -> dict | None:
    """The first example, thought once at startup so the first page view is instant."""
    if not EXAMPLES or EXAMPLES[0]["checkpoint"] != DEFAULT_EBT:
        return None
    example = EXAMPLES[0]
    try:
        model = get_model(DEFAULT_EBT)
        config = think_config(*widget_values(model.think_defaults))
        run = ebt.think(model, example["prompt"], config, example["max_new_tokens"])
    except ValueError as err:  # a checkpoint that cannot read its own example: start empty
        print(f"EBT Explorer: no precomputed first run ({err})")
        return None
    return run.to_dict()


if gr.NO_RELOAD:
    FIRST_RUN = first_run()

# ---- layout ---------------------------------------------------------------------------------
DEFAULTS = settings_for(DEFAULT_EBT) if DEFAULT_EBT else (8, 0, 0.0, 1, "min", 0.0, 0, False)
FIRST_PROMPT, FIRST_TOKENS = (
    (EXAMPLES[0]["prompt"], EXAMPLES[0]["max_new_tokens"]) if EXAMPLES else ("", 8)
)
NO_CHECKPOINT = (
    f"**No text EBT checkpoint in `{CHECKPOINTS}`.** Train one (see README) or point "
    "`EBT_CHECKPOINTS` at a folder of checkpoints."
)
INTRO = """# EBT Explorer
An Energy-Based Transformer does not output a prediction: it scores (context, candidate) with an
energy and *thinks* by gradient descent on the candidate. Each character below was found by
descending N candidates from random starts and keeping one (best-of-N)."""


def int_slider(name: str, lo: int, value: int, label: str) -> gr.Slider:
    return gr.Slider(lo, LIMITS[name], value=value, step=1, precision=0, label=label)


with gr.Blocks(title="EBT Explorer") as demo:
    gr.Markdown(INTRO if EBTS else f"{INTRO}\n\n{NO_CHECKPOINT}")
    run_state = gr.State(FIRST_RUN)
    with gr.Tab("Think"):
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                prompt = gr.Textbox(label="Prompt", value=FIRST_PROMPT)
                checkpoint = gr.Dropdown(EBTS, value=DEFAULT_EBT, label="Checkpoint (text EBT)")
                max_new_tokens = int_slider("max_new_tokens", 1, FIRST_TOKENS, "Max new tokens")
                steps = int_slider("steps", 1, DEFAULTS[0], "Steps (descent steps per character)")
                step_size = gr.Number(DEFAULTS[1], minimum=0, label="Step size α (0 = trained α)")
                langevin = gr.Slider(
                    0, LIMITS["langevin"], value=DEFAULTS[2], step=0.05, label="Langevin noise"
                )
                samples = int_slider("samples", 1, DEFAULTS[3], "Samples N (best-of-N)")
                select = gr.Radio(["min", "max_gap"], value=DEFAULTS[4], label="Select")
                tolerance = gr.Slider(
                    0,
                    LIMITS["tolerance"],
                    value=DEFAULTS[5],
                    step=0.001,
                    label="Tolerance (early stop when every |ΔE| < tol; 0 = off)",
                )
                seed = gr.Number(DEFAULTS[6], minimum=0, precision=0, label="Seed")
                accept_lower_only = gr.Checkbox(DEFAULTS[7], label="Accept lower energy only")
                think_btn = gr.Button("Think", variant="primary")
            with gr.Column(scale=2):
                continuation = gr.Textbox(label="Continuation", interactive=False)
                strip = gr.HTML(label="Token strip")
                run_md = gr.Markdown(label="Run summary")
                with gr.Row():
                    token = gr.Dropdown(label="Token (position: character)", choices=[])
                    step = gr.Slider(0, 1, value=0, step=1, precision=0, label="Step")
                with gr.Row():
                    play_btn = gr.Button("▶ Play", size="sm")
                    pause_btn = gr.Button("Pause", size="sm")
                    step_btn = gr.Button("Step +1", size="sm")
                timer = gr.Timer(0.4, active=False)
                with gr.Row():
                    energy_plot = gr.Plot(label="Energy vs step")
                    topk_plot = gr.Plot(label="Top-k of the chosen candidate")
                step_md = gr.Markdown(label="Step summary")
                table = gr.Dataframe(
                    headers=figures.BEST_OF_N_HEADERS, label="Best-of-N", interactive=False
                )
                token_md = gr.Markdown(label="Token summary")
        if EXAMPLES:
            gr.Examples(
                [[e["prompt"], e["checkpoint"], e["max_new_tokens"]] for e in EXAMPLES],
                [prompt, checkpoint, max_new_tokens],
                cache_examples=False,
                api_visibility="private",
            )
        with gr.Accordion("Score your own answer", open=False):
            answer = gr.Textbox(label="Your answer (continues the prompt)", placeholder="47")
            score_btn = gr.Button("Score")
            score_plot = gr.Plot(label="Energy of each character")
            score_md = gr.Markdown(label="Score summary")
    with gr.Tab("Landscape"):
        landscape_tab.build(prompt, checkpoint, token, run_state)
    with gr.Tab("Denoise"):
        denoise_tab.build(demo)

    # ---- events -----------------------------------------------------------------------------
    SETTINGS = [steps, step_size, langevin, samples, select, tolerance, seed, accept_lower_only]
    STEP_OUT = [energy_plot, topk_plot, step_md]
    TOKEN_OUT = [step, *STEP_OUT, table, token_md]
    RUN_OUT = [continuation, strip, run_md, token, *TOKEN_OUT, run_state]
    private = dict(api_visibility="private")
    think_inputs = [prompt, checkpoint, *SETTINGS[:-1], max_new_tokens, accept_lower_only]
    think_btn.click(think, think_inputs, RUN_OUT, api_name="think", preprocess=False)
    score_btn.click(
        score,
        [prompt, answer, checkpoint],
        [score_plot, score_md],
        api_name="score",
        preprocess=False,
    )
    checkpoint.change(settings_for, checkpoint, SETTINGS, **private)  # examples change it too
    token.input(select_token, [run_state, token], [timer, *TOKEN_OUT], **private)
    step.input(show_step, [run_state, token, step], STEP_OUT, trigger_mode="always_last", **private)
    play_btn.click(play, [run_state, token, step], [timer, step, *STEP_OUT], **private)
    pause_btn.click(lambda: gr.Timer(active=False), None, timer, **private)
    step_btn.click(step_once, [run_state, token, step], [step, *STEP_OUT], **private)
    timer.tick(tick, [run_state, token, step], [timer, step, *STEP_OUT], **private)
    demo.load(show_run, run_state, RUN_OUT, **private)

demo.queue(default_concurrency_limit=LIMITS["concurrency"], max_size=LIMITS["queue_size"])

if __name__ == "__main__":
    demo.launch(max_file_size=MAX_UPLOAD_BYTES)

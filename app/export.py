"""Exports of a Think run for a lesson offline: one self-contained HTML page (plotly.js inlined
from the installed plotly package: it opens from file:// with no network), a GIF of a token's
descent for slides (Pillow), the run as JSON (`ThinkRun.to_dict`, which the lab opens), and a
GIF of denoising frames.

The HTML page draws the token strip, then replays any token's descent in the browser: a step
slider and Play grow the energy curves and update the top-k bars and the best-of-N table; the
landscape of the first token is a static chart below. A whole-answer EBT's run (sums, Sudoku:
pass its `task`) also shows the whole answer at the shown step (a grid for Sudoku), and its
best-of-N table lists the distinct whole answers.
"""

from __future__ import annotations

import html
import io
import json
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

import ebt_core as ebt
from app import figures
from app.figures import answer as answers
from app.runtime import TOP_K
from ebt_core.answer.data import Task


# ---- the run as data for the page's script -----------------------------------------------------
def token_data(tok: ebt.TokenRecord) -> dict:
    """One token's descent for the page: every candidate's energies, the chosen candidate's
    top-k at every step, and the best-of-N rows."""
    steps = range(tok.steps_used + 1)
    return {
        "char": figures.show_char(tok.char),
        "chosen": tok.chosen,
        "energies": np.round(tok.energies, 5).tolist(),  # (N, S+1)
        "topk": [tok.top_k(s, TOP_K, sample=tok.chosen) for s in steps],
        "steps": tok.steps_used,
    }


def page_data(run: ebt.ThinkRun, task: Task | None = None) -> dict:
    """The run for the page's script; an answer run (`task`) adds its whole answer at every
    step (a plotly figure each) and its table of whole answers for every position."""
    if task is None:
        rows = [figures.best_of_n_table(run, i) for i in range(len(run.tokens))]
    else:
        rows = [answers.answer_table(run, task)["data"]] * len(run.tokens)
    tokens = [token_data(t) | {"table": r} for t, r in zip(run.tokens, rows)]
    data = {"prompt": run.prompt, "text": run.text, "tokens": tokens}
    if task is not None and run.tokens:
        steps = range(run.tokens[0].steps_used + 1)
        data["answer"] = [json.loads(answers.answer_grid(run, task, s).to_json()) for s in steps]
    return data


# ---- the page -----------------------------------------------------------------------------------
def run_html(
    run: ebt.ThinkRun, landscape: go.Figure | None = None, title: str = "", task: Task | None = None
) -> str:
    """The run as one self-contained HTML page (about 4.7 MB: plotly.js is inlined). `task`:
    the task of a whole-answer EBT's run (its answer grid and whole-answer table)."""
    title = title or f"EBT Explorer: {run.prompt!r} → {run.text!r}"
    scape = landscape.to_json() if landscape is not None else "null"
    headers = json.dumps(figures.BEST_OF_N_HEADERS if task is None else answers.ANSWER_HEADERS)
    body = BODY.format(
        title=html.escape(title),
        strip=figures.token_strip(run) if task is None else answers.answer_strip(run, task),
        summary=html.escape(
            figures.summarize_run(run) if task is None else answers.summarize_answer_run(run, task)
        ),
        checkpoint=html.escape(run.checkpoint or "(in memory)"),
        options="".join(
            f'<option value="{i}">{html.escape(_label(t, i, task))}</option>'
            for i, t in enumerate(run.tokens)
        ),
        replay="a character's descent" if task is None else "the whole answer's descent",
        below=LANDSCAPE if landscape is not None else "",
    )
    data = json.dumps(page_data(run, task)).replace("</", "<\\/")
    script = SCRIPT.replace("__DATA__", data).replace("__SCAPE__", scape.replace("</", "<\\/"))
    script = script.replace("__HEADERS__", headers)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f'</title><meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{STYLE}</style><script>{get_plotlyjs()}</script></head>"
        f"<body>{body}<script>{script}</script></body></html>"
    )


def _label(tok: ebt.TokenRecord, i: int, task: Task | None) -> str:
    if task is not None:
        return answers.position_label(task, i, tok.char)
    return f"{i}: {figures.show_char(tok.char)}"


STYLE = """body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
max-width:1100px;margin:0 auto;padding:12px;color:#222}
.row{display:flex;flex-wrap:wrap;gap:12px}.row>div{flex:1 1 340px;min-width:0}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ddd;padding:3px 8px}
.scroll{overflow-x:auto}.controls{display:flex;gap:10px;align-items:center;flex-wrap:wrap}
input[type=range]{flex:1 1 200px}"""

BODY = """<h1>{title}</h1><p>Checkpoint <code>{checkpoint}</code>. {summary}</p>
<div class="ebt-strip-box">{strip}</div>
<h2>Replay {replay}</h2>
<div class="controls"><label>Token <select id="token">{options}</select></label>
<button id="play">▶ Play</button><label for="step">Step</label>
<input id="step" type="range" min="0" max="1" value="0" step="1">
<span id="step-label"></span></div>
<div id="answer"></div>
<div class="row"><div id="energy"></div><div id="topk"></div></div>
<p id="summary"></p><div class="scroll"><table id="table"></table></div>
{below}<div id="landscape"></div>
<p><small>Exported by EBT Explorer: works offline, no network needed.</small></p>"""
LANDSCAPE = "<h2>Energy landscape (first character)</h2>"

SCRIPT = (Path(__file__).parent / "export_page.js").read_text(encoding="utf-8")


# ---- GIFs and JSON ------------------------------------------------------------------------------
def descent_gif(run: ebt.ThinkRun, token: int = 0, size=(480, 320)) -> bytes:
    """An animated GIF of one token's descent: the energy curves growing step by step (the
    chosen candidate red, the others grey), for a slide."""
    from PIL import Image, ImageDraw

    tok = run.tokens[token]
    lo, hi = float(tok.energies.min()), float(tok.energies.max())
    w, h, pad = size[0], size[1], 40

    def xy(step: float, energy: float) -> tuple[float, float]:
        x = pad + (w - 2 * pad) * step / max(tok.steps_used, 1)
        return x, h - pad - (h - 2 * pad) * (energy - lo) / ((hi - lo) or 1.0)

    frames = []
    for s in range(tok.steps_used + 1):
        im = Image.new("RGB", size, "white")
        d = ImageDraw.Draw(im)
        d.text((pad, 8), f"token {token} {figures.show_char(tok.char)!r}: step {s}", fill="black")
        d.line([(pad, h - pad), (w - pad, h - pad)], fill="#999")
        order = [i for i in range(tok.samples) if i != tok.chosen] + [tok.chosen]
        for i in order:
            points = [xy(k, float(tok.energies[i, k])) for k in range(s + 1)]
            colour, width = ("#d62728", 4) if i == tok.chosen else ("#7f7f7f", 2)
            d.line(points, fill=colour, width=width) if len(points) > 1 else None
            d.ellipse([points[-1][0] - 3, points[-1][1] - 3, points[-1][0] + 3,
                       points[-1][1] + 3], fill=colour)  # fmt: skip
        frames.append(im)
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=600, loop=0)
    return out.getvalue()


def frames_gif(frames: list[np.ndarray], duration_ms: int = 400) -> bytes:
    """An animated GIF of denoising frames ((H, W, 3) floats in [0, 1] or uint8)."""
    from PIL import Image

    images = [Image.fromarray(ebt.to_uint8(f) if f.dtype != np.uint8 else f) for f in frames]
    out = io.BytesIO()
    images[0].save(out, "GIF", save_all=True, append_images=images[1:], duration=duration_ms,
                   loop=0)  # fmt: skip
    return out.getvalue()


def run_json(run: ebt.ThinkRun) -> str:
    """The run as JSON (ThinkRun.to_dict): `ebt.ThinkRun.from_dict(json.loads(text))` reads it."""
    return json.dumps(run.to_dict())


def read_run_json(data: bytes | str) -> ebt.ThinkRun:
    """A run exported as JSON (Download JSON, /export_json) back as a ThinkRun; ValueError says
    what is wrong with a file that is not one."""
    try:
        record = json.loads(data)
        return ebt.ThinkRun.from_dict(record)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"run file must be JSON exported by EBT Explorer: {err}") from err
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"run file is JSON but not an exported run (missing {err})") from err


# ---- pages of other runs (the classroom site) -----------------------------------------------
def figures_html(title: str, text: str, figs: list[go.Figure], body: str = "") -> str:
    """A self-contained page of static charts (plotly.js inlined) with a paragraph of text and
    optional extra HTML (images as data URLs): for denoising and point runs."""
    divs = "".join(f'<div id="fig{i}"></div>' for i in range(len(figs)))
    plots = "".join(
        f"Plotly.newPlot('fig{i}', ...(f => [f.data, f.layout])({f.to_json()}));"
        for i, f in enumerate(figs)
    ).replace("</", "<\\/")
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f'</title><meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{STYLE}</style><script>{get_plotlyjs()}</script></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>{body}"
        f'<div class="row">{divs}</div><script>{plots}</script>'
        "<p><small>Exported by EBT Explorer: works offline, no network needed.</small></p>"
        "</body></html>"
    )


def _png_url(frame: np.ndarray) -> str:
    """An (H, W, C) frame in [0, 1] as a PNG data URL."""
    import base64

    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(ebt.to_uint8(frame)).save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def denoise_html(title: str, run: ebt.DenoiseResult, dit: ebt.DenoiseResult | None) -> str:
    """A denoising run as one self-contained page: noisy, EBT and DiT results and the EBT's
    frames as a GIF (data URLs), energy and PSNR charts."""
    import base64

    gif = base64.b64encode(frames_gif(list(run.frames))).decode()
    images = [("noisy", run.frames[0]), ("image EBT", run.frames[-1])]
    images += [("DiT baseline", dit.result)] if dit is not None else []
    cells = "".join(
        f'<figure><img alt="{name}" width="256" style="image-rendering:pixelated" '
        f'src="{_png_url(frame)}"><figcaption>{name}</figcaption></figure>'
        for name, frame in images
    )
    body = (
        f'<div class="controls">{cells}<figure><img alt="frames" width="256" '
        f'style="image-rendering:pixelated" src="data:image/gif;base64,{gif}">'
        "<figcaption>EBT frames, step by step</figcaption></figure></div>"
    )
    charts = [figures.denoise_energy(run, len(run.frames) - 1), figures.denoise_psnr(run, dit)]
    return figures_html(title, figures.summarize_denoise(run, dit), charts, body)

"""The Think tab's exports as buttons and API endpoints, each taking /think's parameters:

    /export_html(prompt, checkpoint, steps, ..., max_new_tokens, accept_lower_only)  → .html
    /export_json(same)                                                              → .json
    /export_gif(same, token=0)                                                      → .gif

The HTML page (app/export.py) is self-contained and works offline; the JSON is
`ThinkRun.to_dict` (the lab opens it); the GIF shows one token's descent for a slide.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

import ebt_core as ebt
from app import export, figures
from app.inputs import LIMITS, THINK_PARAMETERS, int_in, takes_think_parameters, user_errors
from app.runtime import compute

LANDSCAPE_RESOLUTION = 41  # the exported page's landscape (the Landscape tab's default)


def _file(run: ebt.ThinkRun, suffix: str, content: str | bytes) -> str:
    """Write an export to a fresh temporary file named after the run; returns its path."""
    stem = re.sub(r"[^A-Za-z0-9+=-]+", "_", f"ebt-{run.prompt}{run.text}").strip("_")[:60]
    path = Path(tempfile.mkdtemp(prefix="ebt-export-")) / f"{stem}{suffix}"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


class Exports:
    """Export handlers over the Think tab (its `thought` validates and thinks)."""

    def __init__(self, think_tab):
        self.think = think_tab

    def page(self, run: ebt.ThinkRun, title: str = "") -> str:
        """The run's self-contained HTML page, with its first token's landscape (a text EBT's;
        a whole-answer EBT's page shows its answer grid instead)."""
        landscape, task = None, self.think.task_of(run)
        if run.tokens and task is None:
            model = self.think.registry.text_ebt(run.checkpoint)
            scape = compute(ebt.landscape, model, run, 0, LANDSCAPE_RESOLUTION, "pca")
            landscape = figures.landscape_contour(run, scape)
        return export.run_html(run, landscape, title, task)

    @takes_think_parameters()
    def export_html(self, *params):
        """The run /think would show, as one self-contained HTML file (works offline)."""
        with user_errors():
            run = self.think.thought(*params)
            return _file(run, ".html", self.page(run))

    @takes_think_parameters()
    def export_json(self, *params):
        """The run /think would show, as JSON (ThinkRun.to_dict; the lab opens it)."""
        with user_errors():
            run = self.think.thought(*params)
            return _file(run, ".json", export.run_json(run))

    @takes_think_parameters("token")
    def export_gif(self, *params):
        """An animated GIF of one token's descent (`token`, after /think's parameters: its
        position, default 0)."""
        n = len(THINK_PARAMETERS)
        with user_errors():
            run = self.think.thought(*params[:n])
            token = 0 if len(params) <= n or params[n] is None else params[n]
            token = int_in("token", token, 0, LIMITS["max_new_tokens"] - 1)
            if token >= len(run.tokens):
                raise ValueError(f"token must be below {len(run.tokens)} for this run, got {token}")
            return _file(run, f"-token{token}.gif", export.descent_gif(run, token))

    @staticmethod
    def build() -> SimpleNamespace:
        """The export buttons and the file they give (lay out inside the Think tab)."""
        w = SimpleNamespace()
        with gr.Accordion("Export this run (for a lesson offline or a slide)", open=False):
            with gr.Row():
                w.html_btn = gr.Button("Download as HTML", size="sm")
                w.gif_btn = gr.Button("Download GIF (selected token)", size="sm")
                w.json_btn = gr.Button("Download JSON", size="sm")
            w.file = gr.File(label="Exported file", interactive=False)
        return w

    def wire(self, w: SimpleNamespace, think_in: list, token) -> None:
        """api_name export_html / export_json / export_gif, after /think and /score."""
        plain = dict(preprocess=False)
        w.html_btn.click(self.export_html, think_in, w.file, api_name="export_html", **plain)
        w.json_btn.click(self.export_json, think_in, w.file, api_name="export_json", **plain)
        w.gif_btn.click(self.export_gif, [*think_in, token], w.file, api_name="export_gif", **plain)

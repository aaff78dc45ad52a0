"""The page's look beyond the Gradio theme: one font that draws "EBT" as three capitals, tables
that scroll inside their box on a phone, compact examples, the mark on a failed request's
outputs, and an early start on the plotly bundle so charts draw with the text.

`HEAD` goes into the document head through a gr.HTML component (so it holds however the page is
launched: `python app/main.py`, `gradio app/main.py`, a Space, the tests' in-process server).
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

# Gradio's bundled "Source Sans Pro" draws the B of "EBT" as a small capital ("EʙT", issue 16):
# the page uses the system's sans-serif instead (DejaVu/Liberation on Linux, Segoe on Windows).
FONT = (
    'ui-sans-serif, system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, '
    '"DejaVu Sans", "Liberation Sans", sans-serif'
)
CSS = f"""
:root, .gradio-container {{ --font: {FONT}; }}
.gradio-container, .gradio-container h1, .gradio-container h2, .gradio-container label,
.gradio-container table {{ font-family: {FONT} !important; }}
.ebt-table, #think-examples, .ebt-examples {{ max-width: 100%; overflow-x: auto; }}
.ebt-table table, #think-examples table, .ebt-examples table {{ min-width: 0 !important; }}
#think-examples td, #think-examples th, .ebt-examples td, .ebt-examples th {{
    padding: 4px 8px !important; }}
.ebt-stale {{ background: #fff4e5; border-left: 4px solid #f0a020; padding: 6px 10px;
    color: #5a3a00; border-radius: 4px; }}
.ebt-plot {{ min-height: 200px; }}
@media (max-width: 600px) {{
    .gradio-container {{ padding-left: 4px !important; padding-right: 4px !important; }}
    .ebt-table td, .ebt-table th {{ padding: 2px 4px !important; font-size: 0.85em; }}
}}
"""


def plotly_chunk() -> str | None:
    """The file name of Gradio's plotly bundle (hashed per release), or None if not found."""
    assets = Path(gr.__file__).parent / "templates/frontend/assets"
    found = sorted(assets.glob("PlotlyPlot-*.js"))
    return found[0].name if found else None


def head() -> str:
    """<style> for the page and a modulepreload of the ~4.6 MB plotly bundle: without it the
    browser asks for the bundle only when the first chart arrives, and charts stay empty boxes
    for seconds after the text is shown."""
    chunk = plotly_chunk()
    preload = f'<link rel="modulepreload" href="./assets/{chunk}">' if chunk else ""
    return f"<style>{CSS}</style>{preload}"


def install() -> gr.HTML:
    """Put `head()` into the page (call inside the gr.Blocks, once)."""
    return gr.HTML("", head=head(), elem_id="ebt-style", padding=False, container=False)

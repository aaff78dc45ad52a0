"""The Denoise tab: an image EBT denoising a photograph, step by step, beside the DiT."""

from __future__ import annotations

import gradio as gr


def build() -> None:
    """Lay out the tab inside the current gr.Tab and wire its events (api_name="denoise")."""
    gr.Markdown("**Denoise — coming soon:** watch an image EBT denoise a photograph.")

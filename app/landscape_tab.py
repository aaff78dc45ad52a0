"""The Landscape tab: the energy on a plane through one token's descent, and all N paths."""

from __future__ import annotations

import gradio as gr


def build(prompt, checkpoint, token, run_state) -> None:
    """Lay out the tab inside the current gr.Tab and wire its events (api_name="landscape")."""
    gr.Markdown("**Landscape — coming soon:** a 2-D slice of the energy with the descent path.")

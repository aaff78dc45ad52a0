"""EBT Explorer, the Gradio front end: watch a text EBT think, character by character, slice its
energy landscape (and a point EBT's exact one), watch an image EBT denoise a photo, and train a
point EBT live in the Playground. One module per tab (think_tab, landscape_tab with
landscape_points, denoise_tab, playground_tab); this file only assembles them.

    gradio app/main.py                                # reload mode while editing
    python app/main.py                                # plain launch (as a Hugging Face Space)
    EBT_CHECKPOINTS=/my/checkpoints python app/main.py

Stable API (gradio_client), no hidden state:
    /think(prompt, checkpoint, steps, step_size, langevin, samples, select, tolerance, seed,
           max_new_tokens, accept_lower_only=False)
    /score(prompt, answer, checkpoint)
    /landscape(prompt, checkpoint, token, resolution, method, steps, samples, seed)
    /denoise(image, checkpoint, noise, steps, step_size, langevin, seed)   image: handle_file(path)
    /denoise_baseline(image, noise, seed, dit_passes)                      the DiT baseline
and, with the trained model kept in the caller's session (gr.State):
    /playground_train(task, objective, iters, lr, samples, steps_min, steps_max, step_size,
                      alpha_jitter, langevin, replay, final_only, detach, start_std, seed)
    /playground_think(context, steps, samples, seed)

Importing this module builds the page (`demo`) but loads no model: checkpoints load on first
use, and the first page load thinks the first example once for every later visitor.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import gradio as gr

from app import permalink, style
from app.denoise_tab import DenoiseTab
from app.inputs import LIMITS, MAX_UPLOAD_BYTES
from app.landscape_points import PointLandscape
from app.landscape_tab import LandscapeTab
from app.playground_tab import PlaygroundTab
from app.runtime import Registry, limit_malloc_arenas
from app.think_tab import ThinkTab

INTRO = """# EBT Explorer
An Energy-Based Transformer does not output a prediction: it scores (context, candidate) with an
energy and *thinks* by gradient descent on the candidate. Each character below was found by
descending N candidates from random starts and keeping one (best-of-N)."""


@dataclass
class Explorer:
    """The page and the tabs whose handlers it wires (tests call the handlers directly)."""

    demo: gr.Blocks
    registry: Registry
    think: ThinkTab
    landscape: LandscapeTab
    denoise: DenoiseTab
    points: PointLandscape
    playground: PlaygroundTab

    def warm_up(self) -> threading.Thread:
        """Compute the first page's views in the background (the first example thought, its
        landscape, the first photo denoised), so that the first visitor's charts are drawn as
        fast as every later visitor's. Called when the server starts, never at import."""

        def work() -> None:
            self.think.first_run()
            self.landscape.first_view()
            self.points.first_view()
            if self.denoise.examples and self.registry.image_ebts and self.registry.dit:
                self.denoise.first_view()

        thread = threading.Thread(target=work, name="ebt-warm-up", daemon=True)
        thread.start()
        return thread


def create_explorer() -> Explorer:
    """Build the app on the checkpoints in $EBT_CHECKPOINTS (default: the repository's
    checkpoints/): scans the folder, lays out the tabs and wires their events; loads nothing."""
    limit_malloc_arenas()
    registry = Registry.scan()
    think = ThinkTab(registry)
    landscape = LandscapeTab(registry, think.first_run)
    denoise = DenoiseTab(registry)
    points, playground = PointLandscape(registry), PlaygroundTab(registry)
    no_checkpoint = (
        f"**No text EBT checkpoint in `{registry.folder}`.** Train one (see README) or point "
        "`EBT_CHECKPOINTS` at a folder of checkpoints."
    )
    with gr.Blocks(title="EBT Explorer") as demo:
        style.install()
        gr.Markdown(INTRO if registry.text_ebts else f"{INTRO}\n\n{no_checkpoint}")
        trained = playground.state()  # this visitor's Playground model (both tabs use it)
        with gr.Tabs(elem_id="ebt-tabs") as tabs:  # ids: the ?tab= of a permalink
            with gr.Tab("Think", id="think"):
                think_widgets = think.build()
            with gr.Tab("Landscape", id="landscape"):
                with gr.Tabs() as landscape_views:  # ids: the sub-tab a ?tab=points link opens
                    with gr.Tab("Text EBT: a slice", id="slice"):
                        landscape.build(demo, think_widgets)
                    with gr.Tab("Point EBT: exact", id="points"):
                        points.build(demo, trained)
            with gr.Tab("Denoise", id="denoise"):
                denoise.build(demo)
            think.wire(demo, think_widgets)
            with gr.Tab("Playground", id="playground"):
                playground.build(demo, trained)
        demo.load(permalink.selected_tab, None, tabs, api_visibility="private")
        demo.load(permalink.selected_subtab, None, landscape_views, api_visibility="private")
    demo.queue(default_concurrency_limit=LIMITS["concurrency"], max_size=LIMITS["queue_size"])
    return Explorer(demo, registry, think, landscape, denoise, points, playground)


def create_demo() -> gr.Blocks:
    """The Gradio page (see `create_explorer`)."""
    return create_explorer().demo


explorer = create_explorer()
demo = explorer.demo  # `gradio app/main.py` and Hugging Face Spaces look for this name

if __name__ == "__main__":
    explorer.warm_up()  # the first page's runs, while the server starts
    # head= also puts the style and the plotly preload into the first HTML the browser gets
    # (style.install() adds them only once Gradio's own script has run: later)
    demo.launch(max_file_size=MAX_UPLOAD_BYTES, head=style.head())

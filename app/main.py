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

Importing this module builds the page (`demo`) but loads no model and imports no torch:
checkpoints load on first use. `python app/main.py` puts the first example's views into the
page itself, so the first page draws its charts without a page-load round trip (issue 16:
start to charts ≤ 5 s); the example is thought by a helper process that imports torch while
this one imports Gradio (app/first_page.py). Each other tab computes its first view when it is
first opened (or in the background a few seconds after the start), not at every page load.
"""

from __future__ import annotations

from app import startup  # first: start-up runs without the cyclic garbage collector

# isort: split
from app import first_page

# the first example is thought on the other core while this process imports Gradio
HELPER = first_page.start() if __name__ == "__main__" else None

# isort: split
import threading
import time
from dataclasses import dataclass
from types import SimpleNamespace

import gradio as gr
from gradio.data_classes import GradioModel, GradioRootModel
from gradio.processing_utils import move_files_to_cache

from app import permalink, style
from app.denoise_tab import DenoiseTab
from app.inputs import LIMITS, MAX_UPLOAD_BYTES
from app.landscape_points import PointLandscape
from app.landscape_tab import LandscapeTab
from app.page_load import PageLoad
from app.playground_tab import PlaygroundTab
from app.runtime import Registry, limit_malloc_arenas
from app.think_tab import ThinkTab

INTRO = """# EBT Explorer
An Energy-Based Transformer does not output a prediction: it scores (context, candidate) with an
energy and *thinks* by gradient descent on the candidate. Each character below was found by
descending N candidates from random starts and keeping one (best-of-N)."""
# The other tabs' first views wait this long after the start: the first visitor's browser has
# the CPU to itself while it draws the first page (they are computed on demand before that).
WARM_UP_DELAY_S = 10.0


def set_initial(component: gr.components.Component, value) -> None:
    """Make `value` (what a handler would return for `component`: a value, or a component as
    an update, e.g. gr.Slider(maximum=3, value=3)) the component's value in the page config,
    as its constructor would have (call before `launch`, which writes the config)."""
    if isinstance(value, gr.components.Component):  # an update: apply its other arguments too
        props = {k: v for k, v in value.constructor_args.items() if k != "value"}
        kwargs = {**component.constructor_args, **props, "render": False}
        kwargs.pop("value", None)
        updated = type(component)(**kwargs)  # as gradio builds an update (props normalised)
        for name in props:
            setattr(component, name, getattr(updated, name))
        # gradio rebuilds a session's copy of the component from these for every later update
        # (gr.skip() too): without them a token menu would be back to no choices
        component.constructor_args.update(props)
        value = value.constructor_args.get("value")
    if component.stateful:  # gr.State: each session starts from a deep copy of this value
        component.value = value
        return
    value = component.postprocess(value)
    if isinstance(value, (GradioModel, GradioRootModel)):
        value = value.model_dump()
    component.value = move_files_to_cache(value, component, postprocess=True, keep_in_cache=True)


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
    think_widgets: SimpleNamespace  # the Think tab's widgets (`first_page` sets their values)
    page_load: PageLoad  # the one page-load event: every tab's loader (a permalink's values)

    def first_page(self, found: dict | None = None) -> bool:
        """Make the first example's views the Think tab's initial values, so the page itself
        holds its text and charts (no page-load round trip before the charts are drawn; a
        ?tab=think link still replaces them with its run). The run is `found` (what the helper
        process printed: app/first_page.py) when that is the run the tab would think, else it
        is thought here now. Call before `launch`; False (nothing changed) when the first
        example cannot be thought here."""
        self.think.adopt_first_run(found)
        if self.think.first_run() is None:
            return False
        for component, value in zip(self.think_widgets.run_out, self.think.show_first_run()):
            set_initial(component, value)
        self.think.first_run_in_page = True  # its page load then sends nothing without a link
        return True

    def warm_up(self, delay_s: float = 0.0) -> threading.Thread:
        """Compute the first views in the background (the first example thought, its
        landscape, the Point EBT's, the first photo denoised) after `delay_s` seconds, so that
        a tab opened later shows its first view at once. Called when the server starts, never
        at import; a tab opened before then computes its own (each view is computed once)."""

        def work() -> None:
            time.sleep(delay_s)
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
    loads = PageLoad()  # every tab's reading of the URL, in one page-load event
    with gr.Blocks(title="EBT Explorer") as demo:
        style.install()
        gr.Markdown(INTRO if registry.text_ebts else f"{INTRO}\n\n{no_checkpoint}")
        trained = playground.state()  # this visitor's Playground model (both tabs use it)
        # ids: the ?tab= of a permalink; each tab's first view is shown when it is first opened
        with gr.Tabs(elem_id="ebt-tabs") as tabs:
            with gr.Tab("Think", id="think"):
                think_widgets = think.build()
            with gr.Tab("Landscape", id="landscape") as landscape_page:
                with gr.Tabs() as landscape_views:  # ids: the sub-tab a ?tab=points link opens
                    with gr.Tab("Text EBT: a slice", id="slice"):
                        landscape.build(loads, think_widgets, landscape_page)
                    with gr.Tab("Point EBT: exact", id="points") as points_page:
                        points.build(loads, trained, points_page)
            with gr.Tab("Denoise", id="denoise") as denoise_page:
                denoise.build(loads, denoise_page)
            think.wire(loads, think_widgets)
            with gr.Tab("Playground", id="playground"):
                playground.build(loads, trained)
        loads.add(permalink.selected_tab, [tabs])
        loads.add(permalink.selected_subtab, [landscape_views])
        loads.register(demo)
    demo.queue(default_concurrency_limit=LIMITS["concurrency"], max_size=LIMITS["queue_size"])
    return Explorer(
        demo, registry, think, landscape, denoise, points, playground, think_widgets, loads
    )


def create_demo() -> gr.Blocks:
    """The Gradio page (see `create_explorer`)."""
    return create_explorer().demo


explorer = create_explorer()
demo = explorer.demo  # `gradio app/main.py` and Hugging Face Spaces look for this name

if __name__ == "__main__":
    try:  # the first example's views in the page config (~0.05 s with the helper's run)
        explorer.first_page(first_page.result(HELPER))
    except Exception as err:  # e.g. no GPU at start on a ZeroGPU Space: serve without it
        print(f"EBT Explorer: the first page loads its run on page load instead ({err})")
    startup.finish()  # the page is built: freeze its objects, collect garbage again
    explorer.warm_up(WARM_UP_DELAY_S)  # the other tabs' first views, once the first page is up
    # head= puts the style and the plotly preload into the page config, which Gradio's script
    # adds to the document as it starts (style.install()'s copy only once the tab renders)
    demo.launch(max_file_size=MAX_UPLOAD_BYTES, head=style.head())
else:  # imported (tests, `gradio app/main.py`, a Space): the page is built
    startup.finish()

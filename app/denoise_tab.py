"""The Denoise tab: an image EBT denoises a photograph by gradient descent on the image, step by
step, beside the DiT diffusion baseline.

Stable API (gradio_client, no hidden state):
    /denoise(image, checkpoint, noise, steps, step_size, langevin, seed)   the EBT alone
    /denoise_baseline(image, noise, seed, dit_passes)                      the DiT alone
`image` is a file (`gradio_client.handle_file(path)`); photos larger than
LIMITS["image_side"] pixels a side are downscaled first, and the summary says so. The UI runs
the baseline right after the EBT, so /denoise stays within the latency budget.
"""

from __future__ import annotations

import tempfile
import threading
from functools import partial
from pathlib import Path

import gradio as gr
import numpy as np

import ebt_core as ebt
from app import export, figures, guide, tab_links
from app.inputs import (
    LIMITS,
    denoise_config,
    denoise_limits,
    dit_config,
    image_from_upload,
    user_errors,
)
from app.page_load import PageLoad
from app.runtime import Registry, compute
from ebt_core.image.settings import DEFAULT_EBT_TOLERANCE

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "assets/examples"
# 3 DDIM passes: the same number of network passes as the EBT at its default 2 steps (2 steps +
# the final score), the fair comparison the summary shows with seconds beside PSNR; the README's
# results give the DiT at its best pass count too (issue 15).
DEFAULT_DIT_PASSES = 3
EXAMPLES = [
    [str(EXAMPLES_DIR / name), noise]
    for name, noise in [
        ("denoise-astronaut.png", 0.1),
        ("denoise-china.png", 0.2),
        ("denoise-camera.png", 0.1),
    ]
    if (EXAMPLES_DIR / name).is_file()
]


# ---- views: records → widget values ----------------------------------------------------------
def enlarged(image: np.ndarray, side: int = 256) -> np.ndarray:
    """A small image repeated pixel by pixel (nearest neighbour) towards `side`: gr.Image never
    scales up, and the noise is what the frames are about, so blur must not hide it."""
    factor = max(1, min(8, side // max(image.shape[:2])))
    return image.repeat(factor, axis=0).repeat(factor, axis=1)


def step_view(result: ebt.DenoiseResult, step: int) -> tuple:
    """Frame `step` of the descent, its one-line summary, and the energy chart marking it."""
    return (
        enlarged(ebt.to_uint8(result.frames[step])),
        figures.summarize_denoise_energy(result, step),
        figures.denoise_energy(result, step),
    )


def ebt_view(result: ebt.DenoiseResult, note: str) -> tuple:
    """Every output of /denoise for a fresh EBT run, showing its last frame."""
    last = len(result.frames) - 1
    frame, frame_md, energy = step_view(result, last)
    summary = figures.summarize_denoise(result)
    return (
        f"{summary}\n\n*Note: {note}.*" if note else summary,
        (ebt.to_uint8(result.frames[0]), ebt.to_uint8(result.frames[-1])),
        gr.Slider(minimum=0, maximum=last, value=last),
        frame,
        frame_md,
        energy,
        figures.denoise_psnr(result),
        summary,
        result.to_dict(),
    )


STALE = (
    "⚠ **{what} failed** (the message is shown at the top right); its previous result was "
    "cleared so that it is not mistaken for this one."
)


def failed_view() -> tuple:
    """Every output of the EBT and DiT sides after a failed /denoise: emptied and marked."""
    reset = gr.Slider(minimum=0, maximum=1, value=0)
    return (STALE.format(what="Denoising"), None, reset, None, "", None, None, "", None, None, "")


def frames_gif(record) -> str:
    """The stored EBT run's frames (noisy start → denoised) as an animated GIF file."""
    with user_errors():
        if not record:
            raise ValueError("there is no denoising run yet: press Denoise first")
        frames = ebt.DenoiseResult.from_dict(record).frames
        path = Path(tempfile.mkdtemp(prefix="ebt-export-")) / "denoising.gif"
        path.write_bytes(export.frames_gif([enlarged(ebt.to_uint8(f)) for f in frames]))
        return str(path)


def failed_dit_view() -> tuple:
    return None, STALE.format(what="The DiT baseline")


def photo_limits(image) -> tuple[int, int] | None:
    """The most EBT steps and DiT passes the server accepts for this upload (after the app's
    downscaling), or None when there is no usable photo."""
    try:
        photo, _ = image_from_upload(image)
    except ValueError:
        return None
    return denoise_limits(photo.size[1], photo.size[0])


# ---- handlers --------------------------------------------------------------------------------
PROGRESS = gr.Progress()  # gradio spots this default and reports progress per event


def _quiet(*_args, **_kwargs) -> None:
    """Progress callback for work done outside an event."""


class DenoiseTab:
    """The tab's handlers over one registry (its image EBTs and its DiT), layout and events."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self.examples = EXAMPLES
        self._first: dict = {}  # the first example's views, computed when first needed
        self._first_lock = threading.Lock()

    def denoise(self, image, checkpoint, noise, steps, step_size, langevin, seed,
                progress=PROGRESS):  # fmt: skip
        """Noise the photo to level `noise` (0 = it is already noisy) and denoise it with an
        image EBT: before/after, the frames per step, energy and PSNR vs step, and summaries."""
        with user_errors():
            model = self.registry.image_ebt(checkpoint)
            photo, note = image_from_upload(image)
            config = denoise_config(photo, noise, steps, step_size, langevin, seed)
            progress(0.1, desc=f"EBT: {config.steps} descent step(s) on a {photo.size} photo")
            return ebt_view(compute(ebt.denoise, model, photo, config), note)

    def denoise_baseline(self, image, noise, seed, dit_passes, ebt_record=None,
                         progress=PROGRESS):  # fmt: skip
        """The DiT baseline on the same noisy photo (same noise and seed): its result, and the
        PSNR chart and summary beside the EBT run of this session (if any)."""
        with user_errors():
            if self.registry.dit is None:
                return None, "No DiT checkpoint: the baseline is unavailable.", gr.skip(), gr.skip()
            photo, _ = image_from_upload(image)
            config = dit_config(photo, noise, seed, dit_passes)
            progress(0.1, desc=f"DiT: up to {config.steps} DDIM pass(es)")
            dit = compute(ebt.denoise, self.registry.get(self.registry.dit), photo, config)
            run = ebt.DenoiseResult.from_dict(ebt_record) if ebt_record else None
        if run is not None and (run.config.noise, run.config.seed) != (config.noise, config.seed):
            run = None  # the stored EBT run saw another noisy photo: show the DiT alone
        return (
            (ebt.to_uint8(dit.frames[0]), ebt.to_uint8(dit.result)),
            figures.summarize_denoise(dit),
            figures.denoise_psnr(run, dit),
            figures.summarize_denoise(run, dit),
        )

    @staticmethod
    def slider_limits(image, steps, dit_passes):
        """A new photo: the steps and passes sliders end at what the server accepts for it
        (`denoise_limits`), their values lowered to fit. No photo or a bad one: unchanged."""
        limits = photo_limits(image)
        if limits is None:  # the Denoise button will say what is wrong with the photo
            return gr.skip(), gr.skip()
        max_steps, max_passes = limits
        fit = lambda value, top: max(1, min(int(value or 1), top))
        return (
            gr.Slider(maximum=max_steps, value=fit(steps, max_steps)),
            gr.Slider(maximum=max_passes, value=fit(dit_passes, max_passes)),
        )

    @staticmethod
    def show_step(ebt_record, step):
        """The step scrubber: frame k of the stored run (no model call)."""
        if not ebt_record:
            return gr.skip()
        result = ebt.DenoiseResult.from_dict(ebt_record)
        return step_view(result, min(max(int(step), 0), len(result.frames) - 1))

    def first_view(self) -> tuple:
        """The first example denoised by the EBT and the DiT at the tab's defaults: computed when
        the tab is first opened or by the warm-up (about a second on 2 CPUs), then shared."""
        with self._first_lock:
            if "views" not in self._first:
                path, noise = self.examples[0]
                default = self.registry.default_image_ebt
                ebt_views = self.denoise(path, default, noise, 2, 0, 0.0, 0, progress=_quiet)
                dit_views = self.denoise_baseline(
                    path, noise, 0, DEFAULT_DIT_PASSES, ebt_views[-1], _quiet
                )
                # the DiT's PSNR chart and summary (both runs) replace the EBT-only ones
                views = (*ebt_views[:6], *dit_views[2:], ebt_views[8], *dit_views[:2])
                self._first["views"] = views
            return self._first["views"]

    # ---- layout and events ------------------------------------------------------------------
    def build(self, loads: PageLoad, page: gr.Tab) -> None:
        """Lay out the tab inside the current gr.Tab (`page`) and wire its events (api_name
        "denoise" and "denoise_baseline"); opening the tab shows the first example denoised."""
        if not self.registry.image_ebts:
            gr.Markdown("**No image EBT checkpoint found**: train one (see README) to denoise.")
            return
        gr.Markdown(INTRO.format(side=LIMITS["image_side"], tol=DEFAULT_EBT_TOLERANCE))
        self.guide_box = gr.Column()  # the guide (app/guide.py), filled when events are wired
        with gr.Row():
            inputs = self._controls()
            outputs = _outputs()
        if self.examples:
            image, noise = inputs[0], inputs[2]
            gr.Examples(
                self.examples, [image, noise], cache_examples=False, api_visibility="private"
            )
        self._wire(loads, page, inputs, outputs)

    def _controls(self) -> list:
        """image, checkpoint, noise, steps, step_size, langevin, seed, dit_passes, run button."""
        first = self.examples[0] if self.examples else [None, 0.1]
        side = LIMITS["image_side"]  # no example: what the largest upload may use
        top_steps, top_passes = photo_limits(first[0]) or denoise_limits(side, side)
        with gr.Column(scale=1, min_width=280):
            image = gr.Image(
                first[0],
                type="filepath",
                label="Photo",
                sources=["upload", "clipboard"],
                height=240,
            )
            checkpoint = gr.Dropdown(
                self.registry.image_ebts, value=self.registry.default_image_ebt, label="Image EBT"
            )
            noise = gr.Slider(
                0, 1, value=first[1], step=0.01, label="Added noise (diffusion level)"
            )
            steps = gr.Slider(1, top_steps, value=2, step=1, precision=0, label="EBT steps")
            step_size = gr.Number(0, minimum=0, label="Step size α (0 = trained α)")
            langevin = gr.Slider(
                0, LIMITS["denoise_langevin"], value=0, step=0.01, label="Langevin noise"
            )
            seed = gr.Number(0, minimum=0, precision=0, label="Seed")
            dit_passes = gr.Slider(
                1,
                top_passes,
                value=DEFAULT_DIT_PASSES,
                step=1,
                precision=0,
                label="DiT baseline: DDIM passes",
            )
            run_btn = gr.Button("Denoise", variant="primary")
            self.link_row = gr.Row()  # the Copy link button (app/tab_links.py)
        return [image, checkpoint, noise, steps, step_size, langevin, seed, dit_passes, run_btn]

    def _wire(self, loads: PageLoad, page: gr.Tab, inputs: list, outputs: dict) -> None:
        image, checkpoint, noise, steps, step_size, langevin, seed, dit_passes, run_btn = inputs
        o = outputs
        record = gr.State(None)  # this visitor's last EBT run (DenoiseResult.to_dict)
        ebt_out = [o["summary"], o["before_after"], o["step"], o["frame"], o["frame_md"]]
        ebt_out += [o["energy"], o["psnr"], o["psnr_md"], record]
        dit_out = [o["dit_image"], o["dit_md"], o["psnr"], o["psnr_md"]]
        ebt_in = [image, checkpoint, noise, steps, step_size, langevin, seed]
        ebt_event = run_btn.click(
            self.denoise, ebt_in, ebt_out, api_name="denoise", preprocess=False
        )
        dit_event = ebt_event.success(
            self.denoise_baseline,
            [image, noise, seed, dit_passes, record],
            dit_out,
            api_name="denoise_baseline",
            preprocess=False,
        )
        # a failure clears both sides (the EBT's) or the DiT's: no stale photo beside an error
        both = [*ebt_out, o["dit_image"], o["dit_md"]]
        ebt_event.failure(failed_view, None, both, api_visibility="private")
        dit_event.failure(failed_dit_view, None, dit_out[:2], api_visibility="private")
        image.change(  # the sliders never offer a value the server refuses for this photo
            self.slider_limits,
            [image, steps, dit_passes],
            [steps, dit_passes],
            preprocess=False,
            api_visibility="private",
        )
        if self.examples and self.registry.dit is not None:
            first_out = [*ebt_out, o["dit_image"], o["dit_md"]]
            # page load: a ?tab=denoise link's run (app/tab_links.py); opening: the first view
            link_in = [image, checkpoint, noise, steps, step_size, langevin, seed, dit_passes]
            load = tab_links.denoise_loader(self)
            loads.add(load, [*first_out, *link_in])
            opened = tab_links.on_open("denoise", self.first_view, len(first_out))
            page.select(opened, record, first_out, api_visibility="private")
            with self.guide_box:  # the guide's presets are applied like links (app/guide.py)
                apply = partial(tab_links.denoise_outputs, self)
                guide.buttons("denoise", self.registry.image_ebts, apply, [*first_out, *link_in])
            with self.link_row:
                tab_links.copy_link("denoise", link_in)
                gif_btn = gr.Button("Download GIF of the EBT's frames", size="sm")
            gif_file = gr.File(label="Frames as a GIF (for a slide)", interactive=False)
            gif_btn.click(frames_gif, record, gif_file, api_visibility="private")
        o["step"].input(
            self.show_step,
            [record, o["step"]],
            [o["frame"], o["frame_md"], o["energy"]],
            trigger_mode="always_last",
            api_visibility="private",
        )


INTRO = """An **image EBT** gives a candidate photo an energy, reading the noisy photo and its noise
level beside it (the energy is how far the candidate is from what the model, reading it, would
make of it), and denoises by gradient descent on the candidate's pixels from the noisy photo;
a few steps suffice, and each tile stops once its energy settles (it changes by less than {tol:g}
in a step), so "EBT steps" is an upper bound. At noise 0.02 and above, from its second step on,
the shipped `image-ebt` reads its first step's result carried to half the noise level (along the
noise it implies, as a DDIM step does) in place of the noisy photo: a refining landscape, as
DDIM's later passes read a lower level, so its energy chart joins two landscapes at step 1. The
**DiT** baseline is a diffusion model of the same size sampled with DDIM. Noise is the diffusion
level (both were trained on levels 0.01–0.5; 0 = your photo is already noisy, and both assume
level 0.1). Photos larger than {side} pixels a side are downscaled."""


def _outputs() -> dict:
    o = {}
    with gr.Column(scale=2):
        o["summary"] = gr.Markdown("Upload a photo or pick an example, then press Denoise.")
        with gr.Row():
            o["before_after"] = gr.ImageSlider(
                label="Noisy | denoised by the EBT (drag the handle)",
                format="png",
                interactive=False,
            )
            o["dit_image"] = gr.ImageSlider(
                label="Noisy | denoised by the DiT baseline", format="png", interactive=False
            )
        o["dit_md"] = gr.Markdown()
        o["frame"] = gr.Image(
            label="EBT frame at step k (small photos shown enlarged)",
            format="png",
            interactive=False,
        )
        o["step"] = gr.Slider(0, 1, value=0, step=1, precision=0, label="Step k (0 = noisy start)")
        with gr.Row():
            with gr.Column():
                o["energy"] = gr.Plot(label="Energy vs step")
                o["frame_md"] = gr.Markdown()  # energy (and PSNR) at step k: the chart in words
            with gr.Column():
                o["psnr"] = gr.Plot(label="PSNR vs step")
                o["psnr_md"] = gr.Markdown()
    return o

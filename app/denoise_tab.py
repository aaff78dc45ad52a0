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

from pathlib import Path

import gradio as gr
import numpy as np

import ebt_core as ebt
from app import figures
from app.inputs import (
    LIMITS,
    MAX_SEED,
    check_denoise_work,
    float_in,
    image_from_upload,
    int_in,
    user_errors,
)
from app.models import compute, get_model
from ebt_core.image.io import to_uint8

ROOT = Path(__file__).resolve().parent.parent
IMAGE_EBTS = ebt.available("image-ebt")
DITS = ebt.available("image-dit")
DEFAULT_IMAGE_EBT = "image-ebt" if "image-ebt" in IMAGE_EBTS else next(iter(IMAGE_EBTS), None)
DIT = "image-dit" if "image-dit" in DITS else next(iter(DITS), None)
# 5 DDIM passes: about the EBT's compute at 2 steps (a DDIM pass is a forward only, an EBT step a
# forward and a backward), and at level 0.1 no worse than more passes: mean PSNR on 256×256 crops
# of the held-out photos 25.34 dB at 5 passes, 25.18 at 10, 25.04 at 25 (measured 2026-11-23).
DEFAULT_DIT_PASSES = 5
MAX_DIT_PASSES = 100  # every timestep at the in-distribution level 0.1
MAX_LANGEVIN = 1.0  # in [-1, 1] pixel units: beyond this the frames are pure noise
EXAMPLES = [
    [str(ROOT / "assets/examples" / name), noise]
    for name, noise in [
        ("denoise-astronaut.png", 0.1),
        ("denoise-china.png", 0.2),
        ("denoise-camera.png", 0.1),
    ]
    if (ROOT / "assets/examples" / name).is_file()
]


# ---- inputs → validated values ---------------------------------------------------------------
def image_ebt(name):
    """An image EBT offered by this app (the DiT is the baseline, not a choice here)."""
    if name not in IMAGE_EBTS:
        raise ValueError(f"checkpoint must be one of the image EBTs {IMAGE_EBTS}, got {name!r}")
    return get_model(name)


def noise_in(noise) -> float:
    noise = float_in("noise", noise, 0.0, 1.0)
    if 0 < noise < 0.001:
        raise ValueError(f"noise must be 0 (already noisy) or between 0.001 and 1, got {noise}")
    return noise


def ebt_config(photo, noise, steps, step_size, langevin, seed) -> ebt.DenoiseConfig:
    """Widget values → DenoiseConfig for the EBT; step_size 0 means the trained α."""
    steps = int_in("steps", steps, 1, LIMITS["denoise_steps"])
    check_denoise_work(photo.size[1], photo.size[0], steps)
    step_size = float_in("step_size", step_size, 0.0, LIMITS["step_size"])
    return ebt.DenoiseConfig(
        noise=noise_in(noise),
        steps=steps,
        step_size=step_size or None,
        langevin=float_in("langevin", langevin, 0.0, MAX_LANGEVIN),
        seed=int_in("seed", seed, 0, MAX_SEED),
    )


def dit_config(photo, noise, seed, dit_passes) -> ebt.DenoiseConfig:
    passes = int_in("dit_passes", dit_passes, 1, MAX_DIT_PASSES)
    # A DDIM pass is a forward only, about a third of an EBT step (forward + backward).
    work = photo.size[0] * photo.size[1] * passes
    if work > 3 * LIMITS["denoise_work"]:
        raise ValueError(
            f"image {photo.size[1]}×{photo.size[0]} × {passes} dit_passes = {work:,} "
            f"pixel-passes exceeds this server's budget of {3 * LIMITS['denoise_work']:,}; "
            "lower dit_passes or use a smaller image"
        )
    return ebt.DenoiseConfig(
        noise=noise_in(noise), steps=passes, seed=int_in("seed", seed, 0, MAX_SEED)
    )


# ---- views: records → widget values ----------------------------------------------------------
def enlarged(image: np.ndarray, side: int = 256) -> np.ndarray:
    """A small image repeated pixel by pixel (nearest neighbour) towards `side`: gr.Image never
    scales up, and the noise is what the frames are about, so blur must not hide it."""
    factor = max(1, min(8, side // max(image.shape[:2])))
    return image.repeat(factor, axis=0).repeat(factor, axis=1)


def step_view(result: ebt.DenoiseResult, step: int) -> tuple:
    """Frame `step` of the descent, its one-line summary, and the energy chart marking it."""
    return (
        enlarged(to_uint8(result.frames[step])),
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
        (to_uint8(result.frames[0]), to_uint8(result.frames[-1])),
        gr.Slider(minimum=0, maximum=last, value=last),
        frame,
        frame_md,
        energy,
        figures.denoise_psnr(result),
        summary,
        result.to_dict(),
    )


# ---- handlers --------------------------------------------------------------------------------
PROGRESS = gr.Progress()  # gradio spots this default and reports progress per event


def denoise(image, checkpoint, noise, steps, step_size, langevin, seed, progress=PROGRESS):
    """Noise the photo to level `noise` (0 = it is already noisy) and denoise it with an image
    EBT: before/after, the frames per step, energy and PSNR vs step, and their summaries."""
    with user_errors():
        model = image_ebt(checkpoint)
        photo, note = image_from_upload(image)
        config = ebt_config(photo, noise, steps, step_size, langevin, seed)
        progress(0.1, desc=f"EBT: {config.steps} descent step(s) on a {photo.size} photo")
        return ebt_view(compute(ebt.denoise, model, photo, config), note)


def denoise_baseline(image, noise, seed, dit_passes, ebt_record=None, progress=PROGRESS):
    """The DiT baseline on the same noisy photo (same noise and seed): its result, and the PSNR
    chart and summary beside the EBT run of this session (if any)."""
    with user_errors():
        if DIT is None:
            return None, "No DiT checkpoint: the baseline is unavailable.", gr.skip(), gr.skip()
        photo, _ = image_from_upload(image)
        config = dit_config(photo, noise, seed, dit_passes)
        progress(0.1, desc=f"DiT: up to {config.steps} DDIM pass(es)")
        dit = compute(ebt.denoise, get_model(DIT), photo, config)
        run = ebt.DenoiseResult.from_dict(ebt_record) if ebt_record else None
    if run is not None and (run.config.noise, run.config.seed) != (config.noise, config.seed):
        run = None  # the stored EBT run saw another noisy photo: show the DiT alone
    return (
        (to_uint8(dit.frames[0]), to_uint8(dit.result)),
        figures.summarize_denoise(dit),
        figures.denoise_psnr(run, dit),
        figures.summarize_denoise(run, dit),
    )


def show_step(ebt_record, step):
    """The step scrubber: frame k of the stored run (no model call)."""
    if not ebt_record:
        return gr.skip()
    result = ebt.DenoiseResult.from_dict(ebt_record)
    return step_view(result, min(max(int(step), 0), len(result.frames) - 1))


# ---- layout and events -----------------------------------------------------------------------
INTRO = """An **image EBT** scores (noisy photo) with an energy and denoises it by gradient descent
on the pixels; a few steps suffice. The **DiT** baseline is a diffusion model of the same size
sampled with DDIM. Noise is the diffusion level (0.1 = trained on, 0.2 = out of distribution;
0 = your photo is already noisy). Photos larger than {side} pixels a side are downscaled."""


def _quiet(*_args, **_kwargs) -> None:
    """Progress callback for work done outside an event."""


_FIRST: dict = {}  # the first example's views, computed by the first page load, then reused


def first_view() -> tuple:
    """The first example denoised by the EBT and the DiT at the tab's defaults: computed once
    (about a second on 2 CPUs), so the tab opens complete for every later visitor."""
    if "views" not in _FIRST:
        path, noise = EXAMPLES[0]
        ebt_views = denoise(path, DEFAULT_IMAGE_EBT, noise, 2, 0, 0.0, 0, progress=_quiet)
        dit_views = denoise_baseline(path, noise, 0, DEFAULT_DIT_PASSES, ebt_views[-1], _quiet)
        # the DiT's PSNR chart and summary (both runs) replace the EBT-only ones
        _FIRST["views"] = (*ebt_views[:6], *dit_views[2:], ebt_views[8], *dit_views[:2])
    return _FIRST["views"]


def build(demo: gr.Blocks | None = None) -> None:
    """Lay out the tab inside the current gr.Tab and wire its events (api_name="denoise").
    With `demo`, each page load shows the first example already denoised."""
    if not IMAGE_EBTS:
        gr.Markdown("**No image EBT checkpoint found**: train one (see README) to denoise.")
        return
    gr.Markdown(INTRO.format(side=LIMITS["image_side"]))
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            image = gr.Image(
                EXAMPLES[0][0] if EXAMPLES else None,
                type="filepath",
                label="Photo",
                sources=["upload", "clipboard"],
                height=240,
            )
            checkpoint = gr.Dropdown(IMAGE_EBTS, value=DEFAULT_IMAGE_EBT, label="Image EBT")
            noise = gr.Slider(
                0,
                1,
                value=EXAMPLES[0][1] if EXAMPLES else 0.1,
                step=0.01,
                label="Added noise (diffusion level)",
            )
            steps = gr.Slider(
                1, LIMITS["denoise_steps"], value=2, step=1, precision=0, label="EBT steps"
            )
            step_size = gr.Number(0, minimum=0, label="Step size α (0 = trained α)")
            langevin = gr.Slider(0, MAX_LANGEVIN, value=0, step=0.01, label="Langevin noise")
            seed = gr.Number(0, minimum=0, precision=0, label="Seed")
            dit_passes = gr.Slider(
                1,
                MAX_DIT_PASSES,
                value=DEFAULT_DIT_PASSES,
                step=1,
                precision=0,
                label="DiT baseline: DDIM passes",
            )
            run_btn = gr.Button("Denoise", variant="primary")
        with gr.Column(scale=2):
            summary_md = gr.Markdown("Upload a photo or pick an example, then press Denoise.")
            with gr.Row():
                before_after = gr.ImageSlider(
                    label="Noisy | denoised by the EBT (drag the handle)",
                    format="png",
                    interactive=False,
                )
                dit_image = gr.ImageSlider(
                    label="Noisy | denoised by the DiT baseline", format="png", interactive=False
                )
            dit_md = gr.Markdown()
            frame = gr.Image(
                label="EBT frame at step k (small photos shown enlarged)",
                format="png",
                interactive=False,
            )
            step = gr.Slider(0, 1, value=0, step=1, precision=0, label="Step k (0 = noisy start)")
            with gr.Row():
                with gr.Column():
                    energy_plot = gr.Plot(label="Energy vs step")
                    frame_md = gr.Markdown()  # energy (and PSNR) at step k: the chart in words
                with gr.Column():
                    psnr_plot = gr.Plot(label="PSNR vs step")
                    psnr_md = gr.Markdown()
    if EXAMPLES:
        gr.Examples(EXAMPLES, [image, noise], cache_examples=False, api_visibility="private")
    record = gr.State(None)  # this visitor's last EBT run (DenoiseResult.to_dict)

    ebt_out = [
        summary_md,
        before_after,
        step,
        frame,
        frame_md,
        energy_plot,
        psnr_plot,
        psnr_md,
        record,
    ]
    ebt_in = [image, checkpoint, noise, steps, step_size, langevin, seed]
    run_btn.click(denoise, ebt_in, ebt_out, api_name="denoise", preprocess=False).success(
        denoise_baseline,
        [image, noise, seed, dit_passes, record],
        [dit_image, dit_md, psnr_plot, psnr_md],
        api_name="denoise_baseline",
        preprocess=False,
    )
    if demo is not None and EXAMPLES and DIT is not None:
        demo.load(first_view, None, [*ebt_out, dit_image, dit_md], api_visibility="private")
    step.input(
        show_step,
        [record, step],
        [frame, frame_md, energy_plot],
        trigger_mode="always_last",
        api_visibility="private",
    )

"""The Denoise tab: its figure builders on a tiny model, and the stable API (/denoise,
/denoise_baseline) through gradio_client against an in-process server on the shipped image
checkpoints (trained, so denoising must raise the PSNR)."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

import ebt_core as ebt
from app import figures
from app.inputs import LIMITS
from app.payloads import request

from .test_image import tiny_image_model


# ---- figure builders ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def runs() -> tuple[ebt.DenoiseResult, ebt.DenoiseResult]:
    image = np.random.default_rng(0).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    config = ebt.DenoiseConfig(noise=0.1, steps=3, seed=0)
    return (
        ebt.denoise(tiny_image_model("image-ebt"), image, config),
        ebt.denoise(tiny_image_model("image-dit"), image, config),
    )


def test_energy_chart_has_one_point_per_frame_and_marks_the_step(runs):
    run = runs[0]
    fig = figures.denoise_energy(run, step=1)
    assert isinstance(fig, go.Figure) and list(fig.data[0].y) == pytest.approx(run.energies)
    assert [s.x0 for s in fig.layout.shapes] == [1]
    assert "Step 1 of 3" in figures.summarize_denoise_energy(run, 1)
    with pytest.raises(ValueError, match="step"):
        figures.denoise_energy(run, step=4)
    with pytest.raises(ValueError, match="image EBT"):
        figures.denoise_energy(runs[1], step=0)


def test_psnr_chart_and_summary_put_the_ebt_beside_the_dit(runs):
    run, dit = runs
    fig = figures.denoise_psnr(run, dit)
    assert [len(t.y) for t in fig.data] == [len(run.psnr), len(dit.psnr)]
    assert [t.name.split(":")[0] for t in fig.data] == ["EBT", "DiT"]
    assert len(figures.denoise_psnr(None, dit).data) == 1  # no EBT run yet: the DiT alone
    text = figures.summarize_denoise(run, dit)
    assert f"EBT: {run.passes} network passes" in text and f"DiT: {dit.passes}" in text
    assert f"{run.psnr[-1]:.2f} dB" in text and "energy" in text


def test_summary_says_when_every_tile_settled_before_the_last_step():
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    model = tiny_image_model()
    early = ebt.denoise(model, image, ebt.DenoiseConfig(noise=0.2, steps=5, tolerance=1e3))
    assert "stopped after 1 of 5 steps" in figures.summarize_denoise(early)
    full = ebt.denoise(model, image, ebt.DenoiseConfig(noise=0.2, steps=5, tolerance=0))
    assert len(full.frames) == 6 and "stopped" not in figures.summarize_denoise(full)


def test_noise_zero_has_no_psnr_and_says_so():
    image = np.full((16, 16), 0.5, dtype=np.float32)
    run = ebt.denoise(tiny_image_model(), image, ebt.DenoiseConfig(noise=0, steps=1))
    fig = figures.denoise_psnr(run)
    assert not fig.data and "No PSNR" in fig.layout.annotations[0].text
    assert "No PSNR" in figures.summarize_denoise(run)


# ---- slider ranges follow the photo ----------------------------------------------------------
def test_sliders_never_offer_what_the_server_refuses_for_the_photo(tmp_path):
    """A 256² upload: the steps slider ends at 8 and the DiT's at 24 (the work budget), values
    lowered to fit; a 128² photo allows 32 and 96; no photo leaves the sliders alone."""
    from app.denoise_tab import DenoiseTab
    from app.inputs import denoise_config, dit_config

    big = save(tmp_path, np.zeros((256, 256, 3), np.uint8), "big.png")
    steps, passes = DenoiseTab.slider_limits({"path": str(big)}, 20, 50)
    assert (steps.maximum, steps.value, passes.maximum, passes.value) == (8, 8, 24, 24)
    photo = Image.open(big)
    denoise_config(photo, 0.1, steps.maximum, 0, 0.0, 0)  # the maxima are accepted
    dit_config(photo, 0.1, 0, passes.maximum)
    small = save(tmp_path, np.zeros((128, 128, 3), np.uint8), "small.png")
    steps, passes = DenoiseTab.slider_limits({"path": str(small)}, 2, 5)
    assert (steps.maximum, steps.value, passes.maximum, passes.value) == (32, 2, 96, 5)
    skipped = DenoiseTab.slider_limits(None, 2, 5)
    assert all(not isinstance(x, gr.Slider) for x in skipped)


# ---- the API through gradio_client (conftest's `api`: the shipped, trained image models) --


@pytest.fixture
def api(client):
    """conftest's served app, when the shipped image checkpoints made it in."""
    registry = client[1].registry
    if "image-ebt" not in registry.image_ebts or registry.dit is None:
        pytest.skip("needs the shipped image-ebt and image-dit checkpoints")
    return client


def held_out(name: str, h: int, w: int) -> np.ndarray:
    """A crop of a photo the image models never saw in training (uint8, (h, w[, 3]))."""
    data = pytest.importorskip("skimage.data")
    return getattr(data, name)()[100 : 100 + h, 180 : 180 + w]


def save(tmp_path: Path, pixels: np.ndarray, name: str = "photo.png") -> Path:
    path = tmp_path / name
    Image.fromarray(pixels).save(path)
    return path


def psnr(image: np.ndarray, clean: np.ndarray) -> float:
    mse = np.mean((image.astype(np.float64) - clean.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def call(client, path, **change):
    from gradio_client import handle_file

    args = request("/denoise", image=handle_file(str(path)), **change)
    return client.predict(**args, api_name="/denoise")


def before_after(result) -> tuple[np.ndarray, np.ndarray]:
    """The two images of the before/after slider (noisy start, EBT result) as uint8 arrays."""
    noisy, denoised = result[1]
    return np.asarray(Image.open(noisy)), np.asarray(Image.open(denoised))


@pytest.mark.slow
def test_denoise_api_parameters(api):
    api = api[0].view_api(print_info=False, return_format="dict")["named_endpoints"]
    names = [p["parameter_name"] for p in api["/denoise"]["parameters"]]
    assert names == ["image", "checkpoint", "noise", "steps", "step_size", "langevin", "seed"]
    names = [p["parameter_name"] for p in api["/denoise_baseline"]["parameters"]]
    assert names == ["image", "noise", "seed", "dit_passes"]


@pytest.mark.slow
@pytest.mark.parametrize("photo", ["astronaut", "camera"])  # RGB, greyscale
def test_denoise_round_trip_keeps_the_size_and_raises_the_psnr(api, tmp_path, photo):
    clean = held_out(photo, 48, 64)
    result = call(api[0], save(tmp_path, clean))
    noisy, denoised = before_after(result)
    assert noisy.shape[:2] == denoised.shape[:2] == (48, 64)
    if clean.ndim == 2:  # greyscale in, greyscale out
        assert noisy.ndim == denoised.ndim == 2
    assert psnr(denoised, clean) > psnr(noisy, clean) + 3  # dB
    summary = result[0]
    assert "EBT: 3 network passes" in summary and "PSNR" in summary
    assert result[2]["maximum"] == 2  # the step scrubber spans frames 0..steps
    again = call(api[0], save(tmp_path, clean, "again.png"))  # same seed: same result
    for a, b in zip(before_after(result), before_after(again)):
        np.testing.assert_array_equal(a, b)
    other = before_after(call(api[0], save(tmp_path, clean, "seed.png"), seed=1))[0]
    assert not np.array_equal(other, noisy)  # the seed draws the added noise


@pytest.mark.slow
def test_baseline_reports_its_passes_and_psnr(api, tmp_path):
    from gradio_client import handle_file

    clean = held_out("astronaut", 40, 40)
    path = save(tmp_path, clean)
    (noisy, image), summary, plot, psnr_md = api[0].predict(
        handle_file(str(path)), 0.1, 0, 5, api_name="/denoise_baseline"
    )
    noisy, image = np.asarray(Image.open(noisy)), np.asarray(Image.open(image))
    assert noisy.shape[:2] == image.shape[:2] == (40, 40)
    assert psnr(image, clean) > psnr(noisy, clean) + 3  # dB
    assert "DiT: 5 network passes, PSNR" in summary and plot is not None
    from gradio_client.exceptions import AppError

    for passes in (0, 10**9):
        with pytest.raises(AppError, match="dit_passes must be an integer between 1 and"):
            api[0].predict(handle_file(str(path)), 0.1, 0, passes, api_name="/denoise_baseline")
    big = save(tmp_path, held_out("astronaut", 256, 256), "big.png")
    with pytest.raises(AppError, match="dit_passes = .* exceeds this server's budget"):
        api[0].predict(handle_file(str(big)), 0.1, 0, 100, api_name="/denoise_baseline")


@pytest.mark.slow
def test_large_photos_are_downscaled_with_a_note(api, tmp_path):
    result = call(api[0], save(tmp_path, held_out("astronaut", 400, 300)), steps=1)
    assert max(before_after(result)[1].shape[:2]) == LIMITS["image_side"]
    assert "downscaled from 400×300" in result[0]


@pytest.mark.slow
def test_scrubbing_shows_the_stored_frames(api, tmp_path):
    tab = api[1].denoise
    path = save(tmp_path, held_out("astronaut", 32, 32))
    outputs = tab.denoise({"path": str(path)}, "image-ebt", 0.1, 3, 0, 0.0, 0)
    record = outputs[-1]
    frame, text, energy = tab.show_step(record, 1)
    assert frame.shape == (256, 256, 3) and "Step 1 of 3" in text  # shown enlarged 8×
    assert [s.x0 for s in energy.layout.shapes] == [1]
    _, caption, psnr_plot, both = tab.denoise_baseline({"path": str(path)}, 0.1, 0, 4, record)
    assert [t.name.split(":")[0] for t in psnr_plot.data] == ["EBT", "DiT"]
    assert both.startswith("EBT: 4 network passes") and "DiT: 4 network passes" in both


@pytest.mark.slow
def test_the_tab_opens_with_the_first_example_denoised_once(api):
    tab = api[1].denoise
    views = tab.first_view()
    summary, (noisy, denoised), *_ = views
    assert summary.startswith("EBT: 3 network passes")
    assert Path(tab.examples[0][0]).exists()
    record = views[8]
    assert (
        ebt.DenoiseResult.from_dict(record).psnr[-1] > ebt.DenoiseResult.from_dict(record).psnr[0]
    )
    assert [t.name.split(":")[0] for t in views[6].data] == ["EBT", "DiT"]  # both runs charted
    assert views[-1].startswith("DiT:")
    assert tab.first_view() is views  # computed once, then shared


@pytest.mark.slow
@pytest.mark.parametrize(
    "change, message",
    [
        ({"noise": -1}, r"noise must be a number between 0.0 and 1.0"),
        ({"noise": 5}, r"noise must be a number between 0.0 and 1.0"),
        ({"steps": 0}, r"steps must be an integer between 1 and"),
        ({"steps": 10**9}, r"steps must be an integer between 1 and"),
        ({"step_size": -1}, r"step_size must be"),
        ({"langevin": 2}, r"langevin must be a number between 0.0 and 1.0"),
        ({"seed": -1}, r"seed must be an integer"),
        ({"checkpoint": "image-dit"}, r"checkpoint must be one of the image EBTs"),
        ({"checkpoint": "../secrets"}, r"checkpoint must be one of the image EBTs"),
    ],
)
def test_bad_values_reach_the_client_naming_the_field(api, tmp_path, change, message):
    from gradio_client.exceptions import AppError

    path = save(tmp_path, held_out("astronaut", 16, 16))
    with pytest.raises(AppError, match=message):
        call(api[0], path, **change)


@pytest.mark.slow
def test_a_text_file_is_refused_as_an_image(api, tmp_path):
    from gradio_client.exceptions import AppError

    path = tmp_path / "notes.txt"
    path.write_text("not a picture")
    with pytest.raises(AppError, match="image"):
        call(api[0], path)
    # the server keeps answering
    assert call(api[0], save(tmp_path, held_out("camera", 16, 16)), steps=1)[0]


@pytest.mark.slow
def test_nan_is_refused_by_name(api, tmp_path):
    """gradio_client cannot send NaN (not JSON); a browser's raw payload can reach the handler."""
    import gradio as gr

    path = save(tmp_path, held_out("astronaut", 16, 16))
    for field, index in [("noise", 2), ("step_size", 4), ("langevin", 5)]:
        args = [{"path": str(path)}, "image-ebt", 0.1, 2, 0, 0.0, 0]
        args[index] = float("nan")
        with pytest.raises(gr.Error, match=f"{field} must be a finite number"):
            api[1].denoise.denoise(*args)

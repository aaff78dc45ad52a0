"""Image denoising: tiling, inputs, configs, EBT descent, DDIM, checkpoints, training."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import ebt_core as ebt
from ebt_core.image.data import add_noise
from ebt_core.image.ddim import ddim_step, ddim_timesteps, predict_clean
from ebt_core.image.denoise import descent_trajectory
from ebt_core.image.model import level_to_timestep, noise_schedule
from ebt_core.image.tiles import blend_tiles, split_tiles

TINY = dict(crop=16, patch=4, n_layer=1, n_head=2, d_model=32, step_size=10.0)


def tiny_image_model(kind: str = "image-ebt", seed: int = 0):
    """A tiny model whose zero-initialised heads and gates are perturbed, so E and ε̂ ≠ 0."""
    torch.manual_seed(seed)
    config = ebt.ImageModelConfig(**{**TINY, "kind": kind})
    model = (ebt.ImageEBT if kind == "image-ebt" else ebt.ImageDiT)(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name != "alpha":
                p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def photo(h: int = 37, w: int = 53, channels: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (h, w) if channels == 0 else (h, w, channels)
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


# --- tiling ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(37, 53), (8, 8), (16, 16), (33, 100), (9, 40)])
def test_split_then_blend_is_the_identity(size):
    image = torch.rand(3, *size)
    tiles, grid = split_tiles(image, 16)
    assert tiles.shape[1:] == (3, 16, 16)
    torch.testing.assert_close(blend_tiles(tiles, grid), image)


def test_blending_has_no_seams():
    """Each tile replaced by its own constant: the blend ramps between them, never jumps."""
    tiles, grid = split_tiles(torch.zeros(1, 64, 80), 16)
    values = torch.rand(len(tiles), generator=torch.Generator().manual_seed(0))
    blended = blend_tiles(values[:, None, None, None].expand_as(tiles).clone(), grid)[0]
    jump = max(blended.diff(dim=0).abs().max(), blended.diff(dim=1).abs().max())
    assert jump < 0.25 * float(values.max() - values.min())


def test_constant_image_stays_constant_through_denoise():
    """An untrained EBT has E ≡ 0 (zero-initialised head): every frame equals the input."""
    model = ebt.ImageEBT(ebt.ImageModelConfig(**TINY)).eval()
    image = np.full((37, 53, 3), 0.25, dtype=np.float32)
    out = ebt.denoise(model, image, ebt.DenoiseConfig(noise=0, steps=2))
    for frame in out.frames:
        np.testing.assert_allclose(frame, image, atol=1e-6)


# --- inputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "channels, out_channels", [(0, 1), (1, 1), (2, 2), (3, 3), (4, 4)]
)  # 0 = a 2-D (H, W) array
def test_any_size_and_channel_layout(channels, out_channels):
    image = photo(37, 53, channels)
    out = ebt.denoise(tiny_image_model(), image, ebt.DenoiseConfig(noise=0.1, steps=1))
    assert all(f.shape == (37, 53, out_channels) and f.dtype == np.float32 for f in out.frames)
    assert all(0.0 <= f.min() and f.max() <= 1.0 for f in out.frames)
    if channels in (2, 4):  # alpha is re-attached unchanged
        for frame in out.frames:
            np.testing.assert_allclose(frame[:, :, -1], image[:, :, -1] / 255.0, atol=1e-6)


def test_uint8_float_and_pil_inputs_agree():
    from PIL import Image

    image = photo()
    cfg = ebt.DenoiseConfig(noise=0.1, steps=2, seed=3)
    model = tiny_image_model()
    a = ebt.denoise(model, image, cfg)
    b = ebt.denoise(model, image.astype(np.float64) / 255.0, cfg)
    c = ebt.denoise(model, Image.fromarray(image), cfg)
    np.testing.assert_allclose(a.result, b.result, atol=1e-5)
    np.testing.assert_allclose(a.result, c.result, atol=1e-5)
    palette = Image.fromarray(image).convert("P")
    assert ebt.denoise(model, palette, cfg).result.shape == (37, 53, 3)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((1, 1, 3), np.uint8), r"1×1 pixels.*8 to 1024"),
        (np.zeros((1100, 20), np.uint8), r"1100×20 pixels.*downscale"),
        (np.full((20, 20, 3), 2.0), r"\[0, 1\].*uint8"),
        (np.zeros((20, 20, 3), np.int16), r"uint8.*float"),
        (np.zeros((20, 20, 5), np.uint8), r"C in 1, 2, 3, 4"),
        (np.full((20, 20), np.nan), "NaN"),
        ([[0, 1], [1, 0]], "PIL image or a numpy array"),
    ],
)
def test_bad_inputs_are_refused_clearly(image, message):
    with pytest.raises(ValueError, match=message):
        ebt.denoise(tiny_image_model(), image, ebt.DenoiseConfig(steps=1))


# --- configs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [("noise", -0.1), ("noise", 0.0005), ("noise", 1.5), ("steps", 0), ("step_size", 0.0),
     ("langevin", -1.0), ("seed", -1), ("input_level", 0.0), ("steps", 2.5)],
)  # fmt: skip
def test_denoise_config_errors_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        ebt.DenoiseConfig(**{field: value})


@pytest.mark.parametrize(
    "overrides, field",
    [({"kind": "text-ebt"}, "kind"), ({"crop": 30}, "crop"), ({"channels": 2}, "channels"),
     ({"d_model": 30}, "d_model"), ({"beta_end": 1e-5}, "beta_end"),
     ({"step_size": 0}, "step_size")],
)  # fmt: skip
def test_model_config_errors_name_the_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        ebt.ImageModelConfig(**overrides)


def test_configs_round_trip_through_json():
    cfg = ebt.DenoiseConfig(noise=0.2, steps=4, step_size=5.0, langevin=0.01, seed=2)
    assert ebt.DenoiseConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    model_cfg = ebt.ImageModelConfig(kind="image-dit", n_layer=2)
    assert ebt.ImageModelConfig.from_dict(json.loads(json.dumps(model_cfg.to_dict()))) == model_cfg
    with pytest.raises(ValueError, match="unknown field"):
        ebt.DenoiseConfig.from_dict({"nosie": 0.1})


def test_noise_levels_match_the_reference():
    """§4: in [-1, 1] units ℓ=0.1 → signal 0.947, noise std 0.321; ℓ=0.2 → 0.812, 0.584."""
    abar = noise_schedule(ebt.ImageModelConfig())
    for level, signal, std in ((0.1, 0.947, 0.321), (0.2, 0.812, 0.584)):
        t = level_to_timestep(level, 1000)
        assert t == round(1000 * level) - 1
        assert abs(abar[t].sqrt() - signal) < 1e-3 and abs((1 - abar[t]).sqrt() - std) < 1e-3


# --- runs ------------------------------------------------------------------------------------


def test_same_seed_same_result_other_seed_other_noise():
    model, image = tiny_image_model(), photo()
    cfg = ebt.DenoiseConfig(noise=0.1, steps=2, langevin=0.01, seed=5)
    a, b = ebt.denoise(model, image, cfg), ebt.denoise(model, image, cfg)
    assert all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames))
    assert a.energies == b.energies
    c = ebt.denoise(model, image, ebt.DenoiseConfig(noise=0.1, steps=2, langevin=0.01, seed=6))
    assert not np.array_equal(a.frames[0], c.frames[0])


def test_small_step_descent_does_not_raise_the_energy():
    model = tiny_image_model()
    start = torch.rand(6, 3, 16, 16) * 2 - 1
    energies = [float(e.mean()) for _, e in descent_trajectory(model, start, 8, step_size=1.0)]
    assert all(b <= a + 1e-7 for a, b in zip(energies, energies[1:]))
    assert energies[-1] < energies[0]
    out = ebt.denoise(model, photo(), ebt.DenoiseConfig(noise=0.1, steps=6, step_size=1.0))
    assert all(b <= a + 1e-7 for a, b in zip(out.energies, out.energies[1:]))
    assert all(p.grad is None and p.requires_grad for p in model.parameters())


def test_ebt_result_shapes():
    out = ebt.denoise(tiny_image_model(), photo(), ebt.DenoiseConfig(noise=0.2, steps=3))
    assert len(out.frames) == len(out.energies) == len(out.psnr) == 4 and out.passes == 4
    assert out.kind == "image-ebt" and out.timestep == 199 and out.step_size == 10.0
    restored = ebt.DenoiseResult.from_dict(json.loads(json.dumps(out.to_dict())))
    assert restored.psnr == out.psnr and restored.passes == 4
    np.testing.assert_allclose(restored.result, out.result, atol=0.5 / 255 + 1e-6)
    blind = ebt.denoise(tiny_image_model(), photo(), ebt.DenoiseConfig(noise=0, steps=2))
    assert blind.psnr is None and len(blind.frames) == 3


def test_dit_uses_ddim_from_the_input_level():
    model, image = tiny_image_model("image-dit"), photo(20, 24)
    out = ebt.denoise(model, image, ebt.DenoiseConfig(noise=0.02))  # t = 19: 20 passes
    assert out.passes == 20 and len(out.frames) == len(out.psnr) == 21 and out.energies is None
    few = ebt.denoise(model, image, ebt.DenoiseConfig(noise=0.02, steps=5))
    assert few.passes == 5 and len(few.frames) == 6
    assert ddim_timesteps(99, 100) == list(range(99, -1, -1))
    assert ddim_timesteps(99, 5)[0] == 99 and ddim_timesteps(99, 5)[-1] == 0
    with pytest.raises(ValueError, match="step_size"):
        ebt.denoise(model, image, ebt.DenoiseConfig(step_size=3.0))


def test_ddim_step_with_the_true_noise_moves_along_the_forward_process():
    """Given the ε that made x_t, x̂_0 is the clean image and a DDIM step lands exactly on
    the forward process at the next level: √ᾱ' x_0 + √(1−ᾱ') ε."""
    abar = noise_schedule(ebt.ImageModelConfig(**TINY))
    gen = torch.Generator().manual_seed(0)
    clean = torch.rand(2, 3, 8, 8, generator=gen) * 1.8 - 0.9
    noisy, eps = add_noise(clean, abar[300], gen)
    torch.testing.assert_close(predict_clean(noisy, eps, abar[300]), clean)
    after = ddim_step(noisy, eps, abar[300], abar[100])
    torch.testing.assert_close(after, abar[100].sqrt() * clean + (1 - abar[100]).sqrt() * eps)
    torch.testing.assert_close(ddim_step(noisy, eps, abar[300], torch.tensor(1.0)), clean)


@pytest.mark.parametrize("kind", ["image-ebt", "image-dit"])
def test_save_load_gives_identical_outputs(kind, tmp_path):
    model = tiny_image_model(kind)
    cfg = ebt.DenoiseConfig(noise=0.05, steps=3, seed=1)
    ebt.save(model, tmp_path / kind, recipe={"denoise": cfg.to_dict()})
    loaded = ebt.load(tmp_path / kind)
    assert isinstance(loaded, type(model)) and loaded.config == model.config
    a, b = ebt.denoise(model, photo(), cfg), ebt.denoise(loaded, photo(), None)  # recipe default
    assert all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames))
    assert a.energies == b.energies and a.psnr == b.psnr


def test_text_models_are_refused():
    from .conftest import tiny_ebt

    with pytest.raises(ValueError, match="image checkpoint"):
        ebt.denoise(tiny_ebt(), photo(), ebt.DenoiseConfig(steps=1))


# --- training --------------------------------------------------------------------------------


def _train_module():
    path = Path(__file__).resolve().parent.parent / "train" / "train_image.py"
    spec = importlib.util.spec_from_file_location("train_image", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["image-ebt", "image-dit"])
def test_training_smoke_then_reload(kind, tmp_path):
    recipe = {
        "kind": kind,
        "model": {**TINY, "crop": 32},
        "denoise": {"noise": 0.1, "steps": 2} if kind == "image-ebt" else {"noise": 0.02},
        "batch": 4,
        "iters": 2,
        "warmup": 1,
        "eval_every": 2,
        "eval_batch": 6,
        "eval_steps": [1, 2],
        "clip_contrast": 0.5,  # the augmentation runs in the loop
    }
    path = tmp_path / f"tiny-{kind}.json"
    path.write_text(json.dumps(recipe))
    out = _train_module().train([str(path), "--out", str(tmp_path / "ckpt"), "--quiet"])
    model = ebt.load(out)
    assert model.config.kind == kind and model.recipe["name"] == f"tiny-{kind}"
    rows = ebt.read_metrics(out)
    assert [r["iter"] for r in rows] == [2]
    assert ("id_psnr_step" if kind == "image-ebt" else "id_psnr") in rows[-1]
    assert not (out / ".resume").exists()
    assert ebt.denoise(model, photo(40, 40)).passes > 0


def test_clip_stretch_clips_the_asked_share_at_each_end_and_keeps_the_order():
    from ebt_core.image.data import clip_stretch, load_photo

    photo = load_photo("skimage:chelsea")
    assert np.mean(photo <= 2) < 0.001 and np.mean(photo >= 253) < 0.001  # hardly clipped
    out = clip_stretch(photo, 0.05)
    assert out.dtype == np.uint8 and out.shape == photo.shape
    assert 0.04 < np.mean(out == 0) < 0.06 and 0.04 < np.mean(out == 255) < 0.06
    order = np.argsort(photo.ravel(), kind="stable")
    assert (np.diff(out.ravel()[order].astype(int)) >= 0).all()  # a monotone map of the values
    full = clip_stretch(photo, 0.0)
    assert full.min() == 0 and full.max() == 255 and np.mean(full == 0) < 0.001
    for share in (-0.1, 0.5, 1.0):
        with pytest.raises(ValueError, match=r"share must be in \[0, 0.5\)"):
            clip_stretch(photo, share)
    with pytest.raises(ValueError, match="flat"):
        clip_stretch(np.full((8, 8, 3), 7, np.uint8), 0.05)


def test_eval_denoise_measures_clipped_photos_and_refuses_a_bad_share(tmp_path, capsys):
    path = Path(__file__).resolve().parents[1] / "scripts" / "eval_denoise.py"
    spec = importlib.util.spec_from_file_location("eval_denoise", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    config = {**TINY, "crop": 16, "overlap": 2}
    ebt_model = ebt.ImageEBT(ebt.ImageModelConfig(**config, kind="image-ebt"))
    dit = ebt.ImageDiT(ebt.ImageModelConfig(**config, kind="image-dit"))
    ebt.save(ebt_model, tmp_path / "ebt")
    ebt.save(dit, tmp_path / "dit")
    common = ["--ebt", str(tmp_path / "ebt"), "--dit", str(tmp_path / "dit"), "--split",
              "validation", "--side", "24", "--levels", "0.1", "--dit-passes", "1"]  # fmt: skip
    plain, clipped = tmp_path / "plain.json", tmp_path / "clipped.json"
    module.main([*common, "--json", str(plain)])
    module.main([*common, "--clip", "0.05", "--json", str(clipped)])
    assert "contrast stretched to clip 0.05" in capsys.readouterr().out
    a, b = json.loads(plain.read_text())["0.1"], json.loads(clipped.read_text())["0.1"]
    assert a["noisy"] != pytest.approx(b["noisy"], abs=0.01)  # other photos, other numbers
    with pytest.raises(SystemExit):
        module.main([*common, "--clip", "0.7"])
    assert "--clip must be in [0, 0.5)" in capsys.readouterr().err
    # named photos instead of a split: one outside every split, one of the validation photos
    chosen = tmp_path / "chosen.json"
    module.main([*common, "--photos", "skimage:cell,skimage:coins", "--json", str(chosen)])
    assert "chosen photos ['skimage:cell', 'skimage:coins']" in capsys.readouterr().out
    c = json.loads(chosen.read_text())["0.1"]
    assert c["noisy"] != pytest.approx(a["noisy"], abs=0.01)
    for bad, message in (
        ("skimage:nope", "--photos: skimage:nope; allowed:"),
        (" , ", "--photos: no photo named"),
        ("skimage:cell,skimage:cell", "names a photo twice"),
    ):
        with pytest.raises(SystemExit):
            module.main([*common, "--photos", bad])
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        module.main([*common, "--side", "3"])
    assert "--side must be 0 (full size) or 8 to 1024, got 3" in capsys.readouterr().err
    # at full size a photo larger than denoise takes (retina, 1411²) is downscaled to 1024
    assert module.photos(["skimage:retina"], 0)["skimage:retina"].size == (1024, 1024)
    assert module.photos(["skimage:coins"], 0)["skimage:coins"].size == (384, 303)

"""Issue 15's image-model pieces: overlapping patch (un)embedding, the block-edge ratio, tiles
with narrow overlaps, the DDIM step under clamping, per-crop training levels and the cheaper
final evaluation of a descent."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ebt_core as ebt
from ebt_core.descent import DescentPolicy, autograd_energy_and_grad, descend
from ebt_core.image.ddim import ddim_step
from ebt_core.image.denoise import descent_trajectory
from ebt_core.image.model import grown_state, noise_schedule, timestep_embedding
from ebt_core.image.quality import block_edge_ratio
from ebt_core.image.tiles import TILE_PIXELS, blend_tiles, split_tiles, tile_batches
from ebt_core.image.training import ImageRecipe, ebt_loss, grey_noise_mask, training_timesteps

from .test_image import TINY


def overlapping(kind: str, seed: int = 0, **options):
    """A tiny model with overlapping patches (overlap 2 on 4-pixel patches), perturbed;
    `options`: more config fields."""
    torch.manual_seed(seed)
    config = ebt.ImageModelConfig(**{**TINY, "kind": kind, "overlap": 2, **options})
    model = (ebt.ImageEBT if kind == "image-ebt" else ebt.ImageDiT)(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name != "alpha":
                p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def assert_config_errors(base: dict, cases) -> None:
    """Each (options, message) makes ImageModelConfig(**base, **options) raise that message."""
    for options, match in cases:
        with pytest.raises(ValueError, match=match):
            ebt.ImageModelConfig(**{**base, **options})


def unrolled_loss(model, **recipe) -> float:
    """The descent objective's loss on 3 seeded crops, backpropagated: it is finite and reaches
    the energy head's last layer."""
    recipe = ImageRecipe(batch=3, **recipe)
    clean = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    loss, _ = ebt_loss(model.train(), clean, torch.zeros(3, dtype=torch.bool), recipe,
                       torch.Generator().manual_seed(0))  # fmt: skip
    loss.backward()
    assert torch.isfinite(loss)
    assert model.get_parameter("energy_head.last.weight").grad.abs().sum() > 0
    return loss.item()


# --- overlapping patches --------------------------------------------------------------------------


def test_overlapping_patches_reach_the_neighbours_pixels():
    """A pixel just outside a patch changes that patch's token only when patches overlap."""
    image = torch.zeros(1, 3, 16, 16)
    poked = image.clone()
    poked[0, :, 1, 4] = 1.0  # row 1, first column of patch (0, 1)
    for overlap, changed in ((0, False), (2, True)):
        config = ebt.ImageModelConfig(**{**TINY, "overlap": overlap})
        model = ebt.ImageEBT(config)
        tokens = model.embed(image), model.embed(poked)  # (1, 16, D) each
        assert tokens[0].shape == (1, 16, 32)
        assert bool((tokens[0][0, 0] != tokens[1][0, 0]).any()) is changed  # patch (0, 0)


def assert_denoises_whole_photos_and_round_trips(model, folder) -> None:
    """A 37×53 photo keeps its size, and the saved and reloaded model repeats every frame."""
    image = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    config = ebt.DenoiseConfig(noise=0.1, steps=2, seed=0)
    out = ebt.denoise(model, image, config)
    assert out.result.shape == (37, 53, 3)
    ebt.save(model, folder)
    again = ebt.denoise(ebt.load(folder), image, config)
    assert all(np.array_equal(a, b) for a, b in zip(out.frames, again.frames))


@pytest.mark.parametrize("kind", ["image-ebt", "image-dit"])
def test_overlapping_models_denoise_whole_photos_and_round_trip(kind, tmp_path):
    assert_denoises_whole_photos_and_round_trips(overlapping(kind), tmp_path / kind)


def test_configs_without_overlap_load_as_plain_patches():
    """Checkpoints saved before overlapping patches existed have no `overlap` key."""
    saved = ebt.ImageModelConfig().to_dict()
    saved.pop("overlap")
    config = ebt.ImageModelConfig.from_dict(saved)
    assert config.overlap == 0
    assert isinstance(ebt.ImageEBT(config).patch_embed, torch.nn.Linear)
    with pytest.raises(ValueError, match="overlap"):
        ebt.ImageModelConfig(overlap=5)  # more than a patch


# --- the block-edge ratio -------------------------------------------------------------------------


def test_block_edge_ratio_is_one_for_noise_and_large_for_a_mosaic():
    rng = np.random.default_rng(0)
    noise = rng.random((64, 64, 3))
    assert block_edge_ratio(noise, 4) == pytest.approx(1.0, abs=0.05)
    blocks = np.kron(rng.random((16, 16)), np.ones((4, 4)))  # 4×4 blocks of constant pixels
    mosaic = blocks + 0.01 * rng.random((64, 64))
    assert block_edge_ratio(mosaic, 4) > 10
    assert block_edge_ratio(mosaic, 4) > block_edge_ratio(mosaic, 3)  # measured on its grid
    with pytest.raises(ValueError, match="larger than the patch"):
        block_edge_ratio(np.zeros((4, 4)), 4)


# --- tiles ----------------------------------------------------------------------------------------


def test_32_pixel_tiles_overlap_by_8_and_blend_without_seams():
    image = torch.rand(3, 256, 256)
    tiles, grid = split_tiles(image, 32)
    assert len(tiles) == 11 * 11 and grid.overlap == 8  # was 15 × 15 with half-tile overlaps
    torch.testing.assert_close(blend_tiles(tiles, grid), image)
    values = torch.rand(len(tiles), generator=torch.Generator().manual_seed(0))
    blended = blend_tiles(values[:, None, None, None].expand_as(tiles).clone(), grid)[0]
    jump = max(blended.diff(dim=0).abs().max(), blended.diff(dim=1).abs().max())
    assert jump < 0.15 * float(values.max() - values.min())  # an 8-pixel ramp, not a step


def test_tile_batches_bound_the_pixels_per_call_whatever_the_tile_size():
    """A network call holds at most TILE_PIXELS pixels (64 tiles of 32², 28 of 48²), at least one
    tile, and the batches cover every tile once, in order."""
    cases = [(121, 32, 64), (49, 48, 28), (700, 48, 28), (5, 16, 256), (3, 300, 1)]
    for n, crop, per_call in cases:
        batches = tile_batches(n, crop)
        assert [i for s in batches for i in range(n)[s]] == list(range(n))
        assert max(s.stop - s.start for s in batches) == min(n, per_call)
        assert per_call == 1 or per_call * crop * crop <= TILE_PIXELS
    assert 49 * 48 * 48 > TILE_PIXELS  # a 256² photo's 48-pixel tiles take two calls, not one


@pytest.mark.parametrize("kind", ["image-ebt", "image-dit"])
def test_denoising_a_large_photo_calls_the_network_on_bounded_batches(kind):
    model = overlapping(kind)  # 16-pixel tiles: 256 to a call
    sizes = []
    model.blocks[0].register_forward_hook(lambda _m, args, _o: sizes.append(len(args[0])))
    image = np.random.default_rng(0).integers(0, 256, (200, 120, 3), dtype=np.uint8)
    ebt.denoise(model, image, ebt.DenoiseConfig(noise=0.1, steps=2, seed=0))
    tiles = len(split_tiles(torch.zeros(3, 200, 120), 16)[0])
    assert tiles > 256 and max(sizes) == 256 and min(sizes) == tiles % 256


# --- DDIM -----------------------------------------------------------------------------------------


def test_ddim_step_to_the_same_level_is_the_identity_even_when_clamped():
    """The noise carried to the next level is the one consistent with the clamped x̂_0."""
    abar = noise_schedule(ebt.ImageModelConfig(**TINY))
    gen = torch.Generator().manual_seed(0)
    state = torch.randn(2, 3, 8, 8, generator=gen)
    eps = 5 * torch.randn(2, 3, 8, 8, generator=gen)  # x̂_0 far outside [-1, 1]: clamped
    torch.testing.assert_close(ddim_step(state, eps, abar[50], abar[50]), state)
    to_clean = ddim_step(state, eps, abar[50], torch.tensor(1.0))
    assert float(to_clean.abs().max()) <= 1.0


# --- training -------------------------------------------------------------------------------------


def test_training_levels_are_per_crop_within_the_range():
    gen = torch.Generator().manual_seed(0)
    wide = ImageRecipe(kind="image-ebt", train_level=0.5, train_level_min=0.01)
    t = training_timesteps(wide, 4000, 1000, gen)
    assert int(t.min()) == 9 and int(t.max()) == 499 and len(set(t.tolist())) > 400
    fixed = training_timesteps(ImageRecipe(kind="image-ebt"), 5, 1000, gen)
    assert fixed.tolist() == [99] * 5  # the paper's single level 0.1
    with pytest.raises(ValueError, match="train_level_min"):
        ImageRecipe(kind="image-ebt", train_level=0.2, train_level_min=0.3)


def test_log_uniform_levels_give_low_noise_as_much_room_as_high():
    """Levels 0.01–0.5 log-uniform: [0.01, 0.07] (×7) and [0.07, 0.5] (×7) get half each."""
    recipe = ImageRecipe(kind="image-ebt", train_level=0.5, train_level_min=0.01, log_levels=True)
    t = training_timesteps(recipe, 20000, 1000, torch.Generator().manual_seed(0))
    assert int(t.min()) == 9 and int(t.max()) == 499
    assert float((t < 70).float().mean()) == pytest.approx(0.5, abs=0.02)


def test_dit_trains_at_the_ebts_levels_when_asked(monkeypatch):
    """train_level_min > 0: the DiT's timesteps come from `training_timesteps` (log-uniform
    here: half of them below level 0.07); without it, uniform over 0..t(train_level)."""
    from ebt_core.image import training

    model = overlapping("image-dit")
    clean = torch.zeros(4000, 3, 16, 16)
    seen = []
    record = lambda noisy, t: seen.append(t) or torch.zeros_like(noisy)  # ε̂ = 0
    monkeypatch.setattr(model, "forward", record)
    grey = torch.zeros(4000, dtype=torch.bool)
    log = ImageRecipe(kind="image-dit", train_level=0.5, train_level_min=0.01, log_levels=True)
    uniform = ImageRecipe(kind="image-dit", train_level=0.5)
    for recipe, low_share in ((log, 0.5), (uniform, 0.14)):
        training.dit_loss(model, clean, grey, recipe, torch.Generator().manual_seed(0))
        t = seen[-1]
        assert float((t < 70).float().mean()) == pytest.approx(low_share, abs=0.03)
    assert int(seen[0].min()) >= 9 and int(seen[1].min()) < 9


def test_both_losses_noise_greyscale_crops_as_the_recipe_asks(monkeypatch):
    """grey_colour_noise reaches the noise of both kinds' losses: at 0 a greyscale crop's noise
    is the same on every channel, at 1 the channels differ."""
    from ebt_core.image import training

    seen, real = [], training.add_noise

    def recording(*args):
        noisy, eps = real(*args)
        seen.append(noisy)
        return noisy, eps

    monkeypatch.setattr(training, "add_noise", recording)
    clean = torch.zeros(2, 3, 16, 16)
    grey = torch.ones(2, dtype=torch.bool)
    for kind, loss in (("image-dit", training.dit_loss), ("image-ebt", ebt_loss)):
        model = overlapping(kind)
        for share in (0.0, 1.0):
            recipe = ImageRecipe(kind=kind, train_level_min=0.01, grey_colour_noise=share)
            loss(model, clean, grey, recipe, torch.Generator().manual_seed(0))
            channels_differ = (seen[-1][:, 1:] != seen[-1][:, :1]).any().item()
            assert channels_differ == (share == 1.0), (kind, share)


def test_relative_loss_counts_every_level_alike():
    """Same crops, same noise: weighting by 1/(1−ᾱ) raises the loss (every weight > 1)."""
    model = overlapping("image-ebt").train()
    clean = torch.rand(4, 3, 16, 16) * 2 - 1
    grey = torch.zeros(4, dtype=torch.bool)
    base = dict(kind="image-ebt", train_level=0.3, train_level_min=0.02, steps_max=1)
    seeded = lambda: torch.Generator().manual_seed(0)
    plain, _ = ebt_loss(model, clean, grey, ImageRecipe(**base), seeded())
    relative, _ = ebt_loss(model, clean, grey, ImageRecipe(**base, relative_loss=True), seeded())
    assert relative.item() > 1.5 * plain.item() > 0


def test_signal_weight_gives_each_level_the_dits_noise_mse_weight():
    """signal_weight multiplies the relative loss by ᾱ: at one level the loss is exactly ᾱ times
    the relative one (for both objectives), so the weight per level is ᾱ/(1−ᾱ), the DiT's."""
    model = overlapping("image-ebt", context=True, energy="denoiser", window=True).train()
    clean = torch.rand(4, 3, 16, 16) * 2 - 1
    grey = torch.zeros(4, dtype=torch.bool)
    abar = model.alphas_cumprod[299].item()  # level 0.3
    seeded = lambda: torch.Generator().manual_seed(0)
    for objective in ("descent", "estimate"):
        base = dict(
            kind="image-ebt",
            train_level=0.3,
            train_level_min=0.3,
            steps_max=1,
            relative_loss=True,
            objective=objective,
            model={"energy": "denoiser"},
        )
        relative, _ = ebt_loss(model, clean, grey, ImageRecipe(**base), seeded())
        signal, _ = ebt_loss(model, clean, grey, ImageRecipe(**base, signal_weight=True), seeded())
        assert signal.item() == pytest.approx(abar * relative.item(), rel=1e-5)
        assert 0 < signal.item() < relative.item()
    with pytest.raises(ValueError, match="signal_weight must be true or false"):
        ImageRecipe.from_dict({"kind": "image-ebt", "signal_weight": "yes"})


# --- training-crop augmentation -------------------------------------------------------------------


def ramp_corpus(crop: int = 8):
    """A corpus of one 64×64 photo whose value rises by 0.01 per pixel left to right."""
    from ebt_core.image.data import ImageCorpus

    corpus = ImageCorpus.__new__(ImageCorpus)
    ramp = (torch.arange(64, dtype=torch.float32) * 0.01 - 0.3).expand(3, 64, 64).clone()
    corpus.crop, corpus.train_images, corpus.train_grey = crop, [ramp], [False]
    return corpus


def slopes(crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean |difference| between neighbouring pixels across columns and across rows, per crop
    (the interior, away from the antialiasing filter's reach at the borders)."""
    inner = crops[:, :, 2:-2, 2:-2]
    across_columns = inner.diff(dim=3).abs().flatten(1).mean(1)
    across_rows = inner.diff(dim=2).abs().flatten(1).mean(1)
    return across_columns, across_rows


def test_plain_crops_keep_the_photos_scale_and_orientation():
    corpus = ramp_corpus()
    crops, _ = corpus.train_batch(64, torch.Generator().manual_seed(0))
    columns, rows = slopes(crops)
    torch.testing.assert_close(columns, torch.full_like(columns, 0.01))  # flipped or not
    assert rows.max().item() < 1e-6
    again, _ = corpus.train_batch(64, torch.Generator().manual_seed(0), False, 1.0)
    torch.testing.assert_close(crops, again)  # the options' defaults draw the same crops


def test_rotated_crops_turn_the_photo_by_quarter_turns():
    crops, _ = ramp_corpus().train_batch(64, torch.Generator().manual_seed(0), rotate=True)
    columns, rows = slopes(crops)
    turned = rows > 0.005
    assert 10 < int(turned.sum()) < 54  # about half the crops lie on their side
    for along, across in ((rows[turned], columns[turned]), (columns[~turned], rows[~turned])):
        torch.testing.assert_close(along, torch.full_like(along, 0.01))
        assert across.max().item() < 1e-6


def test_downscaled_crops_show_more_of_the_photo_per_pixel():
    """min_scale s: a crop shows its photo downscaled by a factor in [s, 1], so the ramp's slope
    per pixel is 0.01 / factor, in [0.01, 0.02] for s = ½, and spread over that range."""
    crops, _ = ramp_corpus().train_batch(200, torch.Generator().manual_seed(0), min_scale=0.5)
    columns, rows = slopes(crops)
    assert columns.min().item() > 0.0099 and columns.max().item() < 0.0201
    assert columns.max().item() - columns.min().item() > 0.008
    assert rows.max().item() < 1e-5
    assert crops.shape == (200, 3, 8, 8)
    with pytest.raises(ValueError, match="min_scale must be in"):
        ImageRecipe.from_dict({"kind": "image-dit", "min_scale": 0.05})
    with pytest.raises(ValueError, match="min_scale must be a number"):
        ImageRecipe.from_dict({"kind": "image-dit", "min_scale": "half"})
    with pytest.raises(ValueError, match="rotate must be true or false"):
        ImageRecipe.from_dict({"kind": "image-ebt", "rotate": 1})


def test_grey_colour_noise_gives_a_share_of_greyscale_crops_independent_channel_noise():
    """grey_colour_noise p: about p of the greyscale crops are noised channel by channel (as a
    greyscale photo stored as RGB is by `denoise`); colour crops are never marked grey, and
    p = 0 keeps every greyscale crop grey without drawing from the generator."""
    grey = torch.tensor([True] * 300 + [False] * 100)
    recipe = ImageRecipe.from_dict({"kind": "image-dit", "grey_colour_noise": 0.5})
    same = grey_noise_mask(grey, recipe, torch.Generator().manual_seed(0))
    assert not same[300:].any()
    assert 110 < int(same[:300].sum()) < 190
    gen = torch.Generator().manual_seed(0)
    before = gen.get_state()
    assert torch.equal(
        grey_noise_mask(grey, ImageRecipe.from_dict({"kind": "image-dit"}), gen), grey
    )
    assert torch.equal(gen.get_state(), before)
    every = ImageRecipe.from_dict({"kind": "image-ebt", "grey_colour_noise": 1.0})
    assert not grey_noise_mask(grey, every, gen).any()
    with pytest.raises(ValueError, match=r"grey_colour_noise must be in \[0.0, 1.0\]"):
        ImageRecipe.from_dict({"kind": "image-dit", "grey_colour_noise": 1.5})


# --- the final evaluation of a descent ------------------------------------------------------------


def test_the_final_state_is_scored_without_a_backward_pass_and_the_same_energy():
    model = overlapping("image-ebt")
    start = torch.rand(5, 3, 16, 16) * 2 - 1
    fast = list(descent_trajectory(model, start, 3, step_size=5.0))
    plain = autograd_energy_and_grad(lambda x, _: model.energy(x))
    full = [(s.state, s.energy) for s in descend(start, plain, DescentPolicy(3, 5.0))]
    assert len(fast) == len(full) == 4
    for (a_state, a_energy), (b_state, b_energy) in zip(fast, full):
        torch.testing.assert_close(a_state, b_state)
        torch.testing.assert_close(a_energy, b_energy)


def test_init_from_fine_tunes_every_weight_of_the_same_architecture(tmp_path):
    from train.train_image import warm_start

    source = overlapping("image-ebt", seed=1)
    ebt.save(source, tmp_path / "base")
    model = overlapping("image-ebt", seed=2)
    warm_start(model, str(tmp_path / "base"))
    for (name, a), b in zip(model.state_dict().items(), source.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)
    other = ebt.ImageEBT(ebt.ImageModelConfig(**TINY))  # plain patches: another architecture
    with pytest.raises(ValueError, match="init_from"):
        warm_start(other, str(tmp_path / "base"))


def test_windowed_kernels_fade_out_and_their_tents_sum_to_one():
    """patch 4, overlap 2: 8-pixel tents at stride 4 add up to 1 everywhere, so a token whose
    un-embedding is the same everywhere paints a smooth ramp to its neighbours, not a block."""
    from ebt_core.image.model import kernel_window

    config = ebt.ImageModelConfig(overlap=2, window=True)
    tent = kernel_window(config)[0] / kernel_window(config)[0].max() * 0.875  # (8,)
    torch.testing.assert_close(tent[:4] + tent[4:], torch.ones(4))
    assert float(tent[0]) == pytest.approx(0.125)
    assert bool((kernel_window(ebt.ImageModelConfig(overlap=2)) == 1).all())  # no window
    with pytest.raises(ValueError, match="window needs overlap"):
        ebt.ImageModelConfig(window=True)
    dit = ebt.ImageDiT(ebt.ImageModelConfig(**{**TINY, "kind": "image-dit", "overlap": 2,
                                                "window": True}))  # fmt: skip
    with torch.no_grad():
        dit.noise_head.weight.fill_(1.0)  # every token paints ones over its 8×8 window
        dit.noise_head.bias.zero_()
    features = torch.ones(1, 16, 32)  # (B, N, D)
    painted = dit.to_pixels(dit.noise_head, features)[0, 0]  # (16, 16)
    inner = painted[2:-2, 2:-2]  # away from the zero-padded border
    torch.testing.assert_close(inner, torch.full_like(inner, 32.0))  # constant: no blocks


def test_residual_energy_is_half_the_squared_residual_per_patch():
    config = ebt.ImageModelConfig(**{**TINY, "overlap": 2, "window": True, "energy": "residual"})
    model = ebt.ImageEBT(config).eval()
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    features = model.features(x, model.cond.expand(3, -1))
    residual = model.to_pixels(model.energy_head, features)  # (3, 3, 16, 16)
    expected = 0.5 * residual.square().sum(dim=(1, 2, 3)) / config.n_patches  # mean over patches
    torch.testing.assert_close(model.energy(x), expected)
    assert bool((model.patch_energies(x) >= 0).all())
    with pytest.raises(ValueError, match="energy must be one of"):
        ebt.ImageModelConfig(energy="quadratic")


# --- the context EBT: E(x̂ | y, ℓ) ---------------------------------------------------------------


def context_ebt(seed: int = 0):
    return overlapping("image-ebt", seed, window=True, context=True)


def test_context_energy_reads_the_noisy_image_and_its_level():
    model, g = context_ebt(), torch.Generator().manual_seed(0)
    x, y = torch.rand(2, 3, 16, 16, generator=g) * 2 - 1, torch.rand(2, 3, 16, 16, generator=g)
    t = torch.tensor([50, 50])
    base = model.energy(x, y, t)
    assert not torch.allclose(base, model.energy(x, y.flip(0), t))  # another noisy image
    assert not torch.allclose(base, model.energy(x, y, torch.tensor([300, 300])))  # another level
    with pytest.raises(ValueError, match="context"):
        model.energy(x)
    with pytest.raises(ValueError, match="context"):
        ebt.ImageModelConfig(**{**TINY, "context": True})  # needs overlapping patches
    with pytest.raises(ValueError, match="context"):
        ebt.ImageModelConfig(**{**TINY, "overlap": 2, "context": "yes"})
    with pytest.raises(ValueError, match="context"):
        ebt.ImageModelConfig(**{**TINY, "kind": "image-dit", "overlap": 2, "context": True})


def test_context_ebt_denoises_round_trips_and_uses_the_level(tmp_path):
    model = context_ebt()
    image = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    config = ebt.DenoiseConfig(noise=0.1, steps=2, seed=0)
    out = ebt.denoise(model, image, config)
    assert out.result.shape == (37, 53, 3) and len(out.frames) == 3
    ebt.save(model, tmp_path / "ctx")
    again = ebt.denoise(ebt.load(tmp_path / "ctx"), image, config)
    assert all(np.array_equal(a, b) for a, b in zip(out.frames, again.frames))
    # an already-noisy input: the same start, told two different levels, descends differently
    low = ebt.denoise(model, image, ebt.DenoiseConfig(noise=0, steps=2, input_level=0.05))
    high = ebt.denoise(model, image, ebt.DenoiseConfig(noise=0, steps=2, input_level=0.4))
    assert np.array_equal(low.frames[0], high.frames[0])
    assert not np.allclose(low.result, high.result)
    with pytest.raises(ValueError, match="timestep"):
        next(descent_trajectory(model, torch.zeros(1, 3, 16, 16), 1, step_size=1.0))


def test_context_ebt_training_reaches_the_level_embedding():
    model = context_ebt().train()
    recipe = ImageRecipe(batch=3, steps_min=2, steps_max=2, train_level_min=0.01, log_levels=True,
                         detach=False)  # fmt: skip
    clean = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    loss, stats = ebt_loss(model, clean, torch.zeros(3, dtype=torch.bool), recipe,
                           torch.Generator().manual_seed(0))  # fmt: skip
    loss.backward()
    assert torch.isfinite(loss) and stats["steps"] == 2
    assert model.t_embed[0].weight.grad.abs().sum() > 0
    assert model.patch_embed.weight.grad[:, 3:].abs().sum() > 0  # the noisy image's channels


# --- energy-aware stopping per tile ----------------------------------------------------------


def test_tiles_stop_once_their_energy_settles():
    """DenoiseConfig.tolerance: tolerance 0 runs every step; a tolerance above every one-step
    change ends the run after the first step; in between, tiles that settled keep their state
    while the others go on, and the result is the same as stopping each tile by hand."""
    model = context_ebt()
    image = np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    every = ebt.denoise(model, image, ebt.DenoiseConfig(noise=0.2, steps=6, seed=0, tolerance=0))
    assert len(every.frames) == 7
    one = ebt.denoise(model, image, ebt.DenoiseConfig(noise=0.2, steps=6, seed=0, tolerance=1e3))
    assert len(one.frames) == 2 and np.array_equal(one.frames[1], every.frames[1])
    assert every.tile_steps == 6 and one.tile_steps == 1
    assert ebt.DenoiseResult.from_dict(every.to_dict()).tile_steps == 6
    assert (
        ebt.denoise(overlapping("image-dit"), image, ebt.DenoiseConfig(steps=2)).tile_steps is None
    )
    # per tile, by hand: the full trajectory, each tile cut at its first small |ΔE|
    tiles = torch.randn(5, 3, 16, 16).clamp(-1, 1)
    t = torch.tensor(40)
    with torch.no_grad():
        full = list(descent_trajectory(model, tiles, 6, 1.0, t=t))
    states = torch.stack([s for s, _ in full])
    deltas = torch.stack([e for _, e in full]).diff(dim=0).abs()  # (6, n)
    tol = float(deltas[1].median())  # some tiles settle at step 2, others later
    stop = [next((k + 1 for k in range(6) if deltas[k, i] < tol), 6) for i in range(5)]
    assert len(set(stop)) > 1
    with torch.no_grad():
        frozen = list(descent_trajectory(model, tiles, 6, 1.0, t=t, tolerance=tol))
    for i, k in enumerate(stop):
        torch.testing.assert_close(frozen[-1][0][i], states[k][i])
    assert len(frozen) == max(stop) + 1


def test_tolerance_is_an_ebt_setting_and_checked():
    dit = overlapping("image-dit")
    image = np.zeros((16, 16, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="tolerance is an EBT setting"):
        ebt.denoise(dit, image, ebt.DenoiseConfig(noise=0.1, steps=2, tolerance=0.01))
    with pytest.raises(ValueError, match="tolerance must be"):
        ebt.DenoiseConfig(tolerance=-1.0)


# --- the resize head and the denoiser energy -------------------------------------------------


def test_resize_head_upsamples_tokens_to_ramps_not_blocks():
    """Token values that grow by 1 per patch column become pixels that grow by 1/4 per pixel
    column, across patch edges as inside them (bilinear kinks sit at patch centres)."""
    dit = overlapping("image-dit", head="resize")
    columns = torch.arange(4.0).repeat(4)  # token (row, col) → col, row-major on a 4×4 grid
    up = dit.noise_head.upsample(columns[None, :, None], 16)[0, 0]  # (16, 16)
    steps = up.diff(dim=1)[:, 2:-2]  # away from the clamped border pixels
    torch.testing.assert_close(steps, torch.full_like(steps, 0.25))
    assert bool((up.diff(dim=0) == 0).all())


@pytest.mark.parametrize("kind", ["image-ebt", "image-dit"])
def test_resize_head_models_start_at_zero_output_and_round_trip(kind, tmp_path):
    options = {"head": "resize", "window": True}
    if kind == "image-ebt":
        options.update(context=True, energy="denoiser")
    torch.manual_seed(0)
    config = ebt.ImageModelConfig(**{**TINY, "kind": kind, "overlap": 2, **options})
    fresh = (ebt.ImageEBT if kind == "image-ebt" else ebt.ImageDiT)(config)
    x, y = torch.rand(2, 3, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
    t = torch.tensor([50, 200])
    if kind == "image-dit":
        assert bool((fresh(y, t) == 0).all())  # ε̂ ≡ 0 at init
    else:  # g ≡ y at init: E = ½‖x̂ − y‖² per patch, averaged over the patches
        expected = 0.5 * (x - y).square().sum(dim=(1, 2, 3)) / config.n_patches
        torch.testing.assert_close(fresh.energy(x, y, t), expected)
    assert_denoises_whole_photos_and_round_trips(overlapping(kind, **options), tmp_path / kind)


def test_denoiser_energy_is_the_distance_to_the_models_own_estimate():
    model = overlapping("image-ebt", window=True, context=True, energy="denoiser", head="resize")
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(2, 3, 16, 16, generator=g) * 2 - 1, torch.rand(2, 3, 16, 16, generator=g)
    t = torch.tensor([50, 300])
    cond = model.cond + model.t_embed(timestep_embedding(t, 32))  # (2, D)
    features = model.features(torch.cat([x, y], dim=1), cond)
    estimate = y + model.to_pixels(model.energy_head, features, y)  # g = y + h
    expected = 0.5 * (x - estimate).square().sum(dim=(1, 2, 3)) / model.config.n_patches
    torch.testing.assert_close(model.energy(x, y, t), expected)
    assert bool((model.patch_energies(x, y, t) >= 0).all())
    assert not torch.allclose(model.energy(x, y, t), model.energy(x, y.flip(0), t))


def test_resize_head_and_denoiser_energy_are_checked():
    base = {**TINY, "overlap": 2}
    assert_config_errors(
        base,
        (
            ({"energy": "denoiser"}, "needs context"),
            ({"head": "upsample"}, "head must be one of"),
            ({"head": "resize", "head_channels": 0}, "head_channels"),
            ({"head": "resize", "context": True}, "energy 'residual' or 'denoiser'"),
            ({"head": "resize", "energy": "residual"}, "needs context"),
        ),
    )
    model = overlapping("image-dit", head="resize")
    with pytest.raises(ValueError, match="reads the noisy image"):
        model.to_pixels(model.noise_head, torch.zeros(1, 16, 32))


def test_denoiser_energy_training_reaches_the_pixel_head():
    model = overlapping("image-ebt", window=True, context=True, energy="denoiser", head="resize")
    recipe = ImageRecipe(batch=3, steps_min=2, steps_max=2, train_level_min=0.01, log_levels=True,
                         detach=False)  # fmt: skip
    clean = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    loss, _ = ebt_loss(model.train(), clean, torch.zeros(3, dtype=torch.bool), recipe,
                       torch.Generator().manual_seed(0))  # fmt: skip
    loss.backward()
    assert torch.isfinite(loss)
    for name in ("energy_head.last.weight", "energy_head.conv.weight", "energy_head.proj.weight"):
        assert model.get_parameter(name).grad.abs().sum() > 0, name


def test_estimate_objective_regresses_the_estimate_with_one_backward():
    """objective 'estimate': the loss is the (relative) MSE of g(x̂, y, ℓ) against the clean
    crop; training on it lowers that loss on the same batch, and it is a denoiser-only option."""
    model = overlapping("image-ebt", window=True, context=True, energy="denoiser", head="resize")
    recipe = ImageRecipe(batch=4, train_level_min=0.01, log_levels=True, relative_loss=True,
                         objective="estimate", model={"energy": "denoiser"})  # fmt: skip
    clean = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    grey = torch.zeros(4, dtype=torch.bool)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        loss, stats = ebt_loss(model.train(), clean, grey, recipe, torch.Generator().manual_seed(0))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0] and "steps" not in stats
    assert model.alpha.grad is None or float(model.alpha.grad) == 0  # no descent: α untouched
    with pytest.raises(ValueError, match="objective"):
        ImageRecipe(objective="estimate")  # the linear energy has no estimate
    with pytest.raises(ValueError, match="objective must be"):
        ImageRecipe(objective="regress")
    with pytest.raises(ValueError, match="self_condition"):
        ImageRecipe(self_condition=1.5)
    with pytest.raises(ValueError, match="estimate"):
        context_ebt().estimate(clean, clean, torch.zeros(4, dtype=torch.long))


def test_noise_form_estimate_reads_the_head_as_the_dit_reads_its_noise():
    """estimate_form 'noise': g = (y − √(1−ᾱ)·h)/√ᾱ, so a fresh model (h ≡ 0) estimates y/√ᾱ,
    and the head's pixels enter exactly as the DiT's ε̂ enters its x̂₀."""
    options = dict(window=True, context=True, energy="denoiser", head="resize")
    config = ebt.ImageModelConfig(**{**TINY, "overlap": 2, **options, "estimate_form": "noise"})
    fresh = ebt.ImageEBT(config)
    y = torch.rand(2, 3, 16, 16) * 2 - 1
    t = torch.tensor([50, 400])
    abar = fresh.alphas_cumprod[t].reshape(-1, 1, 1, 1)
    torch.testing.assert_close(fresh.estimate(y, y, t), y / abar.sqrt())
    model = overlapping("image-ebt", **options, estimate_form="noise")
    cond = model.cond + model.t_embed(timestep_embedding(t, 32))
    h = model.to_pixels(model.energy_head, model.features(torch.cat([y, y], dim=1), cond), y)
    expected = (y - (1 - abar).sqrt() * h) / abar.sqrt()
    torch.testing.assert_close(model.estimate(y, y, t), expected)
    with pytest.raises(ValueError, match="estimate_form"):
        ebt.ImageModelConfig(**{**TINY, "overlap": 2, **options, "estimate_form": "x0"})


# --- the refining landscape (refine_level) --------------------------------------------------------

REFINING = dict(window=True, context=True, energy="denoiser", head="resize")


def test_later_steps_descend_the_refining_landscape_of_the_first_candidate():
    """With refine_level, step 0 reads (y, t); every later step reads (x̂₁, t_r): the recorded
    energies are exactly those, steps ≥ 2 go elsewhere than without refining, and the first
    step is the same."""
    model = overlapping("image-ebt", **REFINING, refine_level=0.001)
    plain = overlapping("image-ebt", **REFINING)
    g = torch.Generator().manual_seed(0)
    y = torch.rand(3, 3, 16, 16, generator=g) * 2 - 1
    t = torch.tensor([20, 90, 300])
    run = list(descent_trajectory(model, y, 3, 8.0, t=t))
    base = list(descent_trajectory(plain, y, 3, 8.0, t=t))
    first = run[1][0]
    torch.testing.assert_close(run[0][1], model.energy(y, y, t))
    torch.testing.assert_close(first, base[1][0])  # the first step is unchanged
    t_r = torch.zeros(3, dtype=torch.long)  # level 0.001 ↔ timestep 0
    for state, energy in run[1:]:
        torch.testing.assert_close(energy, model.energy(state, first, t_r))
    assert not torch.allclose(run[2][0], base[2][0])
    noisy, at = model.step_context(2, y, t, first)
    assert noisy is first and at.tolist() == [0, 0, 0]
    assert model.step_context(0, y, t, None)[0] is y
    with pytest.raises(ValueError, match="first step's candidate"):
        model.step_context(1, y, t, None)


def test_refining_steps_are_trained_through_the_unroll():
    """The descent objective unrolls the same two landscapes: the loss differs from the plain
    unroll's with the same weights, and reaches the pixel head."""
    losses = {}
    for level in (0.0, 0.001):
        model = overlapping("image-ebt", **REFINING, refine_level=level)
        losses[level] = unrolled_loss(model, steps_min=3, steps_max=3, train_level_min=0.01,
                                      log_levels=True, detach=False)  # fmt: skip
    assert losses[0.0] != pytest.approx(losses[0.001], rel=1e-6)


def test_refine_level_is_checked_with_named_messages(tmp_path):
    base = {**TINY, "overlap": 2, **REFINING}
    assert_config_errors(
        base,
        (
            ({"refine_level": -0.1}, "refine_level must be in"),
            ({"refine_level": 2.0}, "refine_level must be in"),
            ({"refine_level": "low"}, "refine_level must be a number"),
            ({"refine_level": 0.0004}, "at least 1/timesteps"),
            ({"refine_level": 0.001, "energy": "residual"}, "'denoiser' energy"),
        ),
    )
    assert_denoises_whole_photos_and_round_trips(
        overlapping("image-ebt", **REFINING, refine_level=0.001), tmp_path / "refining"
    )


def test_a_refining_fine_tune_starts_from_a_plain_checkpoint(tmp_path):
    """refine_level changes how the descent reads the weights, not the weights: init_from
    accepts a checkpoint that differs only there, and names the fields when more differ."""
    from train.train_image import warm_start

    source = overlapping("image-ebt", **REFINING, seed=1)
    ebt.save(source, tmp_path / "base")
    model = overlapping("image-ebt", **REFINING, refine_level=0.001, seed=2)
    warm_start(model, str(tmp_path / "base"))
    for (name, a), b in zip(model.state_dict().items(), source.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)
    wider = overlapping("image-ebt", **REFINING, d_model=48)
    with pytest.raises(ValueError, match="differs in d_model"):
        warm_start(wider, str(tmp_path / "base"))


# --- the refining landscape at a proportional level (refine_ratio) --------------------------------


def test_refine_ratio_reads_the_first_candidate_at_a_level_proportional_to_the_start():
    """With refine_ratio ρ, a later step reads (x̂₁, round(ρ·(t + 1)) − 1) for the tiles where ρ·ℓ
    is at least refine_min, and (y, t) for the rest; the recorded energies are exactly those and
    the first step is the plain one."""
    model = overlapping("image-ebt", **REFINING, refine_ratio=0.2, refine_min=0.01)
    plain = overlapping("image-ebt", **REFINING)
    g = torch.Generator().manual_seed(0)
    y = torch.rand(3, 3, 16, 16, generator=g) * 2 - 1
    t = torch.tensor([20, 90, 300])  # levels 0.021, 0.091, 0.301 → ρ·ℓ 0.0042, 0.0182, 0.0602
    run = list(descent_trajectory(model, y, 3, 8.0, t=t))
    base = list(descent_trajectory(plain, y, 3, 8.0, t=t))
    first = run[1][0]
    torch.testing.assert_close(first, base[1][0])
    context, at = model.step_context(2, y, t, first)
    assert at.tolist() == [20, 17, 59]  # the first tile's 0.0042 < refine_min: it keeps (y, t)
    torch.testing.assert_close(context[0], y[0])
    torch.testing.assert_close(context[1:], first[1:])
    for state, energy in run[1:]:
        torch.testing.assert_close(energy, model.energy(state, context, at))
    torch.testing.assert_close(run[2][0][0], base[2][0][0])  # the unrefined tile: as before
    assert not torch.allclose(run[2][0][1:], base[2][0][1:])
    with pytest.raises(ValueError, match="first step's candidate"):
        model.step_context(1, y, t, None)


TWO_STEPS = dict(steps_min=2, steps_max=2, train_level=0.5, train_level_min=0.2, log_levels=True)


def test_refine_ratio_is_checked_with_named_messages_and_trained_through_the_unroll(tmp_path):
    from train.train_image import warm_start

    base = {**TINY, "overlap": 2, **REFINING}
    assert_config_errors(
        base,
        (
            ({"refine_ratio": -0.1}, "refine_ratio must be in"),
            ({"refine_ratio": 1.0}, "refine_ratio must be in"),
            ({"refine_ratio": "half"}, "refine_ratio must be a number"),
            ({"refine_ratio": 0.2, "refine_level": 0.001}, "not both"),
            ({"refine_ratio": 0.2, "energy": "residual"}, "'denoiser' energy"),
            ({"refine_ratio": 0.2, "refine_min": 0.0}, "refine_min must be in"),
            ({"refine_ratio": 0.2, "refine_min": 0.0004}, "at least 1/timesteps"),
        ),
    )
    losses = {}
    for ratio in (0.0, 0.5):
        model = overlapping("image-ebt", **REFINING, refine_ratio=ratio, seed=3)
        losses[ratio] = unrolled_loss(model, **TWO_STEPS)
    assert losses[0.0] != pytest.approx(losses[0.5], rel=1e-6)
    ebt.save(overlapping("image-ebt", **REFINING, seed=1), tmp_path / "plain")
    refining = overlapping("image-ebt", **REFINING, refine_ratio=0.2, seed=2)
    warm_start(refining, str(tmp_path / "plain"))  # the weights carry over; the ratio stays
    assert refining.config.refine_ratio == 0.2
    assert_denoises_whole_photos_and_round_trips(refining, tmp_path / "ratio")


def test_the_estimate_objective_trains_the_later_steps_on_the_landscape_they_descend():
    """objective 'estimate', self-conditioned crops: g is regressed at (g₁, the later steps'
    context): with refine_ratio, g₁ at ρ·ℓ where that is ≥ refine_min; without, y at ℓ."""
    from ebt_core.image.training import _estimate_loss

    clean = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    noisy = clean + 0.3 * torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    t = torch.tensor([20, 90, 300])
    weight = torch.tensor([1.0, 2.0, 3.0])
    recipe = ImageRecipe(batch=3, objective="estimate", self_condition=1.0,
                         model={"energy": "denoiser"})  # fmt: skip
    for ratio in (0.0, 0.2):
        model = overlapping("image-ebt", **REFINING, refine_ratio=ratio, seed=4)
        loss, _ = _estimate_loss(model, clean, noisy, t, weight, recipe, torch.Generator())
        with torch.no_grad():
            first = model.estimate(noisy, noisy, t)
            context, at = (noisy, t) if not ratio else model.step_context(1, noisy, t, first)
            per_crop = (model.estimate(first, context, at) - clean).square().flatten(1).mean(1)
        torch.testing.assert_close(loss, (per_crop * weight).mean())
        if ratio:
            assert at.tolist() == [20, 17, 59]


# --- the re-noised refining context (refine_context="renoise") ------------------------------------


def test_renoise_carries_the_first_candidate_to_the_refining_level_along_its_implied_noise():
    """refine_context "renoise": a refining tile reads √ᾱ_r·x̂₁ + √(1−ᾱ_r)·ε̂ with
    ε̂ = (y − √ᾱ·x̂₁)/√(1−ᾱ). If x̂₁ is the clean tile that made y, that is the forward process
    at the refining level with y's own noise, and DDIM's step to that level; an unrefined tile
    still reads (y, t), and "clean" reads x̂₁ itself. The descent's energies are on it."""
    model = overlapping("image-ebt", **REFINING, refine_ratio=0.2, refine_context="renoise")
    clean_context = overlapping("image-ebt", **REFINING, refine_ratio=0.2)
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(3, 3, 16, 16, generator=g) * 2 - 1
    eps = torch.randn(3, 3, 16, 16, generator=g)
    t = torch.tensor([20, 90, 300])  # ρ·ℓ 0.0042 (< refine_min), 0.0182, 0.0602
    abar = model.alphas_cumprod
    a = abar[t].reshape(-1, 1, 1, 1)
    y = a.sqrt() * x0 + (1 - a).sqrt() * eps
    context, at = model.step_context(2, y, t, x0)
    assert at.tolist() == [20, 17, 59]
    torch.testing.assert_close(context[0], y[0])
    a_r = abar[at].reshape(-1, 1, 1, 1)
    forward = a_r.sqrt() * x0 + (1 - a_r).sqrt() * eps
    torch.testing.assert_close(context[1:], forward[1:], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(context[1:], ddim_step(y, eps, a, a_r)[1:], atol=1e-5, rtol=1e-5)
    assert (context[1:] - x0[1:]).abs().mean() > 0.01  # it is noisier than x̂₁
    plain, plain_at = clean_context.step_context(2, y, t, x0)
    torch.testing.assert_close(plain[1:], x0[1:])
    assert plain_at.tolist() == at.tolist()
    fixed = overlapping("image-ebt", **REFINING, refine_level=0.01, refine_context="renoise")
    context, at = fixed.step_context(1, y, t, x0)
    assert at.tolist() == [9, 9, 9]
    a_r = abar[at].reshape(-1, 1, 1, 1)
    forward = a_r.sqrt() * x0 + (1 - a_r).sqrt() * eps
    torch.testing.assert_close(context, forward, atol=1e-5, rtol=1e-5)
    run = list(descent_trajectory(model, y, 3, 8.0, t=t))
    context, at = model.step_context(2, y, t, run[1][0])
    for state, energy in run[1:]:
        torch.testing.assert_close(energy, model.energy(state, context, at))


def test_renoise_is_checked_trained_through_and_fine_tunes_from_a_clean_checkpoint(tmp_path):
    from train.train_image import warm_start

    base = {**TINY, "overlap": 2, **REFINING}
    assert_config_errors(
        base,
        (
            ({"refine_ratio": 0.2, "refine_context": "noisy"}, "refine_context must be one of"),
            ({"refine_context": "renoise"}, "set refine_ratio or refine_level"),
        ),
    )
    losses = {}
    for context in ("clean", "renoise"):
        model = overlapping(
            "image-ebt", **REFINING, refine_ratio=0.5, refine_context=context, seed=3
        )
        losses[context] = unrolled_loss(model, **TWO_STEPS)
    assert losses["clean"] != pytest.approx(losses["renoise"], rel=1e-6)
    ebt.save(overlapping("image-ebt", **REFINING, refine_ratio=0.2, seed=1), tmp_path / "clean")
    renoising = overlapping("image-ebt", **REFINING, refine_ratio=0.5, refine_context="renoise")
    warm_start(renoising, str(tmp_path / "clean"))  # the weights carry over; the options stay
    assert (renoising.config.refine_ratio, renoising.config.refine_context) == (0.5, "renoise")
    assert_denoises_whole_photos_and_round_trips(renoising, tmp_path / "renoise")


# --- clipped-contrast crops (clip_contrast) -------------------------------------------------------


def test_clip_contrast_stretches_a_share_of_the_crops_and_clips_them_to_the_image_range():
    from ebt_core.image.training import clip_contrast

    ramp = torch.linspace(-1, 1, 16 * 16).reshape(1, 1, 16, 16).expand(400, 3, 16, 16).clone()
    gen = torch.Generator().manual_seed(0)
    off = ImageRecipe(batch=400)
    assert clip_contrast(ramp, off, gen) is ramp
    assert torch.equal(gen.get_state(), torch.Generator().manual_seed(0).get_state())  # no draws
    out = clip_contrast(ramp, ImageRecipe(batch=400, clip_contrast=0.5, clip_gain=2.0), gen)
    changed = (out != ramp).flatten(1).any(1)
    assert 150 < changed.sum() < 250  # about half the crops
    assert out.min() >= -1 and out.max() <= 1
    for crop in out[changed]:
        values = crop[0].flatten()
        assert (values.diff() >= 0).all()  # a monotone map of the ramp
        # the stretched range covers [−1, 1]: whatever the offset, something clips at an end
        assert (values == -1).any() or (values == 1).any()
        assert values.min() == -1 or values.max() == 1
        slope = (values.diff()[(values[1:] > -1) & (values[:-1] < 1)]).mean()
        assert 1.0 <= slope / (2 / 255) <= 2.0 + 1e-4  # gain in [1, clip_gain]
    for options, match in (
        ({"clip_contrast": 1.5}, "clip_contrast must be in"),
        ({"clip_gain": 0.5}, "clip_gain must be in"),
    ):
        with pytest.raises(ValueError, match=match):
            ImageRecipe(batch=4, **options)


# --- more training photos (extra_photos) ----------------------------------------------------------


def test_extra_photos_join_the_training_split_and_never_a_validation_or_held_out_one():
    from ebt_core.image.data import (
        EXTRA_PHOTOS,
        HELDOUT_IMAGES,
        TRAIN_IMAGES,
        VALIDATION_IMAGES,
        ImageCorpus,
        load_photo,
    )

    assert not set(EXTRA_PHOTOS) & {*TRAIN_IMAGES, *VALIDATION_IMAGES, *HELDOUT_IMAGES}
    plain, more = ImageCorpus(32), ImageCorpus(32, ("skimage:retina",))
    assert plain.train_names == TRAIN_IMAGES
    assert more.train_names == (*TRAIN_IMAGES, "skimage:retina") and more.train_grey[-1] is False
    retina = torch.from_numpy(load_photo("skimage:retina")).permute(2, 0, 1).float() / 127.5 - 1
    # without the option the same seed draws exactly the crops it always drew
    a, _ = plain.train_batch(64, torch.Generator().manual_seed(3))
    b, _ = ImageCorpus(32).train_batch(64, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    # with it, about one crop in 12 comes from the new photo, each a window of it
    crops, grey = more.train_batch(600, torch.Generator().manual_seed(3))
    windows = retina.unfold(1, 32, 1).unfold(2, 32, 1)  # (3, H-31, W-31, 32, 32)
    sums = windows.sum(dim=(0, 3, 4))
    from_retina = 0
    for crop in crops:
        for candidate in (crop, crop.flip(-1)):
            hits = (sums - candidate.sum()).abs() < 1e-2
            if any(torch.equal(windows[:, y, x], candidate) for y, x in hits.nonzero()[:50]):
                from_retina += 1
                break
    assert 25 <= from_retina <= 80, from_retina
    recipe = ImageRecipe(batch=4, extra_photos=["skimage:retina"])
    assert recipe.extra_photos == ("skimage:retina",)
    for bad, match in (
        (["skimage:chelsea"], "validation or held-out"),
        (["skimage:astronaut"], "validation or held-out"),
        (["skimage:coffee"], "a training photo already"),
        (["skimage:nope"], "is not one of"),
        ("skimage:retina", "must be a list"),
        (["skimage:retina", "skimage:retina"], "twice"),
    ):
        with pytest.raises(ValueError, match=match):
            ImageRecipe(batch=4, extra_photos=bad)


# --- growing a checkpoint (n_layer, head_channels) ------------------------------------------------

GROWN_EBT = dict(REFINING, refine_ratio=0.5, refine_context="renoise")  # the shipped EBT's kind
GROWN_DIT = dict(window=True, head="resize")


@pytest.mark.parametrize("kind", ["image-ebt", "image-dit"])
def test_a_grown_model_computes_what_its_checkpoint_computed_and_its_new_weights_train(
    kind, tmp_path
):
    """init_from a smaller checkpoint: more adaLN blocks and a wider resize head start as exact
    no-ops (same energies and ∇E, same ε̂), and the weights that write the new parts into the
    output (the new block's modulation, the head's new output columns) get gradients at once,
    so the capacity can train."""
    from train.train_image import warm_start

    options = GROWN_EBT if kind == "image-ebt" else GROWN_DIT
    base = overlapping(kind, **options, head_channels=6, seed=1)  # perturbed: nothing is zero
    ebt.save(base, tmp_path / "base")
    big = overlapping(kind, **options, head_channels=10, n_layer=3, seed=2)
    warm_start(big, str(tmp_path / "base"))
    g = torch.Generator().manual_seed(0)
    y = torch.rand(3, 3, 16, 16, generator=g) * 2 - 1
    t = torch.tensor([10, 100, 400])
    x = (y + 0.1 * torch.randn(y.shape, generator=g)).requires_grad_(True)
    if kind == "image-ebt":
        outs = []
        for model in (base, big):
            energy = model.energy(x, y, t)
            outs.append((energy, torch.autograd.grad(energy.sum(), x)[0]))
        torch.testing.assert_close(outs[1], outs[0])
        head = big.energy_head
        loss = (big.estimate(x, y, t) - y.flip(-1)).square().mean()
    else:
        torch.testing.assert_close(big(y, t), base(y, t))
        head = big.noise_head
        loss = (big(y, t) - y.flip(-1)).square().mean()
    loss.backward()
    new_weights = {
        "the new block's adaLN": big.blocks[2].ada.weight.grad,
        "the head's new output columns": head.last.weight.grad[:, 6:],
    }
    for what, grad in new_weights.items():
        assert grad.abs().sum() > 0, what


def test_a_model_cannot_shrink_from_its_checkpoint(tmp_path):
    from train.train_image import warm_start

    ebt.save(overlapping("image-dit", **GROWN_DIT, n_layer=2), tmp_path / "base")
    with pytest.raises(ValueError, match="n_layer may only grow"):
        warm_start(overlapping("image-dit", **GROWN_DIT, n_layer=1), str(tmp_path / "base"))
    with pytest.raises(ValueError, match="cannot grow an ImageDiT into an ImageEBT"):
        grown_state(overlapping("image-ebt", **GROWN_EBT), overlapping("image-dit", **GROWN_DIT))


@pytest.mark.parametrize("kind", ["image-ebt", "image-dit"])
def test_a_model_grown_to_larger_tiles_keeps_every_weight_and_stretches_its_positions(
    kind, tmp_path
):
    """init_from a checkpoint with smaller tiles (crop 16 → 24, patch 4: a 4 × 4 patch grid →
    6 × 6): every weight but the positions (and an EBT's α) is the checkpoint's; the positions
    are resampled corner to corner (the grid's corners keep theirs, a position that varies
    linearly along the grid stays close to that line); an EBT's α grows with the patch count
    (its energy averages over patches), so a step moves a pixel as far. The grown model then
    reads 24-pixel tiles."""
    from train.train_image import warm_start

    options = GROWN_EBT if kind == "image-ebt" else GROWN_DIT
    base = overlapping(kind, **options, crop=16, seed=1)
    with torch.no_grad():  # a position linear in the patch's row and column, plus noise
        rows, cols = torch.meshgrid(torch.arange(4.0), torch.arange(4.0), indexing="ij")
        linear = (rows.reshape(1, 16, 1) * 0.3 - cols.reshape(1, 16, 1) * 0.2).expand(-1, -1, 32)
        base.pos_emb.copy_(linear)
        base.pos_emb[..., 1:].add_(0.1 * torch.randn(1, 16, 31))
    ebt.save(base, tmp_path / "base")
    big = overlapping(kind, **options, crop=24, seed=2)
    warm_start(big, str(tmp_path / "base"))
    small_state, big_state = base.state_dict(), big.state_dict()
    for key, value in small_state.items():
        if key not in ("pos_emb", "alpha"):
            torch.testing.assert_close(big_state[key], value, msg=key)
    grid = big.pos_emb.detach().reshape(6, 6, 32)
    old = base.pos_emb.detach().reshape(4, 4, 32)
    for (i, j), (a, b) in zip([(0, 0), (0, 5), (5, 0), (5, 5)], [(0, 0), (0, 3), (3, 0), (3, 3)]):
        torch.testing.assert_close(grid[i, j], old[a, b])
    ramp = grid[..., 0]  # the linear part: still rising down the rows, falling along a row
    assert (ramp.diff(dim=0) > 0).all() and (ramp.diff(dim=1) < 0).all()
    r6, c6 = torch.meshgrid(torch.arange(6.0) * 0.6, torch.arange(6.0) * 0.6, indexing="ij")
    assert (ramp - (r6 * 0.3 - c6 * 0.2)).abs().max() < 0.05  # 3/5 of a base patch apart
    if kind == "image-ebt":
        assert big.step_size == pytest.approx(base.step_size * 36 / 16)
    y = torch.rand(2, 3, 24, 24) * 2 - 1
    t = torch.tensor([10, 300])
    out = big.energy(y, y, t) if kind == "image-ebt" else big(y, t)
    assert torch.isfinite(out).all()


def test_a_model_cannot_read_smaller_tiles_or_other_patches_than_its_checkpoint(tmp_path):
    from train.train_image import warm_start

    ebt.save(overlapping("image-dit", **GROWN_DIT, crop=24), tmp_path / "base")
    with pytest.raises(ValueError, match="crop may only grow"):
        warm_start(overlapping("image-dit", **GROWN_DIT, crop=16), str(tmp_path / "base"))
    with pytest.raises(ValueError, match="differs in patch"):
        warm_start(
            overlapping("image-dit", **GROWN_DIT, crop=32, patch=8, overlap=2),
            str(tmp_path / "base"),
        )

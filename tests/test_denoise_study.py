"""The study's image comparison (issue 15): EBT vs DiT at equal network passes and at the DiT's
best, with wall-clock seconds, on tiny models."""

from __future__ import annotations

from ebt_core.study import measures as ev
from ebt_core.study import tables
from ebt_core.study.run import _fair

from .test_image import photo, tiny_image_model


def test_curves_are_timed_and_the_fair_row_picks_equal_passes_and_the_best():
    ebt_model, dit = tiny_image_model("image-ebt"), tiny_image_model("image-dit")
    curves = [
        ev.psnr_vs_passes(
            ebt_model, dit, photo(20, 24, seed=s), 0.1, ebt_steps=2, dit_passes=(1, 3, 5)
        )  # fmt: skip
        for s in (0, 1)
    ]
    c = curves[0]
    assert len(c.ebt_seconds) == 2 and len(c.dit_seconds) == len(c.dit_passes) == 3
    assert all(t > 0 for t in c.ebt_seconds + c.dit_seconds)
    fair = _fair(curves)
    assert fair["passes"] == 3  # 2 steps = 3 passes
    mean = lambda i: sum(x.dit_psnr[i] for x in curves) / 2
    assert abs(fair["dit_equal"] - mean(1)) < 1e-3  # the 3-pass run
    assert fair["dit_best"] >= max(fair["dit_equal"], mean(0), mean(2)) - 1e-3
    assert fair["dit_best_passes"] in (1, 3, 5)
    img = {"id": {"fair": fair}, "ood": {"fair": fair}}
    text = "\n".join(tables.fair_table(img))
    assert "DiT, same passes" in text and f"{fair['dit_best_passes']} passes" in text


def test_a_descent_that_settles_early_still_gives_a_point_per_allowed_step():
    """A fresh EBT's energy is flat (E ≡ 0), so every tile settles after its first step and the
    run ends early: the curve still has one PSNR per allowed step, the settled result's."""
    import ebt_core as ebt

    from .test_image import TINY

    flat = ebt.ImageEBT(ebt.ImageModelConfig(**TINY))
    dit = tiny_image_model("image-dit")
    short = ebt.denoise(flat, photo(20, 24), ebt.DenoiseConfig(noise=0.1, steps=4, seed=0))
    assert len(short.psnr) < 5  # it did stop early
    curve = ev.psnr_vs_passes(flat, dit, photo(20, 24), 0.1, ebt_steps=4, dit_passes=(1,))
    assert curve.ebt_passes == [2, 3, 4, 5] and len(curve.ebt_psnr) == 4
    assert curve.ebt_psnr[-1] == short.psnr[-1]
    assert len(curve.ebt_seconds) == 4

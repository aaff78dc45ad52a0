"""Issue 15's denoising measurements: EBT vs DiT on whole photos, at equal network passes and at
the DiT's best, the EBT at 4× its default steps, block-edge ratios and wall-clock time.

    python scripts/eval_denoise.py                          # held-out photos at 256 px (the app)
    python scripts/eval_denoise.py --split validation       # choose settings here, not held-out
    python scripts/eval_denoise.py --side 0 --levels 0.1    # full-size photos
    python scripts/eval_denoise.py --ebt /tmp/run/ebt --dit /tmp/run/dit --json out.json
    python scripts/eval_denoise.py --split validation --clip 0.05  # clipped shadows, highlights
    python scripts/eval_denoise.py --photos skimage:retina,skimage:cell --side 0  # other photos

Each photo (downscaled so its longer side is ≤ --side, as the app does; 0 = full size, up to
the 1024 pixels `denoise` takes: a larger photo is downscaled to that, as the output says) is
noised to each level with --seeds seeds and denoised whole (blended tiles). Prints one row per
level (means over photos and seeds) and the JSON of every number with --json. --clip Q first
stretches each photo's contrast so about Q of its values clip at each end (`clip_stretch`): the
validation photos have hardly any clipped pixels, unlike many photos (the held-out astronaut
has 14% of its values ≤ 2, china 4.8% ≥ 253). --photos measures named bundled photos instead
of a split: any split's, or the ones outside every split (`EXTRA_PHOTOS`: retina, cell, …),
which the shipped models never saw.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import numpy as np
from PIL import Image

import ebt_core as ebt
from ebt_core.image.data import EXTRA_PHOTOS, SPLITS, clip_stretch, load_photo
from ebt_core.image.io import MAX_SIDE, MIN_SIDE
from ebt_core.image.quality import block_edge_ratio

KNOWN_PHOTOS = (*(name for names in SPLITS.values() for name in names), *EXTRA_PHOTOS)


def photos(names, side: int, clip: float = 0.0) -> dict[str, Image.Image]:
    """The named bundled photos (a split's, or any of KNOWN_PHOTOS), each downscaled to `side`
    (0: full size, at most MAX_SIDE, saying which photos were larger) after an optional
    contrast stretch."""
    out, shrunk = {}, []
    for name in names:
        pixels = load_photo(name)
        image = Image.fromarray(clip_stretch(pixels, clip) if clip else pixels)
        out[name] = ebt.fit_within(image, side or MAX_SIDE)
        if not side and out[name].size != image.size:
            shrunk.append(f"{name} to {out[name].width}×{out[name].height}")
    if shrunk:
        print(f"larger than {MAX_SIDE} pixels, downscaled: {', '.join(shrunk)}")
    return out


def run(model, photo, config: ebt.DenoiseConfig) -> dict:
    start = time.perf_counter()
    result = ebt.denoise(model, photo, config)
    seconds = time.perf_counter() - start
    patch = model.config.patch
    return {
        "psnr": result.psnr[-1],
        "noisy": result.psnr[0],
        "passes": result.passes,
        "seconds": seconds,
        "block": block_edge_ratio(result.result, patch),
        "tile_steps": result.tile_steps,  # EBT: mean steps a tile moved (energy-aware stopping)
    }


def measure(
    ebt_model, dit, photo, level: float, seed: int, dit_passes: list[int], tolerance=None
) -> dict:
    """One noisy photo: the EBT at its default and 4× steps, the DiT at each pass count and at
    the EBT's pass count. `tolerance`: the EBT's energy-aware stopping (None = its default,
    0 = every step)."""
    default = ebt.DenoiseConfig.from_dict(getattr(ebt_model, "recipe", {}).get("denoise", {}))
    steps = default.steps or 2
    base = replace(default, noise=level, seed=seed, steps=steps, tolerance=tolerance)
    row = {"ebt": run(ebt_model, photo, base)}
    row["ebt_4x"] = run(ebt_model, photo, replace(base, steps=4 * steps))
    row["dit"] = {}
    for passes in sorted({*dit_passes, row["ebt"]["passes"]}):
        config = ebt.DenoiseConfig(noise=level, seed=seed, steps=passes)
        row["dit"][passes] = run(dit, photo, config)
    return row


def summarize(rows: list[dict]) -> dict:
    """Means over photos and seeds for one level."""
    mean = lambda xs: round(float(np.mean(xs)), 3)
    eq = rows[0]["ebt"]["passes"]
    dit = {p: mean([r["dit"][p]["psnr"] for r in rows]) for p in rows[0]["dit"]}
    best = max(dit, key=dit.get)
    return {
        "noisy": mean([r["ebt"]["noisy"] for r in rows]),
        "ebt": mean([r["ebt"]["psnr"] for r in rows]),
        "ebt_4x": mean([r["ebt_4x"]["psnr"] for r in rows]),
        "ebt_tile_steps": mean([r["ebt"]["tile_steps"] for r in rows]),
        "ebt_4x_tile_steps": mean([r["ebt_4x"]["tile_steps"] for r in rows]),
        "ebt_passes": eq,
        "dit_equal": dit[eq],
        "dit_best": dit[best],
        "dit_best_passes": best,
        "dit_by_passes": dit,
        "ebt_s": mean([r["ebt"]["seconds"] for r in rows]),
        "dit_equal_s": mean([r["dit"][eq]["seconds"] for r in rows]),
        "dit_best_s": mean([r["dit"][best]["seconds"] for r in rows]),
        "block_ebt": mean([r["ebt"]["block"] for r in rows]),
        "block_dit": mean([r["dit"][eq]["block"] for r in rows]),
        "worst_ebt_minus_noisy": mean([min(r["ebt"]["psnr"] - r["ebt"]["noisy"] for r in rows)]),
    }


HEADER = (
    "level  noisy    EBT  EBT4x  DiT=passes  DiT best (passes)  EBT s  DiT= s  block EBT/DiT"
    "  tile steps EBT/EBT4x"
)


def line(level: float, s: dict) -> str:
    best = f"{s['dit_best']:9.2f} ({s['dit_best_passes']:>3})"
    block = f"{s['block_ebt']:.3f}/{s['block_dit']:.3f}"
    return (
        f"{level:5.2f} {s['noisy']:6.2f} {s['ebt']:6.2f} {s['ebt_4x']:6.2f} "
        f"{s['dit_equal']:7.2f} ({s['ebt_passes']}) {best}"
        f"     {s['ebt_s']:6.2f} {s['dit_equal_s']:6.2f}   {block}"
        f"  {s['ebt_tile_steps']:.2f}/{s['ebt_4x_tile_steps']:.2f}"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ebt", default="image-ebt")
    parser.add_argument("--dit", default="image-dit")
    parser.add_argument("--split", default="heldout", choices=sorted(SPLITS))
    parser.add_argument(
        "--photos", default=None,
        help="comma-separated bundled photos to measure instead of --split "
        "(e.g. skimage:retina,skimage:cell)",
    )  # fmt: skip
    parser.add_argument("--side", type=int, default=256, help="longest side; 0 = full size")
    parser.add_argument("--levels", default="0.05,0.1,0.2,0.3")
    parser.add_argument("--dit-passes", default="1,2,3,5,10,20,50")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument(
        "--clip", type=float, default=0.0,
        help="stretch each photo's contrast so this share of its values clips at each end (0-0.5)",
    )  # fmt: skip
    parser.add_argument("--json", default=None, help="write every number here")
    parser.add_argument(
        "--tolerance", type=float, default=None,
        help="the EBT's energy-aware stopping (default: its own; 0 = every step is taken)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    ebt_model, dit = ebt.load(args.ebt), ebt.load(args.dit)
    levels = [float(x) for x in args.levels.split(",")]
    dit_passes = [int(x) for x in args.dit_passes.split(",")]
    if args.side != 0 and not MIN_SIDE <= args.side <= MAX_SIDE:
        parser.error(f"--side must be 0 (full size) or {MIN_SIDE} to {MAX_SIDE}, got {args.side}")
    if not 0.0 <= args.clip < 0.5:
        parser.error(f"--clip must be in [0, 0.5), got {args.clip}")
    names = SPLITS[args.split]
    if args.photos is not None:
        names = [n.strip() for n in args.photos.split(",") if n.strip()]
        unknown = [n for n in names if n not in KNOWN_PHOTOS]
        if unknown or not names:
            parser.error(
                f"--photos: {', '.join(unknown) or 'no photo named'}; "
                f"allowed: {', '.join(KNOWN_PHOTOS)}"
            )
        if len(set(names)) != len(names):
            parser.error(f"--photos names a photo twice: {args.photos}")
    pics = photos(names, args.side, args.clip)
    clipped = f", contrast stretched to clip {args.clip:g} at each end" if args.clip else ""
    print(
        f"{'chosen' if args.photos is not None else args.split} photos {list(pics)} "
        f"at side {args.side or 'full'}{clipped}; "
        f"seeds {args.seeds}"
    )
    print(HEADER)
    out = {}
    for level in levels:
        rows = [
            measure(ebt_model, dit, photo, level, seed, dit_passes, args.tolerance)
            for photo in pics.values()
            for seed in range(args.seeds)
        ]
        out[level] = summarize(rows)
        print(line(level, out[level]), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()

"""Train a denoising image EBT or its DiT baseline from a recipe.

    python train/train_image.py train/recipes/image-ebt.json           # → checkpoints/image-ebt
    python train/train_image.py train/recipes/image-dit.json           # → checkpoints/image-dit
    python train/train_image.py train/recipes/image-ebt.json --iters 20 --out /tmp/smoke
    python -m train.train_image train/recipes/image-ebt.json        # the same, as a module
    torchrun --nproc_per_node 2 train/train_image.py RECIPE     # data-parallel (gloo on CPU)

The shipped checkpoints are the last stage of a chain: a recipe with `init_from: runs/NAME`
starts from the run of train/recipes/NAME.json, which must exist (`--out runs/NAME`); the
README's checkpoint table lists each chain in order. A stage may grow its model: a recipe whose
`n_layer` or `head_channels` is larger than its `init_from` checkpoint's starts from a model that
computes exactly what that checkpoint computes (the new blocks and head channels are wired in
with zeros; `ebt_core.image.model.grown_state`), then trains all of it. Its `crop` may be larger
too (the same `patch`): the learned positions are resampled to the larger patch grid and an
EBT's α scaled by the patch count, a close start rather than an exact one.

Data: random crops at the model's tile size `crop` (with flips; with the recipe's `rotate` and
`min_scale`, also turned by multiples of 90° and downscaled; with `clip_contrast`, a share of
them contrast-stretched with clipped shadows and highlights) of the photographs bundled in
scikit-image and scikit-learn, plus the recipe's `extra_photos` (more bundled photos outside the
splits); held-out crops come from other photographs (ebt_core/image/data.py). CPU by
default, CUDA when present; under torchrun every process draws its own crops and the gradients
are averaged (train/common.py). Seeded; every `eval_every` iterations it logs held-out PSNR at the
in-distribution (0.1) and out-of-distribution (0.2) noise levels to metrics.jsonl (EBT: after
each of `eval_steps` descent steps; DiT: after DDIM from t, t+1 passes) and saves a resumable
state (weights + optimizer, safetensors + JSON) in OUT/.resume, which a rerun of the same
command picks up. The finished checkpoint is OUT (config.json, model.safetensors, metrics.jsonl).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

import ebt_core as ebt
from ebt_core.image import training as iobj
from ebt_core.image.data import get_image_corpus
from ebt_core.image.model import GROWABLE_FIELDS, grown_state
from ebt_core.study import cli
from train import common


def parse_args(argv=None):
    return common.common_args("Train a denoising image EBT or DiT from a recipe.").parse_args(argv)


def load_recipe(args) -> tuple[str, iobj.ImageRecipe]:
    return common.load_recipe(args, iobj.ImageRecipe)


def build(recipe: iobj.ImageRecipe, device: torch.device):
    config = ebt.ImageModelConfig(**{**recipe.model, "kind": recipe.kind})
    model = (ebt.ImageEBT if recipe.kind == "image-ebt" else ebt.ImageDiT)(config).to(device)
    return model, common.make_optimizer(model, recipe)


REFINING_FIELDS = ("refine_level", "refine_ratio", "refine_min", "refine_context")


def warm_start(model, source: str) -> None:
    """Fine-tune: start from every weight of a checkpoint of the same kind and architecture.
    The refining options (`refine_level`, `refine_ratio`, `refine_min`, `refine_context`) may
    differ: they change how the descent reads the weights, not the weights. `n_layer` and
    `head_channels` may be larger than the checkpoint's: the model grows from it and starts by
    computing exactly what it computed; so may `crop`, from resampled positions
    (`ebt_core.image.model.grown_state`)."""
    base = ebt.load(source)
    same = type(base) is type(model)
    if same:
        kept = (*REFINING_FIELDS, *GROWABLE_FIELDS)
        own = replace(model.config, **{k: getattr(base.config, k) for k in kept})
        differ = sorted(k for k, v in vars(base.config).items() if vars(own)[k] != v)
    if not same or differ:
        raise ValueError(
            f"init_from {source!r} must be a {model.config.kind} checkpoint with this recipe's "
            "architecture" + (f" (it differs in {', '.join(differ)})" if same else "")
        )
    try:
        state = grown_state(model, base)
    except ValueError as err:
        raise ValueError(f"init_from {source!r}: {err}") from err
    grown = [k for k in GROWABLE_FIELDS if getattr(model.config, k) != getattr(base.config, k)]
    if grown:
        sizes = (f"{k} {getattr(base.config, k)} → {getattr(model.config, k)}" for k in grown)
        print("grown from " + ", ".join(sizes))
    model.load_state_dict(state)


def evaluate(model, corpus, recipe: iobj.ImageRecipe, device) -> dict:
    model.eval()
    clean, grey = corpus.eval_batch(recipe.eval_batch)
    row = iobj.evaluate_psnr(model, clean.to(device), grey.to(device), recipe)
    model.train()
    return row


def data_generator(recipe: iobj.ImageRecipe, rank: int, saved) -> torch.Generator:
    """All data randomness (crops, flips, noise): different on every rank, restored from a
    resume state's `saved` generator state."""
    gen = torch.Generator().manual_seed(recipe.seed + 1000 * rank)
    if saved:
        gen.set_state(torch.tensor(saved, dtype=torch.uint8))
    return gen


def train(argv=None) -> Path:
    """Run training as the command line would; returns the checkpoint directory."""
    args = parse_args(argv)
    name, recipe = load_recipe(args)
    rank, world, device = common.setup(args)
    out = common.checkpoint_dir(args, name)
    torch.manual_seed(recipe.seed)  # same init on every rank
    model, optimizer = build(recipe, device)
    if recipe.init_from:
        warm_start(model, recipe.init_from)
    corpus = get_image_corpus(model.config.crop, recipe.extra_photos)
    start_it, metrics, saved = common.resume_or_start(args, out, model, optimizer)
    gen = data_generator(recipe, rank, saved)
    loss_fn = iobj.ebt_loss if recipe.kind == "image-ebt" else iobj.dit_loss
    bar = common.progress(start_it, recipe, name, args.quiet or rank != 0)
    t0 = time.time()
    for it in bar:
        # 1. learning rate schedule
        lr = common.set_lr(optimizer, it, recipe)
        # 2. loss on a fresh batch of noisy crops
        clean, grey = corpus.train_batch(recipe.batch, gen, recipe.rotate, recipe.min_scale)
        clean = iobj.clip_contrast(clean, recipe, gen)
        loss, stats = loss_fn(model, clean.to(device), grey.to(device), recipe, gen)
        # 3. backward, average gradients across processes, clip, step
        common.optimizer_step(model, optimizer, loss, recipe, world)
        bar.set_postfix(loss=f"{stats['loss']:.4f}", psnr=f"{stats['psnr']:.2f}")
        # 4. periodic evaluation + resumable state
        if rank == 0 and common.is_eval_iter(it, recipe):
            row = common.metrics_row(it, t0, round(stats["loss"], 5), lr)
            if isinstance(model, ebt.ImageEBT):
                row["alpha"] = round(model.step_size, 3)
            row.update(evaluate(model, corpus, recipe, device))
            metrics.append(row)
            bar.write(json.dumps(row))
            common.save_resume(out, model, optimizer, it + 1, metrics, gen.get_state().tolist())
    recipe_dict = {**asdict(recipe), "name": name, "world_size": world}
    common.finish(model, out, rank, world, recipe=recipe_dict, metrics=metrics)
    return out


if __name__ == "__main__":
    cli.run(train)

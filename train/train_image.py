"""Train a denoising image EBT or its DiT baseline from a recipe.

    python train/train_image.py train/recipes/image-ebt.json           # → checkpoints/image-ebt
    python train/train_image.py train/recipes/image-dit.json           # → checkpoints/image-dit
    python train/train_image.py train/recipes/image-ebt.json --iters 20 --out /tmp/smoke

Data: random 32×32 crops (with flips) of the photographs bundled in scikit-image and
scikit-learn; held-out crops come from other photographs (ebt_core/image/data.py). CPU by
default, CUDA when present. Seeded; every `eval_every` iterations it logs held-out PSNR at the
in-distribution (0.1) and out-of-distribution (0.2) noise levels to metrics.jsonl (EBT: after
each of `eval_steps` descent steps; DiT: after DDIM from t, t+1 passes) and saves a resumable
state (weights + optimizer, safetensors + JSON) in OUT/.resume, which a rerun of the same
command picks up. The finished checkpoint is OUT (config.json, model.safetensors, metrics.jsonl).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a fresh checkout
sys.path.insert(0, str(ROOT / "train"))  # the resume helpers are shared with train_text.py

from train_text import load_resume, save_resume  # noqa: E402

import ebt_core as ebt  # noqa: E402
from ebt_core.image import training as iobj  # noqa: E402
from ebt_core.image.data import get_image_corpus  # noqa: E402
from ebt_core.study import cli  # noqa: E402
from ebt_core.text.training import lr_at  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Train a denoising image EBT or DiT from a recipe.")
    p.add_argument("recipe", help="recipe JSON (see train/recipes/)")
    p.add_argument("--out", help="checkpoint directory (default: checkpoints/<recipe name>)")
    p.add_argument("--iters", type=int, help="override the recipe's iteration count")
    p.add_argument("--seed", type=int, help="override the recipe's seed")
    p.add_argument("--eval-every", type=int, help="override the recipe's eval interval")
    p.add_argument("--fresh", action="store_true", help="ignore a saved resume state")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    return p.parse_args(argv)


def load_recipe(args) -> tuple[str, iobj.ImageRecipe]:
    return cli.load_recipe(args, iobj.ImageRecipe, (1, 2, 4))


def build(recipe: iobj.ImageRecipe, device: torch.device):
    config = ebt.ImageModelConfig(**{**recipe.model, "kind": recipe.kind})
    model = (ebt.ImageEBT if recipe.kind == "image-ebt" else ebt.ImageDiT)(config).to(device)
    named = list(model.named_parameters())
    alpha = [p for n, p in named if n == "alpha"]
    groups = [
        {"params": [p for n, p in named if n != "alpha" and p.dim() >= 2], "lr_mult": 1.0},
        {"params": [p for n, p in named if n != "alpha" and p.dim() < 2], "lr_mult": 1.0},
    ]
    groups[0]["weight_decay"], groups[1]["weight_decay"] = recipe.weight_decay, 0.0
    if alpha:  # learnable α: own group, no weight decay, larger lr (reference §2)
        groups.append({"params": alpha, "weight_decay": 0.0, "lr_mult": recipe.alpha_lr_mult})
    optimizer = torch.optim.AdamW(groups, lr=recipe.lr, betas=(0.9, 0.999))
    return model, optimizer


def evaluate(model, corpus, recipe: iobj.ImageRecipe, device) -> dict:
    model.eval()
    clean, grey = corpus.eval_batch(recipe.eval_batch)
    row = iobj.evaluate_psnr(model, clean.to(device), grey.to(device), recipe)
    model.train()
    return row


def train(argv=None) -> Path:
    """Run training as the command line would; returns the checkpoint directory."""
    args = parse_args(argv)
    name, recipe = load_recipe(args)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if args.threads:  # on a shared machine 1 thread avoids stalls between starved threads
        torch.set_num_threads(args.threads)
    out = Path(args.out) if args.out else ROOT / "checkpoints" / name
    torch.manual_seed(recipe.seed)
    model, optimizer = build(recipe, device)
    corpus = get_image_corpus(model.config.crop)
    start_it, metrics, rng_state = (
        (0, [], None) if args.fresh else load_resume(out, model, optimizer)
    )
    gen = torch.Generator().manual_seed(recipe.seed)  # all data randomness: crops, flips, noise
    if rng_state:
        gen.set_state(torch.tensor(rng_state, dtype=torch.uint8))
    loss_fn = iobj.ebt_loss if recipe.kind == "image-ebt" else iobj.dit_loss
    bar = tqdm(range(start_it, recipe.iters), initial=start_it, total=recipe.iters,
               disable=args.quiet, desc=name, dynamic_ncols=True)  # fmt: skip
    t0 = time.time()
    for it in bar:
        # 1. learning rate schedule
        for group in optimizer.param_groups:
            group["lr"] = lr_at(it, recipe) * group["lr_mult"]
        # 2. loss on a fresh batch of noisy crops
        clean, grey = corpus.train_batch(recipe.batch, gen)
        loss, stats = loss_fn(model, clean.to(device), grey.to(device), recipe, gen)
        # 3. backward, clip, step
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
        optimizer.step()
        bar.set_postfix(loss=f"{stats['loss']:.4f}", psnr=f"{stats['psnr']:.2f}")
        # 4. periodic evaluation + resumable state
        if (it + 1) % recipe.eval_every == 0 or it + 1 == recipe.iters:
            row = {"iter": it + 1, "time_s": round(time.time() - t0, 1),
                   "train_loss": round(stats["loss"], 5), "lr": lr_at(it, recipe)}  # fmt: skip
            if isinstance(model, ebt.ImageEBT):
                row["alpha"] = round(model.step_size, 3)
            row.update(evaluate(model, corpus, recipe, device))
            metrics.append(row)
            bar.write(json.dumps(row))
            save_resume(out, model, optimizer, it + 1, metrics, gen.get_state().tolist())
    recipe_dict = {**asdict(recipe), "name": name}
    ebt.save(model.cpu(), out, recipe=recipe_dict, metrics=metrics)
    shutil.rmtree(out / ".resume", ignore_errors=True)
    print(f"saved {out}")
    return out


if __name__ == "__main__":
    cli.run(train)

"""Train a character-level text EBT or Transformer++ baseline from a recipe.

    python train/train_text.py train/recipes/arith-ebt.json            # → checkpoints/arith-ebt
    python train/train_text.py train/recipes/arith-ebt.json --iters 20 --out /tmp/smoke
    python train/train_text.py train/recipes/english-ebt.json --text my.txt --out runs/mine
    python -m train.train_text train/recipes/arith-ebt.json         # the same, as a module
    torchrun --nproc_per_node 2 train/train_text.py RECIPE      # data-parallel (gloo on CPU)

Run from a checkout after `pip install -e .` (it installs the `train` package beside ebt_core).

CPU by default, CUDA when present. Seeded; every `eval_every` iterations it logs held-out
perplexity (in and out of distribution; for EBTs after each descent step) to metrics.jsonl and
saves a resumable state (weights + optimizer, safetensors + JSON) in OUT/.resume, which a
rerun of the same command picks up. The finished checkpoint is OUT (config.json,
model.safetensors, metrics.jsonl).
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict
from pathlib import Path

import torch

import ebt_core as ebt
from ebt_core.study import cli, measures
from ebt_core.text import training as obj
from ebt_core.text.data import get_corpus, text_corpus
from train import common
from train.common import warm_start  # train_text.warm_start: the text recipe's init_from


def parse_args(argv=None):
    p = common.common_args("Train a text EBT or Transformer++ from a recipe.")
    p.add_argument("--text", help="train on this UTF-8 text file instead of the recipe's corpus")
    return p.parse_args(argv)


def load_recipe(args) -> tuple[str, obj.TextRecipe]:
    return common.load_recipe(args, obj.TextRecipe)


def build(recipe: obj.TextRecipe, vocab: str, device: torch.device):
    config = ebt.TextModelConfig(**{**recipe.model, "kind": recipe.kind, "vocab": vocab})
    model = (ebt.TextEBT if recipe.kind == "text-ebt" else ebt.Transformer)(config).to(device)
    return model, common.make_optimizer(model, recipe)


def evaluate(model, corpus, recipe: obj.TextRecipe, device) -> dict:
    """Held-out perplexity: per descent step for EBTs, ID and OOD."""
    model.eval()
    row = {}
    for split in ("id", "ood"):
        ids, mask = corpus.eval_batch(split, recipe.eval_batch, recipe.length)
        ids, mask = ids.to(device), mask.to(device)
        if isinstance(model, ebt.TextEBT):
            nll = measures.descent_stats(model, ids, mask, max(recipe.eval_steps)).nll_by_step()
            row[f"{split}_ppl_step"] = {
                str(s): round(math.exp(nll[s - 1]), 4) for s in recipe.eval_steps
            }
        else:
            row[f"{split}_ppl"] = round(math.exp(obj.transformer_nll(model, ids, mask)), 4)
    model.train()
    return row


def data_rngs(recipe: obj.TextRecipe, rank: int, saved) -> tuple[random.Random, torch.Generator]:
    """The data RNGs (batches, and starts/noise/α jitter): different on every rank, restored
    from a resume state's `saved` [python RNG state..., torch generator state]."""
    rng = random.Random(recipe.seed * 1000 + rank)
    gen = torch.Generator().manual_seed(recipe.seed * 1000 + rank)
    if saved:
        rng.setstate((saved[0], tuple(saved[1]), saved[2]))
        gen.set_state(torch.tensor(saved[3], dtype=torch.uint8))
    return rng, gen


def rng_state(rng: random.Random, gen: torch.Generator) -> list:
    state = rng.getstate()
    return [state[0], list(state[1]), state[2], gen.get_state().tolist()]


def train(argv=None) -> Path:
    """Run training as the command line would; returns the checkpoint directory."""
    args = parse_args(argv)
    name, recipe = load_recipe(args)
    rank, world, device = common.setup(args)
    corpus = text_corpus(args.text) if args.text else get_corpus(recipe.corpus)
    out = common.checkpoint_dir(args, name)
    torch.manual_seed(recipe.seed)  # same init on every rank
    model, optimizer = build(recipe, corpus.vocab, device)
    if recipe.init_from:
        warm_start(model, recipe.init_from)
    start_it, metrics, saved = common.resume_or_start(args, out, model, optimizer)
    rng, gen = data_rngs(recipe, rank, saved)
    replay = obj.ReplayBuffer(recipe.replay_size) if recipe.replay > 0 else None
    is_ebt = recipe.kind == "text-ebt"
    bar = common.progress(start_it, recipe, name, args.quiet or rank != 0)
    t0, tokens_seen = time.time(), 0
    for it in bar:
        # 1. learning rate schedule
        lr = common.set_lr(optimizer, it, recipe)
        # 2. loss on a fresh batch
        ids, mask = corpus.train_batch(rng, recipe.batch, recipe.length)
        ids, mask = ids.to(device), mask.to(device)
        if is_ebt:
            loss, stats = obj.ebt_loss(model, ids, mask, recipe, rng, gen, replay)
        else:
            loss, stats = obj.transformer_loss(model, ids, mask)
        # 3. backward, average gradients across processes, clip, step
        common.optimizer_step(model, optimizer, loss, recipe, world)
        tokens_seen += ids.numel() * world
        bar.set_postfix(
            loss=f"{stats['loss_final']:.3f}",
            ppl=f"{math.exp(min(stats['loss_final'], 20)):.2f}",
            tok_s=f"{tokens_seen / (time.time() - t0):.0f}",
        )
        # 4. periodic evaluation + resumable state
        if rank == 0 and common.is_eval_iter(it, recipe):
            row = common.metrics_row(it, t0, round(stats["loss_final"], 4), lr)
            if is_ebt:
                row["alpha"] = round(model.step_size, 4)
            row.update(evaluate(model, corpus, recipe, device))
            metrics.append(row)
            bar.write(json.dumps(row))
            common.save_resume(out, model, optimizer, it + 1, metrics, rng_state(rng, gen))
    think = ebt.ThinkConfig(**recipe.think) if is_ebt else None
    recipe_dict = {**asdict(recipe), "name": name, "world_size": world, "text_file": args.text}
    common.finish(model, out, rank, world, think=think, recipe=recipe_dict, metrics=metrics)
    return out


if __name__ == "__main__":
    cli.run(train)

"""Train a character-level text EBT or Transformer++ baseline from a recipe.

    python train/train_text.py train/recipes/arith-ebt.json            # → checkpoints/arith-ebt
    python train/train_text.py train/recipes/arith-ebt.json --iters 20 --out /tmp/smoke
    python train/train_text.py train/recipes/english-ebt.json --text my.txt --out runs/mine
    torchrun --nproc_per_node 2 train/train_text.py RECIPE      # data-parallel (gloo on CPU)

CPU by default, CUDA when present. Seeded; every `eval_every` iterations it logs held-out
perplexity (in and out of distribution; for EBTs after each descent step) to metrics.jsonl and
saves a resumable state (weights + optimizer, safetensors + JSON) in OUT/.resume, which a
rerun of the same command picks up. The finished checkpoint is OUT (config.json,
model.safetensors, metrics.jsonl).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a fresh checkout

import ebt_core as ebt  # noqa: E402
from ebt_core.study import cli  # noqa: E402
from ebt_core.study import measures as evaluation  # noqa: E402
from ebt_core.text import training as obj  # noqa: E402
from ebt_core.text.data import get_corpus, text_corpus  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Train a text EBT or Transformer++ from a recipe.")
    p.add_argument("recipe", help="recipe JSON (see train/recipes/)")
    p.add_argument("--out", help="checkpoint directory (default: checkpoints/<recipe name>)")
    p.add_argument("--iters", type=int, help="override the recipe's iteration count")
    p.add_argument("--seed", type=int, help="override the recipe's seed")
    p.add_argument("--eval-every", type=int, help="override the recipe's eval interval")
    p.add_argument("--text", help="train on this UTF-8 text file instead of the recipe's corpus")
    p.add_argument("--fresh", action="store_true", help="ignore a saved resume state")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def load_recipe(args) -> tuple[str, obj.TextRecipe]:
    return cli.load_recipe(args, obj.TextRecipe, (1, 2, 4, 8))


def setup_distributed() -> tuple[int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
    return (dist.get_rank() if world > 1 else 0), world, device


def build(recipe: obj.TextRecipe, vocab: str, device: torch.device):
    config = ebt.TextModelConfig(**{**recipe.model, "kind": recipe.kind, "vocab": vocab})
    model = (ebt.TextEBT if recipe.kind == "text-ebt" else ebt.Transformer)(config).to(device)
    alpha = [p for n, p in model.named_parameters() if n == "alpha"]
    decay = [p for n, p in model.named_parameters() if n != "alpha" and p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if n != "alpha" and p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": recipe.weight_decay, "lr_mult": 1.0},
        {"params": no_decay, "weight_decay": 0.0, "lr_mult": 1.0},
    ]
    if alpha:  # learnable α: own group, no weight decay, larger lr (reference §2)
        groups.append({"params": alpha, "weight_decay": 0.0, "lr_mult": recipe.alpha_lr_mult})
    optimizer = torch.optim.AdamW(groups, lr=recipe.lr, betas=(0.9, 0.999))
    return model, optimizer


def warm_start(model, source: str) -> None:
    """Start from a trained checkpoint instead of a random init.

    From a text EBT of the same architecture: every weight (fine-tuning with another recipe).
    From a Transformer++: the shared stack (embeddings, blocks, final norm); the candidate
    projection starts as the transposed token embedding, so a one-hot candidate enters the
    candidate stream exactly as its token would enter the real stream.
    """
    base = ebt.load(source)
    if not isinstance(base, (ebt.Transformer, type(model))):
        raise ValueError(
            f"init_from must name a Transformer++ or a {model.config.kind} checkpoint, "
            f"got {source!r} ({base.config.kind})"
        )
    if base.config.vocab != model.config.vocab:
        raise ValueError(f"init_from {source!r} has a different vocabulary")
    own = model.state_dict()
    shared = {k: v for k, v in base.state_dict().items() if k in own}
    if any(own[k].shape != v.shape for k, v in shared.items()):
        raise ValueError(f"init_from {source!r} has a different architecture")
    model.load_state_dict(shared, strict=isinstance(base, type(model)))
    if isinstance(model, ebt.TextEBT) and isinstance(base, ebt.Transformer):
        with torch.no_grad():
            model.candidate_proj.weight.copy_(base.tok_emb.weight.t())


def save_resume(out: Path, model, optimizer, it: int, metrics: list, rng_state) -> None:
    state_dir = out / ".resume"
    state_dir.mkdir(parents=True, exist_ok=True)
    tensors, meta = {}, {"iter": it, "metrics": metrics, "rng": rng_state, "param_state": {}}
    for gi, group in enumerate(optimizer.param_groups):
        for pi, p in enumerate(group["params"]):
            for key, value in optimizer.state.get(p, {}).items():
                tensors[f"{gi}.{pi}.{key}"] = (
                    value.detach().cpu().contiguous().reshape(-1)
                    if value.dim() == 0
                    else value.detach().cpu().contiguous()
                )
    save_file(tensors, str(state_dir / "optimizer.safetensors"))
    ebt.save(model, state_dir / "model")
    (state_dir / "state.json").write_text(json.dumps(meta))


def load_resume(out: Path, model, optimizer):
    state_dir = out / ".resume"
    if not (state_dir / "state.json").is_file():
        return 0, [], None
    meta = json.loads((state_dir / "state.json").read_text())
    model.load_state_dict(load_file(str(state_dir / "model" / "model.safetensors")))
    tensors = load_file(str(state_dir / "optimizer.safetensors"))
    for gi, group in enumerate(optimizer.param_groups):
        for pi, p in enumerate(group["params"]):
            state = {
                k.split(".", 2)[2]: v for k, v in tensors.items() if k.startswith(f"{gi}.{pi}.")
            }
            if state:  # 0-dim tensors were saved as shape (1,): restore the shapes
                optimizer.state[p] = {
                    k: (v.reshape(()) if k == "step" else v.reshape(p.shape)).to(p.device)
                    for k, v in state.items()
                }
    return meta["iter"], meta["metrics"], meta["rng"]


def evaluate(model, corpus, recipe: obj.TextRecipe, device) -> dict:
    """Held-out perplexity: per descent step for EBTs, ID and OOD."""
    model.eval()
    row = {}
    for split in ("id", "ood"):
        ids, mask = corpus.eval_batch(split, recipe.eval_batch, recipe.length)
        ids, mask = ids.to(device), mask.to(device)
        if isinstance(model, ebt.TextEBT):
            nll, _ = evaluation.ebt_nll(model, ids, mask, max(recipe.eval_steps))
            row[f"{split}_ppl_step"] = {
                str(s): round(math.exp(nll[s - 1]), 4) for s in recipe.eval_steps
            }
        else:
            row[f"{split}_ppl"] = round(math.exp(obj.transformer_nll(model, ids, mask)), 4)
    model.train()
    return row


def train(argv=None) -> Path:
    args = parse_args(argv)
    name, recipe = load_recipe(args)
    rank, world, device = setup_distributed()
    corpus = text_corpus(args.text) if args.text else get_corpus(recipe.corpus)
    out = (
        Path(args.out)
        if args.out
        else Path(__file__).resolve().parent.parent / "checkpoints" / name
    )
    torch.manual_seed(recipe.seed)  # same init on every rank
    model, optimizer = build(recipe, corpus.vocab, device)
    if recipe.init_from:
        warm_start(model, recipe.init_from)
    start_it, metrics, rng_state = (
        (0, [], None) if args.fresh else load_resume(out, model, optimizer)
    )
    rng = random.Random(recipe.seed * 1000 + rank)  # different data per rank
    gen = torch.Generator().manual_seed(recipe.seed * 1000 + rank)
    if rng_state:
        rng.setstate((rng_state[0], tuple(rng_state[1]), rng_state[2]))
        gen.set_state(torch.tensor(rng_state[3], dtype=torch.uint8))
    replay = obj.ReplayBuffer(recipe.replay_size) if recipe.replay > 0 else None
    is_ebt = recipe.kind == "text-ebt"
    think = ebt.ThinkConfig(**recipe.think) if is_ebt else None
    bar = tqdm(
        range(start_it, recipe.iters),
        initial=start_it,
        total=recipe.iters,
        disable=args.quiet or rank != 0,
        desc=name,
        dynamic_ncols=True,
    )
    t0, tokens_seen = time.time(), 0
    for it in bar:
        # 1. learning rate schedule
        for group in optimizer.param_groups:
            group["lr"] = obj.lr_at(it, recipe) * group["lr_mult"]
        # 2. loss on a fresh batch
        ids, mask = corpus.train_batch(rng, recipe.batch, recipe.length)
        ids, mask = ids.to(device), mask.to(device)
        if is_ebt:
            loss, stats = obj.ebt_loss(model, ids, mask, recipe, rng, gen, replay)
        else:
            loss, stats = obj.transformer_loss(model, ids, mask)
        # 3. backward, average gradients across processes, clip, step
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if world > 1:
            for p in model.parameters():
                if p.grad is not None:
                    dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
                    p.grad /= world
        torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
        optimizer.step()
        tokens_seen += ids.numel() * world
        bar.set_postfix(
            loss=f"{stats['loss_final']:.3f}",
            ppl=f"{math.exp(min(stats['loss_final'], 20)):.2f}",
            tok_s=f"{tokens_seen / (time.time() - t0):.0f}",
        )
        # 4. periodic evaluation + resumable state
        last = it + 1 == recipe.iters
        if rank == 0 and ((it + 1) % recipe.eval_every == 0 or last):
            row = {
                "iter": it + 1,
                "time_s": round(time.time() - t0, 1),
                "train_loss": round(stats["loss_final"], 4),
                "lr": obj.lr_at(it, recipe),
            }
            if is_ebt:
                row["alpha"] = round(model.step_size, 4)
            row.update(evaluate(model, corpus, recipe, device))
            metrics.append(row)
            bar.write(json.dumps(row))
            rs = rng.getstate()
            save_resume(
                out,
                model,
                optimizer,
                it + 1,
                metrics,
                [rs[0], list(rs[1]), rs[2], gen.get_state().tolist()],
            )
    if rank == 0:
        recipe_dict = {**asdict(recipe), "name": name, "world_size": world, "text_file": args.text}
        ebt.save(model.cpu(), out, think=think, recipe=recipe_dict, metrics=metrics)
        shutil.rmtree(out / ".resume", ignore_errors=True)
        print(f"saved {out}")
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return out


if __name__ == "__main__":
    cli.run(train)

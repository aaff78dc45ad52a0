"""What the training scripts share: the command line, reading a recipe file, warm starts from a
checkpoint, optimizer groups, the learning-rate step, torchrun data parallelism, and the
resumable state.

A resumable state lives in OUT/.resume: the weights (a checkpoint), the optimizer's tensors
(safetensors) and JSON for the iteration, the metrics so far and the data RNG's state.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from tqdm import tqdm

import ebt_core as ebt
from ebt_core.recipe import Recipe, lr_at

ROOT = Path(__file__).resolve().parent.parent  # the checkout: checkpoints/ lives here


# ---- command line and recipe file -----------------------------------------------------------
def common_args(description: str) -> argparse.ArgumentParser:
    """The arguments every training script takes; a script adds its own."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("recipe", help="recipe JSON (see train/recipes/)")
    p.add_argument("--out", help="checkpoint directory (default: checkpoints/<recipe name>)")
    p.add_argument("--iters", type=int, help="override the recipe's iteration count")
    p.add_argument("--seed", type=int, help="override the recipe's seed")
    p.add_argument("--eval-every", type=int, help="override the recipe's eval interval")
    p.add_argument("--fresh", action="store_true", help="ignore a saved resume state")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    return p


def read_json(path: Path) -> dict:
    """A recipe file as a dict; errors name the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ValueError(f"cannot read recipe {path}: {err.strerror or err}") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"recipe {path} is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise ValueError(f"recipe {path} must be a JSON object, got {type(data).__name__}")
    return data


def load_recipe(args: argparse.Namespace, recipe_cls: type[Recipe]) -> tuple[str, Recipe]:
    """(name, recipe) from the command line: the recipe file (its stem is the checkpoint's
    name) with --iters/--seed/--eval-every applied. Errors name the file."""
    path = Path(args.recipe)
    overrides = {"iters": args.iters, "seed": args.seed, "eval_every": args.eval_every}
    data = {**read_json(path), **{k: v for k, v in overrides.items() if v is not None}}
    try:
        return path.stem, recipe_cls.from_dict(data)
    except ValueError as err:
        raise ValueError(f"recipe {path}: {err}") from err


def checkpoint_dir(args: argparse.Namespace, name: str) -> Path:
    return Path(args.out) if args.out else ROOT / "checkpoints" / name


# ---- optimizer ------------------------------------------------------------------------------
def warm_start(model, source: str) -> None:
    """Start a sequence model (text or answer EBT, Transformer++) from a trained checkpoint.

    From a checkpoint of the model's own class and architecture: every weight (fine-tuning
    with another recipe). From a Transformer++: the shared stack (embeddings, blocks, final
    norm); an EBT's candidate projection starts as the transposed token embedding, so a one-hot
    candidate enters the candidate stream exactly as its token would enter the real stream.
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
    if not isinstance(model, ebt.Transformer) and isinstance(base, ebt.Transformer):
        with torch.no_grad():
            model.candidate_proj.weight.copy_(base.tok_emb.weight.t())


def make_optimizer(model: torch.nn.Module, recipe: Recipe) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only; a learnable α gets its own group, with no
    weight decay and `alpha_lr_mult` × the learning rate (reference §2)."""
    named = list(model.named_parameters())
    alpha = [p for n, p in named if n == "alpha"]
    groups = [
        {"params": [p for n, p in named if n != "alpha" and p.dim() >= 2],
         "weight_decay": recipe.weight_decay, "lr_mult": 1.0},
        {"params": [p for n, p in named if n != "alpha" and p.dim() < 2],
         "weight_decay": 0.0, "lr_mult": 1.0},
    ]  # fmt: skip
    if alpha:
        groups.append({"params": alpha, "weight_decay": 0.0, "lr_mult": recipe.alpha_lr_mult})
    return torch.optim.AdamW(groups, lr=recipe.lr, betas=(0.9, 0.999))


def progress(start_it: int, recipe: Recipe, name: str, quiet: bool) -> tqdm:
    """The loop's iterations from `start_it` (a resumed run) as a progress bar."""
    return tqdm(range(start_it, recipe.iters), initial=start_it, total=recipe.iters,
                disable=quiet, desc=name, dynamic_ncols=True)  # fmt: skip


def is_eval_iter(it: int, recipe: Recipe) -> bool:
    """Evaluate (and save a resume state) every `eval_every` iterations and after the last."""
    return (it + 1) % recipe.eval_every == 0 or it + 1 == recipe.iters


def metrics_row(it: int, t0: float, train_loss: float, lr: float) -> dict:
    """The first fields of a metrics.jsonl row, logged after iteration `it`."""
    return {"iter": it + 1, "time_s": round(time.time() - t0, 1), "train_loss": train_loss,
            "lr": lr}  # fmt: skip


def set_lr(optimizer: torch.optim.Optimizer, it: int, recipe: Recipe) -> float:
    """Apply the schedule's learning rate of iteration `it` to every group; return it."""
    lr = lr_at(it, recipe)
    for group in optimizer.param_groups:
        group["lr"] = lr * group["lr_mult"]
    return lr


def optimizer_step(model, optimizer, loss: torch.Tensor, recipe: Recipe, world: int) -> None:
    """Backward, average the gradients across processes, clip, step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if world > 1:
        for p in model.parameters():
            if p.grad is not None:
                dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
                p.grad /= world
    torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
    optimizer.step()


# ---- torchrun data parallelism --------------------------------------------------------------
def setup(args: argparse.Namespace) -> tuple[int, int, torch.device]:
    """(rank, world size, device). Under torchrun (WORLD_SIZE > 1) joins the process group:
    nccl on CUDA, gloo on CPU. Every rank builds the same model from the recipe's seed and
    draws its own data; gradients are averaged in `optimizer_step`."""
    if args.threads:  # on a shared machine 1 thread avoids stalls between starved threads
        torch.set_num_threads(args.threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
    return (dist.get_rank() if world > 1 else 0), world, device


def finish(model, out: Path, rank: int, world: int, **saved) -> None:
    """Rank 0 saves the checkpoint (`saved`: think/recipe/metrics for ebt.save) and drops the
    resume state; then every rank leaves the process group."""
    if rank == 0:
        ebt.save(model.cpu(), out, **saved)
        shutil.rmtree(out / ".resume", ignore_errors=True)
        print(f"saved {out}")
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


# ---- resumable state ------------------------------------------------------------------------
def save_resume(out: Path, model, optimizer, it: int, metrics: list, rng_state) -> None:
    state_dir = out / ".resume"
    state_dir.mkdir(parents=True, exist_ok=True)
    tensors, meta = {}, {"iter": it, "metrics": metrics, "rng": rng_state, "param_state": {}}
    for gi, group in enumerate(optimizer.param_groups):
        for pi, p in enumerate(group["params"]):
            for key, value in optimizer.state.get(p, {}).items():
                value = value.detach().cpu().contiguous()
                tensors[f"{gi}.{pi}.{key}"] = value.reshape(-1) if value.dim() == 0 else value
    save_file(tensors, str(state_dir / "optimizer.safetensors"))
    ebt.save(model, state_dir / "model")
    (state_dir / "state.json").write_text(json.dumps(meta))


def load_resume(out: Path, model, optimizer) -> tuple[int, list, object]:
    """(next iteration, metrics so far, RNG state) of a saved run, or (0, [], None)."""
    state_dir = out / ".resume"
    if not (state_dir / "state.json").is_file():
        return 0, [], None
    meta = json.loads((state_dir / "state.json").read_text())
    model.load_state_dict(load_file(str(state_dir / "model" / "model.safetensors")))
    tensors = load_file(str(state_dir / "optimizer.safetensors"))
    for gi, group in enumerate(optimizer.param_groups):
        for pi, p in enumerate(group["params"]):
            prefix = f"{gi}.{pi}."
            state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
            if state:  # 0-dim tensors were saved as shape (1,): restore the shapes
                optimizer.state[p] = {
                    k: (v.reshape(()) if k == "step" else v.reshape(p.shape)).to(p.device)
                    for k, v in state.items()
                }
    return meta["iter"], meta["metrics"], meta["rng"]


def resume_or_start(args, out: Path, model, optimizer) -> tuple[int, list, object]:
    return (0, [], None) if args.fresh else load_resume(out, model, optimizer)

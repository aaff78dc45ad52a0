"""Training objectives for whole-answer models (used by train/train_answer.py; no I/O here).

Answer EBT: unroll a few joint descent steps over all K answer positions from random (or
replayed, or zero) starts and backpropagate through them (second order). The loss is on the
answer only (the prompt is given). Sums: cross-entropy of every position against the one right
answer. Sudoku (`loss="any_solution"`): −log Σ_s Π_i p_i(s_i) over every valid solution s of the
puzzle (all of them are enumerated: 4×4 has 288 grids), so a descent that commits to any one
solution is right and the average of two solutions is penalised — the lever that gives each
solution its own basin. Transformer++ baseline: next-character cross-entropy on the answer and
its terminator of lines f"{prompt}{answer}\\n".
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..descent import jittered_step_size, softmax_read, unroll
from ..recipe import Recipe
from ..text.training import masked_ce
from ..tokenizer import CharTokenizer
from .data import PAD, Example, Task, all_grids, get_task, solution_mask
from .model import AnswerEBT

ANSWER_RECIPE_KINDS = ("answer-ebt", "transformer")
LOSSES = ("ce", "any_solution")


@dataclass(frozen=True)
class AnswerRecipe(Recipe):
    """`Recipe`'s shared fields plus the task, the checkpoint's default ThinkConfig and the
    EBT loss's knobs: final-step-only loss, replay, the fraction of zero starts, the loss."""

    KINDS = ANSWER_RECIPE_KINDS

    kind: str = "answer-ebt"
    task: str = "sum"
    think: dict = field(default_factory=dict)
    batch: int = 64
    iters: int = 1000
    warmup: int = 50
    steps_min: int = 2
    steps_max: int = 4
    eval_steps: tuple = (1, 2, 4, 8, 16)
    eval_every: int = 100
    eval_batch: int = 128
    final_only: bool = False
    loss: str = "ce"
    replay: float = 0.0  # fraction of each batch restarted from the replay buffer
    replay_size: int = 1024
    zero_start: float = 0.125  # fraction of descents started at state 0 (think's candidate 0)
    init_from: str = ""  # a Transformer++ (same task) or answer EBT checkpoint
    tf_weight: float = 0.0  # weight of model.teacher_forced_nll in the loss
    harder_fraction: float = 0.0  # share of each batch drawn from the "harder" level's train part

    def __post_init__(self) -> None:
        super().__post_init__()
        get_task(self.task)
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if not (isinstance(self.tf_weight, (int, float)) and 0.0 <= self.tf_weight <= 10.0):
            raise ValueError(f"tf_weight must be a number in [0, 10], got {self.tf_weight!r}")
        for name in ("replay", "zero_start", "harder_fraction"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")


@dataclass
class AnswerBatch:
    """Prompts ids (B, T) right-padded, their lengths (B,), the padded target answers (B, K)
    and (Sudoku) which of the 288 grids solve each prompt (B, 288)."""

    examples: list[Example]
    ids: torch.Tensor
    lengths: torch.Tensor
    targets: torch.Tensor
    solutions: torch.Tensor | None


def encode_prompts(task: Task, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded prompt ids (B, T) and lengths (B,). Each prompt is checked (named field)."""
    tok = CharTokenizer(task.vocab)
    for p in prompts:
        task.check_prompt(p)
    T = max(len(p) for p in prompts)
    ids = [tok.encode(p.ljust(T, PAD), "prompt") for p in prompts]
    return torch.tensor(ids), torch.tensor([len(p) for p in prompts])


def make_batch(task: Task, examples: list[Example]) -> AnswerBatch:
    tok = CharTokenizer(task.vocab)
    ids, lengths = encode_prompts(task, [e.prompt for e in examples])
    targets = torch.tensor([tok.encode(task.padded(e.answer)) for e in examples])
    solutions = solution_mask(task, [e.prompt for e in examples])
    return AnswerBatch(examples, ids, lengths, targets, solutions)


def sample_batch(task: Task, rng: random.Random, n: int, split="id", part="train") -> AnswerBatch:
    return make_batch(task, [task.sample(rng, split, part) for _ in range(n)])


@torch.no_grad()
def grid_ids(task: Task) -> torch.Tensor:
    """The 288 grids as vocabulary ids (288, 16)."""
    tok = CharTokenizer(task.vocab)
    return torch.tensor([tok.encode(g) for g in all_grids()])


def answer_loss(logits: torch.Tensor, batch: AnswerBatch, loss: str, grids=None) -> torch.Tensor:
    """Mean loss of answer logit states (B, K, V) (module docstring)."""
    if loss == "ce":
        return F.cross_entropy(logits.transpose(1, 2), batch.targets)
    logp = logits.log_softmax(-1)  # (B, K, V)
    onehot = F.one_hot(grids, logits.shape[-1]).to(logp.dtype)  # (G, K, V)
    per_grid = torch.einsum("bkv,gkv->bg", logp, onehot)  # log Π_i p_i(s_i)
    per_grid = per_grid.masked_fill(~batch.solutions, float("-inf"))
    return -(per_grid.logsumexp(-1)).mean() / logits.shape[1]  # per position, like "ce"


class ReplayBuffer:
    """FIFO of recent (example, final state): restarting from them = longer descents."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: list[tuple[Example, torch.Tensor]] = []

    def __len__(self) -> int:
        return len(self.items)

    def add(self, examples: list[Example], states: torch.Tensor) -> None:
        self.items.extend(zip(examples, states.detach()))
        del self.items[: -self.size]

    def sample(self, rng: random.Random, n: int) -> tuple[list[Example], torch.Tensor]:
        picks = [self.items[rng.randrange(len(self.items))] for _ in range(n)]
        return [p[0] for p in picks], torch.stack([p[1] for p in picks])


def starts(model: AnswerEBT, n: int, zero_fraction: float, gen: torch.Generator) -> torch.Tensor:
    """Random starts (n, K, V) ~ N(0, start_std²); the first round(n·zero_fraction) are 0."""
    c = model.config
    start = c.start_std * torch.randn(n, c.answer_length, c.vocab_size, generator=gen)
    start[: round(n * zero_fraction)] = 0.0
    return start


def ebt_loss(model: AnswerEBT, task: Task, recipe: AnswerRecipe, rng, gen, replay=None):
    """One training loss of the answer EBT on a fresh batch. Returns (loss, stats)."""
    B = recipe.batch
    n_replay = int(B * recipe.replay) if replay is not None and len(replay) >= B else 0
    examples = training_examples(task, recipe, rng, B - n_replay)
    start = starts(model, B - n_replay, recipe.zero_start, gen)
    if n_replay:  # the buffer's answers continue from where their last descent ended
        r_examples, r_states = replay.sample(rng, n_replay)
        examples, start = examples + r_examples, torch.cat([start, r_states])
    batch = make_batch(task, examples)
    cache = model.prompt_cache(batch.ids, batch.lengths)
    start = model.clamp_states(cache, start)  # given Sudoku cells (clamp_givens) stay put
    steps = rng.randint(recipe.steps_min, recipe.steps_max)
    alpha = jittered_step_size(model.alpha, recipe.alpha_jitter, (B, 1, 1), gen)  # per answer
    energy_fn = lambda p, s: model.energy(cache, p, s)
    trace = list(unroll(start, energy_fn, steps, alpha, recipe.langevin, recipe.detach, gen,
                        softmax_read, mirror=model.config.mirror_descent))  # fmt: skip
    grids = grid_ids(task) if recipe.loss == "any_solution" else None
    losses = [answer_loss(s.next_state, batch, recipe.loss, grids) for s in trace]
    loss = losses[-1] if recipe.final_only else torch.stack(losses).mean()
    stats = {}
    if recipe.tf_weight:
        tf = model.teacher_forced_nll(cache, batch.targets)
        loss = loss + recipe.tf_weight * tf
        stats["loss_tf"] = tf.item()
    if replay is not None:
        replay.add(examples, trace[-1].next_state)
    drop = (trace[0].energy - trace[-1].energy).mean().item() if steps > 1 else 0.0
    stats.update({"loss_first": losses[0].item(), "loss_final": losses[-1].item(),
                  "steps": steps, "energy_drop": drop})  # fmt: skip
    return loss, stats


def line_batch(task: Task, examples: list[Example]) -> tuple[torch.Tensor, torch.Tensor]:
    """Transformer++ lines f"{prompt}{answer}\\n", right-padded: ids (B, L+1) and the mask
    (B, L) of the targets that count (the answer and its terminator)."""
    tok = CharTokenizer(task.vocab)
    lines = [e.prompt + e.answer + PAD for e in examples]
    L = max(len(s) for s in lines)
    ids = torch.tensor([tok.encode(s.ljust(L, PAD)) for s in lines])
    mask = torch.zeros(len(lines), L - 1)
    for b, e in enumerate(examples):
        mask[b, len(e.prompt) - 1 : len(e.prompt) + len(e.answer)] = 1.0
    return ids, mask


def training_examples(task: Task, recipe: AnswerRecipe, rng, n: int) -> list[Example]:
    """n training examples (train part only): in distribution, except that each is drawn from
    the "harder" level with probability `recipe.harder_fraction` (for sums, 4-digit operands
    with a carry chain ≥ 3 are in distribution but 1.4 % of it). The same mix for the
    Transformer++ and the EBT."""
    if not recipe.harder_fraction:  # (no extra draws: earlier recipes replay exactly)
        return [task.sample(rng) for _ in range(n)]
    return [task.sample(rng, "harder" if rng.random() < recipe.harder_fraction else "id")
            for _ in range(n)]  # fmt: skip


def transformer_loss(model, task: Task, recipe: AnswerRecipe, rng):
    ids, mask = line_batch(task, training_examples(task, recipe, rng, recipe.batch))
    loss = masked_ce(model(ids[:, :-1]), ids[:, 1:], mask)
    return loss, {"loss_final": loss.item()}

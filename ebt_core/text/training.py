"""Training objectives and per-step evaluation for the text models (used by train/ and the
study, ebt_core.study; no I/O here).

EBT objective (reference §2): unroll a few descent steps from random (or replayed) starts,
cross-entropy on the steps' predictions, backpropagate through the unrolled steps (second
order). Knobs come from a `TextRecipe`: randomised step size, randomised number of steps,
Langevin noise, replay buffer, final-step-only loss, detach between steps.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..descent import jittered_step_size, softmax_read, unroll
from ..recipe import Recipe
from .model import TextEBT, Transformer

TEXT_KINDS = ("text-ebt", "transformer")


@dataclass(frozen=True)
class TextRecipe(Recipe):
    """How a text model is trained: `Recipe`'s shared fields (the defaults that differ for text
    are restated here), the corpus, the sequence length, the checkpoint's default ThinkConfig
    and the EBT loss's knobs. Saved into the checkpoint's config as `recipe`."""

    KINDS = TEXT_KINDS

    kind: str = "text-ebt"
    corpus: str = "arith"
    think: dict = field(default_factory=dict)  # default ThinkConfig of the checkpoint
    batch: int = 64
    length: int = 64
    iters: int = 2000
    warmup: int = 100
    steps_min: int = 2
    eval_steps: tuple = (1, 2, 4, 8)
    final_only: bool = False
    label_smoothing: float = 0.0  # EBT loss only: caps the confidence the descent is trained to
    replay: float = 0.0  # fraction of each batch restarted from the replay buffer
    replay_size: int = 512
    eval_every: int = 250
    eval_batch: int = 64
    init_from: str = ""  # a text-transformer checkpoint to warm-start the shared stack from

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.length < 1:
            raise ValueError(f"length must be >= 1, got {self.length}")
        if not 0.0 <= self.replay < 1.0:
            raise ValueError(f"replay must be in [0, 1), got {self.replay}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")


def masked_ce(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, smoothing: float = 0.0
) -> torch.Tensor:
    """Mean cross-entropy over masked positions. logits (B, T, V), targets/mask (B, T).
    `smoothing`: the target puts 1 − smoothing on the true token, the rest spread uniformly."""
    ce = F.cross_entropy(
        logits.transpose(1, 2), targets, reduction="none", label_smoothing=smoothing
    )  # (B, T)
    return (ce * mask).sum() / mask.sum().clamp(min=1)


class ReplayBuffer:
    """FIFO of recent (sequence, final state) pairs: restarting from them = longer chains."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def __len__(self) -> int:
        return len(self.items)

    def add(self, ids: torch.Tensor, mask: torch.Tensor, states: torch.Tensor) -> None:
        self.items.extend(zip(ids, mask, states.detach()))
        del self.items[: -self.size]

    def sample(self, rng: random.Random, n: int) -> tuple[torch.Tensor, ...]:
        picks = [self.items[rng.randrange(len(self.items))] for _ in range(n)]
        return tuple(torch.stack(column) for column in zip(*picks))


def ebt_unroll(
    model: TextEBT,
    ids: torch.Tensor,
    start: torch.Tensor,
    steps: int,
    step_size: float | torch.Tensor,
    langevin: float = 0.0,
    detach: bool = True,
    create_graph: bool = True,
    generator: torch.Generator | None = None,
    cache=None,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Descend candidates for every next character of ids (B, T+1) from start (B, T, V).
    `cache`: the context's stream `model.prefix(ids[:, :-1])` if the caller already has it.

    Returns the state after each step (list of (B, T, V) logits) and the energies before each
    step (list of (B, T)).
    """
    if cache is None:  # the context's stream, once for all steps
        cache = model.prefix(ids[:, :-1])
    energy_fn = lambda p, s: model.energy_all_positions(cache, p, step=s)
    args = (steps, step_size, langevin, detach, generator, softmax_read, create_graph)
    trace = list(unroll(start, energy_fn, *args))
    return [s.next_state for s in trace], [s.energy for s in trace]


def ebt_loss(
    model: TextEBT,
    ids,
    mask,
    recipe: TextRecipe,
    rng: random.Random,
    gen: torch.Generator,
    replay: ReplayBuffer | None,
):
    """One training loss of the EBT. ids (B, T+1), mask (B, T). Returns (loss, stats)."""
    B, T = mask.shape
    start = model.config.start_std * torch.randn(B, T, model.config.vocab_size, generator=gen)
    n_replay = int(B * recipe.replay) if replay is not None and len(replay) >= B else 0
    if n_replay:  # the buffer's sequences continue from where their last descent ended
        r_ids, r_mask, r_states = replay.sample(rng, n_replay)
        ids = torch.cat([ids[: B - n_replay], r_ids])
        mask = torch.cat([mask[: B - n_replay], r_mask])
        start = torch.cat([start[: B - n_replay], r_states])
    steps = rng.randint(recipe.steps_min, recipe.steps_max)
    alpha = jittered_step_size(model.alpha, recipe.alpha_jitter, (B, T, 1), gen)  # per position
    states, energies = ebt_unroll(
        model, ids, start, steps, alpha, recipe.langevin, recipe.detach, True, gen
    )
    targets = ids[:, 1:]
    losses = [masked_ce(s, targets, mask, recipe.label_smoothing) for s in states]
    loss = losses[-1] if recipe.final_only else torch.stack(losses).mean()
    if replay is not None and recipe.replay > 0:
        replay.add(ids, mask, states[-1])
    stats = {
        "loss_first": losses[0].item(),
        "loss_final": losses[-1].item(),
        "steps": steps,
        "energy_drop": (energies[0] - energies[-1]).mean().item() if steps > 1 else 0.0,
    }
    return loss, stats


def transformer_loss(model: Transformer, ids, mask):
    loss = masked_ce(model(ids[:, :-1]), ids[:, 1:], mask)
    return loss, {"loss_final": loss.item()}


@torch.no_grad()
def transformer_nll(model: Transformer, ids, mask) -> float:
    return float(masked_ce(model(ids[:, :-1]), ids[:, 1:], mask))

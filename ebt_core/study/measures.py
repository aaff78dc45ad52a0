"""Held-out evaluation: perplexity per descent step, best-of-N, exact match, the energy as a
verifier (AUROC), energy-vs-loss calibration, and image PSNR vs network passes.

Perplexity counts the masked targets of a corpus's eval batches (answer characters for arith,
every character for English). For EBTs the candidates descend from the model's random start
with no noise; best-of-N keeps, per position, the candidate with the lowest final energy.
Used by the study CLI (`python -m ebt_core.study`), training, and the Streamlit lab.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..config import ThinkConfig
from ..descent import frozen
from ..image.denoise import DenoiseConfig, denoise
from ..image.model import ImageDiT, ImageEBT
from ..records import ThinkRun
from ..text.model import TextEBT, Transformer
from ..text.think import think
from ..text.training import ebt_unroll, masked_ce, transformer_nll  # noqa: F401 (re-exported)


# ---- text: descent statistics per token -----------------------------------------------------
@dataclass
class DescentStats:
    """Every candidate of every position of a batch, along a descent on held-out data.

    energy: (S+1, N, B, T) energy of each candidate's state before each step, plus the final
            state's energy (index 0 = the random start, index s = after s steps).
    nll:    (S+1, N, B, T) cross-entropy of softmax(state) against the target character.
    mask:   (B, T) bool: the targets that count (answer characters for arith).
    top:    (S+1, N, B, T) the most probable character of each state (its argmax).
    target: (B, T) the target characters.
    """

    energy: np.ndarray
    nll: np.ndarray
    mask: np.ndarray
    top: np.ndarray | None = None
    target: np.ndarray | None = None

    @property
    def steps(self) -> int:
        return self.energy.shape[0] - 1

    @property
    def samples(self) -> int:
        return self.energy.shape[1]

    def _mean(self, values: np.ndarray) -> float:  # values (B, T)
        return float((values * self.mask).sum() / max(1, self.mask.sum()))

    def mean_nll(self, step: int, sample: int = 0) -> float:
        """Masked mean NLL of one candidate after `step` steps."""
        return self._mean(self.nll[step, sample])

    def nll_by_step(self) -> list[float]:
        """Masked mean NLL of the first candidate after each of steps 1..S."""
        return [self.mean_nll(step) for step in range(1, self.steps + 1)]

    def best_of_n_nll(self, n: int, step: int = -1) -> float:
        """Masked mean NLL when each position keeps the lowest-energy of its first n candidates
        at `step` (default: the final state)."""
        if not 1 <= n <= self.samples:
            raise ValueError(f"n must be in [1, {self.samples}], got {n}")
        best = self.energy[step, :n].argmin(axis=0)  # (B, T)
        return self._mean(np.take_along_axis(self.nll[step, :n], best[None], axis=0)[0])

    def calibration(self, step: int, sample: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(energy, nll) of one candidate's counted tokens at one step, each (M,)."""
        keep = self.mask.astype(bool)
        return self.energy[step, sample][keep], self.nll[step, sample][keep]


def descent_stats(
    model: TextEBT,
    ids: torch.Tensor,
    mask: torch.Tensor,
    steps: int,
    samples: int = 1,
    step_size: float | None = None,
    seed: int = 0,
    langevin: float = 0.0,
    start_std: float | None = None,
) -> DescentStats:
    """Descend `samples` candidates at every position of ids (B, T+1) for `steps` steps and
    record every state's energy and NLL (see DescentStats). mask (B, T). langevin: noise std
    added after each step (as ThinkConfig.langevin); start_std: the random start's std (None =
    the model's)."""
    B, T = mask.shape
    V = model.config.vocab_size
    std = model.config.start_std if start_std is None else start_std
    gen = torch.Generator().manual_seed(seed)
    start = std * torch.randn(samples * B, T, V, generator=gen)
    start = start.to(ids.device)  # (N*B, T, V), sample-major
    alpha = model.step_size if step_size is None else step_size
    rep = ids.repeat(samples, 1)  # (N*B, T+1)
    with frozen(model), torch.no_grad():
        cache = model.prefix(rep[:, :-1])
        states, energies = ebt_unroll(
            model, rep, start, steps, alpha, langevin, create_graph=False, generator=gen,
            cache=cache,
        )  # fmt: skip
        final = model.energy_all_positions(cache, states[-1].softmax(-1))
    targets = rep[:, 1:]
    every = [start, *states]
    nll = [F.cross_entropy(s.transpose(1, 2), targets, reduction="none") for s in every]
    shape = (steps + 1, samples, B, T)
    return DescentStats(
        energy=torch.stack([*energies, final]).reshape(shape).float().cpu().numpy(),
        nll=torch.stack(nll).reshape(shape).float().cpu().numpy(),
        mask=mask.cpu().numpy().astype(np.float64),
        top=torch.stack([s.argmax(-1) for s in every]).reshape(shape).cpu().numpy(),
        target=ids[:, 1:].cpu().numpy(),
    )


def ppl(nll: float) -> float:
    return math.exp(nll)


def rankdata(x: np.ndarray) -> np.ndarray:
    """Ranks 1..M of x (M,), ties sharing their average rank."""
    _, inverse, counts = np.unique(np.asarray(x), return_inverse=True, return_counts=True)
    average = np.cumsum(counts) - (counts - 1) / 2  # (distinct values,)
    return average[inverse.reshape(-1)]


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Rank correlation of two (M,) arrays (NaN when either is constant or M < 2)."""
    if len(x) < 2:
        return math.nan
    rx, ry = rankdata(x), rankdata(y)
    if rx.std() == 0 or ry.std() == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


# ---- text: generation, exact match and the energy as a verifier -----------------------------
def think_examples(
    model: TextEBT, examples: list[tuple[str, str]], config: ThinkConfig | None = None
) -> list[ThinkRun]:
    """One greedy `think` run per (prompt, answer) pair, as long as the answer."""
    return [think(model, prompt, config, max_new_tokens=len(answer)) for prompt, answer in examples]


def exact_match(
    model: TextEBT, examples: list[tuple[str, str]], config: ThinkConfig | None = None
) -> float:
    """Share of (prompt, answer) pairs that `think` answers exactly (greedy, one sample)."""
    runs = think_examples(model, examples, config)
    return run_exact_match(runs, examples)


def run_exact_match(runs: list[ThinkRun], examples: list[tuple[str, str]]) -> float:
    correct = sum(run.text == answer for run, (_, answer) in zip(runs, examples))
    return correct / max(1, len(examples))


def verifier_tokens(
    runs: list[ThinkRun], examples: list[tuple[str, str]]
) -> tuple[np.ndarray, np.ndarray]:
    """(final energy, wrong) of each generated character whose context was still correct: the
    characters up to and including a run's first mistake. Both (M,); wrong is bool."""
    energies, wrong = [], []
    for run, (_, answer) in zip(runs, examples):
        for tok, target in zip(run.tokens, answer):
            energies.append(tok.final_energy)
            wrong.append(tok.char != target)
            if wrong[-1]:
                break
    return np.asarray(energies, dtype=np.float64), np.asarray(wrong, dtype=bool)


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of `scores` ranking `positive` (bool) cases first: the chance
    that a random positive scores higher than a random negative (ties count ½). NaN when one
    class is empty. Rank-based (Mann-Whitney U)."""
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(np.asarray(scores, dtype=np.float64))  # ties get their average rank
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def transformer_exact_match(model: Transformer, examples: list[tuple[str, str]]) -> float:
    """Greedy decoding of the baseline, same examples."""
    from ..tokenizer import CharTokenizer

    tok = CharTokenizer(model.config.vocab)
    correct = 0
    with torch.no_grad():
        for prompt, answer in examples:
            cache = model.prefix(tok.encode_tensor(prompt))
            out = ""
            for _ in answer:
                nxt = int(model.next_logits(cache)[0].argmax())
                out += model.config.vocab[nxt]
                cache = model.prefix(torch.tensor([[nxt]]), past=cache)
            correct += out == answer
    return correct / max(1, len(examples))


# ---- images: PSNR vs network passes ---------------------------------------------------------
@dataclass
class PassesCurve:
    """PSNR (dB) of one noisy photo denoised by an image EBT and by the DiT, vs network passes.

    noisy: PSNR of the noisy start. ebt_passes/ebt_psnr: after k = 1..steps descent steps
    (passes k+1, as DenoiseResult counts them). dit_passes/dit_psnr: one DDIM run per entry.
    ebt_seconds: wall-clock of a separate EBT run at each step count; dit_seconds: of each
    DiT run. frames: (H, W, C) float32 images in [0, 1]: "noisy", "ebt" (after all steps) and
    "dit" (the run with the most passes).
    """

    noisy: float
    ebt_passes: list[int]
    ebt_psnr: list[float]
    dit_passes: list[int]
    dit_psnr: list[float]
    frames: dict[str, np.ndarray] = field(default_factory=dict)
    ebt_seconds: list[float] = field(default_factory=list)
    dit_seconds: list[float] = field(default_factory=list)


def psnr_vs_passes(
    ebt_model: ImageEBT,
    dit: ImageDiT,
    photo: np.ndarray,
    level: float,
    ebt_steps: int = 6,
    dit_passes: tuple[int | None, ...] = (1, 2, 3, 5, 10, 25, None),
    seed: int = 0,
) -> PassesCurve:
    """Denoise `photo` (H, W, C) from `level`: one EBT run of `ebt_steps` steps (its frame k is
    the k-step result: the descent is deterministic; once every tile has settled the run ends
    early, and its last frame is then the result for every longer allowance too), timed runs of
    1..ebt_steps steps, and one timed DiT run per pass count (None = every timestep, the
    paper's setting)."""
    e = denoise(ebt_model, photo, DenoiseConfig(noise=level, steps=ebt_steps, seed=seed))
    by_step = list(e.psnr[1:])  # (≤ ebt_steps,): shorter when the tiles settled early
    by_step += by_step[-1:] * (ebt_steps - len(by_step))
    curve = PassesCurve(e.psnr[0], list(range(2, ebt_steps + 2)), by_step, [], [])
    curve.frames = {"noisy": e.frames[0], "ebt": e.frames[-1]}
    for steps in range(1, ebt_steps + 1):
        start = time.perf_counter()
        denoise(ebt_model, photo, DenoiseConfig(noise=level, steps=steps, seed=seed))
        curve.ebt_seconds.append(time.perf_counter() - start)
    for passes in sorted(dit_passes, key=lambda p: math.inf if p is None else p):
        start = time.perf_counter()
        d = denoise(dit, photo, DenoiseConfig(noise=level, steps=passes, seed=seed))
        if d.passes in curve.dit_passes:  # more passes than timesteps: same run again
            continue
        curve.dit_seconds.append(time.perf_counter() - start)
        curve.dit_passes.append(d.passes)
        curve.dit_psnr.append(d.psnr[-1])
        curve.frames["dit"] = d.frames[-1]
    return curve

"""The evaluation report's PNG plots (matplotlib), drawn from a results dict alone.

Each function takes the pyplot module (set to the Agg backend by `report.plots`) and the
results of `python -m ebt_core.study`, and returns a figure (laid out by `report.plots`), or
None when the results lack what it shows (e.g. `--only text` has no images).
"""

from __future__ import annotations

import functools

from .paper import PAPER


def _of_study_with(key: str):
    """Decorate `draw(plt, study)` into `draw(plt, results)` that draws the first text study
    having `key` (the arith EBT's sweep, calibration, verifier), or returns None."""

    def decorate(draw):
        @functools.wraps(draw)
        def from_results(plt, results: dict):
            study = next((s for s in results["text"] if s.get(key)), None)
            return None if study is None else draw(plt, study)

        return from_results

    return decorate


def _label(ax, xlabel: str, ylabel: str, title: str, legend: int = 7, **title_style) -> None:
    """One panel's axis labels, title and legend (font size `legend`)."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, **title_style)
    ax.legend(fontsize=legend)


def ppl_vs_steps(plt, results: dict):
    """One panel per (checkpoint, split): EBT perplexity per step, best-of-4, Transformer++."""
    studies = results["text"]
    if not studies:
        return None
    n = len(studies)
    fig, axes = plt.subplots(2, n, figsize=(4.8 * n, 6.4), squeeze=False)
    for col, study in enumerate(studies):
        for row, split in enumerate(("id", "ood")):
            ax, s = axes[row][col], study[split]
            steps = list(range(1, len(s["ebt_ppl_per_step"]) + 1))
            ax.plot(steps, s["ebt_ppl_per_step"], marker="o", label="EBT, first candidate")
            ax.plot(
                steps[-1], s["ebt_ppl_2x_bon4"], marker="*", ms=12, ls="none", label="EBT best-of-4"
            )
            if s["tf_ppl"]:
                ax.axhline(s["tf_ppl"], ls=":", color="C2", label="Transformer++")
            ax.axvline(study["default_steps"], color="grey", lw=0.8)
            ax.set_xticks(steps)
            title = f"{study['checkpoint']}, {split.upper()}"
            _label(ax, "descent steps (grey: trained default)", "perplexity", title, fontsize=10)
    return fig


@_of_study_with("sweep")
def gain_vs_shift(plt, arith: dict):
    sweep = arith["sweep"]
    x = list(range(len(sweep)))
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.plot(x, [s["think_gain_pct"] for s in sweep], marker="o", label="thinking longer (2×)")
    ax.plot(x, [s["bon_gain_pct"] for s in sweep], marker="s", label="2× + best-of-4")
    ax.axhline(0, color="grey", lw=0.8)
    for key, color, label in (
        ("think_gain_pct", "C0", "paper: thinking longer"),
        ("bon_gain_pct", "C1", "paper: + self-verification"),
    ):
        ax.axhline(PAPER[key], color=color, ls=":", lw=0.8, label=label)
    ax.set_xticks(x, [s["level"] for s in sweep])
    _label(ax, "operand digits (training: 1–3)", "% perplexity lowered vs default steps",
           f"{arith['checkpoint']}: thinking gain vs distribution shift")  # fmt: skip
    return fig


@_of_study_with("calibration")
def calibration(plt, arith: dict):
    cal = arith["calibration"]
    n = len(cal["step"])
    fig, axes = plt.subplots(1, n, figsize=(2.9 * n, 3.0), sharey=True, squeeze=False)
    for ax, step, rho, points in zip(axes[0], cal["step"], cal["spearman"], cal["points"]):
        if points:
            energy, nll = zip(*points)
            ax.scatter(energy, nll, s=5, alpha=0.4)
        ax.set_title(f"step {step}" + (f", ρ = {rho:.2f}" if rho is not None else ""), fontsize=9)
        ax.set_xlabel("energy")
    axes[0][0].set_ylabel("NLL of the candidate")
    fig.suptitle(f"{arith['checkpoint']}: per-token energy vs NLL (held-out ID)", fontsize=10)
    return fig


@_of_study_with("verifier")
def energy_verifier(plt, arith: dict):
    v = arith["verifier"]
    edges = v["hist_edges"]
    centers = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:])]
    width = (edges[1] - edges[0]) if len(edges) > 1 else 1.0
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    ax.bar(centers, v["hist_correct"], width=width, alpha=0.6, label="correct character")
    ax.bar(centers, v["hist_wrong"], width=width, alpha=0.6, label="wrong character")
    auroc = v["energy_auroc"]
    title = (
        f"{arith['checkpoint']}: final energy, greedy answers (AUROC "
        f"{'–' if auroc is None else f'{auroc:.3f}'}, {v['auroc_tokens'].upper()})"
    )
    _label(ax, "final energy of the chosen candidate", "characters (ID + OOD)", title, legend=8,
           fontsize=9)  # fmt: skip
    return fig


def psnr_vs_passes(plt, results: dict):
    img = results.get("image")
    if not img:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=False)
    for ax, split in zip(axes, ("id", "ood")):
        r = img[split]
        c = r["curve"]
        ax.plot(c["ebt_passes"], c["ebt_psnr"], marker="o", label="EBT (k steps = k+1 passes)")
        ax.plot(c["dit_passes"], c["dit_psnr"], marker="s", label="DiT (DDIM)")
        ax.axhline(r["noisy"], color="grey", ls=":", label="noisy input")
        ax.set_xscale("log")
        title = f"{split.upper()} (level {0.1 if split == 'id' else 0.2})"
        _label(ax, "network passes (log)", "PSNR (dB)", title)
    return fig

"""The evaluation report's PNG plots (matplotlib), drawn from a results dict alone.

Each function takes the pyplot module (set to the Agg backend by `report.plots`) and the
results of `python -m ebt_core.study`, and returns a figure, or None when the results lack
what it shows (e.g. `--only text` has no images).
"""

from __future__ import annotations


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
            ax.set_xlabel("descent steps (grey: trained default)")
            ax.set_ylabel("perplexity")
            ax.set_title(f"{study['checkpoint']}, {split.upper()}", fontsize=10)
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def gain_vs_shift(plt, results: dict):
    arith = next((s for s in results["text"] if s.get("sweep")), None)
    if arith is None:
        return None
    sweep = arith["sweep"]
    x = list(range(len(sweep)))
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.plot(x, [s["think_gain_pct"] for s in sweep], marker="o", label="thinking longer (2×)")
    ax.plot(x, [s["bon_gain_pct"] for s in sweep], marker="s", label="2× + best-of-4")
    ax.axhline(0, color="grey", lw=0.8)
    ax.axhline(7.19, color="C0", ls=":", lw=0.8, label="paper: thinking longer")
    ax.axhline(18.7, color="C1", ls=":", lw=0.8, label="paper: + self-verification")
    ax.set_xticks(x, [s["level"] for s in sweep])
    ax.set_xlabel("operand digits (training: 1–3)")
    ax.set_ylabel("% perplexity lowered vs default steps")
    ax.set_title(f"{arith['checkpoint']}: thinking gain vs distribution shift")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def calibration(plt, results: dict):
    arith = next((s for s in results["text"] if s.get("calibration")), None)
    if arith is None:
        return None
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
    fig.tight_layout()
    return fig


def energy_verifier(plt, results: dict):
    arith = next((s for s in results["text"] if s.get("verifier")), None)
    if arith is None:
        return None
    v = arith["verifier"]
    edges = v["hist_edges"]
    centers = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:])]
    width = (edges[1] - edges[0]) if len(edges) > 1 else 1.0
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    ax.bar(centers, v["hist_correct"], width=width, alpha=0.6, label="correct character")
    ax.bar(centers, v["hist_wrong"], width=width, alpha=0.6, label="wrong character")
    auroc = v["energy_auroc"]
    ax.set_title(
        f"{arith['checkpoint']}: final energy, greedy answers (AUROC "
        f"{'–' if auroc is None else f'{auroc:.3f}'}, {v['auroc_tokens'].upper()})",
        fontsize=9,
    )
    ax.set_xlabel("final energy of the chosen candidate")
    ax.set_ylabel("characters (ID + OOD)")
    ax.legend(fontsize=8)
    fig.tight_layout()
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
        ax.set_xlabel("network passes (log)")
        ax.set_ylabel("PSNR (dB)")
        ax.set_title(f"{split.upper()} (level {0.1 if split == 'id' else 0.2})")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig

"""Research views (the Streamlit lab): training curves, thinking budgets, calibration, PSNR
vs passes."""

from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from .common import (
    _LAYOUT,
    CHOSEN_COLOR,
    COLORSCALE,
    OTHER_COLOR,
)

# The Streamlit lab's figures: training curves, thinking budget, calibration, PSNR vs passes.
# Inputs are plain rows and numbers (metrics.jsonl rows, results of the ebt_core.study API).
_DASH = {"id": "solid", "ood": "dash"}


def _metric_name(rows: list[dict]) -> str:
    keys = {k for r in rows for k in r}
    return "psnr" if any("psnr" in k for k in keys) else "ppl"


def training_curves(rows: list[dict], checkpoint: str, split: str) -> go.Figure:
    """Held-out metric vs iteration of one split from a checkpoint's metrics.jsonl: one line per
    descent step for EBTs (`{split}_ppl_step`, `{split}_psnr_step`), else one line."""
    metric = _metric_name(rows)
    fig = go.Figure()
    per_step = [r for r in rows if isinstance(r.get(f"{split}_{metric}_step"), dict)]
    steps = sorted({int(s) for r in per_step for s in r[f"{split}_{metric}_step"]})
    for i, step in enumerate(steps):
        pts = [(r["iter"], r[f"{split}_{metric}_step"].get(str(step))) for r in per_step]
        fig.add_trace(
            go.Scatter(
                x=[x for x, y in pts if y is not None],
                y=[y for x, y in pts if y is not None],
                mode="lines+markers",
                name=f"{step} step{'s' * (step > 1)}",
                line=dict(color=sample_colorscale(COLORSCALE, [i / max(1, len(steps) - 1)])[0]),
            )
        )
    for key, name in ((f"{split}_{metric}", checkpoint), (f"{split}_{metric}_noisy", "noisy")):
        pts = [(r["iter"], r[key]) for r in rows if isinstance(r.get(key), (int, float))]
        if pts:
            fig.add_trace(
                go.Scatter(
                    x=[x for x, _ in pts],
                    y=[y for _, y in pts],
                    mode="lines+markers",
                    name=name,
                    line=dict(dash="dot" if name == "noisy" else "solid"),
                )
            )
    fig.update_layout(
        title=f"{checkpoint}: held-out {split.upper()} {metric} during training",
        xaxis_title="iteration",
        yaxis=dict(title=metric, type="log" if metric == "ppl" else "linear"),
        **_LAYOUT,
    )
    return fig


def loss_curve(rows: list[dict], checkpoint: str) -> go.Figure:
    """Training loss vs iteration."""
    pts = [(r["iter"], r["train_loss"]) for r in rows if "train_loss" in r]
    fig = go.Figure(
        go.Scatter(
            x=[x for x, _ in pts],
            y=[y for _, y in pts],
            mode="lines+markers",
            name="train loss",
            line=dict(color=CHOSEN_COLOR),
        )
    )
    fig.update_layout(
        title=f"{checkpoint}: training loss", xaxis_title="iteration", yaxis_title="loss", **_LAYOUT
    )
    return fig


def summarize_training(rows: list[dict], checkpoint: str) -> str:
    if not rows:
        return f"{checkpoint} has no training curve (empty metrics.jsonl)."
    last = rows[-1]
    loss = last.get("train_loss", float("nan"))
    return (
        f"{checkpoint}: {len(rows)} evaluations logged, the last at iteration {last.get('iter')} "
        f"after {last.get('time_s', 0):.0f} s (train loss {loss:.4f})."
    )


def _split_lines(curves: dict[str, list[float]]) -> tuple[go.Figure, list[str]]:
    """One line per split (label → values at 1, 2, ...); the figure and each line's colour."""
    fig, colors = go.Figure(), []
    for i, (label, values) in enumerate(curves.items()):
        colors.append(sample_colorscale("Plotly3", [i / max(1, len(curves) - 1)])[0])
        fig.add_trace(
            go.Scatter(
                x=list(range(1, len(values) + 1)),
                y=values,
                mode="lines+markers",
                name=f"EBT {label}",
                line=dict(color=colors[-1], width=3),
            )
        )
    return fig, colors


def ppl_vs_steps(
    curves: dict[str, list[float]], baselines: dict[str, float], default_steps: int
) -> go.Figure:
    """Perplexity after 1..S descent steps, one line per split (label → list), with each split's
    Transformer++ perplexity dotted and the checkpoint's default steps marked."""
    fig, colors = _split_lines(curves)
    for label, color in zip(curves, colors):
        if baselines.get(label) is not None:
            fig.add_hline(
                y=baselines[label],
                line_dash="dot",
                line_color=color,
                annotation_text=f"Transformer++ {label}",
                annotation_position="top left",
            )
    fig.add_vline(x=default_steps, line_dash="dot", line_color=OTHER_COLOR)
    fig.update_layout(
        title="Thinking longer: perplexity vs descent steps",
        xaxis_title="descent steps (dotted: trained default)",
        yaxis=dict(title="perplexity", type="log"),
        **_LAYOUT,
    )
    return fig


def ppl_vs_samples(curves: dict[str, list[float]], steps: int) -> go.Figure:
    """Perplexity of best-of-N (lowest final energy among the first N candidates) vs N."""
    fig, _ = _split_lines(curves)
    fig.update_layout(
        title=f"Self-verification: best-of-N perplexity after {steps} steps",
        xaxis=dict(title="candidates N", dtick=1),
        yaxis=dict(title="perplexity", type="log"),
        **_LAYOUT,
    )
    return fig


def summarize_budget(curves: dict[str, list[float]], bon: dict[str, list[float]]) -> str:
    parts = []
    for label, ppls in curves.items():
        best = bon.get(label, [ppls[-1]])
        parts.append(
            f"{label}: {ppls[0]:.3f} after 1 step, {ppls[-1]:.3f} after {len(ppls)}, "
            f"{best[-1]:.3f} with best-of-{len(best)}"
        )
    return "Perplexity — " + "; ".join(parts) + "."


def calibration_scatter(energy: list[float], nll: list[float], step: int, rho: float) -> go.Figure:
    """Per-token energy vs NLL of the candidates at one descent step."""
    fig = go.Figure(
        go.Scattergl(
            x=energy,
            y=nll,
            mode="markers",
            marker=dict(size=5, opacity=0.5, color=CHOSEN_COLOR),
            name=f"step {step}",
        )
    )
    fig.update_layout(
        title=f"Energy vs loss at step {step} (Spearman ρ = {rho:.3f})",
        xaxis_title="energy",
        yaxis_title="NLL of the candidate",
        **_LAYOUT,
    )
    return fig


def calibration_trend(spearman: list[float], mean_energy: list[float], mean_nll: list[float]):
    """Spearman ρ(energy, NLL), mean energy and mean NLL at every descent state."""
    steps = list(range(len(spearman)))
    fig = go.Figure()
    for name, ys, axis in (
        ("Spearman ρ", spearman, "y"),
        ("mean energy", mean_energy, "y2"),
        ("mean NLL", mean_nll, "y2"),
    ):
        fig.add_trace(go.Scatter(x=steps, y=ys, mode="lines+markers", name=name, yaxis=axis))
    fig.update_layout(
        title="Calibration along the descent (step 0 = random start)",
        xaxis=dict(title="descent step", dtick=1),
        yaxis=dict(title="Spearman ρ", range=[-1, 1]),
        yaxis2=dict(title="mean energy / NLL", overlaying="y", side="right"),
        **_LAYOUT,
    )
    return fig


def auroc_text(auroc: float | None, correct: int | None = None, wrong: int | None = None) -> str:
    """ "AUROC 0.912", or why there is none (a split whose answers are all right, or all wrong,
    has no ranking of wrong above right: the lab must not print "AUROC nan")."""
    if auroc is not None and math.isfinite(auroc):
        return f"AUROC {auroc:.3f}"
    if wrong == 0:
        return "AUROC n/a: no wrong character in this split"
    if correct == 0:
        return "AUROC n/a: no right character in this split"
    return "AUROC n/a: needs both right and wrong characters"


def energy_hist(correct: list[float], wrong: list[float], auroc: float) -> go.Figure:
    """Final energies of correct and wrong generated characters (the energy as a verifier)."""
    fig = go.Figure()
    for name, xs, color in (("correct", correct, OTHER_COLOR), ("wrong", wrong, CHOSEN_COLOR)):
        fig.add_trace(
            go.Histogram(
                x=xs, name=f"{name} ({len(xs)})", marker_color=color, opacity=0.6, nbinsx=30
            )
        )
    fig.update_layout(
        barmode="overlay",
        title=(
            "Final energy of greedy characters "
            f"({auroc_text(auroc, len(correct), len(wrong))}; higher energy = wrong)"
        ),
        xaxis_title="final energy",
        yaxis_title="characters",
        **_LAYOUT,
    )
    return fig


def summarize_calibration(
    spearman: list[float],
    auroc: float | None = None,
    correct: int | None = None,
    wrong: int | None = None,
) -> str:
    listed = ", ".join(f"step {i}: {r:.2f}" for i, r in enumerate(spearman))
    text = f"Rank correlation of per-token energy and NLL — {listed}."
    if auroc is not None and math.isfinite(auroc):
        text += f" The final energy ranks wrong above right characters with AUROC {auroc:.3f}."
    elif auroc is not None:
        text += f" {auroc_text(auroc, correct, wrong)}."
    return text


def psnr_passes(curves: dict[str, tuple[list[int], list[float]]], noisy: float) -> go.Figure:
    """PSNR vs network passes (log x) per model (label → (passes, psnr)); noisy input dotted."""
    fig = go.Figure()
    for i, (label, (passes, psnr)) in enumerate(curves.items()):
        fig.add_trace(
            go.Scatter(
                x=passes,
                y=psnr,
                mode="lines+markers",
                name=label,
                line=dict(color=[CHOSEN_COLOR, "#1f77b4"][i % 2], width=3),
            )
        )
    fig.add_hline(
        y=noisy,
        line_dash="dot",
        line_color=OTHER_COLOR,
        annotation_text="noisy input",
        annotation_position="bottom right",
    )
    fig.update_layout(
        title="Denoising: PSNR vs network passes",
        xaxis=dict(title="network passes (EBT: k steps = k+1)", type="log"),
        yaxis_title="PSNR (dB)",
        **_LAYOUT,
    )
    return fig


def summarize_passes(curves: dict[str, tuple[list[int], list[float]]], noisy: float) -> str:
    parts = [
        f"{label}: best {max(psnr):.2f} dB at {passes[psnr.index(max(psnr))]} passes, "
        f"{psnr[-1]:.2f} dB at {passes[-1]}"
        for label, (passes, psnr) in curves.items()
    ]
    return f"Noisy input {noisy:.2f} dB. " + "; ".join(parts) + "."

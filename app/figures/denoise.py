"""Denoise tab: energy and PSNR vs step for the image EBT and the DiT baseline."""

from __future__ import annotations

import plotly.graph_objects as go

import ebt_core as ebt
from ebt_core.image.settings import DEFAULT_EBT_STEPS

from .common import (
    _LAYOUT,
    CHOSEN_COLOR,
)

DIT_COLOR = "#1f77b4"


def _frame_step(result: ebt.DenoiseResult, step: int) -> int:
    last = len(result.frames) - 1
    if not 0 <= step <= last:
        raise ValueError(f"step must be in [0, {last}], got {step}")
    return step


def _fmt(value: float) -> str:
    return "n/a" if value != value else f"{value:.3f}"  # NaN: a non-finite energy


def denoise_energy(result: ebt.DenoiseResult, step: int) -> go.Figure:
    """Mean tile energy of an image EBT run before each descent step and after the last one,
    with a dotted vertical line at `step` (the frame on show)."""
    _frame_step(result, step)
    if result.energies is None:
        raise ValueError(f"energy curves need an image EBT run, got a {result.kind!r} run")
    x = list(range(len(result.energies)))
    fig = go.Figure(
        go.Scatter(
            x=x,
            y=result.energies,
            mode="lines+markers",
            name="EBT",
            line=dict(color=CHOSEN_COLOR, width=3),
        )
    )
    fig.add_vline(x=step, line_dash="dot", line_color=DIT_COLOR)
    fig.update_layout(
        title="Image EBT: energy vs descent step",
        xaxis=dict(title="descent step", dtick=1 if len(x) <= 20 else None),
        yaxis_title="mean tile energy",
        **_LAYOUT,
    )
    return fig


def summarize_denoise_energy(result: ebt.DenoiseResult, step: int) -> str:
    """The energy (and PSNR, when known) at `step`, and how the energy moved over the run."""
    _frame_step(result, step)
    if result.energies is None:
        return f"A {result.kind} run has no energy."
    e, last = result.energies, len(result.energies) - 1
    trend = "fell" if e[-1] < e[0] else "rose" if e[-1] > e[0] else "stayed"
    where = f"Step {step} of {last}: energy {_fmt(e[step])}"
    if result.psnr is not None:
        where += f", PSNR {result.psnr[step]:.2f} dB"
    return f"{where}. Over the run the energy {trend} from {_fmt(e[0])} to {_fmt(e[-1])}."


def _label(run: ebt.DenoiseResult) -> str:
    return "EBT" if run.energies is not None else "DiT"


def denoise_psnr(*runs: ebt.DenoiseResult | None) -> go.Figure:
    """PSNR against the clean image of every frame of each run (EBT per descent step, DiT per
    DDIM pass) on one axis; `None` runs are skipped."""
    fig = go.Figure()
    runs = [r for r in runs if r is not None]
    for run in runs:
        if run.psnr is None:
            continue
        fig.add_trace(
            go.Scatter(
                x=list(range(len(run.psnr))),
                y=run.psnr,
                mode="lines+markers" if len(run.psnr) <= 40 else "lines",
                name=f"{_label(run)}: {run.passes} passes",
                line=dict(color=CHOSEN_COLOR if _label(run) == "EBT" else DIT_COLOR, width=3),
            )
        )
    if not fig.data:
        fig.add_annotation(
            text="No PSNR: with noise 0 the photo is taken as already noisy (no clean reference)",
            showarrow=False,
            xref="paper",
            yref="paper",
            x=0.5,
            y=0.5,
        )
    fig.update_layout(
        title="PSNR vs step (higher is better)",
        xaxis_title="EBT step / DiT pass",  # short: a phone-width chart clips a long title
        yaxis_title="PSNR (dB)",
        **_LAYOUT,
    )
    return fig


def summarize_denoise(*runs: ebt.DenoiseResult | None) -> str:
    """One clause per run: network passes, PSNR from the noisy start to the result, the EBT's
    energy and the run's wall-clock seconds; `None` runs are skipped."""
    parts = []
    for run in (r for r in runs if r is not None):
        part = f"{_label(run)}: {run.passes} network passes"
        if run.psnr is not None:
            part += f", PSNR {run.psnr[0]:.2f} → {run.psnr[-1]:.2f} dB"
        if run.energies is not None:
            part += f", energy {_fmt(run.energies[0])} → {_fmt(run.energies[-1])}"
            asked, used = run.config.steps or DEFAULT_EBT_STEPS, len(run.frames) - 1
            if used < asked:  # energy-aware stopping ended the run early (DenoiseConfig.tolerance)
                part += f", stopped after {used} of {asked} steps (every tile's energy settled)"
            if run.tile_steps is not None and run.tile_steps < used:
                part += f", a tile moved {run.tile_steps:.1f} steps on average"
        if run.seconds is not None:  # wall-clock beside PSNR: the cost of each result
            part += f", {run.seconds:.2f} s"
        parts.append(part)
    no_psnr = any(r is not None and r.psnr is None for r in runs)
    tail = " No PSNR: with noise 0 there is no clean reference." if no_psnr else ""
    return "; ".join(parts) + "." + tail

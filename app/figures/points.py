"""Point EBTs: the exact landscape (contour, surface) with every candidate's marble at one
descent step, the task's true modes and the regression baseline's prediction; the Playground's
loss curve; and their text summaries.

A point EBT's candidate is the next point itself, so the landscape is the energy over the
candidate plane: nothing is projected, every path lies on the surface. Marbles move with the
step slider (the server redraws the figure: gr.Plot drops Plotly animation frames).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

import ebt_core as ebt

from .common import _LAYOUT, CHOSEN_COLOR, OTHER_COLOR, energy_grid

_SCAPE_LAYOUT = dict(_LAYOUT, height=440)
BASELINE_COLOR = "#ff8c00"
BASELINE_NAME = "regression baseline"
_MARBLE_HOVER = (
    "candidate %{customdata[0]} · step %{customdata[1]}<br>(%{x:.3f}, %{y:.3f})"
    "<br>E = %{customdata[2]:.4f}<extra></extra>"
)


def _order(scape: ebt.Landscape) -> list[int]:
    """Candidates with the chosen one last (drawn on top)."""
    rest = [i for i in range(len(scape.path)) if i != scape.chosen]
    return rest + ([scape.chosen] if 0 <= scape.chosen < len(scape.path) else [])


def _marbles(scape: ebt.Landscape, step: int) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Candidates in drawing order, their states (N, 2) and energies (N,) at `step`."""
    order = _order(scape)
    step = min(step, scape.path.shape[1] - 1)
    return order, scape.path[order, step], scape.path_energy[order, step]


def _marble_style(order: list[int], chosen: int, size: tuple[int, int]) -> dict:
    return dict(
        color=[CHOSEN_COLOR if i == chosen else "white" for i in order],
        size=[size[1] if i == chosen else size[0] for i in order],
        line=dict(color="black", width=1),
    )


def _extras(scape: ebt.Landscape, baseline) -> list[go.Scatter]:
    """True modes (×) and the baseline's prediction (diamond) on the plane."""
    traces = []
    if scape.modes is not None and len(scape.modes):
        traces.append(
            go.Scatter(
                x=scape.modes[:, 0].tolist(), y=scape.modes[:, 1].tolist(), mode="markers",
                name="true modes", marker=dict(symbol="x", size=13, color="white",
                                               line=dict(color="black", width=1.5)),
            )
        )  # fmt: skip
    if baseline is not None:
        traces.append(
            go.Scatter(
                x=[float(baseline[0])], y=[float(baseline[1])], mode="markers", name=BASELINE_NAME,
                marker=dict(symbol="diamond", size=13, color=BASELINE_COLOR,
                            line=dict(color="black", width=1)),
            )
        )  # fmt: skip
    return traces


def _context_trace(context) -> go.Scatter:
    context = np.asarray(context, dtype=np.float64).reshape(-1, 2)
    return go.Scatter(
        x=context[:, 0].tolist(), y=context[:, 1].tolist(), mode="lines+markers",
        name="context", line=dict(color="black", width=2),
        marker=dict(color="black", size=7, line=dict(color="white", width=1)),
        hovertemplate="context point (%{x:.3f}, %{y:.3f})<extra></extra>",
    )  # fmt: skip


def point_contour(
    scape: ebt.Landscape, step: int, title: str, baseline=None, context=()
) -> go.Figure:
    """Contour of the exact landscape; the context's points, faint paths up to `step`, the
    marbles at `step`, modes and baseline."""
    fig = go.Figure(energy_grid(go.Contour, scape, hovertemplate="E = %{z:.4f}<extra></extra>"))
    if len(context):
        fig.add_trace(_context_trace(context))
    for i in _order(scape):
        fig.add_trace(
            go.Scatter(
                x=scape.path[i, : step + 1, 0].tolist(), y=scape.path[i, : step + 1, 1].tolist(),
                mode="lines", showlegend=False, hoverinfo="skip",
                line=dict(color=CHOSEN_COLOR if i == scape.chosen else OTHER_COLOR, width=1),
            )
        )  # fmt: skip
    for trace in _extras(scape, baseline):  # under the marbles, which end on the modes
        fig.add_trace(trace)
    order, states, energies = _marbles(scape, step)
    if order:
        fig.add_trace(
            go.Scatter(
                x=states[:, 0].tolist(), y=states[:, 1].tolist(), mode="markers",
                name=f"candidates at step {step}",
                marker=_marble_style(order, scape.chosen, (8, 12)),
                customdata=[[i, step, float(e)] for i, e in zip(order, energies)],
                hovertemplate=_MARBLE_HOVER,
            )
        )  # fmt: skip
    fig.update_layout(
        title=title,
        yaxis=dict(title="y", scaleanchor="x", range=[float(scape.b[0]), float(scape.b[-1])]),
        xaxis=dict(title="x", range=[float(scape.a[0]), float(scape.a[-1])], constrain="domain"),
        legend=dict(orientation="h", y=-0.18), uirevision="keep", **_SCAPE_LAYOUT,
    )  # fmt: skip
    return fig


def point_surface(scape: ebt.Landscape, step: int, title: str) -> go.Figure:
    """The same landscape as a surface; the marbles sit on it at their recorded energies."""
    fig = go.Figure(energy_grid(go.Surface, scape, opacity=0.9))
    order, states, energies = _marbles(scape, step)
    if order:
        fig.add_trace(
            go.Scatter3d(
                x=states[:, 0].tolist(), y=states[:, 1].tolist(), z=energies.tolist(),
                mode="markers", marker=_marble_style(order, scape.chosen, (3, 6)),
                customdata=[[i, step, float(e)] for i, e in zip(order, energies)],
                hovertemplate=_MARBLE_HOVER, name="candidates",
            )
        )  # fmt: skip
    fig.update_layout(
        title=title, showlegend=False, uirevision="keep",
        scene=dict(xaxis_title="x", yaxis_title="y", zaxis_title="energy"), **_SCAPE_LAYOUT,
    )  # fmt: skip
    return fig


def training_loss(rows: list[dict]) -> go.Figure:
    """The Playground's loss (mean over each logging interval) against iterations."""
    fig = go.Figure(
        go.Scatter(
            x=[r["iter"] for r in rows], y=[r["loss"] for r in rows], mode="lines+markers",
            name="loss", hovertemplate="iteration %{x}<br>loss %{y:.4g}<extra></extra>",
        )
    )  # fmt: skip
    fig.update_layout(
        title="Training loss", xaxis_title="iteration", yaxis=dict(title="loss", type="log"),
        **_LAYOUT,
    )  # fmt: skip
    return fig


def _near(points: np.ndarray, modes) -> str:
    if modes is None or not len(modes) or not len(points):
        return ""
    d = np.linalg.norm(points[:, None] - modes[None], axis=-1).min(axis=1)
    return f" {int((d < 0.06).sum())} of {len(points)} lie within 0.06 of a true mode."


def summarize_points(scape: ebt.Landscape, step: int, baseline=None) -> str:
    """One paragraph: the grid, the marbles at `step`, the chosen candidate, modes, baseline."""
    r = scape.energy.shape[0]
    text = (
        f"Exact energy landscape over the candidate plane ({r}×{r} grid, x {scape.a[0]:.2f} to "
        f"{scape.a[-1]:.2f}, y {scape.b[0]:.2f} to {scape.b[-1]:.2f}; energy "
        f"{float(scape.energy.min()):.3f} to {float(scape.energy.max()):.3f})."
    )
    if len(scape.path):
        last = scape.path.shape[1] - 1
        step = min(step, last)
        final = scape.path[scape.chosen, -1]
        text += (
            f" Step {step} of {last}: {len(scape.path)} candidate(s);"
            f"{_near(scape.path[:, step], scape.modes)} The chosen candidate {scape.chosen} ends "
            f"at ({final[0]:.3f}, {final[1]:.3f}) with E = "
            f"{float(scape.path_energy[scape.chosen, -1]):.4f}."
        )
    if scape.modes is not None and len(scape.modes):
        shown = ", ".join(f"({m[0]:.3f}, {m[1]:.3f})" for m in scape.modes)
        text += f" True mode(s) of the task (×): {shown}."
    if baseline is not None:
        text += f" The regression baseline predicts ({baseline[0]:.3f}, {baseline[1]:.3f})."
    return text

"""Shared style and helpers of the figure builders."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

import ebt_core as ebt

COLORSCALE = "Viridis"  # perceptually uniform; dark = low energy, yellow = high energy
CHOSEN_COLOR = "#d62728"
OTHER_COLOR = "#7f7f7f"
VISIBLE = {"\n": "⏎", " ": "␣", "\t": "⇥"}
BEST_OF_N_HEADERS = [
    "rank",
    "candidate",
    "final energy",
    "energy drop",
    "top char",
    "prob",
    "chosen",
]

# plotly_white, made for narrow screens too: axis titles push the margins instead of being
# clipped, and a legend lies along the bottom edge of the figure (below the x-axis title, never
# over it) instead of taking half the width of a phone-sized chart.
TEMPLATE = go.layout.Template(pio.templates["plotly_white"])
TEMPLATE.layout.update(
    xaxis_automargin=True,
    yaxis_automargin=True,
    legend=dict(orientation="h", yref="container", y=0, yanchor="bottom", x=0),
)
_LAYOUT = dict(height=320, margin=dict(l=50, r=20, t=50, b=45), template=TEMPLATE)


def energy_grid(trace, scape: ebt.Landscape, **style):
    """A landscape's energy on its grid as a `trace` (go.Contour or go.Surface)."""
    return trace(
        x=scape.a.astype("float32"),  # (R,)
        y=scape.b.astype("float32"),  # (R,)
        z=scape.energy.astype("float32"),  # (R, R)
        colorscale=COLORSCALE,
        colorbar=dict(title=dict(text="energy")),
        name="energy",
        **style,
    )


def show_char(char: str) -> str:
    """A character as it should be displayed: whitespace made visible."""
    return VISIBLE.get(char, char)


def _token(run: ebt.ThinkRun, token: int) -> ebt.TokenRecord:
    if not 0 <= token < len(run.tokens):
        raise ValueError(f"token must be in [0, {len(run.tokens) - 1}], got {token}")
    return run.tokens[token]


def _check_step(tok: ebt.TokenRecord, step: int) -> int:
    if not 0 <= step <= tok.steps_used:
        raise ValueError(f"step must be in [0, {tok.steps_used}], got {step}")
    return step


def _unit(values: list[float]) -> list[float]:
    """Values rescaled to [0, 1] over their own range (all 0.5 when they are equal)."""
    lo, hi = min(values), max(values)
    return [0.5 if hi == lo else (v - lo) / (hi - lo) for v in values]

"""Score your own answer, for a whole-answer EBT: the answer's one energy beside the model's own
N candidates, and the energy term of each answer position."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

import ebt_core as ebt
from ebt_core.answer.data import Task

from .answer import verdict
from .common import _LAYOUT, CHOSEN_COLOR, OTHER_COLOR, show_char

ANSWER_ENERGY_NOTE = (
    "What the number means: an answer EBT gives a whole answer one energy, the sum of one term "
    "per answer position. Lower = the model finds the whole answer more plausible. The value "
    "has no unit of its own, so compare it: with the model's own candidates (its descents from "
    "random starts, the Think tab's N), or with another answer to the same prompt."
)


def answer_score_figure(result: ebt.ScoreResult) -> go.Figure:
    """Top: the whole answer's energy (red) among the final energies of the model's N
    candidates (grey). Bottom: the energy term of each answer position (they sum to it)."""
    total, samples = result.total_energy, result.sample_energies[0].tolist()  # (N,)
    titles = ("whole-answer energy", "energy term of each position")
    fig = make_subplots(
        rows=2, cols=1, row_heights=[0.3, 0.7], vertical_spacing=0.3, subplot_titles=titles
    )
    fig.add_trace(
        go.Scatter(x=samples, y=["model"] * len(samples), mode="markers",
                   name=f"model's {len(samples)} candidate(s)",
                   marker=dict(color=OTHER_COLOR, size=9, symbol="circle-open")),
        row=1, col=1,
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(x=[total], y=["yours"], mode="markers+text", text=[f"{total:.3f}"],
                   textposition="top center", name="your answer", cliponaxis=False,
                   marker=dict(color=CHOSEN_COLOR, size=14, symbol="diamond")),
        row=1, col=1,
    )  # fmt: skip
    positions = list(range(len(result.answer)))
    fig.add_trace(
        go.Bar(x=positions, y=result.energies.tolist(), marker_color=CHOSEN_COLOR,
               name="term", text=[f"{int(r)} lower" if r else "" for r in result.vocab_rank],
               textposition="outside", cliponaxis=False),
        row=2, col=1,
    )  # fmt: skip
    fig.update_xaxes(title_text="energy", row=1, col=1)
    fig.update_xaxes(tickvals=positions, ticktext=[show_char(c) for c in result.answer],
                     title_text="answer position", row=2, col=1)  # fmt: skip
    fig.update_yaxes(title_text="term", row=2, col=1)
    fig.update_layout(
        title=f"Your answer's energy: {total:.3f}", showlegend=False,
        **{**_LAYOUT, "height": 400, "margin": dict(l=55, r=20, t=70, b=50)},
    )  # fmt: skip
    return fig


def summarize_answer_score(result: ebt.ScoreResult, task: Task) -> str:
    """Markdown: right or wrong, the whole answer's energy against the model's candidates, the
    positions where a one-character change would lower it, and what the number means."""
    answer, samples = task.unpad(result.answer), result.sample_energies.shape[1]
    ok, why = verdict(task, result.prompt, answer)
    lower = int(result.sample_rank[0])
    changes = [
        f"position {i} ({show_char(c)!r}): {int(r)}"
        for i, (c, r) in enumerate(zip(result.answer, result.vocab_rank))
        if r > 0
    ]
    where = (
        "Single-character changes that would lower the energy — " + "; ".join(changes) + " "
        "(there the model would rather see another character)."
        if changes
        else "No single-character change lowers it: for the model it is a local minimum."
    )
    return (
        f"Your answer {answer!r} to {result.prompt!r} is **{'right' if ok else 'wrong'}** "
        f"({why}). Its whole-answer energy is **{result.total_energy:.3f}**, the sum of the "
        f"terms of its {len(result.answer)} positions; {lower} of the model's own {samples} "
        f"candidate(s) ended lower. {where}\n\n{ANSWER_ENERGY_NOTE}"
    )

"""Think tab: the token strip, energy vs step, top-k bars, the best-of-N table, and
score-your-own-answer."""

from __future__ import annotations

import html

import plotly.graph_objects as go
from plotly.colors import sample_colorscale

import ebt_core as ebt

from .common import (
    _LAYOUT,
    CHOSEN_COLOR,
    COLORSCALE,
    OTHER_COLOR,
    _check_step,
    _token,
    _unit,
    show_char,
)


def _chip(tok: ebt.TokenRecord, shade: float) -> str:
    background = sample_colorscale(COLORSCALE, [shade])[0]
    color = "#000" if shade > 0.6 else "#fff"  # Viridis turns light above ~0.6
    char = html.escape(show_char(tok.char))
    label = (
        f"position {tok.position}: {show_char(tok.char)!r}, energy {tok.final_energy:.3f}, "
        f"{tok.steps_used} steps"
    )
    return (
        f'<span class="ebt-chip" title="{html.escape(label)}" aria-label="{html.escape(label)}" '
        f'style="background:{background};color:{color};font-family:monospace;font-size:1.25em;'
        "padding:2px 4px;margin:1px;border-radius:4px;display:inline-block;min-width:1.2em;"
        f'text-align:center">{char}<sub style="font-size:0.55em">{tok.steps_used}</sub></span>'
    )


def _legend(lo: float, hi: float) -> str:
    stops = ", ".join(sample_colorscale(COLORSCALE, [i / 4 for i in range(5)]))
    return (
        '<div class="ebt-legend" aria-hidden="true" style="font-size:0.85em;margin-top:6px">'
        f"energy {lo:.3f} "
        f'<span style="display:inline-block;width:120px;height:0.8em;vertical-align:middle;'
        f'background:linear-gradient(to right, {stops})"></span> {hi:.3f}'
        " &nbsp;·&nbsp; subscript = descent steps used &nbsp;·&nbsp; ⏎ newline, ␣ space</div>"
    )


def token_strip(run: ebt.ThinkRun) -> str:
    """HTML: the prompt, then each generated character as a chip coloured by its final energy
    (normalised over the run) with its descent steps as a subscript, and a legend."""
    if not run.tokens:
        return f'<div class="ebt-strip">{html.escape(run.prompt)} (no tokens)</div>'
    energies = [t.final_energy for t in run.tokens]
    chips = "".join(_chip(t, s) for t, s in zip(run.tokens, _unit(energies)))
    prompt = html.escape("".join(show_char(c) for c in run.prompt))
    summary = html.escape(summarize_run(run))
    return (
        f'<div class="ebt-strip" role="group" aria-label="{summary}">'
        f'<span style="font-family:monospace;font-size:1.25em;opacity:0.6">{prompt}</span>'
        f"{chips}</div>{_legend(min(energies), max(energies))}"
    )


def summarize_run(run: ebt.ThinkRun) -> str:
    if not run.tokens:
        return f"No characters generated after {run.prompt!r}."
    lows = min(run.tokens, key=lambda t: t.final_energy)
    highs = max(run.tokens, key=lambda t: t.final_energy)
    steps = ", ".join(str(t.steps_used) for t in run.tokens)
    return (
        f"Generated {run.text!r} after {run.prompt!r} with {run.config.samples} candidate(s) "
        f"per character, step size {run.step_size:g}. Final energy ranges from "
        f"{lows.final_energy:.3f} ({show_char(lows.char)!r}, position {lows.position}) to "
        f"{highs.final_energy:.3f} ({show_char(highs.char)!r}, position {highs.position}). "
        f"Steps used per character: {steps}."
    )


# ---- energy vs step -------------------------------------------------------------------------
def _grown(values, upto: float) -> tuple[list[float], list[float]]:
    """A curve drawn from step 0 to the (possibly fractional) step `upto`: the last point is
    interpolated between two recorded steps, so Play can grow it in sub-steps."""
    whole = int(upto)
    xs, ys = list(range(whole + 1)), [float(v) for v in values[: whole + 1]]
    if upto > whole:
        frac = upto - whole
        xs.append(upto)
        ys.append(float(values[whole]) * (1 - frac) + float(values[whole + 1]) * frac)
    return xs, ys


def energy_curves(run: ebt.ThinkRun, token: int, step: float) -> go.Figure:
    """Energy vs descent step of every candidate of one token, drawn up to `step` (a float
    between recorded steps while playing; the curves grow step by step), on axes that fit the
    whole descent so they do not jump. The chosen candidate is drawn thick and last (on top)."""
    tok = _token(run, token)
    if not 0 <= step <= tok.steps_used:
        raise ValueError(f"step must be in [0, {tok.steps_used}], got {step}")
    fig = go.Figure()
    order = [i for i in range(tok.samples) if i != tok.chosen] + [tok.chosen]
    for i in order:
        chosen = i == tok.chosen
        xs, ys = _grown(tok.energies[i], step)
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines+markers" if chosen else "lines",
                name=f"candidate {i}" + (" (chosen)" if chosen else ""),
                line=dict(
                    width=4 if chosen else 1.5, color=CHOSEN_COLOR if chosen else OTHER_COLOR
                ),
                opacity=1.0 if chosen else 0.6,
            )
        )
    lo, hi = float(tok.energies.min()), float(tok.energies.max())
    pad = 0.05 * (hi - lo) or 0.05
    fig.add_vline(x=step, line_dash="dot", line_color="#1f77b4")
    fig.update_layout(
        title=f"Token {token} {show_char(tok.char)!r}: {tok.samples} candidate(s), red = chosen",
        xaxis=dict(
            title="descent step",
            range=[-0.1, tok.steps_used + 0.1],
            dtick=1 if tok.steps_used <= 16 else None,  # whole steps, not 0.5 ticks
        ),
        yaxis=dict(title="energy", range=[lo - pad, hi + pad]),
        showlegend=False,  # the chosen candidate is red, the others grey (said in the summary)
        **_LAYOUT,
    )
    return fig


def summarize_curves(run: ebt.ThinkRun, token: int, step: int) -> str:
    tok = _token(run, token)
    at_step = tok.energies[:, _check_step(tok, step)]
    return (
        f"Token {token} ({show_char(tok.char)!r}), step {step} of {tok.steps_used}: the chosen "
        f"candidate {tok.chosen} has energy {float(at_step[tok.chosen]):.3f} (start "
        f"{float(tok.energies[tok.chosen, 0]):.3f}, final {tok.final_energy:.3f}); the "
        f"{tok.samples} candidate(s) span {float(at_step.min()):.3f} to {float(at_step.max()):.3f}."
    )


# ---- top-k bars -----------------------------------------------------------------------------
def topk_bars(run: ebt.ThinkRun, token: int, step: int, k: int = 5) -> go.Figure:
    """Bar chart of the chosen candidate's top-k characters (softmax of its state) at `step`."""
    tok = _token(run, token)
    top = tok.top_k(_check_step(tok, step), k)
    fig = go.Figure(
        go.Bar(
            x=[show_char(c) for c, _ in top],
            y=[p for _, p in top],
            text=[f"{p:.0%}" for _, p in top],
            textposition="outside",
            marker_color=CHOSEN_COLOR,
        )
    )
    fig.update_layout(
        title=f"Top-{len(top)} of candidate {tok.chosen} at step {step}",
        xaxis_title="character",
        yaxis=dict(title="probability", range=[0, 1.1]),
        xaxis_type="category",
        **_LAYOUT,
    )
    return fig


def summarize_topk(run: ebt.ThinkRun, token: int, step: int, k: int = 5) -> str:
    tok = _token(run, token)
    top = tok.top_k(_check_step(tok, step), k)
    listed = ", ".join(f"{show_char(c)!r} {p:.0%}" for c, p in top)
    return f"At step {step} the chosen candidate's most probable characters are {listed}."


# ---- best-of-N table ------------------------------------------------------------------------
def best_of_n_table(run: ebt.ThinkRun, token: int) -> list[list]:
    """Rows (see BEST_OF_N_HEADERS) of one token's candidates, lowest final energy first."""
    tok = _token(run, token)
    rows = []
    for rank, i in enumerate(tok.ranking(), 1):
        char, prob = tok.top_k(tok.steps_used, 1, sample=i)[0]
        rows.append(
            [
                rank,
                i,
                round(float(tok.energies[i, -1]), 4),
                round(float(tok.energies[i, 0] - tok.energies[i, -1]), 4),
                show_char(char),
                round(prob, 3),
                "✓" if i == tok.chosen else "",
            ]
        )
    return rows


def summarize_table(run: ebt.ThinkRun, token: int) -> str:
    tok = _token(run, token)
    best = tok.ranking()[0]
    agree = "the same candidate" if best == tok.chosen else f"candidate {tok.chosen}"
    return (
        f"Best of {tok.samples}: candidate {best} has the lowest final energy "
        f"({float(tok.energies[best, -1]):.3f}); the {run.config.select!r} rule kept {agree}."
    )


def baseline_text(name: str | None, predictions: list[tuple[str, float]], chosen: str) -> str:
    """Markdown: what the Transformer++ baseline predicts at the same position."""
    if not name:
        return "No Transformer++ baseline checkpoint for this EBT."
    listed = " · ".join(f"`{show_char(c)}` {p:.0%}" for c, p in predictions)
    ebt_char = show_char(chosen)
    return f"**Transformer++** (`{name}`) at this position: {listed} — the EBT chose `{ebt_char}`."


# ---- score your own answer ------------------------------------------------------------------
RANK_NOTE = (
    "Character rank: where the character stands among all characters of the vocabulary, each "
    "scored as an exact one-hot candidate (0 = the lowest energy). The model thinks in soft "
    "mixtures of characters, so a right answer can rank 1 or 2 there and still beat the "
    "model's own descents; compare it with the candidates (dots), the same N as thinking uses."
)


def score_figure(result: ebt.ScoreResult) -> go.Figure:
    """Energy of each character of the user's answer (bars, annotated with its character rank
    and how many of the model's N candidates are lower) and the model's candidates (dots)."""
    n, samples = len(result.answer), result.sample_energies.shape[1]
    x = list(range(n))
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=x,
            y=result.energies.tolist(),
            name="your answer",
            marker_color=CHOSEN_COLOR,
            text=[
                f"char rank {int(v)}<br>{int(s)}/{samples} lower"
                for v, s in zip(result.vocab_rank, result.sample_rank)
            ],
            textposition="outside",
            cliponaxis=False,  # the labels above the tallest bar stay visible
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[i for i in x for _ in range(samples)],
            y=result.sample_energies.reshape(-1).tolist(),
            mode="markers",
            name=f"model's {samples} candidate(s)",
            marker=dict(color=OTHER_COLOR, size=7, symbol="circle-open"),
        )
    )
    values = [*result.energies.tolist(), *result.sample_energies.reshape(-1).tolist(), 0.0]
    lo, hi = min(values), max(values)
    fig.update_layout(
        title=f"Energy of your answer {result.answer!r} (total {result.total_energy:.3f})",
        xaxis=dict(tickvals=x, ticktext=[show_char(c) for c in result.answer], title="character"),
        yaxis=dict(title="energy", range=[lo - 0.1 * (hi - lo), hi + 0.3 * (hi - lo) + 1e-6]),
        legend=dict(orientation="h", y=-0.25),
        **{**_LAYOUT, "margin": dict(l=50, r=20, t=60, b=80)},
    )
    return fig


def summarize_score(result: ebt.ScoreResult) -> str:
    samples = result.sample_energies.shape[1]
    parts = [
        f"{show_char(c)!r}: energy {float(e):.3f}, character rank {int(v)}, "
        f"{int(s)} of the model's {samples} candidate(s) lower"
        for c, e, v, s in zip(result.answer, result.energies, result.vocab_rank, result.sample_rank)
    ]
    return (
        f"Answer {result.answer!r} after {result.prompt!r}: total energy "
        f"{result.total_energy:.3f}. " + "; ".join(parts) + f".\n\n{RANK_NOTE}"
    )

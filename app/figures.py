"""Figure builders for the front ends: ThinkRun / ScoreResult records in; HTML, plotly figures
and table rows out.

Pure functions: no model calls, no autograd, no math beyond indexing and formatting. Every
builder has a `summarize_*` companion that says the same in one or two sentences of plain text,
for screen readers and for anyone who cannot see the colours.
"""

from __future__ import annotations

import html

import plotly.graph_objects as go
from plotly.colors import sample_colorscale

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
_LAYOUT = dict(height=320, margin=dict(l=50, r=20, t=50, b=45), template="plotly_white")


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


# ---- token strip ----------------------------------------------------------------------------
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
def energy_curves(run: ebt.ThinkRun, token: int, step: int) -> go.Figure:
    """Energy vs descent step of every candidate of one token; the chosen one drawn thick and
    last (on top), a dotted vertical line at `step`."""
    tok = _token(run, token)
    _check_step(tok, step)
    steps = list(range(tok.steps_used + 1))
    fig = go.Figure()
    order = [i for i in range(tok.samples) if i != tok.chosen] + [tok.chosen]
    for i in order:
        chosen = i == tok.chosen
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=tok.energies[i].tolist(),
                mode="lines+markers" if chosen else "lines",
                name=f"candidate {i}" + (" (chosen)" if chosen else ""),
                line=dict(
                    width=4 if chosen else 1.5, color=CHOSEN_COLOR if chosen else OTHER_COLOR
                ),
                opacity=1.0 if chosen else 0.6,
            )
        )
    fig.add_vline(x=step, line_dash="dot", line_color="#1f77b4")
    fig.update_layout(
        title=f"Token {token} {show_char(tok.char)!r}: energy of {tok.samples} candidate(s)",
        xaxis_title="descent step",
        yaxis_title="energy",
        showlegend=tok.samples <= 8,
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
def score_figure(result: ebt.ScoreResult) -> go.Figure:
    """Energy of each character of the user's answer (bars, annotated with its rank among the
    vocabulary and among the model's own candidates) and the model's candidates (dots)."""
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
                f"rank {int(v)}<br>{int(s)}/{samples} lower"
                for v, s in zip(result.vocab_rank, result.sample_rank)
            ],
            textposition="outside",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[i for i in x for _ in range(samples)],
            y=result.sample_energies.reshape(-1).tolist(),
            mode="markers",
            name="model's candidates",
            marker=dict(color=OTHER_COLOR, size=7, symbol="circle-open"),
        )
    )
    fig.update_layout(
        title=f"Energy of your answer {result.answer!r} (total {result.total_energy:.3f})",
        xaxis=dict(tickvals=x, ticktext=[show_char(c) for c in result.answer], title="character"),
        yaxis_title="energy",
        **_LAYOUT,
    )
    return fig


def summarize_score(result: ebt.ScoreResult) -> str:
    samples = result.sample_energies.shape[1]
    parts = [
        f"{show_char(c)!r}: energy {float(e):.3f}, vocabulary rank {int(v)} (0 = favourite), "
        f"{int(s)} of {samples} model candidate(s) lower"
        for c, e, v, s in zip(result.answer, result.energies, result.vocab_rank, result.sample_rank)
    ]
    return (
        f"Answer {result.answer!r} after {result.prompt!r}: total energy "
        f"{result.total_energy:.3f}. " + "; ".join(parts) + "."
    )


# ---- landscape ------------------------------------------------------------------------------
# The slice (contour and 3-D surface) shows E on a plane; each path point is a recorded state,
# drawn at its projection on the plane with its *recorded* energy and its distance from the
# plane in the hover text, so a point far off the plane is visibly not "on" the surface.
_SCAPE_LAYOUT = dict(_LAYOUT, height=440)
_PATH_HOVER = (
    "candidate %{customdata[0]} · step %{customdata[1]}<br>E = %{customdata[2]:.4f} (recorded)"
    "<br>off-plane distance %{customdata[3]:.3g}<extra></extra>"
)


def _plane_axis_titles(scape: ebt.Landscape, short: bool = False) -> list[str]:
    """Axis titles with the share of the paths' variance along each axis."""
    name = "PC" if scape.method == "pca" else ("dir " if short else "random direction ")
    of = "" if short else " of the paths' variance"
    return [f"{name}{i + 1} ({share:.0%}{of})" for i, share in enumerate(scape.explained)]


def _candidate_order(chosen: int, samples: int) -> list[int]:
    """Candidates with the chosen one last, so it is drawn on top."""
    return [i for i in range(samples) if i != chosen] + [chosen]


def _path_style(i: int, chosen: int, steps: int) -> dict:
    """Name, line and markers of candidate i's path: open circle at the start, star at the end."""
    is_chosen = i == chosen
    symbols = ["circle-open"] + ["circle"] * max(steps - 1, 0) + ["star"]
    return dict(
        name=f"candidate {i}" + (" (chosen)" if is_chosen else ""),
        line=dict(color=CHOSEN_COLOR if is_chosen else OTHER_COLOR, width=4 if is_chosen else 1.5),
        marker=dict(symbol=symbols[: steps + 1], size=8 if is_chosen else 5),
        opacity=1.0 if is_chosen else 0.7,
    )


def _path_customdata(scape: ebt.Landscape, i: int) -> list[list]:
    """(S+1, 4) rows of candidate, step, recorded energy, off-plane distance for the hover."""
    return [
        [i, s, float(e), float(d)]
        for s, (e, d) in enumerate(zip(scape.path_energy[i], scape.off_plane[i]))
    ]


def landscape_contour(run: ebt.ThinkRun, scape: ebt.Landscape) -> go.Figure:
    """Contour of the energy slice with every candidate's path on it (the chosen one on top)."""
    tok = _token(run, scape.token)
    fig = go.Figure(
        go.Contour(
            x=scape.a.astype("float32"),
            y=scape.b.astype("float32"),
            z=scape.energy.astype("float32"),
            colorscale=COLORSCALE,
            colorbar=dict(title=dict(text="energy")),
            name="energy",
            hovertemplate="E = %{z:.4f}<extra>slice</extra>",
        )
    )
    steps = scape.path.shape[1] - 1
    for i in _candidate_order(scape.chosen, tok.samples):
        fig.add_trace(
            go.Scatter(
                x=scape.path[i, :, 0].tolist(),
                y=scape.path[i, :, 1].tolist(),
                mode="lines+markers",
                customdata=_path_customdata(scape, i),
                hovertemplate=_PATH_HOVER,
                **_path_style(i, scape.chosen, steps),
            )
        )
    x_title, y_title = _plane_axis_titles(scape)
    fig.update_layout(
        title=f"Token {scape.token} {show_char(tok.char)!r}: energy slice and descent",
        xaxis_title=x_title,
        yaxis_title=y_title,
        showlegend=tok.samples <= 8,
        legend=dict(orientation="h", y=-0.2),
        **_SCAPE_LAYOUT,
    )
    return fig


def landscape_surface(run: ebt.ThinkRun, scape: ebt.Landscape) -> go.Figure:
    """The same slice as a 3-D surface; the paths float at their recorded energies."""
    tok = _token(run, scape.token)
    fig = go.Figure(
        go.Surface(
            x=scape.a.astype("float32"),
            y=scape.b.astype("float32"),
            z=scape.energy.astype("float32"),
            colorscale=COLORSCALE,
            opacity=0.85,
            colorbar=dict(title=dict(text="energy")),
            name="energy",
        )
    )
    steps = scape.path.shape[1] - 1
    for i in _candidate_order(scape.chosen, tok.samples):
        style = _path_style(i, scape.chosen, steps)
        style["marker"] = dict(size=4 if i == scape.chosen else 2, color=style["line"]["color"])
        fig.add_trace(
            go.Scatter3d(
                x=scape.path[i, :, 0].tolist(),
                y=scape.path[i, :, 1].tolist(),
                z=scape.path_energy[i].tolist(),
                mode="lines+markers",
                customdata=_path_customdata(scape, i),
                hovertemplate=_PATH_HOVER,
                **style,
            )
        )
    x_title, y_title = _plane_axis_titles(scape, short=True)  # long titles clip in 3-D
    fig.update_layout(
        title=f"Token {scape.token} {show_char(tok.char)!r}: the slice as a surface",
        scene=dict(xaxis_title=x_title, yaxis_title=y_title, zaxis_title="energy"),
        showlegend=False,
        **_SCAPE_LAYOUT,
    )
    return fig


def off_plane_plot(run: ebt.ThinkRun, scape: ebt.Landscape) -> go.Figure:
    """Distance of each path point from the slice's plane vs descent step (0 = on the plane)."""
    tok = _token(run, scape.token)
    steps = list(range(scape.off_plane.shape[1]))
    fig = go.Figure()
    for i in _candidate_order(scape.chosen, tok.samples):
        style = _path_style(i, scape.chosen, len(steps) - 1)
        style.pop("marker")
        fig.add_trace(
            go.Scatter(x=steps, y=scape.off_plane[i].tolist(), mode="lines+markers", **style)
        )
    fig.update_layout(
        title="How far each state lies from the plane",
        xaxis=dict(title="descent step", dtick=max(1, (len(steps) - 1) // 8)),
        # ".2~g", not plotly's SI prefixes: 4e-15 (on the plane) must not read "4f"
        yaxis=dict(title="off-plane distance", rangemode="tozero", tickformat=".2~g"),
        showlegend=False,
        **_LAYOUT,
    )
    return fig


def path_projection(run: ebt.ThinkRun, token: int, coords, method: str) -> go.Figure:
    """All N candidates' paths of one token projected to 2-D (coords: (N, S+1, 2)), each state
    coloured by its energy on one shared colour scale; the chosen path drawn red and on top."""
    tok = _token(run, token)
    fig = go.Figure()
    for i in _candidate_order(tok.chosen, tok.samples):
        style = _path_style(i, tok.chosen, tok.steps_used)
        style["marker"].update(color=tok.energies[i].tolist(), coloraxis="coloraxis")
        fig.add_trace(
            go.Scatter(
                x=coords[i, :, 0].tolist(),
                y=coords[i, :, 1].tolist(),
                mode="lines+markers",
                customdata=[[i, s] for s in range(tok.steps_used + 1)],
                hovertemplate="candidate %{customdata[0]} · step %{customdata[1]}"
                "<br>E = %{marker.color:.4f}<extra></extra>",
                **style,
            )
        )
    label = method.upper()
    fig.update_layout(
        title=f"Token {token} {show_char(tok.char)!r}: {tok.samples} path(s), {label} projection",
        xaxis_title=f"{label} 1",
        yaxis_title=f"{label} 2",
        coloraxis=dict(colorscale=COLORSCALE, colorbar=dict(title=dict(text="energy"))),
        showlegend=False,
        **_LAYOUT,
    )
    return fig


def summarize_landscape(run: ebt.ThinkRun, scape: ebt.Landscape) -> str:
    tok = _token(run, scape.token)
    r = scape.energy.shape[0]
    first, second = (f"{share:.0%}" for share in scape.explained)
    plane = "PCA plane" if scape.method == "pca" else "Random plane"
    path = scape.path_energy[scape.chosen]
    span = float((scape.path.max(axis=(0, 1)) - scape.path.min(axis=(0, 1))).max())
    return (
        f"Energy slice {r}×{r} through the descent of token {scape.token} "
        f"({show_char(tok.char)!r}); {plane} explains {first} + {second} of the paths' variance. "
        f"The chosen candidate {scape.chosen}'s path falls from E={float(path[0]):.3f} to "
        f"E={float(path[-1]):.3f} in {len(path) - 1} step(s); the slice spans "
        f"E={float(scape.energy.min()):.3f} to {float(scape.energy.max()):.3f}. Max off-plane "
        f"distance of a path point: {float(scape.off_plane.max()):.3g} (the paths extend "
        f"{span:.3g} on the plane)."
    )


def summarize_off_plane(run: ebt.ThinkRun, scape: ebt.Landscape) -> str:
    chosen = scape.off_plane[scape.chosen]
    return (
        f"Distance of each state from the plane (0 = the slice passes through it, so the surface "
        f"there equals the recorded energy): the chosen candidate's states lie at most "
        f"{float(chosen.max()):.3g} from it (mean {float(chosen.mean()):.3g}); over all "
        f"{scape.off_plane.shape[0]} candidate(s) the maximum is "
        f"{float(scape.off_plane.max()):.3g}."
    )


def summarize_projection(run: ebt.ThinkRun, token: int, coords, method: str) -> str:
    tok = _token(run, token)
    final = tok.energies[:, -1]
    low, high = int(final.argmin()), int(final.argmax())
    return (
        f"{method.upper()} projection of the {tok.samples} candidate path(s) of token {token} "
        f"({show_char(tok.char)!r}), {tok.steps_used + 1} states each, coloured by energy from "
        f"{float(tok.energies.min()):.3f} to {float(tok.energies.max()):.3f}. Final energies "
        f"run from {float(final[low]):.3f} (candidate {low}) to {float(final[high]):.3f} "
        f"(candidate {high}); the chosen candidate is {tok.chosen}."
    )


# ---- research (lab) -------------------------------------------------------------------------
# The Streamlit lab's figures: training curves, thinking budget, calibration, PSNR vs passes.
# Inputs are plain rows and numbers (metrics.jsonl rows, ebt_core.evaluation results).
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


def ppl_vs_steps(
    curves: dict[str, list[float]], baselines: dict[str, float], default_steps: int
) -> go.Figure:
    """Perplexity after 1..S descent steps, one line per split (label → list), with each split's
    Transformer++ perplexity dotted and the checkpoint's default steps marked."""
    fig = go.Figure()
    for i, (label, ppls) in enumerate(curves.items()):
        color = sample_colorscale("Plotly3", [i / max(1, len(curves) - 1)])[0]
        fig.add_trace(
            go.Scatter(
                x=list(range(1, len(ppls) + 1)),
                y=ppls,
                mode="lines+markers",
                name=f"EBT {label}",
                line=dict(color=color, width=3),
            )
        )
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
    fig = go.Figure()
    for i, (label, ppls) in enumerate(curves.items()):
        color = sample_colorscale("Plotly3", [i / max(1, len(curves) - 1)])[0]
        fig.add_trace(
            go.Scatter(
                x=list(range(1, len(ppls) + 1)),
                y=ppls,
                mode="lines+markers",
                name=f"EBT {label}",
                line=dict(color=color, width=3),
            )
        )
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
        title=f"Final energy of greedy characters (AUROC {auroc:.3f}: higher energy = wrong)",
        xaxis_title="final energy",
        yaxis_title="characters",
        **_LAYOUT,
    )
    return fig


def summarize_calibration(spearman: list[float], auroc: float | None = None) -> str:
    listed = ", ".join(f"step {i}: {r:.2f}" for i, r in enumerate(spearman))
    text = f"Rank correlation of per-token energy and NLL — {listed}."
    if auroc is not None:
        text += f" The final energy ranks wrong above right characters with AUROC {auroc:.3f}."
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


# ---- denoise --------------------------------------------------------------------------------
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
        xaxis_title="step (EBT: descent step; DiT: DDIM pass)",
        yaxis_title="PSNR (dB)",
        **_LAYOUT,
    )
    return fig


def summarize_denoise(*runs: ebt.DenoiseResult | None) -> str:
    """One clause per run: network passes, PSNR from the noisy start to the result, and the
    EBT's energy; `None` runs are skipped."""
    parts = []
    for run in (r for r in runs if r is not None):
        part = f"{_label(run)}: {run.passes} network passes"
        if run.psnr is not None:
            part += f", PSNR {run.psnr[0]:.2f} → {run.psnr[-1]:.2f} dB"
        if run.energies is not None:
            part += f", energy {_fmt(run.energies[0])} → {_fmt(run.energies[-1])}"
        parts.append(part)
    no_psnr = any(r is not None and r.psnr is None for r in runs)
    tail = " No PSNR: with noise 0 there is no clean reference." if no_psnr else ""
    return "; ".join(parts) + "." + tail

"""Landscape tab: the energy slice (contour, surface) with the descent paths, off-plane
distances and the projection of all paths."""

from __future__ import annotations

import plotly.graph_objects as go

import ebt_core as ebt

from .common import (
    _LAYOUT,
    CHOSEN_COLOR,
    COLORSCALE,
    OTHER_COLOR,
    _token,
    energy_grid,
    show_char,
)

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


def _slice(trace, scape: ebt.Landscape, **style):
    """The energy on the slice's grid as a `trace` (go.Contour or go.Surface)."""
    # one colour range for the slice and the paths: on a random plane the slice spans
    # ~0.007 while the path falls ~0.3; a colour bar of the slice alone would hide that
    return energy_grid(trace, scape, **_colour_range(trace, scape), **style)


def _colour_range(trace, scape: ebt.Landscape) -> dict:
    lo = float(min(scape.energy.min(), scape.path_energy.min()))
    hi = float(max(scape.energy.max(), scape.path_energy.max()))
    return dict(cmin=lo, cmax=hi) if trace is go.Surface else dict(zmin=lo, zmax=hi)


def landscape_contour(run: ebt.ThinkRun, scape: ebt.Landscape) -> go.Figure:
    """Contour of the energy slice with every candidate's path on it (the chosen one on top)."""
    tok = _token(run, scape.token)
    fig = go.Figure(_slice(go.Contour, scape, hovertemplate="E = %{z:.4f}<extra>slice</extra>"))
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
        title=f"Token {scape.token} {show_char(tok.char)!r}: slice and descent (red = chosen)",
        xaxis_title=x_title,
        yaxis_title=y_title,
        showlegend=False,  # red = chosen (title); hover names each path: no legend to overlap
        **_SCAPE_LAYOUT,
    )
    return fig


def landscape_surface(run: ebt.ThinkRun, scape: ebt.Landscape) -> go.Figure:
    """The same slice as a 3-D surface; the paths float at their recorded energies."""
    tok = _token(run, scape.token)
    fig = go.Figure(_slice(go.Surface, scape, opacity=0.85))
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


def on_the_plane(scape: ebt.Landscape) -> bool:
    """Whether every path point lies in the plane up to float rounding (distances of 1e-15
    relative to the paths' extent are noise, not a curve worth plotting)."""
    extent = float(abs(scape.path).max()) or 1.0
    return float(scape.off_plane.max()) <= 1e-6 * extent


def off_plane_plot(run: ebt.ThinkRun, scape: ebt.Landscape) -> go.Figure:
    """Distance of each path point from the slice's plane vs descent step (0 = on the plane)."""
    tok = _token(run, scape.token)
    steps = list(range(scape.off_plane.shape[1]))
    in_plane = on_the_plane(scape)
    distance = scape.off_plane * (0.0 if in_plane else 1.0)  # rounding noise drawn as 0
    fig = go.Figure()
    for i in _candidate_order(scape.chosen, tok.samples):
        style = _path_style(i, scape.chosen, len(steps) - 1)
        style.pop("marker")
        fig.add_trace(go.Scatter(x=steps, y=distance[i].tolist(), mode="lines+markers", **style))
    if in_plane:
        fig.add_annotation(
            text="every state lies in the plane (distances below rounding error)",
            xref="paper", yref="paper", x=0.5, y=0.6, showarrow=False,
        )  # fmt: skip
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
    if on_the_plane(scape):
        return (
            "Every state of every path lies in the plane (its distance from it is rounding "
            f"error, at most {float(scape.off_plane.max()):.1g}): the slice shows exactly the "
            "energies the descent saw."
        )
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

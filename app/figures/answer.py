"""Think tab views of a whole-answer EBT's run (sums, 4×4 Sudoku): the answer at the scrubbed
step (every position's top character and its confidence; a grid for Sudoku, givens marked),
the whole answers the N candidates reached (best-of-N), and the answer strip.

A run of an answer EBT is an ordinary ThinkRun whose `tokens[i]` is answer position i; every
position's record holds the same energies (the whole answer's). `task` is the checkpoint's
`ebt_core.answer.data.Task`: it reads a prompt and says whether an answer is right (a sum: it
equals a + b; a Sudoku grid: valid and keeping the givens). Scoring a user's answer: score.py.
"""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

import ebt_core as ebt
from ebt_core.answer.data import Task, keeps_givens, valid_grid
from ebt_core.answer.data import conflicts as sudoku_conflicts  # the app's name for it

from .common import _LAYOUT, CHOSEN_COLOR, _check_step, show_char
from .think import energy_curves

ANSWER_HEADERS = ["rank", "answer", "lowest final energy", "candidates", "correct", "chosen"]
CONFIDENCE_SCALE = [[0.0, "#ffffff"], [1.0, "#6baed6"]]  # white → blue: dark text stays legible
GIVEN_COLOR = "#d9d9d9"
WRONG_COLOR = "#c00000"
SIDE = 4  # the Sudoku grid's side (2×2 boxes)


# ---- reading answers from the records -------------------------------------------------------
def candidate_answer(run: ebt.ThinkRun, task: Task, sample: int, step: int = -1) -> str:
    """The whole answer candidate `sample` reads at `step` (each position's top character, up
    to the terminator): what `ebt.think` reads from the chosen one at the final step."""
    chars = [t.vocab[int(np.argmax(t.states[sample, step]))] for t in run.tokens]
    return task.unpad("".join(chars))


def top_cells(run: ebt.ThinkRun, step: int) -> list[tuple[str, float]]:
    """(top character, its probability) of every position of the chosen candidate at `step`."""
    cells = []
    for tok in run.tokens:
        p = tok.probs(_check_step(tok, step), tok.chosen)  # (V,)
        best = int(np.argmax(p))
        cells.append((tok.vocab[best], float(p[best])))
    return cells


def verdict(task: Task, prompt: str, answer: str) -> tuple[bool, str]:
    """(right?, a few words why) of a whole answer to `prompt`."""
    if task.name == "sum":
        a, b = task.check_prompt(prompt)
        return answer == str(a + b), f"{a}+{b} = {a + b}"
    if not valid_grid(answer):
        return False, "not a valid grid" if len(answer) == SIDE * SIDE else "not 16 digits"
    if not keeps_givens(prompt[: SIDE * SIDE], answer):
        return False, "changes a given cell"
    return True, "a valid grid keeping the givens"


def show_answer(task: Task, answer: str) -> str:
    """An answer as a table shows it: a Sudoku grid row by row ("1342 2431 …")."""
    if not answer:
        return "(empty)"
    if task.name == "sudoku":
        return " ".join(answer[i : i + SIDE] for i in range(0, len(answer), SIDE))
    return "".join(show_char(c) for c in answer)


def where(task: Task, position: int) -> str:
    """An answer position in words: "row 2, col 3" (Sudoku) or "digit 3" (sums)."""
    if task.name == "sudoku":
        row, col = divmod(position, SIDE)
        return f"row {row + 1}, col {col + 1}"
    return f"digit {position + 1}"


def position_label(task: Task, position: int, char: str) -> str:
    """The token dropdown's label of an answer position."""
    if task.name == "sudoku":
        return f"{position}: {where(task, position)} {show_char(char)!r}"
    return f"{position}: {show_char(char)}"


# ---- the run: strip and summary -------------------------------------------------------------
def answer_strip(run: ebt.ThinkRun, task: Task) -> str:
    """HTML: the prompt, the chosen whole answer and whether it is right."""
    ok, why = verdict(task, run.prompt, run.text)
    mark = ("✓ right" if ok else "✗ wrong") + f" ({why})"
    colour = "#1a7f37" if ok else WRONG_COLOR
    summary = html.escape(summarize_answer_run(run, task))
    tok = run.tokens[0]
    return (
        f'<div class="ebt-strip ebt-answer-strip" role="group" aria-label="{summary}">'
        f'<span style="font-family:monospace;font-size:1.25em;opacity:0.6">'
        f"{html.escape(run.prompt)}</span> "
        f'<span style="font-family:monospace;font-size:1.25em;font-weight:bold">'
        f"{html.escape(show_answer(task, run.text))}</span> "
        f'<span class="ebt-verdict" style="color:{colour};font-weight:bold">{mark}</span></div>'
        '<div class="ebt-legend" style="font-size:0.85em;margin-top:6px">A whole-answer EBT: '
        f"all {len(run.tokens)} answer positions descend together on one energy "
        f"({tok.steps_used} steps, {tok.samples} candidate(s)); move the step to watch them "
        "settle.</div>"
    )


def summarize_answer_run(run: ebt.ThinkRun, task: Task) -> str:
    tok = run.tokens[0]
    ok, why = verdict(task, run.prompt, run.text)
    return (
        f"Answered {run.text!r} to {run.prompt!r}: {'right' if ok else 'wrong'} ({why}). All "
        f"{len(run.tokens)} answer positions descended together for {tok.steps_used} step(s) "
        f"from {tok.samples} start(s), step size {run.step_size:g}; the chosen candidate "
        f"{tok.chosen} ended at whole-answer energy {tok.final_energy:.3f}. (An answer EBT "
        "answers every position at once: max new tokens is not used.)"
    )


# ---- the answer at one step -----------------------------------------------------------------
def answer_curves(run: ebt.ThinkRun, token: int, step: float) -> go.Figure:
    """Energy vs step of the N whole answers (the same for every position)."""
    fig = energy_curves(run, token, step)
    n = run.tokens[token].samples
    return fig.update_layout(title=f"Whole answer: {n} candidate(s), red = chosen")


def answer_grid(run: ebt.ThinkRun, task: Task, step: int, selected: int | None = None) -> go.Figure:
    """The chosen candidate's answer at `step`: each position's top character and confidence
    (a 4×4 grid with 2×2 boxes and grey givens for Sudoku; a row above the right sum for
    sums); red = a repeated digit or a changed given (Sudoku), a wrong digit (sums)."""
    cells = top_cells(run, step)
    if task.name == "sudoku":
        return _sudoku_grid(run, cells, step, selected)
    return _sum_row(run, task, cells, step, selected)


def _annotation(x, y, char: str, note: str, colour: str) -> dict:
    """A cell's character (in `colour`) over a small grey note (its confidence, or "given")."""
    note = f"<br><span style='font-size:10px;color:#444'>{note}</span>" if note else ""
    text = f"<b>{html.escape(show_char(char))}</b>{note}"
    return dict(x=x, y=y, text=text, showarrow=False, font=dict(size=20, color=colour))


def _outline(x, y, colour: str, width: float) -> dict:
    return dict(type="rect", x0=x - 0.5, x1=x + 0.5, y0=y - 0.5, y1=y + 0.5,
                line=dict(color=colour, width=width))  # fmt: skip


def _sudoku_grid(run, cells, step: int, selected) -> go.Figure:
    puzzle, digits = run.prompt[: SIDE * SIDE], "".join(c for c, _ in cells)
    bad = sudoku_conflicts(puzzle, digits)
    z = [[cells[r * SIDE + c][1] for c in range(SIDE)] for r in range(SIDE)]
    hover = [[f"row {r + 1}, col {c + 1}: {show_char(cells[r * SIDE + c][0])!r} "
              f"{cells[r * SIDE + c][1]:.0%}" + (" (given)" if puzzle[r * SIDE + c] != "." else "")
              for c in range(SIDE)] for r in range(SIDE)]  # fmt: skip
    fig = go.Figure(go.Heatmap(z=z, zmin=0, zmax=1, colorscale=CONFIDENCE_SCALE, showscale=False,
                               hovertext=hover, hoverinfo="text", xgap=2, ygap=2))  # fmt: skip
    shapes, notes = [], []
    for i, (char, p) in enumerate(cells):
        r, c = divmod(i, SIDE)
        given = puzzle[i] != "."
        if given:
            shapes.append({**_outline(c, r, GIVEN_COLOR, 0), "fillcolor": GIVEN_COLOR})
        colour = WRONG_COLOR if i in bad else "#000"
        notes.append(_annotation(c, r, char, "given" if given else f"{p:.0%}", colour))
    for k in (-0.5, 1.5, 3.5):  # the 2×2 boxes
        shapes.append(dict(type="line", x0=k, x1=k, y0=-0.5, y1=3.5, line=dict(width=4)))
        shapes.append(dict(type="line", x0=-0.5, x1=3.5, y0=k, y1=k, line=dict(width=4)))
    if selected is not None and 0 <= selected < len(cells):
        shapes.append(_outline(selected % SIDE, selected // SIDE, CHOSEN_COLOR, 3))
    fig.update_layout(
        title=f"Grid at step {step}<br><sup>grey = given · red = a clash</sup>",
        shapes=shapes, annotations=notes,
        xaxis=dict(visible=False, range=[-0.6, 3.6]),
        yaxis=dict(visible=False, range=[3.6, -0.6], scaleanchor="x"),
        **{**_LAYOUT, "margin": dict(l=10, r=10, t=45, b=10)},
    )  # fmt: skip
    return fig


def _sum_row(run, task: Task, cells, step: int, selected) -> go.Figure:
    right = task.padded(right_sum(task, run.prompt))
    k = len(cells)
    z = [[p for _, p in cells], [None] * k]
    fig = go.Figure(go.Heatmap(z=z, zmin=0, zmax=1, colorscale=CONFIDENCE_SCALE, showscale=False,
                               hoverinfo="skip", xgap=2, ygap=2))  # fmt: skip
    notes = []
    for i, (char, p) in enumerate(cells):
        colour = WRONG_COLOR if char != right[i] else ("#999" if char == "\n" else "#000")
        notes.append(_annotation(i, 0, char, f"{p:.0%}", colour))
        notes.append(_annotation(i, 1, right[i], "", "#777"))
    shapes = [_outline(selected, 0, CHOSEN_COLOR, 3)] if selected is not None else []
    answer = task.unpad("".join(c for c, _ in cells))
    fig.update_layout(
        title=f"Answer at step {step}: {answer!r}<br><sup>red = differs from a + b</sup>",
        shapes=shapes, annotations=notes,
        xaxis=dict(visible=False, range=[-0.6, k - 0.4]),
        yaxis=dict(range=[1.6, -0.6], tickvals=[0, 1], ticktext=[f"step {step}", "a + b"],
                   showgrid=False, zeroline=False),
        **{**_LAYOUT, "height": 240, "margin": dict(l=60, r=10, t=60, b=10)},
    )  # fmt: skip
    return fig


def right_sum(task: Task, prompt: str) -> str:
    return task.targets(prompt)[0]


def summarize_answer_step(run: ebt.ThinkRun, task: Task, token: int, step: int) -> str:
    """The answer at `step` in words, and the selected position's top characters."""
    tok = run.tokens[token]
    answer = candidate_answer(run, task, tok.chosen, _check_step(tok, step))
    ok, why = verdict(task, run.prompt, answer)
    at_step, start = tok.energies[:, step], float(tok.energies[tok.chosen, 0])
    top = ", ".join(f"{show_char(c)!r} {p:.0%}" for c, p in tok.top_k(step, 3))
    clashes = ""
    if task.name == "sudoku":
        bad = sudoku_conflicts(run.prompt[:16], "".join(c for c, _ in top_cells(run, step)))
        clashes = f" {len(bad)} cell(s) clash or change a given."
    return (
        f"At step {step} of {tok.steps_used} the chosen candidate {tok.chosen} reads "
        f"{answer!r}: {'right' if ok else 'not right'} ({why}).{clashes} Its whole-answer "
        f"energy is {float(at_step[tok.chosen]):.3f} (start {start:.3f}, final "
        f"{tok.final_energy:.3f}); the {tok.samples} candidate(s) span "
        f"{float(at_step.min()):.3f} to {float(at_step.max()):.3f}. Position {token} "
        f"({where(task, token)}) at this step: {top}."
    )


# ---- best-of-N over whole answers -----------------------------------------------------------
def answer_groups(run: ebt.ThinkRun, task: Task) -> list[tuple[str, list[int]]]:
    """The distinct final answers and the candidates that reached each, lowest energy first."""
    tok, groups = run.tokens[0], {}
    for i in range(tok.samples):
        groups.setdefault(candidate_answer(run, task, i), []).append(i)
    lowest = lambda item: float(min(tok.energies[i, -1] for i in item[1]))
    return sorted(groups.items(), key=lowest)


def answer_table(run: ebt.ThinkRun, task: Task) -> dict:
    """Rows (ANSWER_HEADERS) of the distinct whole answers, lowest final energy first: how
    many candidates reached each, whether it is right, which the selection rule kept."""
    tok, rows = run.tokens[0], []
    for rank, (answer, members) in enumerate(answer_groups(run, task), 1):
        ok, why = verdict(task, run.prompt, answer)
        right = "✓" if ok else ("✗" if task.name == "sum" else f"✗ {why}")
        energy = round(float(min(tok.energies[i, -1] for i in members)), 4)
        chosen = "✓" if tok.chosen in members else ""
        rows.append([rank, show_answer(task, answer), energy, len(members), right, chosen])
    return {"headers": ANSWER_HEADERS, "data": rows}


def summarize_answer_table(run: ebt.ThinkRun, task: Task) -> str:
    tok, groups = run.tokens[0], answer_groups(run, task)
    right = [(a, m) for a, m in groups if verdict(task, run.prompt, a)[0]]
    best = groups[0][0]
    best_is = "right" if verdict(task, run.prompt, best)[0] else "wrong"
    text = (
        f"Best of {tok.samples}: the candidates ended on {len(groups)} distinct answer(s), "
        f"{len(right)} of them right (reached by {sum(len(m) for _, m in right)} candidate(s)). "
        f"The lowest final energy is {best!r} ({best_is}); "
        f"the {run.config.select!r} rule kept {run.text!r}."
    )
    if task.name == "sudoku":
        text += f" This puzzle has {len(task.targets(run.prompt))} solution(s)."
        if len(right) > 1:
            text += f" {len(right)} different valid grids: one basin of the energy per solution."
    return text


def answer_baseline_text(name: str | None, answer: str, ebt_answer: str, task, prompt) -> str:
    """Markdown: the Transformer++ baseline's whole answer (left to right) beside the EBT's."""
    if not name:
        return "No Transformer++ baseline checkpoint for this EBT."
    ok = verdict(task, prompt, answer)[0]
    return (
        f"**Transformer++** (`{name}`), left to right: `{show_answer(task, answer)}` "
        f"({'right' if ok else 'wrong'}) — the EBT answered `{show_answer(task, ebt_answer)}`."
    )

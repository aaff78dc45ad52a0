"""A guide per tab: 3–5 numbered "try this" presets, each a button that sets up a state worth
seeing and one sentence on what to notice.

A preset is a dict of the tab's permalink keys (app/permalink.py: its API parameter names), so a
preset is applied exactly like a link (validated, then run). Hook for other tabs (the Playground,
answer EBTs): `register("playground", [Preset(label, notice, values, needs=(...)), ...])`, then
`buttons("playground", checkpoints, apply, outputs)` in the tab's layout, where
`apply(values, intro=markdown)` returns the tab's outputs for a preset. The Think tab shows two
guides: "think" (text EBTs) and, below it and numbered after it (`FOLLOWS`), "answers" (the
whole-answer EBTs sum-ebt and sudoku-ebt, whose prompts scripts/answer_presets.py checks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import gradio as gr

from ebt_core.image.settings import DEFAULT_EBT_TOLERANCE


@dataclass(frozen=True)
class Preset:
    label: str  # the button's text, after its number
    notice: str  # one sentence: what to notice
    values: dict = field(default_factory=dict)  # the tab's permalink keys → values
    needs: tuple[str, ...] = ()  # checkpoints it runs on (hidden when one is missing)

    def __post_init__(self):
        if not self.label or not self.notice.endswith("."):
            raise ValueError(f"notice must be one sentence ending with '.', got {self.notice!r}")


GUIDES: dict[str, list[Preset]] = {}
FOLLOWS = {"answers": ("think",)}  # a guide shown below these on the same page


def register(tab: str, presets: list[Preset]) -> None:
    """Declare a tab's presets (3–5 make a guide; registering again replaces them)."""
    if not 1 <= len(presets) <= 5:
        raise ValueError(f"presets must be 1 to 5 per tab, got {len(presets)}")
    GUIDES[tab] = list(presets)


def available(tab: str, checkpoints: list[str]) -> list[Preset]:
    """The tab's presets whose checkpoints this server has."""
    return [p for p in GUIDES.get(tab, []) if set(p.needs) <= set(checkpoints)]


def intro(number: int, preset: Preset) -> str:
    return f"**Try this {number} — {preset.label}:** {preset.notice}"


TITLES = {"answers": "Guide: whole answers (sums, Sudoku)"}  # the rest: "Guide: try this"


def buttons(tab: str, checkpoints: list[str], apply: Callable, outputs: list) -> None:
    """The guide of `tab`, laid out here: numbered buttons, each applying its preset
    (`apply(values, intro=markdown)` → the outputs). A guide shown below another one on the
    same page (the Think tab's "answers" below "think") continues its numbers."""
    presets = available(tab, checkpoints)
    if not presets:
        return
    first = 1 + sum(len(available(t, checkpoints)) for t in FOLLOWS.get(tab, ()))
    with gr.Accordion(TITLES.get(tab, "Guide: try this"), open=True):
        gr.Markdown(
            "\n".join(f"{i}. **{p.label}**: {p.notice}" for i, p in enumerate(presets, first))
        )
        with gr.Row():
            for i, preset in enumerate(presets, first):
                button = gr.Button(f"{i}. {preset.label}", size="sm", elem_classes="ebt-preset")
                button.click(_applier(apply, preset, i), None, outputs, api_visibility="private")


def _applier(apply: Callable, preset: Preset, number: int) -> Callable:
    def run():
        return apply(dict(preset.values), intro=intro(number, preset))

    return run


def _think(label: str, notice: str, checkpoint: str, prompt: str, **settings) -> Preset:
    """A Think preset: a prompt on `checkpoint` with /think settings."""
    values = dict(prompt=prompt, checkpoint=checkpoint, **settings)
    return Preset(label, notice, values, needs=(checkpoint,))


def _sum_story(prompt: str, steps: int) -> Preset:
    """A sum-ebt preset: a long-carry sum thought for `steps` steps (the prompt is chosen by
    scripts/answer_presets.py: wrong after 1 and 2 steps, right here)."""
    a, b = (int(x) for x in prompt[:-1].split("+"))
    notice = (
        f"Thought for {steps} steps, {a}+{b} comes out right ({a + b}): press Play or move the "
        "Step slider back to see that after 1 and 2 steps some digits are still wrong because "
        "a carry has not gone through yet."
    )
    return _think("A hard sum, thought longer", notice, "sum-ebt", prompt, steps=steps, samples=1)


def _sudoku_story(prompt: str, samples: int) -> Preset:
    """A sudoku-ebt preset: a puzzle with several solutions, thought from `samples` starts."""
    blanks = prompt.count(".")
    notice = (
        f"This puzzle has {blanks} blanks and several solutions, and {samples} candidates start "
        "from different random grids: the best-of-N table lists the grids they end on, how "
        "many candidates reached each and whether it is a valid solution — different starts "
        "settle on different valid solutions (separate basins), and the lowest energy keeps one."
    )
    return _think("A Sudoku with several solutions", notice, "sudoku-ebt", prompt, samples=samples)


def _denoise(label: str, notice: str, image: str, noise: float, steps: int) -> Preset:
    """A Denoise preset: an example photo at a noise level, on the image EBT."""
    values = dict(image=f"denoise-{image}.png", noise=noise, steps=steps)
    return Preset(label, notice, values, needs=("image-ebt",))


register(
    "think",
    [
        _think(
            "A carry, 1 step",
            "With one descent step per character the model writes 800 for 696+204: the "
            "hundreds digit has not settled yet.",
            "arith-ebt", "696+204=", steps=1, max_new_tokens=3,
        ),
        _think(
            "Think longer",
            "With 8 steps the same sum comes out 900: press Play on token 0 and watch the "
            "'8' lose to the '9' as the energy falls.",
            "arith-ebt", "696+204=", steps=8, max_new_tokens=3,
        ),
        _think(
            "16 noisy candidates",
            "With Langevin noise the 16 candidates start apart and fan in: the best-of-N "
            "table ranks them by final energy and keeps the lowest.",
            "arith-ebt", "([[(=", samples=16, langevin=0.5, steps=4, max_new_tokens=5,
        ),
        _think(
            "Stop early",
            "With a tolerance of 0.02 the descent stops once the energy no longer moves: the "
            "subscripts show how few of the 16 allowed steps each character needed.",
            "arith-ebt", "487+396=", steps=16, tolerance=0.02, max_new_tokens=4,
        ),
        _think(
            "English",
            "The english EBT continues a sentence: characters it is unsure of have a higher "
            "final energy (lighter chips in the strip).",
            "english-ebt", "The ", max_new_tokens=16,
        ),
    ],
)  # fmt: skip
SUM_PRESET = "4545+6795="  # scripts/answer_presets.py checks (and finds) these prompts
BEST_OF_N_PRESET = "990+12="
SUDOKU_PRESET = "1...2..1......2.="
register(
    "answers",  # the Think tab's whole-answer EBTs: the same link keys as "think"
    [
        _sum_story(SUM_PRESET, steps=8),
        _think(
            "Best of 16 whole answers",
            "Sixteen candidate answers descend from different starts: the best-of-N table groups "
            "the sums they end on, with the lowest energy of each, how many candidates reached "
            "it and whether it is right: the noiseless single sample (candidate 0) drops a "
            "carry here, and the lowest energy picks the right sum.",
            "sum-ebt", BEST_OF_N_PRESET, samples=16,
        ),
        _sudoku_story(SUDOKU_PRESET, samples=16),
    ],
)  # fmt: skip
register(
    "denoise",
    [
        _denoise(
            "Light noise",
            "At noise 0.1 two descent steps remove most of the noise: PSNR jumps at the first "
            "step.",
            "astronaut", noise=0.1, steps=2,
        ),
        _denoise(
            "Heavy noise",
            "At 0.3 (both models trained on 0.01–0.5) compare how much grain the EBT and the "
            "DiT leave: the PSNR chart shows who copes with heavy noise.",
            "china", noise=0.3, steps=2,
        ),
        _denoise(
            "More steps",
            "With 8 steps allowed, each tile stops once its energy settles (it changes by "
            f"less than {DEFAULT_EBT_TOLERANCE:g} in a step): the summary says when the run "
            "ended early, and the PSNR chart shows that the photo did not get worse.",
            "camera", noise=0.1, steps=8,
        ),
        _denoise(
            "Already noisy",
            "Noise 0 adds nothing: the EBT descends on the photo as it is; compare the first "
            "and last frames to see what it changes in a clean picture.",
            "camera", noise=0.0, steps=2,
        ),
    ],
)  # fmt: skip


def _playground(label: str, notice: str, **levers) -> Preset:
    """A Playground preset: the fork task and the shipped recipe, with `levers` changed (it
    fills the recipe; the visitor presses Train)."""
    return Preset(label, notice, {"task": "fork", **levers})


def _points(label: str, notice: str, checkpoint: str = "points-ebt", **view) -> Preset:
    """A Point EBT preset (the Landscape tab's section): a shipped point EBT's view."""
    values = {"checkpoint": checkpoint, "task": "fork", **view}
    return Preset(label, notice, values, needs=(checkpoint,))


_OFF_BOX = "1.25, 2; 1.5, 2; 1.75, 2; 2, 2"  # the probe fork moved by +2 on both axes (OOD)
register(
    "points",
    [
        _points(
            "The fork",
            "The 16 candidates descend from random starts and split 8 / 8 between the two true "
            "next points (×), while the regression baseline's diamond sits between them.",
        ),
        _points(
            "One step",
            "After a single descent step only 6 of the 16 candidates have reached a true "
            "next point: press Play to watch them roll from their starts.",
            steps=1,
        ),
        _points(
            "More candidates, more steps",
            "With 64 candidates and 32 steps every candidate ends within 0.06 of a true next "
            "point, 38 on one branch and 26 on the other.",
            steps=32, samples=64,
        ),
        _points(
            "Off the training box",
            "Moved by +2 on both axes, where no training context lies, the landscape still has "
            "one basin per branch and the candidates still split 8 / 8.",
            context=_OFF_BOX,
        ),
        _points(
            "A fork model at a trifork",
            "Trained on two branches, the model has no basin straight ahead: the trifork's "
            "middle next point (0.25, 0) gets none of the 16 candidates.",
            task="trifork",
        ),
    ],
)  # fmt: skip
register(
    "playground",
    [
        _playground(
            "Winner-takes-all",
            "Press Train: the shipped recipe grows one basin per branch and the check finds "
            "about 98 % of the candidates near a true next point, half on each branch.",
        ),
        _playground(
            "The paper's objective",
            "Press Train: the plain final-candidate loss collapses every candidate to the "
            "midpoint of the branches, so the check finds none near a true next point.",
            objective="final",
        ),
        _playground(
            "No randomised step size",
            "Press Train: with α jitter 1 the candidates still reach both branches, but the "
            "lowest-energy one lands near a true next point in only about half the contexts.",
            alpha_jitter=1.0,
        ),
        _playground(
            "Three branches",
            "Press Train: on the trifork this recipe sends nearly all candidates to the middle "
            "branch and none to the turns, so the check fails on the share per mode.",
            task="trifork",
        ),
    ],
)  # fmt: skip

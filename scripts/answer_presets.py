"""Check (and find) the prompts of the Think tab's whole-answer guide (app/guide.py, "answers")
on the checkpoints in $EBT_CHECKPOINTS (default: checkpoints/): after a retraining, run it to see
whether each preset's sentence still holds, and which prompts would make it hold.

    python scripts/answer_presets.py             # check the guide's prompts; exit 1 if one fails
    python scripts/answer_presets.py --search    # and list held-out prompts where each story holds

Stories (what the presets' sentences say):
- sum (SUM_PRESET, the preset's steps): the noiseless single sample is wrong after 1 and 2 steps
  and right after the preset's steps (thinking longer fixes a carry).
- best-of-N (BEST_OF_N_PRESET, 16 samples): reported only (its sentence claims no outcome):
  whether the lowest energy is right and whether candidate 0, the single sample, is.
- Sudoku (SUDOKU_PRESET, 16 samples): the puzzle has several solutions (the sentence); reported:
  how many different valid grids the 16 candidates reach ("strong": 2 or more, the story the
  issue asks for; with it the sentence may say so).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

import ebt_core as ebt
from app.guide import BEST_OF_N_PRESET, GUIDES, SUDOKU_PRESET, SUM_PRESET
from ebt_core.answer.data import get_task
from ebt_core.answer.think import solve


def _steps(name: str, prompt: str) -> int:
    """The preset's steps for `prompt` on checkpoint `name`."""
    for p in GUIDES["answers"]:
        if p.values["checkpoint"] == name and p.values["prompt"] == prompt:
            return p.values.get("steps", 0)
    raise KeyError(f"no answers preset for {name} {prompt}")


def sum_story(model, prompts: list[str], steps: int) -> list[dict]:
    """Each prompt's single-sample answers at 1, 2, the default and `steps` steps."""
    default = model.think_defaults.steps
    at = sorted({1, 2, default, steps})
    config = ebt.ThinkConfig(steps=max(at), samples=1)
    solved = {s.steps: s for s in solve(model, prompts, config, at_steps=at)}
    out = []
    for i, prompt in enumerate(prompts):
        read = {k: solved[k].answers[i][0] for k in at}
        right = {k: model.task.is_correct(prompt, a) for k, a in read.items()}
        holds = not right[1] and not right[2] and right[steps]
        out.append({"prompt": prompt, "answers": read, "holds": holds})
    return out


def best_of_n_story(model, prompt: str, samples: int = 16) -> dict:
    solved = solve(model, [prompt], replace(model.think_defaults, samples=samples))[0]
    chosen, single = solved.chosen()[0], solved.answers[0][0]
    task = model.task
    return {"prompt": prompt, "chosen": chosen, "chosen_right": task.is_correct(prompt, chosen),
            "single": single, "single_right": task.is_correct(prompt, single)}  # fmt: skip


def sudoku_story(model, prompts: list[str], samples: int = 16) -> list[dict]:
    """Each puzzle's solutions, and the distinct (valid) grids its N candidates reach."""
    config = replace(model.think_defaults, samples=samples)
    out = []
    for prompt, solved in zip(prompts, _batches(model, prompts, config)):
        valid = {a for a in solved if model.task.is_correct(prompt, a)}
        out.append({"prompt": prompt, "solutions": len(model.task.targets(prompt)),
                    "distinct": len(set(solved)), "valid_grids": sorted(valid),
                    "holds": len(model.task.targets(prompt)) >= 2,
                    "strong": len(valid) >= 2})  # fmt: skip
    return out


def _batches(model, prompts: list[str], config, size: int = 16):
    for i in range(0, len(prompts), size):
        yield from solve(model, prompts[i : i + size], config)[0].answers


def check() -> dict:
    sums, sudoku = ebt.load("sum-ebt"), ebt.load("sudoku-ebt")
    return {
        "sum": sum_story(sums, [SUM_PRESET], _steps("sum-ebt", SUM_PRESET))[0],
        "best_of_n": best_of_n_story(sums, BEST_OF_N_PRESET),
        "sudoku": sudoku_story(sudoku, [SUDOKU_PRESET])[0],
    }


def search() -> dict:
    """Held-out prompts (test split) where each story holds: long-carry sums, and puzzles of
    9–12 blanks with several solutions (most valid grids reached first)."""
    sums, sudoku = ebt.load("sum-ebt"), ebt.load("sudoku-ebt")
    prompts = [e.prompt for e in get_task("sum").fixed("harder", "test", 300)]
    found = [s["prompt"] for s in sum_story(sums, prompts, _steps("sum-ebt", SUM_PRESET))
             if s["holds"]]  # fmt: skip
    puzzles = [e.prompt for e in get_task("sudoku").fixed("harder", "test", 100)]
    grids = [s for s in sudoku_story(sudoku, puzzles) if s["holds"]]
    grids.sort(key=lambda s: -len(s["valid_grids"]))
    return {"sum": found[:20], "sudoku": [(s["prompt"], len(s["valid_grids"])) for s in grids[:10]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--search", action="store_true", help="also list prompts that work")
    args = parser.parse_args()
    report = check()
    if args.search:
        report["search"] = search()
    print(json.dumps(report, indent=1))
    sys.exit(0 if report["sum"]["holds"] and report["sudoku"]["holds"] else 1)


if __name__ == "__main__":
    main()

"""Whole-answer EBTs measured honestly: does thinking longer solve harder problems?

    python -m ebt_core.study.answer --out runs/answer            # shipped checkpoints, test split
    python -m ebt_core.study.answer --quick --out /tmp/answer     # fewer prompts (tests)

For each task (sum, sudoku) with its shipped `<task>-ebt` and `<task>-transformer`, on held-out
test prompts of every level (id, harder, ood):
- accuracy vs descent steps (1, 2, 4, 8, 16, 32, and the default and 4× default) of the single
  noiseless sample (candidate 0, zero start, no Langevin), read along one descent;
- best-of-N (N = 1, 4, 16; lowest final energy) at the default steps and at 4× default, against
  that single sample (N = 1 is it); where the 16 candidates disagree, how often the lowest
  energy one is right; for Sudoku, how many distinct valid solutions the 16 candidates reach;
- the whole-answer energy as a verifier: AUROC of the right answer against the same answer with
  one character changed (sums) or against a wrong grid (Sudoku), and of right against wrong among
  the model's own candidates;
- the Transformer++'s greedy accuracy beside each.
Writes results.json and README.md (tables) to --out.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..answer.baseline import generate_answers
from ..answer.data import SPLITS, get_task
from ..answer.think import answer_energies, solve
from ..checkpoint import load
from ..config import ThinkConfig
from .measures import auroc

STEPS = (1, 2, 4, 8, 16, 32)
BEST_OF = (1, 4, 16)


def _acc(task, prompts: list[str], answers: list[str]) -> float:
    return round(100 * float(np.mean([task.is_correct(p, a) for p, a in zip(prompts, answers)])), 1)


def curve_steps(default: int) -> tuple[int, ...]:
    """STEPS plus the checkpoint's default and 4× default."""
    return tuple(sorted(set(STEPS) | {default, 4 * default}))


def steps_curve(model, task, prompts: list[str], cfg: ThinkConfig) -> dict[str, float]:
    """Accuracy (%) of the noiseless single sample after each of `curve_steps`."""
    at = curve_steps(cfg.steps)
    solved = solve(model, prompts, replace(cfg, steps=max(at), samples=1, langevin=0.0), at)
    return {str(s.steps): _acc(task, prompts, [a[0] for a in s.answers]) for s in solved}


def best_of(model, task, prompts: list[str], cfg: ThinkConfig, steps: int) -> dict:
    """Best-of-N accuracies, the disagreement statistics and the candidates' energy AUROC."""
    s = solve(model, prompts, replace(cfg, steps=steps, samples=max(BEST_OF)))[0]
    right = np.array([[task.is_correct(p, a) for a in row] for p, row in zip(prompts, s.answers)])
    out = {}
    for n in BEST_OF:
        pick = np.argmin(s.energies[:, :n], axis=1)
        out[f"best_of_{n}"] = round(100 * float(right[np.arange(len(prompts)), pick].mean()), 1)
    disagree = np.array([len(set(row)) > 1 for row in s.answers])
    chosen_right = right[np.arange(len(prompts)), np.argmin(s.energies, axis=1)]
    out["disagree_pct"] = round(100 * float(disagree.mean()), 1)
    out["lowest_right_when_disagree"] = (
        round(100 * float(chosen_right[disagree].mean()), 1) if disagree.any() else None
    )
    out["candidates_auroc"] = _r(auroc(-s.energies.ravel(), right.ravel()))
    distinct = [len({a for a, ok in zip(row, r) if ok}) for row, r in zip(s.answers, right)]
    out["distinct_right_answers"] = round(float(np.mean(distinct)), 2)
    return out


def _r(x: float) -> float | None:
    return None if x != x else round(float(x), 4)


def _changed(task, answer: str, rng: random.Random) -> str:
    """The answer with one character changed (sums: one digit; Sudoku: one cell)."""
    i = rng.randrange(len(answer))
    new = rng.choice([c for c in task.answer_chars if c != answer[i]])
    return answer[:i] + new + answer[i + 1 :]


def verifier_auroc(model, task, examples, seed: int = 0) -> float | None:
    """AUROC of the whole-answer energy: right answers (low energy) vs one-character changes."""
    rng, energies, right = random.Random(seed), [], []
    for ex in examples:
        wrong = _changed(task, ex.answer, rng)
        energies.extend(answer_energies(model, ex.prompt, [ex.answer, wrong]).tolist())
        right.extend([True, task.is_correct(ex.prompt, wrong)])
    return _r(auroc(-np.asarray(energies), np.asarray(right)))


def measure_task(name: str, n: int, log, extra: str | None = None) -> dict:
    """Every measurement of one task's shipped EBT and Transformer++ (module docstring), and of
    the `extra` Transformer++ (a checkpoint name or directory of the same task) beside them."""
    task, model, baseline = get_task(name), load(f"{name}-ebt"), load(f"{name}-transformer")
    other = load(extra) if extra else None
    if other is not None and getattr(other, "recipe", {}).get("task") != name:
        other = None  # another task's baseline
    cfg = model.think_defaults
    result = {"default_steps": cfg.steps, "splits": {}}
    if other is not None:
        result["extra_baseline"] = str(extra)
    for split in SPLITS:
        examples = task.fixed(split, "test", n)
        prompts = [e.prompt for e in examples]
        tf_answers = generate_answers(baseline, task, prompts)
        row = {"n": n, "transformer": _acc(task, prompts, tf_answers)}
        if other is not None:
            row["transformer_extra"] = _acc(task, prompts, generate_answers(other, task, prompts))
        row["steps"] = steps_curve(model, task, prompts, cfg)
        row["default"] = best_of(model, task, prompts, cfg, cfg.steps)
        row["4x_default"] = best_of(model, task, prompts, cfg, 4 * cfg.steps)
        row["verifier_auroc"] = verifier_auroc(model, task, examples)
        result["splits"][split] = row
        log(f"{name} {split}: {json.dumps(row)}")
    return result


def _table(name: str, res: dict) -> list[str]:
    d, extra = res["default_steps"], res.get("extra_baseline")
    lines = [
        f"### {name} (default {d} steps; test split; % solved)",
        "",
        "| split | Transformer++ | " + ("other Transformer++ | " if extra else "")
        + " | ".join(f"{s} st" for s in curve_steps(d))
        + f" | best-of-4 ({d} st) | best-of-16 ({d} st) | best-of-16 ({4 * d} st) "
        "| disagree % | lowest-E right when disagree | energy AUROC (1 change) |",
        "|---" * (len(curve_steps(d)) + 8 + bool(extra)) + "|",
    ]  # fmt: skip
    if extra:
        lines.insert(1, f"(other Transformer++: `{extra}`)")
    for split, r in res["splits"].items():
        cells = [split, r["transformer"], *([r["transformer_extra"]] if extra else []),
                 *r["steps"].values(), r["default"]["best_of_4"],
                 r["default"]["best_of_16"], r["4x_default"]["best_of_16"],
                 r["default"]["disagree_pct"], r["default"]["lowest_right_when_disagree"],
                 r["verifier_auroc"]]  # fmt: skip
        lines.append("| " + " | ".join("–" if c is None else str(c) for c in cells) + " |")
    return lines + [""]


def write_report(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# Whole-answer EBTs", "", f"{results['n']} test prompts per split.", ""]
    for name, res in results["tasks"].items():
        lines += _table(name, res)
    (out / "README.md").write_text("\n".join(lines))


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description="Measure the shipped whole-answer EBTs.")
    p.add_argument("--out", default="runs/answer", help="report directory")
    p.add_argument("--quick", action="store_true", help="40 prompts per split instead of 300")
    p.add_argument("--n", type=int, help="test prompts per split (overrides --quick)")
    p.add_argument("--tasks", default="sum,sudoku", help="comma-separated tasks")
    p.add_argument(
        "--baseline",
        help="another Transformer++ checkpoint (name or directory) "
        "measured beside its task's shipped one, e.g. runs/sum-transformer-mix",
    )
    args = p.parse_args(argv)
    if args.n is not None and not 1 <= args.n <= 5000:
        p.error(f"--n must be in [1, 5000], got {args.n}")
    n, t0 = args.n or (40 if args.quick else 300), time.time()
    results, log = {"n": n, "tasks": {}}, lambda m: print(m, flush=True)
    for name in args.tasks.split(","):
        results["tasks"][name] = measure_task(name, n, log, args.baseline)
    results["seconds"] = round(time.time() - t0, 1)
    write_report(results, Path(args.out))
    return results


if __name__ == "__main__":
    from .cli import run

    run(main)

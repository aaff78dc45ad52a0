"""The character-level EBTs measured plainly: perplexity vs descent steps, and best-of-N against
the noiseless single sample under start-spread / Langevin settings.

    python -m ebt_core.study.spread --out runs/spread           # arith-ebt and english-ebt
    python -m ebt_core.study.spread --quick --out /tmp/spread   # smaller parts (tests)
    python -m ebt_core.study --only spread --out assets/report  # the same, from the study

Held-out data are cut in two parts: `val` (to choose the default steps and the preset) and
`test` (to report). English: the first / second half of the held-out docstrings (ID) and of
Python's LICENSE (OOD); arith: held-out rows drawn with two seeds (test = the study's seed).

Teacher-forced, every position at once (as the study's perplexity): candidates descend on the
next character of the true context.
- steps curve: perplexity of the single sample (samples=1, no Langevin, the model's start
  spread) after each of 1..32 steps;
- spread: N = 16 candidates at the default steps under each (start_std, langevin) setting: the
  share of counted tokens whose candidates end on ≥ 2 distinct characters; accuracy (argmax =
  target) and perplexity of the lowest-energy candidate, of candidate 0 (a random noisy one) and
  of the best candidate (oracle); where candidates disagree, how often the lowest-energy one is
  right. The baseline is the noiseless single sample (samples=1, langevin 0, the model's start
  spread — a text EBT always starts from noise) and, for reference, the zero start.
- the energy as a verifier: AUROC of the single sample's final energy, wrong vs right tokens;
- dynamic compute: the steps a descent stopped by an early-stop tolerance uses per token, on
  tokens it gets right vs wrong (and ID vs OOD);
- for arith, exact match of `think` (free-running) on distinct held-out sums: the single
  sample, best-of-16 with no noise, best-of-16 under the val pick and one candidate under it.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..checkpoint import load
from ..config import ThinkConfig
from ..text.data import TextCorpus, get_corpus
from . import measures as ev

PARTS = ("val", "test")
ARITH_SEEDS = {"val": 2468, "test": 4321}  # test: the seed of the study's perplexity batches
CHECKPOINTS = (("arith", "arith-ebt"), ("english", "english-ebt"))
MAX_STEPS = 32
CANDIDATES = 16
# (start_std, langevin): the model's start (0.1) with Langevin noise, then wider starts
SETTINGS = ((0.1, 0.0), (0.1, 0.1), (0.1, 0.3), (0.1, 1.0), (0.1, 3.0), (1.0, 0.0), (3.0, 0.0))
STEPS_TOL = 0.01  # a default step count must be within 1 % of the lowest perplexity ID and OOD
MIN_DISAGREE_PCT = 10.0  # a preset must make the candidates differ on at least this share
TOLERANCES = (0.001, 0.003, 0.01, 0.03)  # early-stop |ΔE| thresholds for dynamic compute
ROWS = {"arith-ebt": 128, "english-ebt": 64}  # held-out rows per split and part


def part_batch(corpus, split: str, part: str, rows: int, length: int):
    """(ids (B, T+1), mask (B, T)) of one part ("val" | "test") of a held-out split."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")
    if isinstance(corpus, TextCorpus):
        text = corpus.splits[split]
        half = len(text) // 2
        piece = text[:half] if part == "val" else text[half:]
        view = TextCorpus(corpus.name, corpus.vocab, corpus.splits["train"], piece, piece)
        return view.eval_batch("id", rows, length)
    return corpus.eval_batch(split, rows, length, seed=ARITH_SEEDS[part])


def _r(x: float, digits: int = 3) -> float | None:
    return round(float(x), digits) if math.isfinite(x) else None


def steps_curve(stats: ev.DescentStats) -> list[float]:
    """Perplexity of the first candidate after each of 1..S steps."""
    return [_r(ev.ppl(x)) for x in stats.nll_by_step()]


def stop_steps(energy: np.ndarray, tol: float) -> np.ndarray:
    """Steps a descent stopped by `tolerance` uses (ThinkConfig.tolerance, one candidate): the
    first s ≥ 1 with |E_s − E_(s−1)| < tol, else all S. energy (S+1, B, T) → (B, T)."""
    settled = np.abs(np.diff(energy, axis=0)) < tol  # (S, B, T)
    return np.where(settled.any(0), settled.argmax(0) + 1, energy.shape[0] - 1)


def dynamic(stats: ev.DescentStats, tol: float) -> dict:
    """Does a tolerance-stopped descent spend more steps where the token is harder? Mean steps
    used on tokens right vs wrong at the stop, and their rank correlation with the NLL there."""
    used = stop_steps(stats.energy[:, 0], tol)  # (B, T)
    m = stats.mask.astype(bool)
    top = np.take_along_axis(stats.top[:, 0], used[None], 0)[0]
    nll = np.take_along_axis(stats.nll[:, 0], used[None], 0)[0]
    wrong = top != stats.target
    mean = lambda where: _r(float(used[where].mean()), 2) if where.any() else None
    return {
        "tol": tol,
        "mean_steps": mean(m),
        "steps_right": mean(m & ~wrong),
        "steps_wrong": mean(m & wrong),
        "spearman_steps_nll": _r(ev.spearman(used[m], nll[m])),
        "acc_at_stop": _pct(~wrong, m),
    }


def pick_steps(id_curve: list[float], ood_curve: list[float], tol: float = STEPS_TOL) -> int | None:
    """The step count (1-based) within `tol` of the lowest perplexity on both splits whose worse
    relative excess is smallest; None when no step count is near the best on both (the splits
    disagree: keep the default)."""
    best_id, best_ood = min(id_curve), min(ood_curve)
    excess = [max(i / best_id, o / best_ood) for i, o in zip(id_curve, ood_curve)]
    if min(excess) > 1 + tol:
        return None
    return int(np.argmin(excess)) + 1


def verifier_auroc(stats: ev.DescentStats, steps: int) -> float | None:
    """AUROC of the final energy after `steps` steps ranking wrong predictions (argmax ≠ target)
    above right ones, over the counted tokens (0.5 = chance)."""
    m = stats.mask.astype(bool)
    wrong = (stats.top[steps, 0] != stats.target)[m]
    return _r(ev.auroc(stats.energy[steps, 0][m], wrong))


def _pct(values: np.ndarray, where: np.ndarray) -> float | None:
    return _r(100.0 * values[where].mean(), 1) if where.any() else None


def single(model, ids, mask, steps: int, start_std: float | None = None) -> dict:
    """Accuracy (%) and perplexity of one candidate, no Langevin (start_std None = the model's)."""
    stats = ev.descent_stats(model, ids, mask, steps, samples=1, start_std=start_std)
    m = stats.mask.astype(bool)
    acc = _pct(stats.top[-1, 0] == stats.target, m)
    return {"acc": acc, "ppl": _r(ev.ppl(stats.mean_nll(steps)))}


def spread(model, ids, mask, steps: int, start_std: float, langevin: float, n: int) -> dict:
    """Best-of-n at `steps` under one (start_std, langevin) setting (see the module doc)."""
    stats = ev.descent_stats(model, ids, mask, steps, n, langevin=langevin, start_std=start_std)
    m, top, target = stats.mask.astype(bool), stats.top[-1], stats.target  # top (N, B, T)
    chosen = np.take_along_axis(top, stats.energy[-1].argmin(0)[None], 0)[0]  # (B, T)
    disagree = (top != top[0]).any(0) & m
    return {
        "start_std": start_std,
        "langevin": langevin,
        "disagree_pct": _pct(disagree, m),
        "bon_acc": _pct(chosen == target, m),
        "bon_ppl": _r(ev.ppl(stats.best_of_n_nll(n))),
        "cand0_acc": _pct(top[0] == target, m),
        "cand0_ppl": _r(ev.ppl(stats.mean_nll(steps, 0))),
        "oracle_acc": _pct((top == target).any(0), m),
        "lowest_right_when_disagree": _pct(chosen == target, disagree),
        "any_right_when_disagree": _pct((top == target).any(0), disagree),
    }


def pick_preset(rows: list[dict], baseline_acc: float) -> dict | None:
    """The val setting whose best-of-N gains most accuracy over the noiseless single sample,
    among those whose candidates disagree on ≥ MIN_DISAGREE_PCT % of tokens (None: none do)."""
    differ = [r for r in rows if (r["disagree_pct"] or 0.0) >= MIN_DISAGREE_PCT]
    if not differ:
        return None
    best = max(differ, key=lambda r: (r["bon_acc"], -r["bon_ppl"]))
    return {**best, "gain_vs_single_pts": _r(best["bon_acc"] - baseline_acc, 1)}


def exact_match(model, part: str, n: int, pick: dict | None) -> dict:
    """`think` exact match (%) on n distinct held-out sums (1–3 digits) at the default steps:
    the single sample; best-of-16 with no noise; and, under the val pick (when ThinkConfig can
    express it: Langevin on the model's own start spread), best-of-16 and one noisy candidate."""
    drawn = get_corpus("arith").examples("id", 4 * n, seed=ARITH_SEEDS[part] + 1, digits=(1, 3))
    examples = list(dict.fromkeys(drawn))[:n]  # distinct sums (1-digit pairs repeat often)
    one = ThinkConfig(steps=model.think_defaults.steps, samples=1)
    configs = {"single": one, "best_of_16_no_noise": replace(one, samples=CANDIDATES)}
    if pick and pick["start_std"] == model.config.start_std:
        configs["best_of_16"] = replace(one, samples=CANDIDATES, langevin=pick["langevin"])
        configs["one_noisy"] = replace(one, langevin=pick["langevin"])
    out = {"n": len(examples)}
    for key, cfg in configs.items():
        out[key] = _r(100 * ev.exact_match(model, examples, cfg), 1)
    return out


def measure_split(model, corpus, split: str, part: str, rows: int, settings) -> dict:
    """Steps curve, dynamic compute, single sample, zero start and the spread `settings` at the
    checkpoint's default steps on one split and part."""
    ids, mask = part_batch(corpus, split, part, rows, model.recipe.get("length", 64))
    steps = model.think_defaults.steps
    out = {"rows": rows, "tokens": int(mask.sum()), "steps": steps}
    stats = ev.descent_stats(model, ids, mask, MAX_STEPS, samples=1)
    out["curve"] = steps_curve(stats)
    out["dynamic"] = [dynamic(stats, tol) for tol in TOLERANCES]
    out["verifier_auroc"] = verifier_auroc(stats, steps)
    out["single"] = single(model, ids, mask, steps)
    out["zero_start"] = single(model, ids, mask, steps, start_std=0.0)
    out["spread"] = [spread(model, ids, mask, steps, s, lv, CANDIDATES) for s, lv in settings]
    return out


def _print(message: str) -> None:
    print(message, flush=True)


def measure(corpus_name: str, name: str, rows: int, examples: int, log=_print) -> dict:
    """Val (every setting) then test (the model's own start and the val pick) of one checkpoint
    at its default steps."""
    model, corpus = load(name), get_corpus(corpus_name)
    res = {"checkpoint": name, "default_steps": model.think_defaults.steps, "parts": {}}
    res["steps_pick"], settings = {}, SETTINGS
    for part in PARTS:
        res["parts"][part] = {}
        for split in ("id", "ood"):
            log(f"{name} {part} {split}")
            r = measure_split(model, corpus, split, part, rows, settings)
            res["parts"][part][split] = r
        id_part, ood_curve = res["parts"][part]["id"], res["parts"][part]["ood"]["curve"]
        res["steps_pick"][part] = pick_steps(id_part["curve"], ood_curve)
        if part == "val":  # choose on val; test measures the model's start and the choice
            id_part["preset_pick"] = pick_preset(id_part["spread"], id_part["single"]["acc"])
            pick = id_part["preset_pick"]
            chosen = [(pick["start_std"], pick["langevin"])] if pick else []
            settings = tuple(dict.fromkeys([SETTINGS[0], *chosen]))
        if corpus_name == "arith" and examples:
            pick = res["parts"]["val"]["id"]["preset_pick"]
            id_part["exact_match"] = exact_match(model, part, examples, pick)
    return res


def _curve_line(name: str, part: str, split: str, r: dict) -> str:
    best = int(np.argmin(r["curve"])) + 1
    shown = ", ".join(f"{s}: {r['curve'][s - 1]}" for s in (1, 2, 3, 4, 6, 8, 16, 32))
    return f"| {name} | {part} | {split} | {shown} | {best} | {r['verifier_auroc']} |"


def _spread_lines(name: str, part: str, split: str, r: dict) -> list[str]:
    base = f"{r['single']['acc']} % / {r['single']['ppl']}"
    zero = f"{r['zero_start']['acc']} % / {r['zero_start']['ppl']}"
    return [
        f"| {name} | {part} | {split} | {s['start_std']} | {s['langevin']} | {s['disagree_pct']} "
        f"| {s['bon_acc']} % / {s['bon_ppl']} | {base} | {zero} | {s['cand0_acc']} % / "
        f"{s['cand0_ppl']} | {s['oracle_acc']} | {s['lowest_right_when_disagree']} |"
        for s in r["spread"]
    ]


def _dynamic_lines(name: str, part: str, split: str, r: dict) -> list[str]:
    return [
        f"| {name} | {part} | {split} | {d['tol']} | {d['mean_steps']} | {d['steps_right']} "
        f"| {d['steps_wrong']} | {d['spearman_steps_nll']} | {d['acc_at_stop']} |"
        for d in r["dynamic"]
    ]


SPREAD_HEAD = (
    "| checkpoint | part | split | start std | Langevin | disagree % | lowest energy "
    "| noiseless single | zero start | candidate 0 | oracle % | lowest-E right when disagree % |"
)
DYNAMIC_HEAD = (
    "| checkpoint | part | split | tolerance | mean steps | steps, right tokens "
    "| steps, wrong tokens | Spearman(steps, NLL) | accuracy at stop % |"
)


def markdown(results: dict) -> str:
    lines = ["# Character-level EBTs: steps and best-of-N", "", __doc__.split("\n\n", 2)[2], ""]
    curve, spread_rows, dynamic_rows = [], [], []
    for res in results["checkpoints"]:
        for part, splits in res["parts"].items():
            for split, r in splits.items():
                curve.append(_curve_line(res["checkpoint"], part, split, r))
                spread_rows += _spread_lines(res["checkpoint"], part, split, r)
                dynamic_rows += _dynamic_lines(res["checkpoint"], part, split, r)
    lines += ["## Perplexity vs steps (single noiseless sample)", ""]
    lines += [
        "| checkpoint | part | split | ppl at steps | lowest at | energy AUROC (default steps) |",
        "|---" * 6 + "|",
    ]
    lines += [*curve, "", f"## Best-of-{CANDIDATES} at the default steps (accuracy % / ppl)", ""]
    lines += [SPREAD_HEAD, "|---" * 12 + "|", *spread_rows, ""]
    lines += ["## Dynamic compute: steps used under an early-stop tolerance (up to 32)", ""]
    lines += [DYNAMIC_HEAD, "|---" * 9 + "|", *dynamic_rows, "", "## Picks", "", "```json"]
    lines += [json.dumps({r["checkpoint"]: _picks(r) for r in results["checkpoints"]}, indent=1)]
    return "\n".join([*lines, "```"]) + "\n"


def _picks(res: dict) -> dict:
    return {
        part: {
            "steps_pick": res["steps_pick"][part],
            **{k: splits["id"].get(k) for k in ("preset_pick", "exact_match")},
        }
        for part, splits in res["parts"].items()
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description="Steps and best-of-N of the character-level EBTs.")
    p.add_argument("--out", default="runs/spread", help="report directory")
    p.add_argument("--quick", action="store_true", help="16 rows per part, 20 sums")
    p.add_argument("--rows", type=int, help=f"held-out rows per split and part (default {ROWS})")
    p.add_argument("--examples", type=int, default=200, help="arith sums for exact match")
    p.add_argument("--checkpoints", default="arith-ebt,english-ebt", help="comma-separated")
    args = p.parse_args(argv)
    t0, wanted = time.time(), args.checkpoints.split(",")
    results = {"candidates": CANDIDATES, "rows": {}, "checkpoints": []}
    for corpus_name, name in CHECKPOINTS:
        if name not in wanted:
            continue
        rows = 16 if args.quick else args.rows or ROWS[name]
        results["rows"][name] = rows
        examples = 20 if args.quick else args.examples
        results["checkpoints"].append(measure(corpus_name, name, rows, examples))
    results["seconds"] = round(time.time() - t0, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    (out / "README.md").write_text(markdown(results), encoding="utf-8")
    return results


if __name__ == "__main__":
    from .cli import run

    run(main)

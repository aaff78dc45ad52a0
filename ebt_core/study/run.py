"""The study on the shipped checkpoints: perplexity of EBTs vs Transformer++, thinking longer,
self-verification, the thinking gain vs distribution shift, energy-vs-loss calibration, the
energy as a verifier (AUROC), exact match on arithmetic, and image denoising vs the DiT.

    python -m ebt_core.study --out assets/report   # full: regenerates the shipped report
                                                   # (results.json, README.md, PNG plots)
    python -m ebt_core.study            # the same into runs/study/ (git-ignored)
    python -m ebt_core.study --quick    # smaller held-out sets (< 5 min on 2 CPU cores)
    python -m ebt_core.study --json     # also print one JSON line of the headline numbers
    python -m ebt_core.study --only points --out assets/report   # the point EBT's ablation
    python -m ebt_core.study --only answer --out assets/report   # the whole-answer EBTs
    python -m ebt_core.study --only spread --out assets/report   # text EBTs: steps, best-of-N

"Thinking longer" = 2× the checkpoint's default steps vs the default; "self-verification" =
best-of-N (N=4, lowest final energy) at 2× the default steps. Gains are % perplexity lowered.
Size flags (--rows, --examples, --sweep-rows, --photos, --size) shrink the study further.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..checkpoint import CheckpointError, load, read_metrics
from ..image.data import HELDOUT_IMAGES, ID_LEVEL, OOD_LEVEL, load_photo
from ..text.data import get_corpus
from . import cli, report
from . import measures as ev

PAIRS = (
    ("arith", "arith-ebt", "arith-transformer"),
    ("english", "english-ebt", "english-transformer"),
)
# Difficulty sweep of arith-ebt: addition operands of these digit counts (1–3 = training range).
SWEEP = (("1–3 (ID)", (1, 3)), ("3", (3, 3)), ("4", (4, 4)), ("5", (5, 5)))
BON = 4  # best-of-N for self-verification
HEADLINE_TEXT = ("english-ebt", "arith-ebt")  # whose thinking gains head the JSON, first found
CALIBRATION_POINTS = 300  # per step, kept in results.json for the scatter plot
DEFAULT_OUT = "runs/study"  # git-ignored; `--out assets/report` regenerates the shipped one


@dataclass(frozen=True)
class StudySize:
    rows: int = 256  # eval rows per split (perplexity)
    examples: int = 300  # arith prompts per split (exact match, verifier AUROC)
    sweep_rows: int = 128  # eval rows per difficulty level
    photos: int = 3  # held-out photos
    size: tuple[int, int] = (97, 131)  # crop of each photo: odd, so tiles overlap
    ebt_steps: int = 6  # image EBT steps in the PSNR-vs-passes curve

    def __post_init__(self) -> None:
        for name in ("rows", "examples", "sweep_rows", "ebt_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.photos < 0:
            raise ValueError(f"photos must be >= 0 (0 skips images), got {self.photos}")
        if not all(8 <= side <= 1024 for side in self.size):
            raise ValueError(f"size must be two sides in 8..1024, got {list(self.size)}")


FULL = StudySize()
QUICK = StudySize(rows=48, examples=60, sweep_rows=24, photos=1, size=(64, 96), ebt_steps=4)


def _gain(base: float, new: float) -> float:
    return round(100.0 * (base - new) / base, 2)


def _r(x: float, digits: int = 4) -> float | None:
    return round(x, digits) if math.isfinite(x) else None


def _iters(name: str) -> int | None:
    """The iterations of the checkpoint's last training stage (its metrics' last row)."""
    rows = read_metrics(name)
    return rows[-1].get("iter") if rows else None


RECIPES = Path(__file__).resolve().parents[2] / "train" / "recipes"


def _training(model, name: str) -> str:
    """The iterations of every training stage, the first one first ("8000 + 500 iterations"):
    a stage that starts from another run (`init_from: runs/NAME`) adds the iterations of
    train/recipes/NAME.json, and so on ("?" for a stage whose recipe is not there)."""
    stages, init, seen = [_iters(name) or model.recipe.get("iters", "?")], None, set()
    init = model.recipe.get("init_from")
    while init and init not in seen and len(seen) < 64:  # `seen` stops a cycle; 64: a bound
        seen.add(init)
        file = RECIPES / f"{Path(init).name}.json"
        try:
            base = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stages.append("?")
            break
        stages.append(base.get("iters", "?"))
        init = base.get("init_from")
    return " + ".join(str(n) for n in reversed(stages)) + " iterations"


# ---- text -----------------------------------------------------------------------------------
def perplexities(model, baseline, ids, mask, default: int) -> tuple[dict, ev.DescentStats]:
    """Transformer++ vs EBT perplexity on one batch: per step up to 2× default, best-of-N."""
    stats = ev.descent_stats(model, ids, mask, 2 * default, samples=BON)
    per_step = [ev.ppl(stats.mean_nll(s)) for s in range(1, 2 * default + 1)]
    s = {
        "tf_ppl": _r(ev.ppl(ev.transformer_nll(baseline, ids, mask))) if baseline else None,
        "ebt_ppl_1": _r(per_step[0]),
        "ebt_ppl_default": _r(per_step[default - 1]),
        "ebt_ppl_2x": _r(per_step[-1]),
        "ebt_ppl_2x_bon4": _r(ev.ppl(stats.best_of_n_nll(BON))),
        "ebt_ppl_per_step": [_r(x) for x in per_step],
        "ebt_ppl_bon_n": [_r(ev.ppl(stats.best_of_n_nll(n))) for n in range(1, BON + 1)],
    }
    s["think_gain_pct"] = _gain(s["ebt_ppl_default"], s["ebt_ppl_2x"])
    s["bon_gain_pct"] = _gain(s["ebt_ppl_default"], s["ebt_ppl_2x_bon4"])
    return s, stats


def calibration(stats: ev.DescentStats, points: int = CALIBRATION_POINTS) -> dict:
    """Per-token energy vs NLL at every state of the first candidate (step 0 = random start)."""
    out = {"step": [], "spearman": [], "mean_energy": [], "mean_nll": [], "points": []}
    rng = np.random.default_rng(0)
    for step in range(stats.steps + 1):
        energy, nll = stats.calibration(step)
        keep = rng.permutation(len(energy))[:points]
        out["step"].append(step)
        out["spearman"].append(_r(ev.spearman(energy, nll)))
        out["mean_energy"].append(_r(float(energy.mean())))
        out["mean_nll"].append(_r(float(nll.mean())))
        out["points"].append([[_r(float(energy[i])), _r(float(nll[i]))] for i in keep])
    return out


def verifier(model, corpus, n: int) -> tuple[dict, dict]:
    """Exact match and the energy as a verifier on held-out sums (ID 1–3, OOD 4–5 digits)."""
    per_split, pooled = {}, ([], [])
    for split, digits in (("id", (1, 3)), ("ood", (4, 5))):
        examples = corpus.examples(split, n, seed=99, digits=digits)
        runs = ev.think_examples(model, examples)
        energy, wrong = ev.verifier_tokens(runs, examples)
        pooled[0].append(energy)
        pooled[1].append(wrong)
        per_split[split] = {
            "examples": examples,
            "ebt_exact_match": _r(ev.run_exact_match(runs, examples)),
            "energy_auroc": _r(ev.auroc(energy, wrong)),
        }
    energy, wrong = np.concatenate(pooled[0]), np.concatenate(pooled[1])
    id_auroc = per_split["id"]["energy_auroc"]
    edges = np.histogram_bin_edges(energy, bins=30)
    summary = {
        "energy_auroc": id_auroc if id_auroc is not None else _r(ev.auroc(energy, wrong)),
        "auroc_tokens": "id" if id_auroc is not None else "id+ood",
        "auroc_id": id_auroc,
        "auroc_ood": per_split["ood"]["energy_auroc"],
        "auroc_pooled": _r(ev.auroc(energy, wrong)),
        "tokens": int(len(wrong)),
        "wrong": int(wrong.sum()),
        "hist_edges": [_r(float(x)) for x in edges],
        "hist_correct": np.histogram(energy[~wrong], edges)[0].tolist(),
        "hist_wrong": np.histogram(energy[wrong], edges)[0].tolist(),
    }
    return per_split, summary


def shift_sweep(model, baseline, corpus, rows: int, length: int, default: int) -> list[dict]:
    """Thinking gains of an arith EBT at growing operand sizes (distribution shift)."""
    out = []
    for label, digits in SWEEP:
        ids, mask = corpus.eval_batch("id", rows, length, seed=4321, digits=digits)
        s, _ = perplexities(model, baseline, ids, mask, default)
        s.pop("ebt_ppl_bon_n")
        out.append({"level": label, "digits": list(digits), **s})
    return out


def text_study(corpus_name: str, ebt_name: str, tf_name: str, size: StudySize) -> dict:
    corpus = get_corpus(corpus_name)
    model = load(ebt_name)
    try:
        baseline = load(tf_name)
    except CheckpointError:
        baseline = None
    length = model.recipe.get("length", 64)
    default = model.think_defaults.steps
    out = {
        "checkpoint": ebt_name,
        "baseline": tf_name if baseline else None,
        "iters": _iters(ebt_name),
        "baseline_iters": _iters(tf_name) if baseline else None,
        "training": _training(model, ebt_name),
        "baseline_training": _training(baseline, tf_name) if baseline else None,
        "default_steps": default,
    }
    for split in ("id", "ood"):
        ids, mask = corpus.eval_batch(split, size.rows, length, seed=4321)
        out[split], stats = perplexities(model, baseline, ids, mask, default)
        if split == "id":
            out["calibration"] = calibration(stats)
    if corpus_name == "arith" and size.examples:
        per_split, out["verifier"] = verifier(model, corpus, size.examples)
        for split, r in per_split.items():
            out[split]["ebt_exact_match"] = r["ebt_exact_match"]
            out[split]["energy_auroc"] = r["energy_auroc"]
            if baseline:
                em = ev.transformer_exact_match(baseline, r["examples"])
                out[split]["tf_exact_match"] = _r(em)
    if corpus_name == "arith" and size.sweep_rows:
        out["sweep"] = shift_sweep(model, baseline, corpus, size.sweep_rows, length, default)
    return out


# ---- images ---------------------------------------------------------------------------------
def _mse(psnr_db: float) -> float:
    return 255.0**2 / 10 ** (psnr_db / 10)


def _fair(curves: list) -> dict:
    """The EBT at 2 steps beside the DiT at the same network passes and at its best pass count
    (mean PSNR over the photos), with mean wall-clock seconds of each run."""
    mean = lambda xs: round(float(np.mean(xs)), 3)
    passes = curves[0].ebt_passes[1]  # 2 steps = 3 passes
    dit = [mean([c.dit_psnr[i] for c in curves]) for i in range(len(curves[0].dit_passes))]
    best = int(np.argmax(dit))
    equal = curves[0].dit_passes.index(passes) if passes in curves[0].dit_passes else None
    row = {"passes": passes, "ebt": mean([c.ebt_psnr[1] for c in curves])}
    row["ebt_s"] = mean([c.ebt_seconds[1] for c in curves])
    if equal is not None:
        row["dit_equal"] = dit[equal]
        row["dit_equal_s"] = mean([c.dit_seconds[equal] for c in curves])
    row["dit_best"], row["dit_best_passes"] = dit[best], curves[0].dit_passes[best]
    row["dit_best_s"] = mean([c.dit_seconds[best] for c in curves])
    return row


def image_study(size: StudySize = FULL) -> dict:
    """PSNR on odd-sized crops of the held-out photos at the ID (0.1) and OOD (0.2) levels: the
    EBT at its default 2 steps, the DiT at every timestep (the paper's setting), at the EBT's
    network passes and at its best (`fair`, with seconds), and both vs network passes."""
    ebt_model, dit = load("image-ebt"), load("image-dit")
    photos = HELDOUT_IMAGES[: size.photos]
    h, w = size.size
    out = {"size": [h, w], "photos": list(photos), "iters": _iters("image-ebt")}
    out["dit_iters"] = _iters("image-dit")
    out["training"] = _training(ebt_model, "image-ebt")
    out["dit_training"] = _training(dit, "image-dit")
    for split, level in (("id", ID_LEVEL), ("ood", OOD_LEVEL)):
        curves = [
            ev.psnr_vs_passes(
                ebt_model,
                dit,
                load_photo(name)[40 : 40 + h, 60 : 60 + w],
                level,
                ebt_steps=size.ebt_steps,
            )
            for name in photos
        ]
        rows = {
            "noisy": [c.noisy for c in curves],
            "ebt": [c.ebt_psnr[1] for c in curves],  # 2 steps, the paper's test setting
            "dit": [c.dit_psnr[-1] for c in curves],  # every timestep
        }
        r = {k: round(float(np.mean(v)), 3) for k, v in rows.items()}
        r["mse_ebt"] = round(float(np.mean([_mse(x) for x in rows["ebt"]])), 2)
        r["mse_dit"] = round(float(np.mean([_mse(x) for x in rows["dit"]])), 2)
        r["per_photo"] = {k: [round(x, 2) for x in v] for k, v in rows.items()}
        r["curve"] = {
            "ebt_passes": curves[0].ebt_passes,
            "ebt_psnr": [round(float(x), 3) for x in np.mean([c.ebt_psnr for c in curves], 0)],
            "dit_passes": curves[0].dit_passes,
            "dit_psnr": [round(float(x), 3) for x in np.mean([c.dit_psnr for c in curves], 0)],
        }
        r["fair"] = _fair(curves)
        out[split] = r
        out["passes_ebt"] = curves[0].ebt_passes[1]
        out[f"passes_dit_{split}"] = curves[0].dit_passes[-1]
    return out


# ---- the study ------------------------------------------------------------------------------
def headline(results: dict) -> dict:
    """The one-line JSON summary. The thinking gains come from `english-ebt`: the paper measures
    them on language modelling, and the english corpus (OOD = another kind of English) is our
    analogue; `gains_by_checkpoint` has every text EBT's. AUROC, exact match and the shift sweep
    come from `arith-ebt` (held-out arithmetic)."""
    head: dict = {"quick": results["quick"], "seconds": results["seconds"]}
    studies = {s["checkpoint"]: s for s in results["text"]}
    gains = {
        name: {
            f"{kind}_gain_{split}_pct": s[split][f"{kind}_gain_pct"]
            for kind in ("think", "bon")
            for split in ("id", "ood")
        }
        for name, s in studies.items()
    }
    main = next((name for name in HEADLINE_TEXT if name in gains), None)
    if main:
        head["text_checkpoint"] = main
        head.update(gains[main])
        head["gains_by_checkpoint"] = gains
    arith = studies.get("arith-ebt")
    if arith:
        head["think_gain_by_digits_pct"] = {
            s["level"]: s["think_gain_pct"] for s in arith.get("sweep", [])
        }
        if "verifier" in arith:
            head["energy_auroc"] = arith["verifier"]["energy_auroc"]
            head["exact_match_ebt_id"] = arith["id"]["ebt_exact_match"]
        head["ppl_ebt_id"], head["ppl_tf_id"] = (
            arith["id"]["ebt_ppl_default"],
            arith["id"]["tf_ppl"],
        )
    img = results.get("image")
    if img:
        for split in ("id", "ood"):
            head[f"psnr_ebt_{split}"] = img[split]["ebt"]
            head[f"psnr_dit_{split}"] = img[split]["dit"]
        head["passes_ebt"], head["passes_dit"] = img["passes_ebt"], img["passes_dit_id"]
    return head


# the studies of the other kinds (ebt_core/study/points.py, answer.py) and the character-level
# EBTs' steps and best-of-N (spread.py), reached with --only
KIND_STUDIES = ("points", "answer", "spread")


def run_study(size: StudySize, only: str | None = None, quick: bool = False) -> dict:
    start = time.time()
    results: dict = {"quick": quick, "date": datetime.date.today().isoformat(), "text": []}
    results["size"] = {k: list(v) if isinstance(v, tuple) else v for k, v in size.__dict__.items()}
    for corpus_name, ebt_name, tf_name in PAIRS if only != "image" else ():
        try:
            results["text"].append(text_study(corpus_name, ebt_name, tf_name, size))
        except CheckpointError as err:
            print(f"skipped {ebt_name}: {err}")
    if only != "text" and size.photos:
        try:
            results["image"] = image_study(size)
        except CheckpointError as err:
            print(f"skipped images: {err}")
    results["seconds"] = round(time.time() - start, 1)
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller held-out sets")
    parser.add_argument("--json", action="store_true", help="print one JSON line of headlines")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"report folder (default {DEFAULT_OUT})")
    parser.add_argument(
        "--only",
        choices=("text", "image", *KIND_STUDIES),
        help="run one part: text or image of this study, the point / answer EBT study or the "
        "text EBTs' steps and best-of-N (written to OUT/points, OUT/answer or OUT/spread)",
    )
    parser.add_argument("--rows", type=int, help="eval rows per split (perplexity)")
    parser.add_argument("--examples", type=int, help="arith prompts per split (exact match)")
    parser.add_argument("--sweep-rows", type=int, help="eval rows per difficulty level")
    parser.add_argument("--photos", type=int, help="held-out photos (0 skips images)")
    parser.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help="photo crop")
    parser.add_argument("--ebt-steps", type=int, help="image EBT steps in the passes curve")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.only in KIND_STUDIES:  # a study of its own: its module, its folder under --out
        study = importlib.import_module(f"{__package__}.{args.only}")
        return study.main(["--out", str(Path(args.out) / args.only)] + ["--quick"] * args.quick)
    size = QUICK if args.quick else FULL
    overrides = {
        k: tuple(v) if k == "size" else v
        for k in ("rows", "examples", "sweep_rows", "photos", "size", "ebt_steps")
        if (v := getattr(args, k)) is not None
    }
    size = replace(size, **overrides)
    results = run_study(size, args.only, args.quick)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(report.dump_json(results) + "\n", encoding="utf-8")
    plots = report.plots(results, out)
    (out / "README.md").write_text(report.markdown(results, plots), encoding="utf-8")
    print(report.summary(results))
    if args.json:
        print(json.dumps(headline(results), allow_nan=False))
    return results


def cli_main() -> None:
    cli.run(main)


if __name__ == "__main__":
    cli_main()

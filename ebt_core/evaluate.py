"""The study on the shipped checkpoints: perplexity of EBTs vs Transformer++, thinking longer,
self-verification, exact match on arithmetic.

    python -m ebt_core.evaluate            # full: writes assets/report/results.json + README.md
    python -m ebt_core.evaluate --quick    # smaller held-out sets
    python -m ebt_core.evaluate --json     # also print one JSON line of the headline numbers

"Thinking longer" = 2× the checkpoint's default steps vs the default; "self-verification" =
best-of-N (N=4, lowest final energy) at 2× the default steps. Gains are % perplexity lowered.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from . import evaluation as ev
from .checkpoint import CheckpointError, load
from .data import get_corpus
from .denoise import DenoiseConfig, denoise
from .image_data import HELDOUT_IMAGES, load_photo

PAIRS = (
    ("arith", "arith-ebt", "arith-transformer"),
    ("english", "english-ebt", "english-transformer"),
)
REPORT = Path(__file__).resolve().parent.parent / "assets" / "report"


def _gain(base: float, new: float) -> float:
    return round(100.0 * (base - new) / base, 2)


def text_study(corpus_name: str, ebt_name: str, tf_name: str, rows: int, n_examples: int) -> dict:
    corpus = get_corpus(corpus_name)
    model, baseline = load(ebt_name), load(tf_name)
    length = model.recipe.get("length", 64)
    default = model.think_defaults.steps
    out = {"checkpoint": ebt_name, "baseline": tf_name, "default_steps": default}
    for split in ("id", "ood"):
        ids, mask = corpus.eval_batch(split, rows, length, seed=4321)
        per_step, bon = ev.ebt_nll(model, ids, mask, 2 * default, samples=4)
        s = {
            "tf_ppl": round(ev.ppl(ev.transformer_nll(baseline, ids, mask)), 4),
            "ebt_ppl_1": round(ev.ppl(per_step[0]), 4),
            "ebt_ppl_default": round(ev.ppl(per_step[default - 1]), 4),
            "ebt_ppl_2x": round(ev.ppl(per_step[-1]), 4),
            "ebt_ppl_2x_bon4": round(ev.ppl(bon), 4),
            "ebt_ppl_per_step": [round(ev.ppl(x), 4) for x in per_step],
        }
        s["think_gain_pct"] = _gain(s["ebt_ppl_default"], s["ebt_ppl_2x"])
        s["bon_gain_pct"] = _gain(s["ebt_ppl_default"], s["ebt_ppl_2x_bon4"])
        out[split] = s
    if corpus_name == "arith" and n_examples:
        for split, digits in (("id", (1, 3)), ("ood", (4, 5))):
            examples = corpus.examples(split, n_examples, seed=99, digits=digits)
            out[split]["ebt_exact_match"] = round(ev.exact_match(model, examples), 4)
            out[split]["tf_exact_match"] = round(ev.transformer_exact_match(baseline, examples), 4)
    return out


def image_study(size: tuple[int, int] = (97, 131)) -> dict:
    """PSNR on odd-sized crops of the held-out photos at the ID (0.1) and OOD (0.2) levels."""
    ebt_model, dit = load("image-ebt"), load("image-dit")
    out = {"size": list(size), "photos": list(HELDOUT_IMAGES)}
    for split, level in (("id", 0.1), ("ood", 0.2)):
        rows = {"noisy": [], "ebt": [], "dit": []}
        for name in HELDOUT_IMAGES:
            photo = load_photo(name)[40 : 40 + size[0], 60 : 60 + size[1]]
            cfg = DenoiseConfig(noise=level, seed=0)
            e, d = denoise(ebt_model, photo, cfg), denoise(dit, photo, cfg)
            rows["noisy"].append(e.psnr[0])
            rows["ebt"].append(e.psnr[-1])
            rows["dit"].append(d.psnr[-1])
            out["passes_ebt"], out[f"passes_dit_{split}"] = e.passes, d.passes
        out[split] = {k: round(sum(v) / len(v), 3) for k, v in rows.items()}
        out[split]["per_photo"] = {k: [round(x, 2) for x in v] for k, v in rows.items()}
    return out


def markdown(results: dict) -> str:
    lines = [
        "| checkpoint | split | Transformer++ ppl | EBT ppl, 1 step | EBT ppl, default "
        "steps | EBT ppl, 2× steps | EBT 2× + best-of-4 | exact match EBT / TF |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for study in results["text"]:
        d = study["default_steps"]
        for split in ("id", "ood"):
            s = study[split]
            em = (
                f"{s['ebt_exact_match']:.1%} / {s['tf_exact_match']:.1%}"
                if "ebt_exact_match" in s
                else "–"
            )
            lines.append(
                f"| {study['checkpoint']} | {split.upper()} | {s['tf_ppl']:.3f} | "
                f"{s['ebt_ppl_1']:.3f} | {s['ebt_ppl_default']:.3f} ({d}) | "
                f"{s['ebt_ppl_2x']:.3f} ({2 * d}) | {s['ebt_ppl_2x_bon4']:.3f} | {em} |"
            )
    img = results.get("image")
    if img:
        lines += [
            "",
            "| held-out photos (PSNR dB) | noisy input | EBT | DiT |",
            "|---|---|---|---|",
        ]
        for split in ("id", "ood"):
            r = img[split]
            lines.append(
                f"| {split.upper()} (level {0.1 if split == 'id' else 0.2}) | "
                f"{r['noisy']:.2f} | {r['ebt']:.2f} ({img['passes_ebt']} passes) | "
                f"{r['dit']:.2f} ({img[f'passes_dit_{split}']} passes) |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller held-out sets")
    parser.add_argument("--json", action="store_true", help="print one JSON line of headlines")
    parser.add_argument("--out", default=str(REPORT), help="report folder")
    parser.add_argument("--only", choices=("text", "image"), help="run one half of the study")
    args = parser.parse_args(argv)
    rows, n_examples = (64, 50) if args.quick else (256, 300)
    start = time.time()
    results = {"quick": args.quick, "text": []}
    for corpus_name, ebt_name, tf_name in PAIRS if args.only != "image" else ():
        try:
            results["text"].append(text_study(corpus_name, ebt_name, tf_name, rows, n_examples))
        except CheckpointError as err:
            print(f"skipped {ebt_name}: {err}")
    try:
        if args.only != "text":
            results["image"] = image_study()
    except CheckpointError as err:
        print(f"skipped images: {err}")
    results["seconds"] = round(time.time() - start, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (out / "README.md").write_text("# Evaluation report\n\n" + table + "\n")
    print(table)
    if args.json:
        arith = next((s for s in results["text"] if s["checkpoint"] == "arith-ebt"), None)
        head = {}
        if arith:
            head = {
                "think_gain_id_pct": arith["id"]["think_gain_pct"],
                "think_gain_ood_pct": arith["ood"]["think_gain_pct"],
                "bon_gain_id_pct": arith["id"]["bon_gain_pct"],
                "bon_gain_ood_pct": arith["ood"]["bon_gain_pct"],
            }
        img = results.get("image")
        if img:
            head.update(
                {
                    "psnr_ebt_id": img["id"]["ebt"],
                    "psnr_dit_id": img["id"]["dit"],
                    "psnr_ebt_ood": img["ood"]["ebt"],
                    "psnr_dit_ood": img["ood"]["dit"],
                    "passes_ebt": img["passes_ebt"],
                    "passes_dit": img["passes_dit_id"],
                }
            )
        print(json.dumps(head))
    return results


if __name__ == "__main__":
    main()

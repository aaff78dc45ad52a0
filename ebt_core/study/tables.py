"""The tables of the study's report (markdown rows), each built from the results dict alone."""

from __future__ import annotations

import math
from collections.abc import Iterable


def fmt(x, spec: str = ".3f", none: str = "–") -> str:
    """A number for a table cell; None or a non-finite float as `none`."""
    return none if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    """A markdown table: the header row, its rule, then one line per row of cells."""
    lines = [_row(header), "|" + "---|" * len(header)]
    return lines + [_row(cells) for cells in rows]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


# ---- the study's tables ---------------------------------------------------------------------
TEXT_COLUMNS = ["checkpoint", "split", "Transformer++ ppl", "EBT ppl, 1 step",
                "EBT ppl, default steps", "EBT ppl, 2× steps", "EBT 2× + best-of-4",
                "exact match EBT / TF", "energy AUROC"]  # fmt: skip
SWEEP_COLUMNS = ["operand digits", "Transformer++ ppl", "EBT ppl, default", "EBT ppl, 2×",
                 "EBT 2× + best-of-4", "thinking longer", "+ self-verification"]  # fmt: skip
CALIBRATION_COLUMNS = ["state", "mean energy", "mean NLL", "Spearman ρ (energy, NLL)"]
IMAGE_COLUMNS = ["held-out photos", "noisy PSNR", "EBT PSNR (2 steps)",
                 "DiT PSNR (every timestep)", "EBT / DiT MSE", "passes EBT / DiT"]  # fmt: skip


def text_table(results: dict) -> list[str]:
    rows = [_text_row(study, split) for study in results["text"] for split in ("id", "ood")]
    return table(TEXT_COLUMNS, rows)


def _text_row(study: dict, split: str) -> list[str]:
    d, s = study["default_steps"], study[split]
    em = "–"
    if "ebt_exact_match" in s:
        em = f"{s['ebt_exact_match']:.1%} / {fmt(s.get('tf_exact_match'), '.1%')}"
    return [study["checkpoint"], split.upper(), fmt(s["tf_ppl"]), f"{s['ebt_ppl_1']:.3f}",
            f"{s['ebt_ppl_default']:.3f} ({d})", f"{s['ebt_ppl_2x']:.3f} ({2 * d})",
            f"{s['ebt_ppl_2x_bon4']:.3f}", em, fmt(s.get("energy_auroc"))]  # fmt: skip


def sweep_table(study: dict) -> list[str]:
    rows = (
        [s["level"], fmt(s["tf_ppl"]), f"{s['ebt_ppl_default']:.3f}", f"{s['ebt_ppl_2x']:.3f}",
         f"{s['ebt_ppl_2x_bon4']:.3f}", f"{s['think_gain_pct']:+.2f} %",
         f"{s['bon_gain_pct']:+.2f} %"]
        for s in study["sweep"]
    )  # fmt: skip
    return table(SWEEP_COLUMNS, rows)


def calibration_table(cal: dict) -> list[str]:
    columns = zip(cal["step"], cal["mean_energy"], cal["mean_nll"], cal["spearman"])
    rows = ([_state(step), f"{e:.4f}", f"{n:.4f}", fmt(rho)] for step, e, n, rho in columns)
    return table(CALIBRATION_COLUMNS, rows)


def _state(step: int) -> str:
    return "random start" if step == 0 else f"after {step} step{'s' * (step > 1)}"


def image_table(img: dict) -> list[str]:
    rows = (
        [f"{split.upper()} (level {level})", f"{r['noisy']:.2f}", f"{r['ebt']:.2f}",
         f"{r['dit']:.2f}", f"{r['mse_ebt']:.1f} / {r['mse_dit']:.1f}",
         f"{img['passes_ebt']} / {img[f'passes_dit_{split}']}"]
        for split, level in (("id", 0.1), ("ood", 0.2))
        for r in [img[split]]
    )  # fmt: skip
    return table(IMAGE_COLUMNS, rows)


FAIR_COLUMNS = ["held-out photos", "EBT (2 steps)", "DiT, same passes", "DiT at its best"]


def fair_table(img: dict) -> list[str]:
    """EBT vs DiT at equal network passes and at the DiT's best, PSNR (dB) with seconds."""
    rows = []
    for split, level in (("id", 0.1), ("ood", 0.2)):
        f = img[split].get("fair")
        if not f:
            continue
        equal = f"{f['dit_equal']:.2f} dB, {f['dit_equal_s']:.2f} s" if "dit_equal" in f else "n/a"
        rows.append([
            f"{split.upper()} (level {level})",
            f"{f['ebt']:.2f} dB, {f['passes']} passes, {f['ebt_s']:.2f} s",
            equal,
            f"{f['dit_best']:.2f} dB, {f['dit_best_passes']} passes, {f['dit_best_s']:.2f} s",
        ])  # fmt: skip
    return table(FAIR_COLUMNS, rows) if rows else []


def curve_line(r: dict) -> str:
    """PSNR vs passes of both models as one line: `passes: dB` pairs."""
    c = r["curve"]
    ebt, dit = (
        ", ".join(f"{p}: {x:.2f}" for p, x in zip(c[f"{m}_passes"], c[f"{m}_psnr"]))
        for m in ("ebt", "dit")
    )
    return f"EBT (passes: dB) {ebt}; DiT {dit}"

"""The paper's numbers (reference §5, Gladstone et al., 2025) beside ours: the comparison table
of the study's report, one row per claim with a plain verdict. Reads the results dict only."""

from __future__ import annotations

from .tables import fmt

PAPER = {
    "think_gain_pct": 7.19,
    "bon_gain_pct": 18.7,
    "ppl_ebt": 33.43,
    "ppl_tf": 31.36,
    "psnr_id": (27.25, 26.58),  # (EBT, DiT)
    "psnr_ood": (23.29, 19.56),
    "mse_id": (122.55, 142.98),
    "mse_ood": (305.2, 718.7),
    "fewer_passes_pct": 99,
    "downstream": "GSM8K 43.3 vs 49.6, BigBench Math QA 72.6 vs 79.8, Dyck 125.3 vs 131.5",
}


def comparison(results: dict) -> list[str]:
    """Rows: each §5 number, ours beside it, and a plain verdict."""
    arith = next((s for s in results["text"] if s["checkpoint"] == "arith-ebt"), None)
    lines = ["| claim (reference §5) | paper | ours | verdict |", "|---|---|---|---|"]
    for study in results["text"]:
        lines += [_gain_row(study, key, label) for key, label in GAINS]
    if arith and arith.get("sweep"):
        lines.append(_shift_row(arith["sweep"]))
    lines += [_ppl_row(s) for s in results["text"] if s["id"]["tf_ppl"]]
    lines += [_ood_row(s) for s in results["text"] if s["ood"]["tf_ppl"]]
    if results.get("image"):
        lines += _image_rows(results["image"])
    if arith and "verifier" in arith:
        lines.append(_verifier_row(arith["verifier"]))
    return lines


# ---- text -----------------------------------------------------------------------------------
GAINS = (("think_gain_pct", "thinking longer"), ("bon_gain_pct", "+ self-verification (best-of-4)"))


def _direction(gain: float) -> str:
    if gain > 0.5:
        return "helps"
    return "hurts" if gain < -0.5 else "no measurable effect"


def _gain_row(study: dict, key: str, label: str) -> str:
    ours = {s: study[s][key] for s in ("id", "ood")}
    verdict = (
        f"ID {_direction(ours['id'])}, OOD {_direction(ours['ood'])}; the paper's gain is "
        f"positive and larger OOD"
    )
    if ours["id"] > 0 and ours["ood"] > ours["id"]:
        verdict = "same direction (helps, more OOD)"
    elif min(ours.values()) > 0:
        verdict = "helps in both, but less OOD than ID (paper: more OOD)"
    return (
        f"| {label}, % perplexity lowered (`{study['checkpoint']}`) | +{PAPER[key]} % | "
        f"ID {ours['id']:+.2f} %, OOD {ours['ood']:+.2f} % | {verdict} |"
    )


def _shift_row(sweep: list[dict]) -> str:
    gains = [s["think_gain_pct"] for s in sweep]
    listed = ", ".join(f"{s['level']}: {s['think_gain_pct']:+.2f} %" for s in sweep)
    grows = gains[-1] > gains[0]
    verdict = "grows with shift, as in the paper" if grows else "does not grow with shift"
    return (
        f"| thinking gain vs distribution shift (`arith-ebt`, operand digits) | grows roughly "
        f"linearly with shift | {listed} | {verdict} |"
    )


def _ppl_row(study: dict) -> str:
    paper_rel = 100 * (PAPER["ppl_ebt"] / PAPER["ppl_tf"] - 1)
    s = study["id"]
    rel = 100 * (s["ebt_ppl_default"] / s["tf_ppl"] - 1)
    verdict = "EBT worse, as in the paper" if rel > 0 else "EBT better (paper: worse)"
    if rel > 3 * paper_rel:
        verdict = f"EBT much worse than in the paper ({rel:.0f} % vs {paper_rel:.1f} %)"
    return (
        f"| EBT vs Transformer++ perplexity, same data and size (`{study['checkpoint']}`"
        f" ID) | {PAPER['ppl_ebt']} vs {PAPER['ppl_tf']} (+{paper_rel:.1f} %) | "
        f"{s['ebt_ppl_default']:.3f} vs {s['tf_ppl']:.3f} ({rel:+.1f} %) | {verdict} |"
    )


def _ood_row(study: dict) -> str:
    """The paper's downstream sets are shifted data too: compare with our OOD split."""
    s = study["ood"]
    better = s["ebt_ppl_default"] < s["tf_ppl"]
    return (
        f"| EBT vs Transformer++ perplexity out of distribution (`{study['checkpoint']}` "
        f"OOD; paper: downstream sets) | {PAPER['downstream']} (EBT better) | "
        f"{s['ebt_ppl_default']:.3f} vs {s['tf_ppl']:.3f} | "
        f"{'EBT better, as in the paper' if better else 'EBT worse (paper: better)'} |"
    )


def _verifier_row(v: dict) -> str:
    return (
        f"| final energy separates wrong from right answers (AUROC, `arith-ebt`, "
        f"{v['auroc_tokens'].upper()} tokens) | no number given | {fmt(v['energy_auroc'])} "
        f"({v['wrong']} wrong of {v['tokens']} characters) | 0.5 = chance, 1 = perfect |"
    )


# ---- images ---------------------------------------------------------------------------------
def _image_rows(img: dict) -> list[str]:
    lines = []
    for split in ("id", "ood"):
        lines += _denoise_rows(img[split], split)
    for split in ("id", "ood"):  # the paper compares with DDIM at every timestep only
        lines += _few_passes_row(img, split)
    fewer = [100 * (1 - img["passes_ebt"] / img[f"passes_dit_{s}"]) for s in ("id", "ood")]
    lines.append(
        f"| network passes, EBT vs DiT | {PAPER['fewer_passes_pct']} % fewer | "
        f"{img['passes_ebt']} vs {img['passes_dit_id']} / {img['passes_dit_ood']} "
        f"({fewer[0]:.1f} % / {fewer[1]:.1f} % fewer) | same order |"
    )
    return lines


def _denoise_rows(r: dict, split: str) -> list[str]:
    pe, pd = PAPER[f"psnr_{split}"]
    diff, pdiff = r["ebt"] - r["dit"], pe - pd
    verdict = (
        "EBT ahead, as in the paper"
        if diff > 0.1
        else ("a tie (paper: EBT ahead)" if diff > -0.1 else "DiT ahead (paper: EBT ahead)")
    )
    me, md = PAPER[f"mse_{split}"]
    return [
        f"| denoising PSNR EBT vs DiT, {split.upper()} | {pe} vs {pd} ({pdiff:+.2f} dB) | "
        f"{r['ebt']:.2f} vs {r['dit']:.2f} ({diff:+.2f} dB) | {verdict} |",
        f"| denoising MSE EBT vs DiT, {split.upper()} | {me} vs {md} | "
        f"{r['mse_ebt']:.1f} vs {r['mse_dit']:.1f} | "
        f"{'EBT lower' if r['mse_ebt'] < r['mse_dit'] else 'DiT lower'} |",
    ]


def _few_passes_row(img: dict, split: str) -> list[str]:
    """The DiT's best PSNR with no more passes than the EBT used (none if it needs more)."""
    c, ebt_psnr = img[split]["curve"], img[split]["ebt"]
    few = [(p, x) for p, x in zip(c["dit_passes"], c["dit_psnr"]) if p <= img["passes_ebt"]]
    if not few:
        return []
    p, x = max(few, key=lambda px: px[1])
    verdict = "EBT ahead" if ebt_psnr > x else "DiT ahead with as few passes"
    return [
        f"| DiT with no more passes than the EBT, {split.upper()} | not reported | "
        f"EBT {ebt_psnr:.2f} vs DiT {x:.2f} ({p} pass{'es' * (p > 1)}) | {verdict} |"
    ]

"""The study's report: results.json → README.md (the tables of tables.py, the paper's numbers
beside ours from paper.py) and PNG plots (plots.py; matplotlib, Agg backend, imported only when
plotting), all written into the study's `--out` folder.

Written by `python -m ebt_core.study`; everything here reads the results dict only, so a
report can be rebuilt from a saved results.json.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from . import tables
from .paper import comparison

PLOTS = {
    "ppl_vs_steps": "Perplexity vs descent steps (EBT) and the Transformer++ baseline",
    "gain_vs_shift": "Thinking gain vs distribution shift (arith-ebt, operand digits)",
    "calibration": "Per-token energy vs NLL at each descent step (arith-ebt, held-out ID)",
    "energy_verifier": "Final energy of correct vs wrong greedy characters (arith-ebt)",
    "psnr_vs_passes": "Denoising PSNR vs network passes (image-ebt vs image-dit)",
}
_NUMBERS = re.compile(r"\[\s*([-+0-9.eEnul, \n]*?)\s*\]")  # a list of numbers
_PAIRS = re.compile(r"\[\s*((?:\[[^\[\]\n]*\],?\s*)+)\]")  # a list of one-line lists


def dump_json(results: dict) -> str:
    """Indented JSON with lists of numbers (and lists of such lists) kept on one line."""
    text = json.dumps(results, indent=2, ensure_ascii=False)
    text = _NUMBERS.sub(lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
    return _PAIRS.sub(lambda m: "[" + " ".join(m.group(1).split()) + "]", text)


def _text(results: dict, name: str) -> dict | None:
    return next((s for s in results["text"] if s["checkpoint"] == name), None)


# ---- plots ----------------------------------------------------------------------------------
def plots(results: dict, out: Path) -> list[str]:
    """Write the PNGs the results allow; return their names (keys of PLOTS)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import plots as rp

    made = []
    for name, draw in (
        ("ppl_vs_steps", rp.ppl_vs_steps),
        ("gain_vs_shift", rp.gain_vs_shift),
        ("calibration", rp.calibration),
        ("energy_verifier", rp.energy_verifier),
        ("psnr_vs_passes", rp.psnr_vs_passes),
    ):
        fig = draw(plt, results)
        if fig is not None:
            fig.tight_layout()
            fig.savefig(Path(out) / f"{name}.png", dpi=110, bbox_inches="tight")
            plt.close(fig)
            made.append(name)
    return made


# ---- README ---------------------------------------------------------------------------------
def _checkpoints(results: dict) -> str:
    def training(study: dict, key: str, iters: str) -> str:  # (results.json before the stages)
        return study.get(key) or f"{study[iters]} iterations"

    parts = [
        f"`{s['checkpoint']}` ({training(s, 'training', 'iters')}) vs `{s['baseline']}` "
        f"({training(s, 'baseline_training', 'baseline_iters')})"
        for s in results["text"]
    ]
    img = results.get("image")
    if img:
        parts.append(
            f"`image-ebt` ({training(img, 'training', 'iters')}) vs `image-dit` "
            f"({training(img, 'dit_training', 'dit_iters')})"
        )
    return "; ".join(parts)


ABOUT = (
    "Perplexity counts answer characters for `arith` (held-out sums and bracket "
    "completions; OOD = 4–5 digit operands and 5–8 open brackets) and every character for "
    "`english` (held-out stdlib docstrings; OOD = Python's LICENSE). The JSON headline's "
    "thinking gains come from `english-ebt` (the paper measures them on language "
    'modelling), its verifier numbers from `arith-ebt`. "Thinking longer" = 2× the default '
    'descent steps vs the default; "self-verification" = best-of-4 (lowest final energy) '
    "at 2× steps. Only measured numbers appear here; what we did not measure is listed."
)
NOT_MEASURED = (
    "Not measured here (no comparable task or budget): downstream GSM8K / BigBench Math QA / "
    "Dyck / SQuAD perplexities, scaling rates, the linear probe. Our models are ~0.8 M "
    "parameters trained for about an hour on CPU; the paper's are 1000× larger."
)


def _header(results: dict) -> str:
    mode = "quick" if results["quick"] else "full"
    cmd = "python -m ebt_core.study" + (" --quick" if results["quick"] else "")
    return (
        f"Measured {results.get('date', '')} with `{cmd}` ({mode} study, {results['seconds']} s). "
        f"Checkpoints: {_checkpoints(results)}. Sizes: {results.get('size', {})}."
    )


def markdown(results: dict, made: list[str] = ()) -> str:
    """The report's README.md; `made`: the plots written beside it (keys of PLOTS)."""
    out = ["# Evaluation report", "", _header(results), "", ABOUT, ""]
    out += ["## The paper's numbers beside ours", "", *comparison(results), "", NOT_MEASURED]
    out += ["", "## Text: perplexity, exact match, energy as a verifier", ""]
    out += tables.text_table(results)
    arith = _text(results, "arith-ebt")
    if arith and arith.get("sweep"):
        out += ["", "## Thinking gain vs distribution shift (`arith-ebt`, additions only)", ""]
        out += tables.sweep_table(arith)
    if arith and arith.get("calibration"):
        out += ["", "## Calibration: does a lower energy mean a lower loss?", ""]
        out += tables.calibration_table(arith["calibration"])
        out += ["", "Per held-out ID answer character, first candidate, every descent state."]
    img = results.get("image")
    if img:
        h, w = img["size"]
        out += ["", f"## Images: denoising {h}×{w} crops of {', '.join(img['photos'])}", ""]
        out += tables.image_table(img)
        fair = tables.fair_table(img)
        if fair:
            out += ["", "At equal network passes and at the DiT's best (seconds per photo):"]
            out += ["", *fair]
        out += [
            "",
            f"- ID curve: {tables.curve_line(img['id'])}",
            f"- OOD curve: {tables.curve_line(img['ood'])}",
        ]
    if made:
        out += ["", "## Plots", ""]
        out += [f"![{PLOTS[n]}]({n}.png)\n\n{PLOTS[n]}.\n" for n in made]
    return "\n".join(out).rstrip() + "\n"


def summary(results: dict) -> str:
    """What the CLI prints: the comparison and the text table."""
    return "\n".join([*comparison(results), "", *tables.text_table(results)])

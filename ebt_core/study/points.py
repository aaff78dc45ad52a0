"""The paper's ablation in miniature, on the 2-D point EBT's fork task.

    python -m ebt_core.study.points --out runs/points      # ~5 min on 2 cores
    python -m ebt_core.study.points --quick --out /tmp/p    # seconds (tests)

Trains the full recipe and one variant per removed ingredient (randomised step size,
randomised number of steps, Langevin noise, replay buffer) plus the paper's plain objective
(loss on every descent's final point) and denoising score matching, all from the same seed and
iteration budget, then measures each on fresh fork contexts in distribution (shift 0) and out of
distribution (shift 1: the fork drawn in a part of the plane never seen in training):

- d(S, N): mean distance of the chosen point to the nearest true mode after S steps with N
  candidates (the lowest final energy is chosen);
- thinking-longer gain = 1 − d(8, 1)/d(2, 1) (%), best-of-N gain = 1 − d(8, 32)/d(2, 1) (%),
  the same shape as the paper's "thinking longer" and "+ self-verification" columns;
- share of the 32 candidates within 0.06 of each mode (and of either).

Writes results.json, README.md (the table beside the paper's, reference §5) and
landscapes.png (each variant's exact landscape at the same fork) to --out. It also measures
the shipped checkpoints (points-ebt, points-regressor) on the test split.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from ..checkpoint import CheckpointError, load
from ..config import ThinkConfig
from ..landscapes import point_landscape
from ..points.measures import candidate_metrics, chosen_distance, fork_contexts, fork_report
from ..points.training import PointRecipe, train_points

ROOT = Path(__file__).resolve().parent.parent.parent
RECIPE = ROOT / "train" / "recipes" / "points-ebt.json"
LANGEVIN, REPLAY = 0.02, 0.25  # what the full System 2 recipe adds to the shipped one
DSM_ALPHA = 0.02
FIGURE_HALF_WIDTH = 0.45  # around the modes' midpoint: the last context point and both modes
PAPER_ROWS = {  # reference §5: % perplexity improvement (thinking longer, + self-verification)
    "full": (7.19, 18.7),
    "no randomised step size": (-1.47, 0.19),
}


def variants(base: PointRecipe) -> dict[str, PointRecipe]:
    """The full System 2 recipe and one variant per removed ingredient / other objective."""
    full = replace(base, langevin=LANGEVIN, replay=REPLAY)
    middle = (full.steps_min + full.steps_max) // 2
    return {
        "full": full,
        "no randomised step size": replace(full, alpha_jitter=1.0),
        "no randomised steps": replace(full, steps_min=middle, steps_max=middle),
        "no Langevin": replace(full, langevin=0.0),
        "no replay buffer": replace(full, replay=0.0),
        "paper objective (final)": replace(full, objective="final", wta_relax=0.0),
        # score matching trains ∇E ≈ ε/σ²: a step of α = σ² lands on the data, so α is small
        "dsm": replace(full, objective="dsm", model={**full.model, "step_size": DSM_ALPHA}),
    }


def gains(model, n: int, shift: float) -> dict:
    """Thinking-longer and best-of-N gains and candidate shares on n fresh fork contexts."""
    contexts, modes = fork_contexts(n, "test", shift)
    base = model.think_defaults.to_dict()
    cfg = lambda steps, samples: ThinkConfig.from_dict({**base, "steps": steps, "samples": samples})  # noqa: E501, E731
    d2 = chosen_distance(model, contexts, modes, cfg(2, 1))
    d8 = chosen_distance(model, contexts, modes, cfg(8, 1))
    shares = candidate_metrics(model, contexts, modes, cfg(8, 32))
    return {
        "d_2_1": d2,
        "d_8_1": d8,
        "d_8_32": shares["chosen_distance"],
        "think_gain_pct": 100 * (1 - d8 / d2),
        "bon_gain_pct": 100 * (1 - shares["chosen_distance"] / d2),
        "near_share": shares["near_share"],
        "mode_shares": shares["mode_shares"],
    }


def run_variant(name: str, recipe: PointRecipe, n: int) -> tuple[dict, torch.nn.Module]:
    result = train_points(recipe)
    row = {"variant": name, "train_seconds": round(result.seconds, 1)}
    row["id"], row["ood"] = gains(result.model, n, 0.0), gains(result.model, n, 1.0)
    print(json.dumps(row), flush=True)
    return row, result.model


def shipped(n: int) -> dict:
    """The done-when numbers of the shipped checkpoints on the test split (ID and OOD)."""
    try:
        ebt_model, regressor = load("points-ebt"), load("points-regressor")
    except CheckpointError as err:
        return {"error": str(err)}
    return {
        "id": fork_report(ebt_model, regressor, n, "test", 0.0),
        "ood": fork_report(ebt_model, regressor, n, "test", 1.0),
    }


def _pct(x: float) -> str:
    return f"{x:+.1f} %"


def table(rows: list[dict]) -> list[str]:
    """Markdown: per variant the gains ID / OOD and the shares, the paper's beside."""
    lines = [
        "| variant | d(2,1) ID | thinking longer ID / OOD | best-of-32 ID / OOD "
        "| candidates near a mode ID (per mode) | paper: thinking longer / + verification |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        i, o = r["id"], r["ood"]
        paper = PAPER_ROWS.get(r["variant"])
        lines.append(
            f"| {r['variant']} | {i['d_2_1']:.3f} | {_pct(i['think_gain_pct'])} / "
            f"{_pct(o['think_gain_pct'])} | {_pct(i['bon_gain_pct'])} / {_pct(o['bon_gain_pct'])}"
            f" | {100 * i['near_share']:.0f} % ({', '.join(f'{100 * s:.0f}' for s in i['mode_shares'])})"  # noqa: E501
            f" | {f'{paper[0]:+.2f} % / {paper[1]:+.2f} %' if paper else '—'} |"
        )
    return lines


def agreement(rows: list[dict]) -> list[str]:
    """Plain sentences: where our ablation agrees with the paper's, where not."""
    by = {r["variant"]: r for r in rows}
    full, nojit = by.get("full"), by.get("no randomised step size")
    out = []
    if full and nojit:
        for split in ("id", "ood"):
            f, n = full[split], nojit[split]
            same = (f["think_gain_pct"] > n["think_gain_pct"]) and (
                f["bon_gain_pct"] > n["bon_gain_pct"]
            )
            out.append(
                f"- {split.upper()}: full recipe {_pct(f['think_gain_pct'])} / "
                f"{_pct(f['bon_gain_pct'])} vs without randomised step size "
                f"{_pct(n['think_gain_pct'])} / {_pct(n['bon_gain_pct'])}: "
                + ("agrees with the paper (removing it lowers both gains)."
                   if same else "does not agree with the paper (removing it does not lower both gains).")  # noqa: E501
            )  # fmt: skip
    if full and by.get("paper objective (final)"):
        p = by["paper objective (final)"]["id"]
        out.append(
            f"- The paper's plain objective puts {100 * p['near_share']:.0f} % of candidates near "
            f"a mode (chosen point {p['d_8_32']:.3f} from the nearest mode; the midpoint is 0.217 "
            f"away) vs {100 * full['id']['near_share']:.0f} % for winner-takes-all."
        )
    return out


def figure(models: dict, path: Path) -> None:
    """Each variant's exact landscape at the same fork context and window, with its 32
    descents' ends (ends outside the window are not drawn)."""
    import matplotlib  # noqa: PLC0415 - only the study draws

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    contexts, modes = fork_contexts(1, "test")
    middle = modes[0].mean(0)
    window = (middle - FIGURE_HALF_WIDTH, middle + FIGURE_HALF_WIDTH)  # the same for all
    cols = 4
    rows = -(-len(models) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.6 * rows), squeeze=False)
    for ax, (name, model) in zip(axes.flat, models.items()):
        from .. import think  # noqa: PLC0415 - the public dispatcher

        run = think(model, contexts[0], None, 1)
        scape = point_landscape(model, contexts[0], 61, modes=modes[0], run=run, window=window)
        ax.contourf(scape.a, scape.b, scape.energy, levels=30, cmap="viridis")
        ax.plot(*contexts[0].T, "w.-", label="context")
        ends = scape.path[:, -1]
        ax.set_xlim(scape.a[0], scape.a[-1])
        ax.set_ylim(scape.b[0], scape.b[-1])
        ax.plot(ends[:, 0], ends[:, 1], "o", ms=3, color="orange", label="32 descents' ends")
        ax.plot(*modes[0].T, "r+", ms=12, mew=2, label="true modes")
        ax.set_title(name, fontsize=9)
        ax.set_aspect("equal")
    for ax in list(axes.flat)[len(models) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description="The ablation in miniature on the point EBT's fork.")
    p.add_argument("--out", default="runs/points", help="output directory")
    p.add_argument("--quick", action="store_true", help="tiny budget (tests): seconds")
    p.add_argument("--contexts", type=int, help="fork contexts per split (default 100, quick 6)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    base = PointRecipe.from_dict(json.loads(RECIPE.read_text(encoding="utf-8")))
    n = args.contexts or (6 if args.quick else 100)
    if args.quick:
        base = replace(base, iters=20, eval_every=10, think={"steps": 8, "samples": 32})
    out, begin = Path(args.out), time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    rows, models = [], {}
    for name, recipe in variants(base).items():
        row, models[name] = run_variant(name, recipe, n)
        rows.append(row)
    results = {"variants": rows, "shipped": shipped(n), "contexts": n, "quick": args.quick}
    figure(models, out / "landscapes.png")
    results["seconds"] = round(time.perf_counter() - begin, 1)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    lines = ["# Point EBT: the ablation in miniature (fork task)", "", *table(rows), "",
             *agreement(rows), "", "![landscapes](landscapes.png)", ""]  # fmt: skip
    (out / "README.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return results


if __name__ == "__main__":
    main()

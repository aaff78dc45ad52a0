"""A classroom site: the examples of every tab rendered into a static folder (index.html and one
self-contained page per run) that opens from file:// with no network and serves as a static
Hugging Face Space (upload the folder; its README.md says `sdk: static`).

    python scripts/classroom.py --out site          # on the checkpoints in $EBT_CHECKPOINTS

Think: each example prompt as its click runs it (a text EBT's with the first character's
landscape; a sum and a Sudoku with their answer grids when sum-ebt and sudoku-ebt are here).
Denoise: each example photo, image EBT (2 steps) beside the DiT (5 passes). Point EBTs: a fork
context, when a points-ebt checkpoint is present (pages of other kinds: add a builder to
`BUILDERS`).
"""

from __future__ import annotations

import argparse
import html
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import ebt_core as ebt
from app import export
from app.runtime import Registry

ROOT = Path(__file__).resolve().parent.parent
Page = tuple[str, str, str]  # (file name, title, HTML)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:40] or "run"


def think_pages(registry: Registry) -> Iterator[Page]:
    """The Think tab's examples whose checkpoint is here, each as the tab's example click runs
    it (its checkpoint's defaults and the example's own settings) and exports it: a text EBT's
    run with its landscape, a whole-answer EBT's (sums, Sudoku) with its answer grid."""
    from app.export_tab import Exports
    from app.think_tab import ThinkTab

    tab = ThinkTab(registry)
    for i, example in enumerate(tab.examples):
        prompt, name = example["prompt"], example["checkpoint"]
        settings = tab.example_settings(prompt, name)
        run = tab.thought(prompt, name, *settings[:7], example["max_new_tokens"], settings[7])
        title = f"Think: {prompt!r} → {run.text!r} ({name})"
        yield f"think-{i}-{_slug(prompt)}.html", title, Exports(tab).page(run, title)


def denoise_pages(registry: Registry) -> Iterator[Page]:
    """The Denoise tab's example photos: the image EBT (2 steps) beside the DiT (5 passes)."""
    from app.denoise_tab import DEFAULT_DIT_PASSES, EXAMPLES

    if not registry.image_ebts:
        return
    model = registry.image_ebt(registry.default_image_ebt)
    dit = registry.get(registry.dit) if registry.dit else None
    for path, noise in EXAMPLES:
        photo = ebt.fit_within(ebt.open_image(path, max_side=256).image, 256)
        run = ebt.denoise(model, photo, ebt.DenoiseConfig(noise=noise, steps=2, seed=0))
        base = None
        if dit is not None:
            config = ebt.DenoiseConfig(noise=noise, steps=DEFAULT_DIT_PASSES, seed=0)
            base = ebt.denoise(dit, photo, config)
        title = f"Denoise: {Path(path).stem.removeprefix('denoise-')} at noise {noise}"
        yield f"denoise-{_slug(Path(path).stem)}.html", title, export.denoise_html(title, run, base)


def point_pages(registry: Registry) -> Iterator[Page]:
    """The points EBT at the fork's probe context (its exact landscape, the N candidates'
    final positions and the two modes), when a points-ebt checkpoint is here."""
    names = getattr(registry, "point_ebts", [])
    if not names:
        return
    from app.figures.points import point_contour, point_surface, summarize_points
    from app.landscape_points import point_config, think_view
    from ebt_core.points.tasks import probe_context

    model = registry.get(names[0])
    context, _ = probe_context("fork")
    view = think_view(model, names[0], "fork", context, point_config(model, 8, 32, 0), 61)
    step, title = view.last_step, f"Point EBT ({names[0]}): a fork, where the candidates split"
    charts = [
        point_contour(view.scape, step, title, None, view.run.context(0)),
        point_surface(view.scape, step, title),
    ]
    text = summarize_points(view.scape, step)
    yield "points-fork.html", title, export.figures_html(title, text, charts)


BUILDERS: list[Callable[[Registry], Iterator[Page]]] = [think_pages, denoise_pages, point_pages]


def index_html(pages: list[tuple[str, str]], skipped: list[str]) -> str:
    items = "".join(f'<li><a href="{f}">{html.escape(t)}</a></li>' for f, t in pages)
    notes = "".join(f"<li>{html.escape(s)}</li>" for s in skipped)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>EBT Explorer: '
        'a lesson</title><meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{export.STYLE}</style></head><body><h1>EBT Explorer: a lesson</h1>"
        "<p>Energy-Based Transformers think by gradient descent on their prediction. Each page "
        "replays one run offline: open it, move the step slider, press Play.</p>"
        f'<ol id="runs">{items}</ol>' + (f"<p>Not included:</p><ul>{notes}</ul>" if notes else "")
        + "</body></html>"
    )  # fmt: skip


SPACE_README = """---
title: EBT Explorer lesson
sdk: static
app_file: index.html
---
Static pages exported by EBT Explorer (`python scripts/classroom.py`).
"""


def build(out: Path, registry: Registry) -> dict:
    """Render every builder's pages into `out`; returns {"pages": [...], "skipped": [...]}."""
    out.mkdir(parents=True, exist_ok=True)
    pages, skipped = [], []
    for builder in BUILDERS:
        try:
            for name, title, page in builder(registry):
                (out / name).write_text(page, encoding="utf-8")
                pages.append((name, title))
        except (ImportError, AttributeError, TypeError, ValueError) as err:
            skipped.append(f"{builder.__name__}: {type(err).__name__}: {err}")
    (out / "index.html").write_text(index_html(pages, skipped), encoding="utf-8")
    (out / "README.md").write_text(SPACE_README, encoding="utf-8")
    return {"pages": [name for name, _ in pages], "skipped": skipped}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write the site to")
    args = parser.parse_args()
    print(json.dumps(build(args.out, Registry.scan())))


if __name__ == "__main__":
    main()

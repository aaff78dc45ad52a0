"""Issue 16's figure fixes: phone-friendly style (legends along the bottom, axis titles that push
the margins), the off-plane chart without rounding noise, one colour range for a slice and its
paths."""

from __future__ import annotations

import numpy as np
import pytest

import ebt_core as ebt
from app import figures
from app.figures.common import TEMPLATE
from app.figures.landscape import on_the_plane


def test_the_template_keeps_legends_below_the_axis_titles_and_titles_unclipped():
    legend = TEMPLATE.layout.legend
    assert legend.orientation == "h" and legend.yref == "container" and legend.y == 0
    assert TEMPLATE.layout.xaxis.automargin and TEMPLATE.layout.yaxis.automargin


def test_an_in_plane_path_is_drawn_at_distance_zero_and_said_so(model):
    run = ebt.think(model, "12+35=", ebt.ThinkConfig(steps=1, samples=1, seed=0), 1)
    scape = ebt.landscape(model, run, token=0, resolution=5)  # 2 points: the plane holds them
    assert 0 < scape.off_plane.max() < 1e-6 or scape.off_plane.max() == 0
    assert on_the_plane(scape)
    fig = figures.off_plane_plot(run, scape)
    assert all(set(t.y) == {0.0} for t in fig.data)  # no 1e-15 noise drawn as a curve
    assert "in the plane" in fig.layout.annotations[0].text
    assert "lies in the plane" in figures.summarize_off_plane(run, scape)


def test_a_path_off_the_plane_keeps_its_distances(model):
    run = ebt.think(model, "12+35=", ebt.ThinkConfig(steps=4, samples=4, seed=0), 1)
    scape = ebt.landscape(model, run, token=0, resolution=5, method="random", seed=1)
    assert not on_the_plane(scape)
    fig = figures.off_plane_plot(run, scape)
    assert sorted(tuple(t.y) for t in fig.data) == sorted(map(tuple, scape.off_plane.tolist()))


def test_the_slice_colour_range_covers_the_paths_energies(model):
    run = ebt.think(model, "12+35=", ebt.ThinkConfig(steps=4, samples=4, seed=0), 1)
    scape = ebt.landscape(model, run, token=0, resolution=5, method="random", seed=1)
    for build in (figures.landscape_contour, figures.landscape_surface):
        grid = build(run, scape).data[0]
        lo, hi = (grid.zmin, grid.zmax) if grid.type == "contour" else (grid.cmin, grid.cmax)
        assert lo <= float(np.min(scape.path_energy)) and lo <= scape.energy.min()
        assert hi >= float(np.max(scape.path_energy)) and hi >= scape.energy.max()
    assert not figures.landscape_contour(run, scape).layout.showlegend


def test_the_calibration_view_never_prints_auroc_nan():
    nan = float("nan")
    fig = figures.energy_hist([0.1, 0.2, 0.3], [], nan)  # a split with no wrong answer
    assert "nan" not in fig.layout.title.text and "no wrong character" in fig.layout.title.text
    text = figures.summarize_calibration([0.1, 0.5], nan, correct=3, wrong=0)
    assert "nan" not in text and "no wrong character" in text
    assert "AUROC 0.750" in figures.summarize_calibration([0.1], 0.75, correct=3, wrong=1)
    assert "AUROC 0.750" in figures.energy_hist([0.1], [0.5], 0.75).layout.title.text


def test_the_calibration_trend_legend_sits_below_not_over_the_second_axis_title():
    fig = figures.calibration_trend([0.1, 0.4], [1.0, 0.5], [2.0, 1.5])
    assert fig.layout.yaxis2.side == "right" and fig.layout.legend.x is None  # not overridden
    assert fig.layout.template.layout.legend.yref == "container"  # the bottom edge


def test_umap_is_offered_only_where_it_is_installed(client):
    import gradio as gr

    from app.landscape_tab import HAS_UMAP

    radios = [
        b
        for b in client[1].demo.blocks.values()
        if isinstance(b, gr.Radio) and b.label == "Projection"
    ]
    assert len(radios) == 1
    offered = [value for _, value in radios[0].choices]
    assert ("umap" in offered) == HAS_UMAP
    if not HAS_UMAP:  # asked anyway (the API or an old page): a named error, and PCA still works
        tab, run_dict = client[1].landscape, client[1].think.first_run()
        with pytest.raises(gr.Error, match="umap-learn"):
            tab.show(run_dict, 0, 9, "pca", 0, "umap")
        assert len(tab.show(run_dict, 0, 9, "pca", 0, "pca")) == 8


def test_a_failed_denoise_clears_and_marks_both_sides():
    from app.denoise_tab import failed_dit_view, failed_view

    views = failed_view()
    assert len(views) == 11 and "failed" in views[0]  # EBT outputs + the DiT image and text
    assert views[1] is None and views[-2] is None  # no stale EBT or DiT photo
    assert failed_dit_view()[0] is None and "failed" in failed_dit_view()[1]


def test_the_page_head_sets_a_font_that_draws_ebt_and_preloads_plotly():
    from app import style

    head = style.head()
    assert "Source Sans" not in style.FONT and "--font" in head
    assert style.plotly_chunk() and f"./assets/{style.plotly_chunk()}" in head
    assert 'rel="modulepreload"' in head


def test_the_quick_start_installs_only_the_app_extra():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", quick, re.S)
    start = [b for b in blocks if "app/main.py" in b]
    tests = [b for b in blocks if "pytest" in b]
    assert start and all('".[app]"' in b and "[dev]" not in b for b in start)
    assert tests and all('".[dev]"' in b for b in tests)  # the test command keeps the dev extra
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    app = re.search(r"^app = \[(.*)\]", pyproject, re.M).group(1)  # the app extra
    assert "gradio" in app and "plotly" in app
    assert not any(tool in app for tool in ("pytest", "playwright", "ruff"))


def test_a_failed_landscape_clears_and_marks_its_charts():
    from app.landscape_tab import N_OUTPUTS, failed_view

    views = failed_view()
    assert len(views) == N_OUTPUTS and "failed" in views[2]
    assert views[0] is None and views[1] is None and views[-1] is None  # no stale slice

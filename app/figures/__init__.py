"""Figure builders for the front ends: ThinkRun / ScoreResult records in; HTML, plotly figures
and table rows out.

One module per view (think, landscape, research, denoise) over shared style (common).
Pure functions: no model calls, no autograd, no math beyond indexing and formatting. Every
builder has a `summarize_*` companion that says the same in one or two sentences of plain text,
for screen readers and for anyone who cannot see the colours.
"""

from .common import BEST_OF_N_HEADERS, CHOSEN_COLOR, COLORSCALE, OTHER_COLOR, VISIBLE, show_char
from .denoise import (
    DIT_COLOR,
    denoise_energy,
    denoise_psnr,
    summarize_denoise,
    summarize_denoise_energy,
)
from .landscape import (
    landscape_contour,
    landscape_surface,
    off_plane_plot,
    path_projection,
    summarize_landscape,
    summarize_off_plane,
    summarize_projection,
)
from .research import (
    calibration_scatter,
    calibration_trend,
    energy_hist,
    loss_curve,
    ppl_vs_samples,
    ppl_vs_steps,
    psnr_passes,
    summarize_budget,
    summarize_calibration,
    summarize_passes,
    summarize_training,
    training_curves,
)
from .think import (
    baseline_text,
    best_of_n_table,
    energy_curves,
    score_figure,
    summarize_curves,
    summarize_run,
    summarize_score,
    summarize_table,
    summarize_topk,
    token_strip,
    topk_bars,
)

__all__ = [
    "BEST_OF_N_HEADERS",
    "CHOSEN_COLOR",
    "COLORSCALE",
    "DIT_COLOR",
    "OTHER_COLOR",
    "VISIBLE",
    "baseline_text",
    "best_of_n_table",
    "calibration_scatter",
    "calibration_trend",
    "denoise_energy",
    "denoise_psnr",
    "energy_curves",
    "energy_hist",
    "landscape_contour",
    "landscape_surface",
    "loss_curve",
    "off_plane_plot",
    "path_projection",
    "ppl_vs_samples",
    "ppl_vs_steps",
    "psnr_passes",
    "score_figure",
    "show_char",
    "summarize_budget",
    "summarize_calibration",
    "summarize_curves",
    "summarize_denoise",
    "summarize_denoise_energy",
    "summarize_landscape",
    "summarize_off_plane",
    "summarize_passes",
    "summarize_projection",
    "summarize_run",
    "summarize_score",
    "summarize_table",
    "summarize_topk",
    "summarize_training",
    "token_strip",
    "topk_bars",
    "training_curves",
]

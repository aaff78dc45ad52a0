"""The evaluation study, its report and the benchmarks: tools built on the library, not part of it.

python -m ebt_core.study --out assets/report     # regenerate the shipped report
python -m ebt_core.study.bench --quick --json    # KV-cache benchmark

Public API (what the research lab, app/lab.py, calls): the study's measures and the held-out
data they run on.

    from ebt_core import study
    ids, mask = study.get_corpus("arith").eval_batch("ood", 8, 64, seed=4321)
    stats = study.descent_stats(model, ids, mask, steps=4, samples=2)
    print(study.ppl(stats.mean_nll(4)))
"""

from ..image.data import HELDOUT_IMAGES, load_photo
from ..text.data import get_corpus
from .measures import (
    auroc,
    descent_stats,
    ppl,
    psnr_vs_passes,
    spearman,
    think_examples,
    transformer_nll,
    verifier_tokens,
)

__all__ = [
    "HELDOUT_IMAGES",
    "auroc",
    "descent_stats",
    "get_corpus",
    "load_photo",
    "ppl",
    "psnr_vs_passes",
    "spearman",
    "think_examples",
    "transformer_nll",
    "verifier_tokens",
]

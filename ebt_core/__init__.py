"""EBT Explorer's model package: energy-based transformers that think by gradient descent.

    import ebt_core as ebt
    m = ebt.load("arith-ebt")
    run = ebt.think(m, "12+35=", ebt.ThinkConfig(steps=8, samples=4, seed=0), max_new_tokens=4)

No UI imports live here; front ends render the records this package returns.
"""

from .answer import think as _answer
from .answer.model import AnswerEBT, AnswerModelConfig
from .checkpoint import (
    CheckpointError,
    available,
    checkpoints_dir,
    load,
    read_metrics,
    read_think_defaults,
    save,
)
from .config import ThinkConfig
from .image.denoise import DenoiseConfig, DenoiseResult, denoise
from .image.io import MIN_SIDE, fit_within, open_image, to_uint8
from .image.model import ImageDiT, ImageEBT, ImageModelConfig
from .landscapes import Landscape, landscape, point_landscape, project_paths
from .points import think as _points
from .points.model import PointEBT, PointModelConfig, PointRegressor
from .points.think import predict_point
from .records import PointScoreResult, ScoreResult, ThinkRun, TokenRecord
from .text import think as _text
from .text.baseline import predict_next
from .text.model import TextEBT, TextModelConfig, Transformer
from .tokenizer import CharTokenizer


def think(model, prompt, config: ThinkConfig | None = None, max_new_tokens: int = 16, **options):
    """Generate by energy descent: text after a prompt string (text EBTs, see text.think), or
    points after a list of (x, y) pairs (point EBTs, see points.think), or a whole answer
    (answer EBTs, see answer.think: max_new_tokens is ignored). Returns a ThinkRun."""
    if isinstance(model, AnswerEBT):
        return _answer.think(model, prompt, config)
    if isinstance(model, PointEBT):
        return _points.think(model, prompt, config, max_new_tokens, **options)
    return _text.think(model, prompt, config, max_new_tokens, **options)


def score(model, prompt, answer, config: ThinkConfig | None = None):
    """The model as a verifier of a continuation: characters (ScoreResult) or points
    (PointScoreResult), or a whole answer (answer EBTs: ScoreResult over its K positions,
    `total_energy` the whole answer's energy)."""
    if isinstance(model, AnswerEBT):
        return _answer.score(model, prompt, answer, config)
    if isinstance(model, PointEBT):
        return _points.score(model, prompt, answer, config)
    return _text.score(model, prompt, answer, config)


__all__ = [
    "AnswerEBT",
    "AnswerModelConfig",
    "DenoiseConfig",
    "DenoiseResult",
    "ImageDiT",
    "ImageEBT",
    "ImageModelConfig",
    "denoise",
    "MIN_SIDE",
    "fit_within",
    "open_image",
    "to_uint8",
    "CharTokenizer",
    "CheckpointError",
    "PointEBT",
    "PointModelConfig",
    "PointRegressor",
    "PointScoreResult",
    "ScoreResult",
    "TextEBT",
    "TextModelConfig",
    "ThinkConfig",
    "ThinkRun",
    "TokenRecord",
    "Transformer",
    "available",
    "checkpoints_dir",
    "Landscape",
    "landscape",
    "load",
    "point_landscape",
    "predict_point",
    "project_paths",
    "predict_next",
    "read_metrics",
    "read_think_defaults",
    "save",
    "score",
    "think",
]

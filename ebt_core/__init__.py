"""EBT Explorer's model package: energy-based transformers that think by gradient descent.

    import ebt_core as ebt
    m = ebt.load("arith-ebt")
    run = ebt.think(m, "12+35=", ebt.ThinkConfig(steps=8, samples=4, seed=0), max_new_tokens=4)

No UI imports live here; front ends render the records this package returns.

Importing the package is cheap: each name below is imported from its module on first use, so
torch loads when a model is first needed, not when `import ebt_core` runs (the app builds and
serves its first page before torch is imported: issue 16, start to charts).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# public name → the module (under ebt_core) that defines it; imported on first use (PEP 562)
_EXPORTS = {
    "AnswerEBT": "answer.model",
    "AnswerModelConfig": "answer.model",
    "CheckpointError": "checkpoint",
    "available": "checkpoint",
    "checkpoints_dir": "checkpoint",
    "load": "checkpoint",
    "read_metrics": "checkpoint",
    "read_think_defaults": "checkpoint",
    "save": "checkpoint",
    "ThinkConfig": "config",
    "DenoiseConfig": "image.denoise",
    "DenoiseResult": "image.denoise",
    "denoise": "image.denoise",
    "MIN_SIDE": "image.io",
    "fit_within": "image.io",
    "open_image": "image.io",
    "to_uint8": "image.io",
    "ImageDiT": "image.model",
    "ImageEBT": "image.model",
    "ImageModelConfig": "image.model",
    "Landscape": "landscapes",
    "landscape": "landscapes",
    "point_landscape": "landscapes",
    "project_paths": "landscapes",
    "PointEBT": "points.model",
    "PointModelConfig": "points.model",
    "PointRegressor": "points.model",
    "predict_point": "points.think",
    "PointScoreResult": "records",
    "ScoreResult": "records",
    "ThinkRun": "records",
    "TokenRecord": "records",
    "predict_next": "text.baseline",
    "TextEBT": "text.model",
    "TextModelConfig": "text.model",
    "Transformer": "text.model",
    "CharTokenizer": "tokenizer",
}
# the package's modules, reachable as attributes too (`ebt.descent.frozen`), imported on first use
_MODULES = frozenset(
    ("answer", "checkpoint", "config", "descent", "image", "landscapes", "layers", "points")
    + ("recipe", "records", "study", "text", "tokenizer")
)

if TYPE_CHECKING:  # what type checkers and editors see: the eager imports
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
    from .points.model import PointEBT, PointModelConfig, PointRegressor
    from .points.think import predict_point
    from .records import PointScoreResult, ScoreResult, ThinkRun, TokenRecord
    from .text.baseline import predict_next
    from .text.model import TextEBT, TextModelConfig, Transformer
    from .tokenizer import CharTokenizer


def __getattr__(name: str):
    """A public name or module of the package, imported on first use (then cached here)."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif name in _MODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | _MODULES)


def think(model, prompt, config: ThinkConfig | None = None, max_new_tokens: int = 16, **options):
    """Generate by energy descent: text after a prompt string (text EBTs, see text.think), or
    points after a list of (x, y) pairs (point EBTs, see points.think), or a whole answer
    (answer EBTs, see answer.think: max_new_tokens is ignored). Returns a ThinkRun."""
    from .answer import think as answer_think
    from .answer.model import AnswerEBT
    from .points import think as points_think
    from .points.model import PointEBT
    from .text import think as text_think

    if isinstance(model, AnswerEBT):
        return answer_think.think(model, prompt, config)
    if isinstance(model, PointEBT):
        return points_think.think(model, prompt, config, max_new_tokens, **options)
    return text_think.think(model, prompt, config, max_new_tokens, **options)


def score(model, prompt, answer, config: ThinkConfig | None = None):
    """The model as a verifier of a continuation: characters (ScoreResult) or points
    (PointScoreResult), or a whole answer (answer EBTs: ScoreResult over its K positions,
    `total_energy` the whole answer's energy)."""
    from .answer import think as answer_think
    from .answer.model import AnswerEBT
    from .points import think as points_think
    from .points.model import PointEBT
    from .text import think as text_think

    if isinstance(model, AnswerEBT):
        return answer_think.score(model, prompt, answer, config)
    if isinstance(model, PointEBT):
        return points_think.score(model, prompt, answer, config)
    return text_think.score(model, prompt, answer, config)


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

"""EBT Explorer's model package: energy-based transformers that think by gradient descent.

    import ebt_core as ebt
    m = ebt.load("arith-ebt")
    run = ebt.think(m, "12+35=", ebt.ThinkConfig(steps=8, samples=4, seed=0), max_new_tokens=4)

No UI imports live here; front ends render the records this package returns.
"""

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
from .landscapes import Landscape, landscape, project_paths
from .records import ScoreResult, ThinkRun, TokenRecord
from .text.model import TextEBT, TextModelConfig, Transformer
from .text.baseline import predict_next
from .text.think import score, think
from .tokenizer import CharTokenizer

__all__ = [
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
    "project_paths",
    "predict_next",
    "read_metrics",
    "read_think_defaults",
    "save",
    "score",
    "think",
]

"""The point models' architecture config, importable without torch (the Playground lays out
its levers from a recipe before any model exists); `points/model.py` re-exports it."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import _BackboneConfig, _check_float, _check_int, check_backbone

POINT_KINDS = ("points-ebt", "points-regressor")
EMBEDDINGS = ("linear", "fourier")
FRAMES = ("heading", "world")


@dataclass(frozen=True)
class PointModelConfig(_BackboneConfig):
    """Architecture of a point model (EBT or regression baseline).

    max_context: most points a model reads (context + generated).
    step_size: α of the descent; learnable if `learn_step_size`.
    start_std: std (per axis) of the descent's random start around the last context point.
    offset_scale: points and offsets are multiplied by it before their embeddings (4 = the
        tasks' step of 0.25 becomes 1).
    candidate_frame: "heading" expresses the candidate's offset in the frame of the last step
        (x along p_t − p_{t−1}, y to its left; the world frame for the first point), so "turn
        60° left" is one place of the candidate plane in every context; "world" uses x, y.
    candidate_embedding: "linear" or "fourier"; fourier_features F projections at scale
        `fourier_scale` (cycles per unit of offset).
    """

    kind: str = "points-ebt"
    n_layer: int = 2
    n_head: int = 2
    d_model: int = 32
    mlp_ratio: float = 2.0
    max_context: int = 64
    step_size: float = 1.0
    learn_step_size: bool = False
    start_std: float = 0.3
    candidate_embedding: str = "fourier"
    fourier_features: int = 16
    fourier_scale: float = 0.2
    offset_scale: float = 4.0
    candidate_frame: str = "heading"
    rope_base: float = 10000.0

    def __post_init__(self) -> None:
        if self.kind not in POINT_KINDS:
            raise ValueError(f"kind must be one of {POINT_KINDS}, got {self.kind!r}")
        check_backbone(self.n_layer, self.n_head, self.d_model, self.mlp_ratio)
        _check_int("max_context", self.max_context, 2, 4096)
        _check_float("step_size", self.step_size, 0.0, 1e6, lo_open=True)
        if not isinstance(self.learn_step_size, bool):
            raise ValueError(f"learn_step_size must be true or false, got {self.learn_step_size}")
        _check_float("start_std", self.start_std, 0.0, 100.0)
        if self.candidate_embedding not in EMBEDDINGS:
            raise ValueError(
                f"candidate_embedding must be one of {EMBEDDINGS}, got {self.candidate_embedding!r}"
            )
        _check_int("fourier_features", self.fourier_features, 1, 1024)
        _check_float("fourier_scale", self.fourier_scale, 0.0, 1e3, lo_open=True)
        if self.candidate_frame not in FRAMES:
            raise ValueError(
                f"candidate_frame must be one of {FRAMES}, got {self.candidate_frame!r}"
            )
        _check_float("offset_scale", self.offset_scale, 0.0, 1e4, lo_open=True)
        _check_float("rope_base", self.rope_base, 1.0, 1e9)

"""What every frozen config shares (field validators, the JSON round trip, the backbone check),
and `ThinkConfig`, the inference ("thinking") settings of the sequence EBTs.

Each model's architecture config lives beside its model (text/model.py, image/model.py) and
`DenoiseConfig` beside `denoise`. Every config round-trips through JSON (`to_dict` /
`from_dict`) so it can live next to the weights in `config.json`. Validation raises
`ValueError` naming the offending field; values the user chose are never silently corrected.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

SELECT_RULES = ("min", "max_gap")

# Bounds that keep one call responsive on a 2-CPU machine; documented in README.
MAX_STEPS = 256
MAX_SAMPLES = 64


def _check_int(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi}, got {value}")


def _check_float(name: str, value: Any, lo: float, hi: float, lo_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    too_low = value <= lo if lo_open else value < lo
    if too_low or value > hi:
        bracket = "(" if lo_open else "["
        raise ValueError(f"{name} must be in {bracket}{lo}, {hi}], got {value}")


def check_backbone(n_layer: Any, n_head: Any, d_model: Any, mlp_ratio: Any) -> None:
    """Validation shared by every transformer backbone config."""
    _check_int("n_layer", n_layer, 1, 64)
    _check_int("n_head", n_head, 1, 64)
    _check_int("d_model", d_model, 8, 8192)
    if d_model % n_head or (d_model // n_head) % 2:
        raise ValueError(
            f"d_model ({d_model}) must be divisible by n_head ({n_head}) into an even head size"
        )
    _check_float("mlp_ratio", mlp_ratio, 0.0, 16.0, lo_open=True)


class _JsonConfig:
    """Mixin: JSON round trip that rejects unknown keys (a typo must not pass silently)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        if not isinstance(data, dict):
            raise ValueError(f"{cls.__name__} must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"{cls.__name__}: unknown field(s) {unknown}; allowed: {sorted(known)}"
            )
        return cls(**data)


class _BackboneConfig(_JsonConfig):
    """Mixin of the transformer configs (fields n_layer, n_head, d_model, mlp_ratio)."""

    @property
    def d_hidden(self) -> int:
        """SwiGLU hidden width, rounded up to a multiple of 8."""
        return int(math.ceil(self.d_model * self.mlp_ratio / 8) * 8)  # type: ignore[attr-defined]


def check_causal_ebt(config: Any) -> None:
    """Validation shared by the causal EBT configs over characters (text and answer EBTs)."""
    check_backbone(config.n_layer, config.n_head, config.d_model, config.mlp_ratio)
    _check_int("max_context", config.max_context, 2, 1 << 16)
    _check_float("step_size", config.step_size, 0.0, 1e6, lo_open=True)
    _check_float("start_std", config.start_std, 0.0, 100.0)
    _check_float("rope_base", config.rope_base, 1.0, 1e9)
    _check_float("entropy_weight", config.entropy_weight, 0.0, 100.0)


@dataclass(frozen=True)
class ThinkConfig(_JsonConfig):
    """How a text EBT thinks about each next character.

    steps: descent steps per token (upper bound when `tolerance` > 0).
    step_size: α; None uses the model's trained α.
    langevin: std of Gaussian noise added to the state after each step (0 = none).
    samples: N candidates descended in parallel from independent random starts.
    select: "min" keeps the lowest final energy (self-verification); "max_gap" keeps the
        candidate whose energy fell the most.
    accept_lower_only: a step that raises a candidate's energy is undone.
    tolerance: stop early once every candidate's |ΔE| < tolerance (0 = always run all steps).
    seed: seeds the random starts and the Langevin noise; same seed → identical run.
    """

    steps: int = 8
    step_size: float | None = None
    langevin: float = 0.0
    samples: int = 1
    select: str = "min"
    accept_lower_only: bool = False
    tolerance: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        _check_int("steps", self.steps, 1, MAX_STEPS)
        if self.step_size is not None:
            _check_float("step_size", self.step_size, 0.0, 1e6, lo_open=True)
        _check_float("langevin", self.langevin, 0.0, 100.0)
        _check_int("samples", self.samples, 1, MAX_SAMPLES)
        if self.select not in SELECT_RULES:
            raise ValueError(f"select must be one of {SELECT_RULES}, got {self.select!r}")
        if not isinstance(self.accept_lower_only, bool):
            raise ValueError(
                f"accept_lower_only must be true or false, got {self.accept_lower_only!r}"
            )
        _check_float("tolerance", self.tolerance, 0.0, 1e6)
        _check_int("seed", self.seed, 0, 2**63 - 1)


def require_model(model: Any, cls: type, what: str) -> Any:
    """`model` if it is a `cls`; else a ValueError `what` naming the kind it has."""
    if not isinstance(model, cls):
        kind = getattr(getattr(model, "config", None), "kind", type(model).__name__)
        raise ValueError(f"{what}, got {kind!r}")
    return model


def think_config_for(model: Any, config: ThinkConfig | None) -> ThinkConfig:
    """The caller's ThinkConfig, or (None) the checkpoint's default (`model.think_defaults`)."""
    if config is not None and not isinstance(config, ThinkConfig):
        raise ValueError(f"config must be a ThinkConfig or None, got {type(config).__name__}")
    return config if config is not None else getattr(model, "think_defaults", ThinkConfig())

"""Checkpoint I/O: a directory with config.json, model.safetensors and metrics.jsonl.

    ebt.save(model, "checkpoints/my-ebt", think=ThinkConfig(...), recipe={...})
    model = ebt.load("my-ebt")            # a name under checkpoints/, or a directory path

`config.json` holds the format version, the model kind, its architecture (tokenizer included),
the default ThinkConfig and the training recipe, so a checkpoint rebuilds itself with no outside
knowledge. Weights are safetensors only: pickled formats are refused, never unpickled.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import ThinkConfig

if TYPE_CHECKING:
    from torch import nn

FORMAT_VERSION = 1
CONFIG_KEYS = ("format_version", "kind", "model", "think", "recipe")  # config.json's schema
MAX_CONFIG_BYTES = 1 << 20  # a config.json is a few KB; refuse to parse anything huge
CONFIG_FILE, WEIGHTS_FILE, METRICS_FILE = "config.json", "model.safetensors", "metrics.jsonl"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

# kind → (module under ebt_core, config class, model class), imported when a checkpoint of the
# kind is loaded: scanning the folder and reading configs need no torch (the app lists its
# checkpoints and lays out its page before any model is loaded).
KINDS: dict[str, tuple[str, str, str]] = {
    "text-ebt": ("text.model", "TextModelConfig", "TextEBT"),
    "transformer": ("text.model", "TextModelConfig", "Transformer"),
    "image-ebt": ("image.model", "ImageModelConfig", "ImageEBT"),
    "image-dit": ("image.model", "ImageModelConfig", "ImageDiT"),
    "points-ebt": ("points.model", "PointModelConfig", "PointEBT"),
    "points-regressor": ("points.model", "PointModelConfig", "PointRegressor"),
    "answer-ebt": ("answer.model", "AnswerModelConfig", "AnswerEBT"),
}


def _classes(kind: str) -> tuple[type, Callable[[Any], nn.Module]]:
    """The (config class, model class) of a kind in KINDS."""
    module_name, config_name, model_name = KINDS[kind]
    module = import_module(f".{module_name}", __package__)
    return getattr(module, config_name), getattr(module, model_name)


class CheckpointError(ValueError):
    """A checkpoint is missing, malformed, or not what the caller asked for."""


def checkpoints_dir() -> Path:
    """Where named checkpoints live: $EBT_CHECKPOINTS, else the repository's checkpoints/."""
    env = os.environ.get("EBT_CHECKPOINTS")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "checkpoints"


def available(kind_prefix: str = "") -> list[str]:
    """Names of the checkpoints under `checkpoints_dir()` (optionally of kinds with a prefix)."""
    root = checkpoints_dir()
    if not root.is_dir():
        return []
    names = []
    for d in sorted(root.iterdir()):
        try:
            kind = json.loads((d / CONFIG_FILE).read_text(encoding="utf-8"))["kind"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a checkpoint (or a broken one: `load` names what is wrong)
        if isinstance(kind, str) and kind.startswith(kind_prefix):
            names.append(d.name)
    return names


def resolve(name_or_dir: str | os.PathLike) -> Path:
    """A checkpoint name (under checkpoints/) or a directory path → its directory.

    A name is one path component of letters, digits, '.', '_', '-' (so it cannot leave the
    checkpoints folder); anything with a '/' is taken as a path the caller chose.
    """
    if not isinstance(name_or_dir, (str, os.PathLike)):
        raise CheckpointError(
            f"checkpoint must be a name or a directory path, got {type(name_or_dir).__name__}"
        )
    text = os.fspath(name_or_dir)
    if not isinstance(text, str) or "\0" in text:
        raise CheckpointError(f"invalid checkpoint path {text!r}")
    looks_like_path = isinstance(name_or_dir, os.PathLike) or "/" in text or os.sep in text
    if not looks_like_path:
        if not _NAME.match(text):
            raise CheckpointError(
                f"invalid checkpoint name {text!r}: use letters, digits, '.', '_' or '-' "
                f"(available: {available()})"
            )
        path = checkpoints_dir() / text
    else:
        path = Path(text).expanduser()
    if not path.is_dir():
        raise CheckpointError(
            f"no checkpoint at {text!r}; available names: {available()} "
            "(or pass a directory containing config.json and model.safetensors)"
        )
    return path


def _read_config(path: Path) -> dict[str, Any]:
    file = path / CONFIG_FILE
    if not file.is_file():
        raise CheckpointError(f"{file} is missing: not a checkpoint directory")
    if file.stat().st_size > MAX_CONFIG_BYTES:
        raise CheckpointError(f"{file} is larger than {MAX_CONFIG_BYTES} bytes: not a config")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{file} is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise CheckpointError(f"{file} must hold a JSON object")
    if data.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{file}: format_version {data.get('format_version')!r} is not supported "
            f"(this version reads {FORMAT_VERSION})"
        )
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        raise CheckpointError(f"{file}: unknown key(s) {unknown}; allowed: {list(CONFIG_KEYS)}")
    if not isinstance(data.get("kind"), str) or data["kind"] not in KINDS:
        raise CheckpointError(f"{file}: kind {data.get('kind')!r} is not one of {sorted(KINDS)}")
    for key, required in (("model", True), ("think", False), ("recipe", False)):
        value = data.get(key)
        if not isinstance(value, dict) and (required or value is not None):
            raise CheckpointError(
                f"{file}: {key!r} must be a JSON object{'' if required else ' or null'}, "
                f"got {type(value).__name__ if key in data else 'nothing'}"
            )
    return data


def load(name_or_dir: str | os.PathLike) -> nn.Module:
    """Rebuild a model from a checkpoint directory, in eval mode, with its defaults attached.

    Sets `model.think_defaults` (ThinkConfig, text EBTs), `model.checkpoint_name` and
    `model.recipe`. Raises CheckpointError (a ValueError) naming the file at fault.
    """
    path = resolve(name_or_dir)
    data = _read_config(path)
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    config_cls, model_cls = _classes(data["kind"])
    try:
        config = config_cls.from_dict({**data["model"], "kind": data["kind"]})
        think = ThinkConfig.from_dict(data["think"]) if data.get("think") else None
    except (ValueError, TypeError) as err:
        raise CheckpointError(f"{path / CONFIG_FILE}: {err}") from err
    weights = path / WEIGHTS_FILE
    if not weights.is_file():
        pickles = sorted(p.name for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES)
        hint = (
            f" (found {pickles}: pickled weights are refused, convert to safetensors)"
            if pickles
            else ""
        )
        raise CheckpointError(f"{weights} is missing{hint}")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{weights} is corrupted or not safetensors: {err}") from err
    _check_finite(weights, state)
    model = model_cls(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0:3]
        raise CheckpointError(f"{weights} does not match {CONFIG_FILE}: {' '.join(first)}") from err
    model.eval()
    model.think_defaults = think or ThinkConfig()
    model.checkpoint_name = path.name
    model.recipe = data.get("recipe") or {}
    return model


def _check_finite(file: Path, state: dict) -> None:
    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(tensor.isfinite().all()):
            raise CheckpointError(f"{file}: tensor {name!r} holds NaN or infinite values")


def save(
    model: nn.Module,
    directory: str | os.PathLike,
    think: ThinkConfig | None = None,
    recipe: dict[str, Any] | None = None,
    metrics: list[dict[str, Any]] | None = None,
) -> Path:
    """Write config.json + model.safetensors (+ metrics.jsonl) to `directory`."""
    from safetensors.torch import save_file

    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    config = model.config.to_dict()
    kind = config.pop("kind")
    think = think or getattr(model, "think_defaults", None)
    data = {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "model": config,
        "think": think.to_dict() if think is not None else None,
        "recipe": recipe if recipe is not None else getattr(model, "recipe", {}),
    }
    (path / CONFIG_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(path / WEIGHTS_FILE))
    if metrics is not None:
        with open(path / METRICS_FILE, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(m) + "\n" for m in metrics)
    elif not (path / METRICS_FILE).exists():
        (path / METRICS_FILE).touch()
    return path


def read_think_defaults(name_or_dir: str | os.PathLike) -> ThinkConfig:
    """A checkpoint's default ThinkConfig (what `load` sets as `think_defaults`), read from its
    config.json without loading the weights."""
    path = resolve(name_or_dir)
    data = _read_config(path)
    try:
        return ThinkConfig.from_dict(data["think"]) if data.get("think") else ThinkConfig()
    except (ValueError, TypeError) as err:
        raise CheckpointError(f"{path / CONFIG_FILE}: {err}") from err


def read_metrics(name_or_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The training curve of a checkpoint (one dict per logged evaluation)."""
    file = resolve(name_or_dir) / METRICS_FILE
    if not file.is_file():
        return []
    rows = []
    for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise CheckpointError(f"{file}, line {n}: not JSON ({err})") from err
    return rows

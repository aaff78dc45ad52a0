"""Shared plumbing of the command-line tools: bad input ends in one clear line, not a traceback."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path


def run(main: Callable, argv: list[str] | None = None):
    """Call `main(argv)`; a ValueError (bad argument, recipe or checkpoint: the message names
    it) is printed as `error: ...` and exits with status 2, like argparse's own errors."""
    try:
        return main(argv)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def read_recipe(path: str | Path, recipe_cls) -> dict:
    """A recipe JSON file as a dict of `recipe_cls` fields; errors name the file and the key."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ValueError(f"cannot read recipe {path}: {err.strerror or err}") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"recipe {path} is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise ValueError(f"recipe {path} must be a JSON object, got {type(data).__name__}")
    allowed = [f.name for f in fields(recipe_cls)]
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValueError(f"recipe {path}: unknown key(s) {unknown}; allowed: {allowed}")
    return data


def load_recipe(args, recipe_cls, eval_steps: tuple) -> tuple[str, object]:
    """(name, recipe) from the training CLI's arguments: the recipe file (its stem is the
    checkpoint's name) with --iters/--seed/--eval-every applied. Errors name the file."""
    path = Path(args.recipe)
    data = read_recipe(path, recipe_cls)
    data["eval_steps"] = tuple(data.get("eval_steps", eval_steps))
    try:
        recipe = recipe_cls(**data)
    except TypeError as err:  # a value of the wrong type, e.g. "iters": "many"
        raise ValueError(f"recipe {path}: {err}") from err
    for key, value in (("iters", args.iters), ("seed", args.seed), ("eval_every", args.eval_every)):
        if value is not None:
            recipe = replace(recipe, **{key: value})
    return path.stem, recipe

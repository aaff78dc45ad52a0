"""Bad input to the Python API: prompts, answers, numbers and landscape arguments are refused
with a ValueError that names the field."""

from __future__ import annotations

import math

import pytest

import ebt_core as ebt

NAN, INF = math.nan, math.inf


# ---- text: prompts, answers, numbers --------------------------------------------------------
PROMPTS = [
    ("", "prompt must be a non-empty string"),
    (None, "prompt must be a non-empty string, got NoneType"),
    (12, "prompt must be a non-empty string, got int"),
    ("1" * 2000, r"prompt \(2000 characters\).*context of 1024"),
    ("12×3=", r"prompt contains 1 character.*'×' \(U\+00D7\).*Allowed"),
    ("12\x00+3=", r"'\\x00' \(U\+0000\).*position 2"),
    ("1\u200b2+3=", r"U\+200B"),
    ("héllo wörld 🙂", r"prompt contains 10 character.*U\+1F642"),
]


@pytest.mark.parametrize("prompt, message", PROMPTS)
def test_bad_prompts_are_refused_visibly(model, prompt, message):
    with pytest.raises(ValueError, match=message):
        ebt.think(model, prompt, ebt.ThinkConfig(steps=1), max_new_tokens=1)


@pytest.mark.parametrize(
    "answer, config, message",
    [("", None, "answer must be a non-empty"), ("4é", None, r"answer contains.*'é'"),
     (["4"], None, "answer must be a non-empty string, got list"),
     ("47", {"steps": 2}, "config must be a ThinkConfig")],
)  # fmt: skip
def test_bad_answers_are_refused(model, answer, config, message):
    with pytest.raises(ValueError, match=message):
        ebt.score(model, "12+35=", answer, config)


NUMBERS = [  # (config class, field, bad values)
    (ebt.ThinkConfig, "steps", [0, -1, 10**9, 2.5, NAN, INF, True, "8"]),
    (ebt.ThinkConfig, "samples", [0, -3, 10**6, NAN, None]),
    (ebt.ThinkConfig, "step_size", [0.0, -1.0, NAN, INF, -INF, 1e12]),
    (ebt.ThinkConfig, "langevin", [-0.1, NAN, INF, 1e9]),
    (ebt.ThinkConfig, "tolerance", [-1.0, NAN, INF]),
    (ebt.ThinkConfig, "seed", [-1, 2**64, 1.5]),
    (ebt.DenoiseConfig, "noise", [-0.1, NAN, INF, 1.5, 0.0001]),
    (ebt.DenoiseConfig, "steps", [0, -1, 10**6, NAN]),
    (ebt.DenoiseConfig, "step_size", [0.0, -1.0, NAN, INF]),
    (ebt.DenoiseConfig, "langevin", [-1.0, NAN, INF, 1e6]),
]
NUMBER_CASES = [(cls, field, v) for cls, field, values in NUMBERS for v in values]


@pytest.mark.parametrize(
    "cls, field, value",
    NUMBER_CASES,
    ids=[f"{c.__name__}.{f}={v!r}" for c, f, v in NUMBER_CASES],
)
def test_bad_numbers_name_the_field(cls, field, value):
    with pytest.raises(ValueError, match=field):
        cls(**{field: value})


@pytest.mark.parametrize("n", [0, -1, 513, 10**9, 2.0, NAN, True])
def test_bad_max_new_tokens(model, n):
    with pytest.raises(ValueError, match="max_new_tokens"):
        ebt.think(model, "1+1=", ebt.ThinkConfig(steps=1), max_new_tokens=n)


@pytest.mark.parametrize(
    "token, resolution, method, field",
    [(-1, 5, "pca", "token"), (2, 5, "pca", "token"), (1.0, 5, "pca", "token"),
     (True, 5, "pca", "token"), (0, 2, "pca", "resolution"), (0, 10**6, "pca", "resolution"),
     (0, NAN, "pca", "resolution"), (0, 5, "tsne", "method")],
)  # fmt: skip
def test_bad_landscape_arguments(model, token, resolution, method, field):
    run = ebt.think(model, "1+1=", ebt.ThinkConfig(steps=2, samples=2), max_new_tokens=2)
    with pytest.raises(ValueError, match=field):
        ebt.landscape(model, run, token=token, resolution=resolution, method=method)


def test_predict_next_checks_k():
    from .conftest import tiny_transformer

    with pytest.raises(ValueError, match="k must be"):
        ebt.predict_next(tiny_transformer(), "1+1=", k=0)

import math

import pytest

import ebt_core as ebt


@pytest.mark.parametrize(
    "field, value",
    [
        ("steps", 0),
        ("steps", -3),
        ("steps", 10_000),
        ("steps", 2.5),
        ("steps", True),
        ("step_size", 0.0),
        ("step_size", -1.0),
        ("step_size", math.nan),
        ("step_size", math.inf),
        ("langevin", -0.1),
        ("langevin", math.nan),
        ("samples", 0),
        ("samples", 1000),
        ("select", "best"),
        ("accept_lower_only", "yes"),
        ("tolerance", -1.0),
        ("tolerance", math.inf),
        ("seed", -1),
    ],
)
def test_think_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        ebt.ThinkConfig(**{field: value})


@pytest.mark.parametrize(
    "field, value",
    [
        ("n_layer", 0),
        ("d_model", 30),
        ("vocab", "aa"),
        ("vocab", "a"),
        ("kind", "rnn"),
        ("step_size", 0.0),
        ("max_context", 1),
        ("step_embeddings", -1),
    ],
)
def test_model_config_rejects_bad_values_naming_the_field(field, value):
    kwargs = {"n_head": 4} if field == "d_model" else {}
    with pytest.raises(ValueError, match=field):
        ebt.TextModelConfig(**{field: value, **kwargs})


def test_configs_round_trip_through_json_and_reject_unknown_keys():
    cfg = ebt.ThinkConfig(steps=5, step_size=3.0, samples=2, select="max_gap", seed=7)
    assert ebt.ThinkConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="stepz"):
        ebt.ThinkConfig.from_dict({"stepz": 3})
    mcfg = ebt.TextModelConfig(vocab="ab\n", d_model=16, n_head=2)
    assert ebt.TextModelConfig.from_dict(mcfg.to_dict()) == mcfg


def test_configs_are_frozen():
    cfg = ebt.ThinkConfig()
    with pytest.raises(AttributeError):
        cfg.steps = 3  # type: ignore[misc]

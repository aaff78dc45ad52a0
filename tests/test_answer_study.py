"""The whole-answer study: its measures on a tiny model, and the module on the shipped
checkpoints (slow)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import ebt_core as ebt
from ebt_core.answer.data import get_task
from ebt_core.answer.model import AnswerEBT, AnswerModelConfig
from ebt_core.study import answer as study

ROOT = Path(__file__).resolve().parent.parent


def _tiny() -> AnswerEBT:
    torch.manual_seed(0)
    model = AnswerEBT(AnswerModelConfig(task="sum", n_layer=1, n_head=2, d_model=16)).eval()
    model.think_defaults = ebt.ThinkConfig(steps=2)
    return model


def test_best_of_one_is_the_noiseless_sample_of_the_steps_curve():
    model, task = _tiny(), get_task("sum")
    prompts = [e.prompt for e in task.fixed("id", "val", 12)]
    cfg = ebt.ThinkConfig(steps=2)
    curve = study.steps_curve(model, task, prompts, cfg)
    assert list(curve) == [str(s) for s in (1, 2, 4, 8, 16, 32)]  # 2 and 8 = 4 × 2 included
    best = study.best_of(model, task, prompts, cfg, 2)
    assert best["best_of_1"] == curve["2"]
    assert 0 <= best["disagree_pct"] <= 100


def test_one_character_change_is_always_wrong_for_sums():
    task, rng = get_task("sum"), random.Random(0)
    for ex in task.fixed("id", "val", 50):
        changed = study._changed(task, ex.answer, rng)
        assert len(changed) == len(ex.answer) and not task.is_correct(ex.prompt, changed)


@pytest.mark.slow
def test_study_runs_on_the_shipped_checkpoints(tmp_path):
    names = [f"{t}-{k}" for t in ("sum", "sudoku") for k in ("ebt", "transformer")]
    if not all((ROOT / "checkpoints" / n).is_dir() for n in names):
        pytest.fail(f"the shipped whole-answer checkpoints are missing: {names}")
    proc = subprocess.run(
        [sys.executable, "-m", "ebt_core.study.answer", "--quick", "--out", str(tmp_path),
         "--baseline", "sum-transformer"],  # measured again as the "other" baseline
        cwd=ROOT, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    for task in ("sum", "sudoku"):
        for split in ("id", "harder", "ood"):
            row = results["tasks"][task]["splits"][split]
            assert {str(s) for s in study.STEPS} <= set(row["steps"])
            assert 0 <= row["transformer"] <= 100 and "best_of_16" in row["4x_default"]
            if task == "sum":  # the same checkpoint gives the same greedy answers
                assert row["transformer_extra"] == row["transformer"]
            else:  # a sum baseline is not measured on Sudoku
                assert "transformer_extra" not in row
    assert "| id |" in (tmp_path / "README.md").read_text()

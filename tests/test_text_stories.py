"""The character-level EBTs' stories measured plainly (ebt_core/study/spread.py): the val / test
parts, the default steps the measurements pick, best-of-N against the noiseless single sample,
dynamic compute, and the best-of-N preset whose candidates really differ (SPREAD_PRESET)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import ebt_core as ebt
from ebt_core.study import measures as ev
from ebt_core.study import run as evaluate
from ebt_core.study import spread
from ebt_core.text.data import ARITH_VOCAB, ENGLISH_VOCAB, TextCorpus, get_corpus
from ebt_core.text.think import SPREAD_PRESET

from .conftest import tiny_ebt

ROOT = Path(__file__).resolve().parent.parent

# val curves (steps 1..8) of the shipped checkpoints, `python -m ebt_core.study.spread` (README)
ENGLISH_VAL = {
    "id": [10.036, 8.771, 8.603, 8.577, 8.607, 8.656, 8.683, 8.718],
    "ood": [12.18, 11.395, 11.271, 11.304, 11.349, 11.398, 11.444, 11.528],
}
ARITH_VAL = {
    "id": [1.28, 1.042, 1.039, 1.035, 1.033, 1.032, 1.031, 1.031],
    "ood": [27.849, 105.045, 120.006, 132.241, 137.618, 140.713, 151.636, 154.785],
}


@pytest.fixture(scope="module")
def batch():
    return get_corpus("arith").eval_batch("id", 6, 24, seed=1)


# ---- default steps ----------------------------------------------------------------------------
def test_pick_steps_takes_the_count_near_the_best_on_both_splits():
    assert spread.pick_steps(ENGLISH_VAL["id"], ENGLISH_VAL["ood"]) == 4
    assert spread.pick_steps([3.0, 2.0, 1.0, 1.5], [3.0, 2.0, 1.0, 1.2]) == 3
    # arith: ID wants many steps, OOD one step: no count is near the best on both
    assert spread.pick_steps(ARITH_VAL["id"], ARITH_VAL["ood"]) is None


def test_the_shipped_defaults_are_what_the_val_measurements_pick():
    """english-ebt thinks 4 steps by default (was 2); arith-ebt keeps 2 (its splits disagree)."""
    english = ebt.read_think_defaults(ROOT / "checkpoints" / "english-ebt")
    arith = ebt.read_think_defaults(ROOT / "checkpoints" / "arith-ebt")
    assert english.steps == spread.pick_steps(ENGLISH_VAL["id"], ENGLISH_VAL["ood"]) == 4
    assert arith.steps == 2
    recipe = json.loads((ROOT / "train" / "recipes" / "english-ebt.json").read_text())
    assert recipe["think"]["steps"] == english.steps


# ---- val / test parts -------------------------------------------------------------------------
def test_english_val_and_test_are_the_two_halves_of_each_held_out_text():
    train, held, ood = "x" * 3000, "a" * 2000 + "b" * 2000, "c" * 1500 + "d" * 1500
    corpus = TextCorpus("t", ENGLISH_VOCAB, train, held, ood)
    decode = lambda ids: {ENGLISH_VOCAB[i] for i in ids.flatten().tolist()}
    assert decode(spread.part_batch(corpus, "id", "val", 8, 16)[0]) == {"a"}
    assert decode(spread.part_batch(corpus, "id", "test", 8, 16)[0]) == {"b"}
    assert decode(spread.part_batch(corpus, "ood", "val", 8, 16)[0]) == {"c"}
    assert decode(spread.part_batch(corpus, "ood", "test", 8, 16)[0]) == {"d"}
    with pytest.raises(ValueError, match="part must be one of"):
        spread.part_batch(corpus, "id", "train", 8, 16)


def test_arith_val_and_test_draw_different_rows():
    corpus = get_corpus("arith")
    val, _ = spread.part_batch(corpus, "id", "val", 8, 24)
    test, _ = spread.part_batch(corpus, "id", "test", 8, 24)
    assert not np.array_equal(val.numpy(), test.numpy())
    again, _ = spread.part_batch(corpus, "id", "test", 8, 24)
    np.testing.assert_array_equal(test.numpy(), again.numpy())


# ---- descent statistics under a start spread and Langevin noise ------------------------------
def test_descent_stats_records_the_argmax_and_the_targets(batch):
    ids, mask = batch
    stats = ev.descent_stats(tiny_ebt(), ids, mask, 2, samples=3)
    assert stats.top.shape == stats.energy.shape and stats.target.shape == mask.shape
    np.testing.assert_array_equal(stats.target, ids[:, 1:].numpy())
    right = stats.top[-1] == stats.target  # (N, B, T): the right argmax has the lowest NLL
    assert (stats.nll[-1][right] <= np.log(len(ARITH_VOCAB))).all()


def test_a_zero_start_without_noise_gives_identical_candidates(batch):
    ids, mask = batch
    stats = ev.descent_stats(tiny_ebt(), ids, mask, 2, samples=4, start_std=0.0)
    assert (stats.top == stats.top[:, :1]).all() and np.ptp(stats.energy, axis=1).max() < 1e-6
    row = spread.spread(tiny_ebt(), ids, mask, 2, 0.0, 0.0, 4)
    assert row["disagree_pct"] == 0.0 and row["lowest_right_when_disagree"] is None
    assert row["bon_acc"] == row["cand0_acc"] == row["oracle_acc"]


def test_langevin_and_a_wide_start_make_candidates_differ(batch):
    ids, mask = batch
    model = tiny_ebt()
    noisy = spread.spread(model, ids, mask, 2, model.config.start_std, 3.0, 8)
    wide = spread.spread(model, ids, mask, 2, 3.0, 0.0, 8)
    for row in (noisy, wide):
        assert row["disagree_pct"] > 50.0
        assert row["oracle_acc"] >= max(row["bon_acc"], row["cand0_acc"])
        assert 0.0 <= row["lowest_right_when_disagree"] <= 100.0
    same = ev.descent_stats(model, ids, mask, 2, samples=2)  # the defaults are unchanged
    again = ev.descent_stats(model, ids, mask, 2, samples=2, langevin=0.0, start_std=None)
    np.testing.assert_array_equal(same.energy, again.energy)


def test_pick_preset_needs_candidates_that_differ():
    rows = [
        {"start_std": 0.1, "langevin": 0.0, "disagree_pct": 2.0, "bon_acc": 99.9, "bon_ppl": 1.0},
        {"start_std": 0.1, "langevin": 1.0, "disagree_pct": 20.0, "bon_acc": 99.0, "bon_ppl": 1.1},
        {"start_std": 1.0, "langevin": 0.0, "disagree_pct": 90.0, "bon_acc": 97.0, "bon_ppl": 1.2},
    ]
    pick = spread.pick_preset(rows, baseline_acc=98.5)
    assert (pick["langevin"], pick["gain_vs_single_pts"]) == (1.0, 0.5)
    assert spread.pick_preset(rows[:1], baseline_acc=98.5) is None


# ---- dynamic compute --------------------------------------------------------------------------
def test_stop_steps_is_the_first_step_whose_energy_change_is_below_the_tolerance():
    energy = np.array([[0.0, 0.0], [-1.0, -0.5], [-1.001, -0.9], [-1.0015, -1.3]])[:, :, None]
    np.testing.assert_array_equal(spread.stop_steps(energy, 0.01)[:, 0], [2, 3])
    np.testing.assert_array_equal(spread.stop_steps(energy, 2.0)[:, 0], [1, 1])


def test_dynamic_compute_counts_steps_on_right_and_wrong_tokens(batch):
    ids, mask = batch
    stats = ev.descent_stats(tiny_ebt(), ids, mask, 6, samples=1)
    loose, strict = spread.dynamic(stats, 10.0), spread.dynamic(stats, 0.0)
    assert loose["mean_steps"] == 1.0 and strict["mean_steps"] == 6.0  # never settles at 0
    assert 0.0 <= loose["acc_at_stop"] <= 100.0


def test_verifier_auroc_ranks_wrong_tokens_by_their_final_energy():
    target = np.array([[1, 2, 3, 4]])
    top = np.array([[[1, 0, 3, 0]]] * 2)  # (S+1, N, B, T): tokens 1 and 3 wrong
    energy = np.array([[[0.0, 0.0, 0.0, 0.0]], [[-0.9, -0.2, -0.8, -0.1]]])[:, None]
    stats = ev.DescentStats(energy, np.zeros_like(energy), np.ones((1, 4)), top, target)
    assert spread.verifier_auroc(stats, 1) == 1.0
    stats.mask[0, 3] = 0  # only counted tokens: one wrong left, still ranked above the right
    assert spread.verifier_auroc(stats, 1) == 1.0
    stats.energy[1, 0, 0, 1] = -1.0  # now the wrong token has the lowest energy
    assert spread.verifier_auroc(stats, 1) == 0.0


# ---- the preset -------------------------------------------------------------------------------
def _distinct(run: ebt.ThinkRun) -> float:
    """Mean number of distinct characters the candidates end on, per generated character."""
    return float(np.mean([len(set(t.states[:, -1].argmax(-1).tolist())) for t in run.tokens]))


def test_under_the_spread_preset_candidates_really_differ(trained_ebt):
    """On a tiny seeded trained EBT, the preset's 16 candidates end on more distinct characters
    than 16 candidates from the model's start with no noise, at every prompt, and the chosen
    one is the lowest final energy."""
    assert SPREAD_PRESET.samples == 16 and SPREAD_PRESET.langevin == 1.0
    assert SPREAD_PRESET.steps == ebt.read_think_defaults(ROOT / "checkpoints" / "arith-ebt").steps
    plain = replace(SPREAD_PRESET, langevin=0.0)
    for prompt in ("12+35=", "7+8=", "([(="):
        run = ebt.think(trained_ebt, prompt, SPREAD_PRESET, max_new_tokens=4)
        calm = ebt.think(trained_ebt, prompt, plain, max_new_tokens=4)
        assert _distinct(run) >= 2 and _distinct(run) > _distinct(calm), prompt
        for tok in run.tokens:
            assert tok.chosen == int(np.argmin(tok.energies[:, -1]))


# ---- the command ------------------------------------------------------------------------------
def test_the_quick_command_writes_every_measure(tmp_path, monkeypatch):
    root = tmp_path / "checkpoints"
    ebt.save(tiny_ebt(), root / "arith-ebt", think=ebt.ThinkConfig(steps=2))
    monkeypatch.setenv("EBT_CHECKPOINTS", str(root))
    out = tmp_path / "out"
    results = spread.main(["--quick", "--checkpoints", "arith-ebt", "--out", str(out)])
    (res,) = results["checkpoints"]
    val, test = res["parts"]["val"], res["parts"]["test"]
    assert len(val["id"]["curve"]) == spread.MAX_STEPS
    assert len(val["id"]["spread"]) == len(spread.SETTINGS)
    assert len(test["id"]["spread"]) <= 2  # the model's own start and the val pick
    assert [d["tol"] for d in val["ood"]["dynamic"]] == list(spread.TOLERANCES)
    assert 0.0 <= val["id"]["verifier_auroc"] <= 1.0
    assert set(res["steps_pick"]) == set(spread.PARTS)
    match = val["id"]["exact_match"]
    assert {"single", "best_of_16_no_noise"} <= set(match) and 0 <= match["single"] <= 100
    assert json.loads((out / "results.json").read_text()) == results
    assert "## Dynamic compute" in (out / "README.md").read_text()


def test_the_study_runs_it_with_only_spread(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(spread, "main", lambda argv: calls.append(argv) or {"ran": "spread"})
    assert evaluate.main(["--only", "spread", "--quick", "--out", str(tmp_path)]) == {
        "ran": "spread"
    }
    assert calls == [["--out", str(tmp_path / "spread"), "--quick"]]

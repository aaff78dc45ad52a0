"""The evaluation study: per-token descent statistics, AUROC, the verifier tokens, PSNR vs
passes, and the CLI's quick mode at a reduced size (JSON keys, sane ranges, report files)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import ebt_core as ebt
from ebt_core.study import measures as ev
from ebt_core.study import paper, report
from ebt_core.study import run as evaluate
from ebt_core.text.data import get_corpus

from .conftest import tiny_ebt
from .test_image import photo, tiny_image_model

HEADLINE_KEYS = (
    "think_gain_id_pct",
    "think_gain_ood_pct",
    "bon_gain_id_pct",
    "bon_gain_ood_pct",
    "energy_auroc",
    "psnr_ebt_id",
    "psnr_dit_id",
    "psnr_ebt_ood",
    "psnr_dit_ood",
    "passes_ebt",
    "passes_dit",
)


# ---- AUROC and ranks ------------------------------------------------------------------------
def test_auroc_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(5):
        scores = rng.integers(0, 6, 80).astype(float) + rng.random(80) * (rng.random() < 0.5)
        labels = rng.random(80) < 0.3
        assert ev.auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores))


def test_auroc_edge_cases():
    assert ev.auroc([1, 2, 3, 4], [False, False, True, True]) == 1.0
    assert ev.auroc([1, 2, 3, 4], [True, True, False, False]) == 0.0
    assert ev.auroc([5, 5, 5, 5], [True, False, True, False]) == 0.5
    assert math.isnan(ev.auroc([1, 2], [True, True]))


def test_spearman_is_rank_based():
    x = np.arange(20.0)
    assert ev.spearman(x, np.exp(x)) == pytest.approx(1.0)
    assert ev.spearman(x, -(x**3)) == pytest.approx(-1.0)
    assert math.isnan(ev.spearman(x, np.ones(20)))


# ---- descent statistics ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def batch():
    return get_corpus("arith").eval_batch("id", 6, 24, seed=1)


def test_descent_stats_shapes_and_summaries_agree(batch):
    model, (ids, mask) = tiny_ebt(), batch
    stats = ev.descent_stats(model, ids, mask, steps=3, samples=4)
    assert stats.energy.shape == stats.nll.shape == (4, 4, *mask.shape)
    again = ev.descent_stats(model, ids, mask, 3, samples=4)
    assert again.nll_by_step() == pytest.approx([stats.mean_nll(s) for s in (1, 2, 3)])
    assert again.best_of_n_nll(4) == pytest.approx(stats.best_of_n_nll(4))
    assert stats.best_of_n_nll(1) == pytest.approx(stats.mean_nll(3))
    assert (stats.nll >= 0).all() and np.isfinite(stats.energy).all()
    energy, nll = stats.calibration(2)
    assert energy.shape == nll.shape == (int(mask.sum()),)


def test_descent_stats_is_seeded(batch):
    model, (ids, mask) = tiny_ebt(), batch
    a = ev.descent_stats(model, ids, mask, 2, 2, seed=3)
    b = ev.descent_stats(model, ids, mask, 2, 2, seed=3)
    np.testing.assert_array_equal(a.energy, b.energy)
    with pytest.raises(ValueError, match="n must be"):
        a.best_of_n_nll(3)


def test_verifier_tokens_stop_at_the_first_mistake():
    model = tiny_ebt()
    examples = get_corpus("arith").examples("id", 5, seed=0)
    runs = ev.think_examples(model, examples)
    energy, wrong = ev.verifier_tokens(runs, examples)
    assert energy.shape == wrong.shape and len(wrong) >= len(examples)
    i = 0
    for run, (_, answer) in zip(runs, examples):
        chars = [t.char for t in run.tokens]
        n = next((k + 1 for k, (c, a) in enumerate(zip(chars, answer)) if c != a), len(answer))
        assert list(wrong[i : i + n]) == [c != a for c, a in zip(chars[:n], answer[:n])]
        assert energy[i] == pytest.approx(run.tokens[0].final_energy)
        i += n
    assert i == len(wrong)
    assert ev.run_exact_match(runs, examples) == ev.exact_match(model, examples)


def test_psnr_vs_passes_on_tiny_models():
    ebt_model, dit = tiny_image_model("image-ebt"), tiny_image_model("image-dit")
    curve = ev.psnr_vs_passes(ebt_model, dit, photo(20, 24), 0.05, ebt_steps=2, dit_passes=(2, 1))
    assert curve.ebt_passes == [2, 3] and len(curve.ebt_psnr) == 2
    assert curve.dit_passes == [1, 2]  # sorted, one run each
    assert set(curve.frames) == {"noisy", "ebt", "dit"}
    assert curve.frames["ebt"].shape == (20, 24, 3)
    out = ebt.denoise(dit, photo(20, 24), ebt.DenoiseConfig(noise=0.05, steps=2))
    assert curve.dit_psnr[1] == pytest.approx(out.psnr[-1])


# ---- the CLI --------------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parent.parent


def test_the_study_writes_into_a_git_ignored_folder_unless_told_otherwise():
    """By default nothing the study writes (results.json, README.md, PNGs) is a tracked file."""
    out = evaluate.parse_args([]).out
    assert out == evaluate.DEFAULT_OUT
    for name in ("results.json", "README.md", *(f"{p}.png" for p in report.PLOTS)):
        path = f"{out}/{name}"
        ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
        assert ignored.returncode == 0, f"{path} is not git-ignored"
    assert evaluate.parse_args(["--out", "assets/report"]).out == "assets/report"


@pytest.mark.parametrize("module", ["ebt_core.study", "ebt_core.study.bench"])
def test_the_study_commands_run_as_modules(module):
    proc = subprocess.run(
        [sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "--out" in proc.stdout if module == "ebt_core.study" else "--quick" in proc.stdout


@pytest.mark.slow
def test_quick_study_json_and_report(tmp_path, capsys):
    args = ["--quick", "--rows", "3", "--examples", "8", "--sweep-rows", "2", "--photos", "1"]
    args += ["--size", "32", "32", "--ebt-steps", "2", "--out", str(tmp_path), "--json"]
    results = evaluate.main(args)
    head = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in HEADLINE_KEYS:
        assert isinstance(head[key], (int, float)), key
    for key in ("think_gain_id_pct", "think_gain_ood_pct", "bon_gain_id_pct", "bon_gain_ood_pct"):
        assert math.isfinite(head[key]), key
    assert 0.0 <= head["energy_auroc"] <= 1.0
    for key in ("psnr_ebt_id", "psnr_dit_id", "psnr_ebt_ood", "psnr_dit_ood"):
        assert 0.0 < head[key] < 60.0, key
    assert head["passes_ebt"] >= 1 and head["passes_dit"] >= 1
    assert head["text_checkpoint"] == "english-ebt"
    by_checkpoint = head["gains_by_checkpoint"]
    assert set(by_checkpoint) == {"arith-ebt", "english-ebt"}
    assert by_checkpoint["english-ebt"]["think_gain_ood_pct"] == head["think_gain_ood_pct"]
    assert len(head["think_gain_by_digits_pct"]) == len(evaluate.SWEEP)
    saved = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert saved["text"][0]["id"] == results["text"][0]["id"]
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "+7.19 %" in readme and "27.25" in readme  # the paper's numbers beside ours
    for name in report.PLOTS:
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
        assert f"]({name}.png)" in readme
    assert report.markdown(saved, list(report.PLOTS)) == readme  # rebuilt from the JSON alone


@pytest.mark.parametrize(
    "id_gain, ood_gain, verdict",
    [
        (1.0, 2.0, "same direction (helps, more OOD)"),
        (2.78, 1.18, "helps in both, but less OOD than ID (paper: more OOD)"),
        (0.25, -29.0, "ID no measurable effect, OOD hurts"),
    ],
)
def test_comparison_verdict_follows_the_measured_gains(id_gain, ood_gain, verdict):
    split = {"tf_ppl": None}
    study = {
        "checkpoint": "x-ebt",
        "id": {**split, "think_gain_pct": id_gain, "bon_gain_pct": id_gain},
        "ood": {**split, "think_gain_pct": ood_gain, "bon_gain_pct": ood_gain},
    }
    rows = [r for r in paper.comparison({"text": [study]}) if "thinking longer" in r]
    assert len(rows) == 1 and verdict in rows[0]
    assert f"OOD {ood_gain:+.2f} %" in rows[0]


@pytest.mark.parametrize("kind", ["points", "answer"])
def test_only_a_kind_runs_that_kinds_study_into_its_own_folder(kind, tmp_path, monkeypatch):
    import importlib

    study = importlib.import_module(f"ebt_core.study.{kind}")
    calls = []
    monkeypatch.setattr(study, "main", lambda argv: calls.append(argv) or {"ran": kind})
    assert evaluate.main(["--only", kind, "--quick", "--out", str(tmp_path)]) == {"ran": kind}
    assert calls == [["--out", str(tmp_path / kind), "--quick"]]


def test_the_report_counts_every_training_stage_of_a_checkpoint(tmp_path, monkeypatch):
    """A stage warm-started from another run (`init_from: runs/NAME`) adds that recipe's
    iterations: the report's header said `image-ebt` (500 iterations) for 8000 + 500."""

    def iters(name: str) -> int:
        return json.loads((evaluate.RECIPES / f"{name}.json").read_text())["iters"]

    model = ebt.load("image-ebt")  # estimate, descent, that pair eight times more
    assert model.recipe["init_from"] == "runs/image-ebt-estimate-9"
    last = ebt.read_metrics("image-ebt")[-1]["iter"]
    chain = [
        "image-ebt-estimate",
        "image-ebt-base",
        "image-ebt-estimate-2",
        "image-ebt-2",
        "image-ebt-estimate-3",
        "image-ebt-3",
        "image-ebt-estimate-4",
        "image-ebt-4",
        "image-ebt-estimate-5",
        "image-ebt-5",
        "image-ebt-estimate-6",
        "image-ebt-6",
        "image-ebt-estimate-7",
        "image-ebt-7",
        "image-ebt-estimate-8",
        "image-ebt-8",
        "image-ebt-estimate-9",
    ]
    earlier = " + ".join(str(iters(name)) for name in chain)
    assert evaluate._training(model, "image-ebt") == f"{earlier} + {last} iterations"
    dit = ebt.load("image-dit")  # a base run, then continued eight times
    assert dit.recipe["init_from"] == "runs/image-dit-8"
    dit_stages = (
        "image-dit-base", "image-dit-2", "image-dit-3", "image-dit-4", "image-dit-5", "image-dit-6",
        "image-dit-7", "image-dit-8",
    )  # fmt: skip
    runs = " + ".join([*(str(iters(name)) for name in dit_stages), str(dit.recipe["iters"])])
    assert evaluate._training(dit, "image-dit") == f"{runs} iterations"
    monkeypatch.setattr(evaluate, "RECIPES", tmp_path)  # the base stage's recipe is not there
    assert evaluate._training(model, "image-ebt") == f"? + {last} iterations"
    stages = {"training": "8000 + 500 iterations", "dit_training": "8500 iterations"}
    header = report._checkpoints({"text": [], "image": stages})
    assert header == "`image-ebt` (8000 + 500 iterations) vs `image-dit` (8500 iterations)"
    old = report._checkpoints({"text": [], "image": {"iters": 500, "dit_iters": 8500}})
    assert old == "`image-ebt` (500 iterations) vs `image-dit` (8500 iterations)"

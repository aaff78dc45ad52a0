"""The point ablation study end to end at its --quick size."""

from __future__ import annotations

import json

import pytest

from ebt_core.study import points as study


@pytest.mark.slow
def test_quick_study_writes_table_figure_and_numbers(tmp_path):
    results = study.main(["--quick", "--out", str(tmp_path), "--contexts", "3"])
    names = [r["variant"] for r in results["variants"]]
    assert names[0] == "full" and "no randomised step size" in names
    assert {"no randomised steps", "no Langevin", "no replay buffer"} <= set(names)
    for row in results["variants"]:
        for split in ("id", "ood"):
            assert set(row[split]) >= {"think_gain_pct", "bon_gain_pct", "mode_shares"}
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["variants"] == json.loads(json.dumps(results["variants"]))
    readme = (tmp_path / "README.md").read_text()
    assert "-1.47 %" in readme and "+7.19 %" in readme
    assert (tmp_path / "landscapes.png").read_bytes()[:4] == b"\x89PNG"


def test_variants_remove_one_ingredient_each():
    base = study.PointRecipe()
    v = study.variants(base)
    full = v["full"]
    assert full.langevin > 0 and full.replay > 0 and full.alpha_jitter > 1
    assert v["no randomised step size"].alpha_jitter == 1.0
    assert v["no randomised steps"].steps_min == v["no randomised steps"].steps_max
    assert v["no Langevin"].langevin == 0 and v["no replay buffer"].replay == 0
    assert v["paper objective (final)"].objective == "final"

"""Command-line tools answer bad input with one `error: ...` line and exit status 2."""

from __future__ import annotations

import json
import math

import pytest

NAN, INF = math.nan, math.inf


# ---- command-line tools: one "error: ..." line and exit status 2, never a traceback ----------
def _cli_cases(tmp_path):
    from ebt_core.study import bench, run  # noqa: PLC0415
    from train import train_image, train_text  # noqa: PLC0415

    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"corpus": "arith", "iterations": 5}))
    wrong_type = tmp_path / "wrong-type.json"
    wrong_type.write_text(json.dumps({"corpus": "arith", "iters": "many"}))
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    return [
        (train_text.train, [str(tmp_path / "missing.json")], "cannot read recipe"),
        (train_text.train, [str(bad_json)], "not valid JSON"),
        (train_text.train, [str(unknown)], "unknown key(s) ['iterations']"),
        (train_text.train, [str(wrong_type)], "wrong-type.json"),
        (train_text.train, [str(listed)], "must be a JSON object"),
        (train_image.train, [str(unknown)], "unknown key(s)"),
        (bench.main, ["--checkpoint", "../../etc"], "checkpoint"),
        (bench.main, ["--new-tokens", "0"], "max_new_tokens"),
        (run.main, ["--rows", "0", "--out", str(tmp_path / "report")], "rows"),
    ]


def test_command_line_tools_answer_bad_input_with_one_clear_line(tmp_path, capsys):
    from ebt_core.study import cli  # noqa: PLC0415

    for main, argv, message in _cli_cases(tmp_path):
        with pytest.raises(SystemExit) as exit_info:
            cli.run(main, argv)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2, (argv, err)
        assert err.startswith("error: ") and message in err, (argv, err)
        assert "Traceback" not in err

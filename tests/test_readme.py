"""Every ```python block of README.md runs as written, from the repository root, each in a fresh
namespace (so each block must import what it uses).

One rule excepts a block, visibly: its first line is the comment `NEEDS_SERVER` (below), and such
a block must be a `gradio_client` session (it talks to a running app, which the API tests in
test_app*.py cover). Every other block runs; a block that raises fails the test.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NEEDS_SERVER = "# needs a running app (python app/main.py)"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def readme_blocks() -> list[tuple[int, str]]:
    """(line number, code) of every ```python block of README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [(text[: m.start()].count("\n") + 1, m.group(1)) for m in BLOCK.finditer(text)]


def runnable_blocks() -> list[tuple[int, str]]:
    return [(line, code) for line, code in readme_blocks() if not code.startswith(NEEDS_SERVER)]


def test_the_readme_has_python_blocks_and_only_server_sessions_are_excepted():
    blocks = readme_blocks()
    assert any("ebt.think(" in code for _, code in runnable_blocks()), "the Python API block"
    for line, code in blocks:
        if code.startswith(NEEDS_SERVER):
            assert "gradio_client" in code and "Client(" in code, f"README.md:{line}"


@pytest.mark.parametrize("line, code", runnable_blocks(), ids=lambda v: str(v)[:20])
def test_readme_python_block_runs(line, code, monkeypatch):
    monkeypatch.chdir(ROOT)  # paths in the README are relative to the repository root
    namespace = {"__name__": f"README.md:{line}"}
    exec(compile(code, f"README.md:{line}", "exec"), namespace)  # noqa: S102


def test_readme_commands_name_modules_and_files_that_exist():
    """The shell commands the README shows (`python -m X`, `python path.py`) point at code."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for module in set(re.findall(r"python -m ([\w.]+)", text)) - {"pytest", "venv"}:
        path = ROOT / module.replace(".", os.sep)
        assert path.with_suffix(".py").is_file() or (path / "__main__.py").is_file(), module
    for script in set(re.findall(r"python3? ((?:app|train|scripts)/[\w/]+\.py)", text)):
        assert (ROOT / script).is_file(), script
    for recipe in set(re.findall(r"train/recipes/[\w.-]+\.json", text)):
        assert (ROOT / recipe).is_file(), recipe

"""The first page's run, thought by a helper process while the server imports Gradio.

`python app/main.py` serves a page that already holds the first example's run (its text and
charts are in the page config: no page-load round trip before they draw). Thinking it needs
torch (about 0.8 s to import on 2 CPUs) and a checkpoint; building the page needs Gradio (about
2 s). So `start()` launches this module as a helper process before the server imports Gradio:
the helper imports torch on the other core, thinks the first example and asks the
Transformer++ what it would write there, and prints both as JSON, which the server reads once
its page is built (`result`, then `Explorer.first_page`). The server itself imports torch only
when a request first needs a model, or when the warm-up computes the other tabs' first views.

Nothing here imports Gradio or torch at import time (the server imports this module first).
If the helper fails or is slow, the server thinks the example itself, as it did before.

    python -m app.first_page          # what the helper runs: one JSON object on stdout
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WAIT_S = 60.0  # the helper takes ~1.3 s on 2 CPUs; past this the server thinks it itself
_HELPER = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from app.first_page import main; main()"


def start() -> subprocess.Popen | None:
    """Launch the helper (None if it cannot be launched: the server then thinks the example
    itself). It reads the same $EBT_CHECKPOINTS as the server."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # one core: the server imports Gradio on the other
    try:
        return subprocess.Popen(
            [sys.executable, "-c", _HELPER],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
    except OSError as err:
        print(f"EBT Explorer: no first-page helper ({err}); the server thinks the example itself")
        return None


def result(helper: subprocess.Popen | None, wait_s: float = WAIT_S) -> dict | None:
    """What the helper printed ({"run": …, "baseline": …}, or {} when the folder has no first
    example), or None (with one line on the console) when it failed or took over `wait_s`."""
    if helper is None:
        return None
    try:
        out, err = helper.communicate(timeout=wait_s)
    except subprocess.TimeoutExpired:
        helper.kill()
        helper.communicate()
        print(f"EBT Explorer: the first-page helper took over {wait_s:g} s; thinking it here")
        return None
    if helper.returncode != 0:
        last = (err.decode(errors="replace").strip().splitlines() or ["no message"])[-1]
        print(f"EBT Explorer: the first-page helper failed ({last}); thinking it here")
        return None
    try:
        found = json.loads(out)
    except ValueError:
        print("EBT Explorer: the first-page helper printed no JSON; thinking it here")
        return None
    return found if isinstance(found, dict) else None


def think_first_example() -> dict:
    """The first example thought at its checkpoint's defaults, as the Think tab's first run
    would be ({"run": ThinkRun.to_dict()}), with the Transformer++'s prediction at its first
    character ("baseline": {"name", "key", "prediction"}) when the folder has that baseline;
    {} when the folder offers no first example for its default EBT."""
    import ebt_core as ebt
    from app.runtime import Registry, baseline_key, baseline_prediction, load_examples

    registry = Registry.scan()
    examples = load_examples(registry.thinkers)
    if not examples or examples[0]["checkpoint"] != registry.default_ebt:
        return {}
    example = examples[0]
    model = registry.get(example["checkpoint"])
    run = ebt.think(model, example["prompt"], model.think_defaults, example["max_new_tokens"])
    found: dict = {"run": run.to_dict()}
    name = registry.baseline(run.checkpoint)
    if name:
        task = registry.answer_task(run.checkpoint)
        prediction = baseline_prediction(registry.get(name), run, 0, task)
        found["baseline"] = {"name": name, "key": baseline_key(run, 0, task)}
        found["baseline"]["prediction"] = prediction
    return found


def main() -> None:
    """The helper: think on one thread (the server imports Gradio on the other core; the
    run's numbers can differ from a two-thread run's in the last float digits), print JSON."""
    import torch

    torch.set_num_threads(1)
    json.dump(think_first_example(), sys.stdout)


if __name__ == "__main__":
    main()

"""Shared fixtures: tiny seeded models (CPU, milliseconds) and the app served in-process."""

from __future__ import annotations

import os
import random
import shutil
import socket
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

import ebt_core as ebt
from ebt_core.text import training as obj
from ebt_core.text.data import ARITH_VOCAB, get_corpus

TINY = dict(n_layer=2, n_head=2, d_model=32, vocab=ARITH_VOCAB, step_size=2.0)


def tiny_ebt(seed: int = 0, **overrides) -> ebt.TextEBT:
    torch.manual_seed(seed)
    return ebt.TextEBT(ebt.TextModelConfig(**{**TINY, **overrides})).eval()


def tiny_transformer(seed: int = 0) -> ebt.Transformer:
    torch.manual_seed(seed)
    return ebt.Transformer(ebt.TextModelConfig(**{**TINY, "kind": "transformer"})).eval()


@pytest.fixture
def model() -> ebt.TextEBT:
    return tiny_ebt()


@pytest.fixture(scope="session")
def trained_ebt() -> ebt.TextEBT:
    """A tiny EBT trained for a few seconds on arith: its landscape is no longer random."""
    model = tiny_ebt(seed=1)
    model.train()
    recipe = obj.TextRecipe(batch=16, length=24, steps_min=2, steps_max=2, lr=3e-3, warmup=5)
    corpus, rng, gen = get_corpus("arith"), random.Random(0), torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(40):
        ids, mask = corpus.train_batch(rng, recipe.batch, recipe.length)
        loss, _ = obj.ebt_loss(model, ids, mask, recipe, rng, gen, None)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# gradio's own queue trips pandas deprecation warnings; they are not ours to fix
QUIET_GRADIO = pytest.mark.filterwarnings(
    "ignore:.*no_silent_downcasting", "ignore:The copy keyword is deprecated"
)


def pytest_collection_modifyitems(items):
    """Every test that talks to the served app (the `client` fixture) ignores those warnings."""
    for item in items:
        if "client" in getattr(item, "fixturenames", ()):
            item.add_marker(QUIET_GRADIO)


def _checkpoints(root):
    """Tiny text checkpoints (arith-ebt, arith-transformer) and the shipped image and point
    ones (points-ebt, points-regressor: ~100 kB each)."""
    torch.manual_seed(0)
    ebt.save(
        ebt.TextEBT(ebt.TextModelConfig(**TINY)), root / "arith-ebt", think=ebt.ThinkConfig(steps=4)
    )
    ebt.save(
        ebt.Transformer(ebt.TextModelConfig(**TINY, kind="transformer")), root / "arith-transformer"
    )
    shipped = ebt.checkpoints_dir()
    for name in ("image-ebt", "image-dit", "points-ebt", "points-regressor"):
        if (shipped / name).is_dir():
            shutil.copytree(shipped / name, root / name, ignore=shutil.ignore_patterns(".resume"))


@contextmanager
def checkpoints_env(root: Path):
    """$EBT_CHECKPOINTS = root inside the block, restored after (the app scans the folder
    when it is created; other tests must not see it)."""
    old = os.environ.get("EBT_CHECKPOINTS")
    os.environ["EBT_CHECKPOINTS"] = str(root)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("EBT_CHECKPOINTS", None)
        else:
            os.environ["EBT_CHECKPOINTS"] = old


@pytest.fixture(scope="session")
def client(tmp_path_factory):
    """The Gradio app served in-process, once per test session, on tiny text checkpoints
    (arith-ebt, arith-transformer) and the shipped image and point checkpoints; → (Client,
    Explorer): the Explorer's tabs (`.think`, `.landscape`, `.denoise`, `.points`,
    `.playground`) hold the handlers it serves."""
    gradio_client = pytest.importorskip("gradio_client")
    from app.inputs import MAX_UPLOAD_BYTES
    from app.main import create_explorer

    root = tmp_path_factory.mktemp("checkpoints")
    _checkpoints(root)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    with checkpoints_env(root):
        explorer = create_explorer()
    demo = explorer.demo
    try:
        demo.launch(
            prevent_thread_lock=True,
            server_port=_free_port(),
            quiet=True,
            max_file_size=MAX_UPLOAD_BYTES,
        )
        yield gradio_client.Client(demo.local_url, verbose=False), explorer
    finally:
        demo.close()

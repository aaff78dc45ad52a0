"""Shared fixtures: tiny seeded models (CPU, milliseconds)."""

from __future__ import annotations

import importlib
import os
import random
import shutil
import socket
import sys

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


APP_MODULES = ("app.main", "app.models", "app.landscape_tab", "app.denoise_tab")


@pytest.fixture(scope="session")
def client(tmp_path_factory):
    """The Gradio app served in-process, once per test session, on tiny text checkpoints
    (arith-ebt, arith-transformer) and the shipped image checkpoints; → (Client, app.main).

    app.models reads $EBT_CHECKPOINTS at import, so the app's modules are imported afresh here.
    """
    gradio_client = pytest.importorskip("gradio_client")
    root = tmp_path_factory.mktemp("checkpoints")
    torch.manual_seed(0)
    ebt.save(
        ebt.TextEBT(ebt.TextModelConfig(**TINY)), root / "arith-ebt", think=ebt.ThinkConfig(steps=4)
    )
    ebt.save(
        ebt.Transformer(ebt.TextModelConfig(**TINY, kind="transformer")), root / "arith-transformer"
    )
    shipped = ebt.checkpoints_dir()
    for name in ("image-ebt", "image-dit"):
        if (shipped / name).is_dir():
            shutil.copytree(shipped / name, root / name, ignore=shutil.ignore_patterns(".resume"))
    old = os.environ.get("EBT_CHECKPOINTS")
    os.environ["EBT_CHECKPOINTS"] = str(root)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    for name in APP_MODULES:
        sys.modules.pop(name, None)
    try:  # the app reads the folder at import only: restore the variable for the other tests
        main = importlib.import_module("app.main")
    finally:
        if old is None:
            os.environ.pop("EBT_CHECKPOINTS", None)
        else:
            os.environ["EBT_CHECKPOINTS"] = old
    try:
        main.demo.launch(
            prevent_thread_lock=True,
            server_port=_free_port(),
            quiet=True,
            max_file_size=main.MAX_UPLOAD_BYTES,
        )
        yield gradio_client.Client(main.demo.local_url, verbose=False), main
    finally:
        main.demo.close()
        for name in APP_MODULES:
            sys.modules.pop(name, None)

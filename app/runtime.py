"""The app's runtime: the checkpoints this server offers (scanned once, each loaded on first use
and shared read-only by every visitor and tab), the two threads that run model work, and
glibc memory hygiene for a long-running server."""

from __future__ import annotations

import ctypes
import json
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import ebt_core as ebt
from app import gpu
from ebt_core.answer.data import Task, get_task

# Model work runs on these two threads only. Gradio serves events from a growing pool of worker
# threads, and each new thread that runs torch gets its own per-thread state and malloc arena:
# with `/denoise` the server's RSS grew ~25 % under 8 clients (a plateau, not a leak); with a
# fixed pair of threads it stays flat. Two = the queue's concurrency limit. (Threads start on
# the first submit: importing this module does no work.)
COMPUTE = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ebt-compute")


def limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each worker thread its own malloc arena and keeps freed memory in it, so the
    server's RSS kept growing under concurrent clients (scripts/loadtest.py). Same effect as
    MALLOC_ARENA_MAX=2; a no-op where libc is not glibc."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # -8 = M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def _trim() -> None:
    """Hand freed heap pages back to the OS (glibc keeps them otherwise: RSS would sit at the
    high-water mark of the largest concurrent requests). A no-op where libc is not glibc."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def submit(fn, *args, **kwargs) -> Future:
    """Start `fn(*args, **kwargs)` on a model-work thread without waiting (a Playground
    training: it holds one of the two threads, so other visitors keep the other)."""
    return COMPUTE.submit(fn, *args, **kwargs)


def compute(fn, *args, **kwargs):
    """Run `fn(*args, **kwargs)` on a model-work thread and wait for it (exceptions propagate);
    through `gpu.run`, the one entry point that a ZeroGPU Space decorates with `@spaces.GPU`."""
    try:
        return COMPUTE.submit(gpu.run, fn, *args, **kwargs).result()
    finally:
        _trim()


EXAMPLES_FILE = Path(__file__).resolve().parent.parent / "assets/examples/think_prompts.json"
TOP_K = 5  # characters listed by the top-k views and the Transformer++ baseline


def load_examples(checkpoints: list[str]) -> list[dict]:
    """The Think tab's example prompts whose checkpoint this server offers (the first one opens
    the page). An example may carry "settings" (e.g. {"samples": 16}) that its click uses
    instead of the checkpoint's defaults."""
    examples = json.loads(EXAMPLES_FILE.read_text(encoding="utf-8"))
    return [e for e in examples if e["checkpoint"] in checkpoints]


def baseline_key(run: ebt.ThinkRun, token: int, task: Task | None) -> str:
    """What the Transformer++'s prediction at a run's token depends on: the text before that
    character, or (a whole-answer EBT's run: `task` given) the prompt."""
    return run.prompt if task is not None else run.context(token)


def baseline_prediction(model, run: ebt.ThinkRun, token: int, task: Task | None):
    """The Transformer++ `model` where the EBT chose the run's `token`: its TOP_K next
    characters as (character, probability) pairs, or (`task` given) its whole answer to the
    prompt, generated left to right."""
    if task is not None:
        from ebt_core.answer.baseline import generate_answers  # (torch: on first use)

        return generate_answers(model, task, [run.prompt])[0]
    return ebt.predict_next(model, run.context(token), TOP_K)


def baseline_name(checkpoint: str, transformers: list[str]) -> str | None:
    """The Transformer++ trained beside an EBT named X-ebt is X-transformer (if it exists)."""
    name = checkpoint.removesuffix("-ebt") + "-transformer"
    return name if checkpoint.endswith("-ebt") and name in transformers else None


def _preferred(names: list[str], name: str) -> str | None:
    return name if name in names else next(iter(names), None)


@dataclass
class Registry:
    """The checkpoints under one folder, by kind; `get` loads each once (thread-safe)."""

    folder: Path
    text_ebts: list[str]
    transformers: list[str]
    image_ebts: list[str]
    dits: list[str]
    point_ebts: list[str] = field(default_factory=list)
    point_regressors: list[str] = field(default_factory=list)
    answer_ebts: list[str] = field(default_factory=list)
    _models: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def scan(cls) -> Registry:
        """The checkpoints in `ebt.checkpoints_dir()` ($EBT_CHECKPOINTS): names only, no loading."""
        kinds = ("text-ebt", "transformer", "image-ebt", "image-dit", "points-ebt")
        kinds += ("points-regressor", "answer-ebt")
        return cls(ebt.checkpoints_dir(), *(ebt.available(kind) for kind in kinds))

    @property
    def thinkers(self) -> list[str]:
        """The Think tab's checkpoints: the text EBTs, then the whole-answer EBTs."""
        return [*self.text_ebts, *self.answer_ebts]

    @property
    def default_ebt(self) -> str | None:
        return _preferred(self.text_ebts, "arith-ebt")

    @property
    def default_image_ebt(self) -> str | None:
        return _preferred(self.image_ebts, "image-ebt")

    @property
    def dit(self) -> str | None:
        """The diffusion baseline of the Denoise tab."""
        return _preferred(self.dits, "image-dit")

    @property
    def loaded(self) -> list[str]:
        """The checkpoints loaded so far (none until a request or the first page load)."""
        return sorted(self._models)

    def get(self, name: str):
        """A checkpoint of this folder by name, loaded on first use."""
        with self._lock:
            if name not in self._models:
                self._models[name] = ebt.load(self.folder / name)
            return self._models[name]

    def _offered(self, name, offered: list[str], described: str):
        """The checkpoint `name` if it is one of `offered`, else a ValueError naming them."""
        if name not in offered:
            raise ValueError(f"checkpoint must be one of {described}, got {name!r}")
        return self.get(name)

    def text_ebt(self, name) -> ebt.TextEBT:
        """A text EBT offered by this app (never an arbitrary path sent by a client)."""
        return self._offered(name, self.text_ebts, f"{self.text_ebts} (in {self.folder})")

    def thinker(self, name) -> ebt.TextEBT | ebt.AnswerEBT:
        """A checkpoint the Think tab offers: a text EBT or a whole-answer EBT."""
        return self._offered(name, self.thinkers, f"{self.thinkers} (in {self.folder})")

    def answer_task(self, name) -> Task | None:
        """The task (sums, Sudoku) of a whole-answer EBT offered here; None for any other name."""
        return get_task(self.get(name).config.task) if name in self.answer_ebts else None

    def think_defaults(self, name) -> ebt.ThinkConfig:
        """A text or answer EBT's default ThinkConfig, read from its config.json (no weights
        loaded)."""
        if name not in self.thinkers:
            self.thinker(name)  # raises the error naming the checkpoints offered
        return ebt.read_think_defaults(self.folder / name)

    def image_ebt(self, name) -> ebt.ImageEBT:
        """An image EBT offered by this app (the DiT is the baseline, not a choice)."""
        return self._offered(name, self.image_ebts, f"the image EBTs {self.image_ebts}")

    def point_ebt(self, name) -> ebt.PointEBT:
        """A point EBT offered by this app (never an arbitrary path sent by a client)."""
        return self._offered(name, self.point_ebts, f"the point EBTs {self.point_ebts}")

    def point_regressor(self, task: str) -> ebt.PointRegressor | None:
        """The first regression baseline of this folder trained on `task` (None if there is
        none): its prediction is marked on point landscapes of that task."""
        for name in self.point_regressors:
            model = self.get(name)
            if model.recipe.get("task") == task:
                return model
        return None

    def baseline(self, checkpoint: str) -> str | None:
        """The Transformer++ trained beside a text EBT, if this folder has it."""
        return baseline_name(checkpoint, self.transformers)

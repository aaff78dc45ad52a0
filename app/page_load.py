"""The page's one load event: every tab reads the URL (a permalink) in a single round trip.

Each tab adds its loader (`PageLoad.add(fn, outputs)`: `fn(request)` returns a value per output,
gr.skip() for each one it leaves alone); `register(demo)` wires one `demo.load` over them all.
Seven load events (one per tab and sub-tab selection) delayed the first page's charts by ~0.2 s
in Chromium on 2 CPUs: each was a queue join and an event stream of its own (issue 16: start to
charts ≤ 5 s). A component that several loaders fill (the Landscape link fills the Think tab's
prompt too) gets the value of the last loader that does not skip it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import gradio as gr

SKIP = gr.skip()
log = logging.getLogger("ebt_explorer")


def _skipped(value) -> bool:
    return isinstance(value, dict) and value == SKIP


class PageLoad:
    """The loaders of one page, then (`register`) its one load event."""

    def __init__(self) -> None:
        self.parts: list[tuple[Callable, list]] = []
        self.outputs: list = []  # every loader's outputs, each component once (`register`)
        self._slots: list[list[int]] = []  # per loader: where its outputs sit in `outputs`

    def add(self, fn: Callable[[gr.Request], object], outputs: Sequence) -> None:
        """`fn(request)` runs at every page load; it returns one value per output (a bare value
        when there is one output)."""
        self.parts.append((fn, list(outputs)))

    @property
    def loaders(self) -> list[Callable]:
        return [fn for fn, _ in self.parts]

    def register(self, demo: gr.Blocks) -> None:
        """Wire the one load event (call once, inside `demo`, after every `add`)."""
        for _, outputs in self.parts:
            self.outputs += [o for o in outputs if all(o is not seen for seen in self.outputs)]
        index = {id(o): i for i, o in enumerate(self.outputs)}
        self._slots = [[index[id(o)] for o in outputs] for _, outputs in self.parts]
        if self.parts:
            demo.load(self.load, None, self.outputs, api_visibility="private")

    def load(self, request: gr.Request) -> list:
        """Every loader's values, placed at its outputs (gr.skip() where none gives one). A
        loader that fails leaves its outputs alone (one console line), never the others'."""
        values = [SKIP] * len(self.outputs)
        for (fn, outputs), slots in zip(self.parts, self._slots, strict=True):
            try:
                got = fn(request)
            except Exception as err:  # noqa: BLE001 (one tab's bad link must not blank the page)
                log.warning("page load: %s failed: %s", getattr(fn, "__qualname__", fn), err)
                continue
            got = (got,) if len(outputs) == 1 else tuple(got)
            if len(got) != len(outputs):
                raise ValueError(f"{fn} returned {len(got)} values for {len(outputs)} outputs")
            for slot, value in zip(slots, got):
                if not _skipped(value):
                    values[slot] = value
        return values

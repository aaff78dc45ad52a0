"""Start-up without the cyclic garbage collector: importing gradio, torch and the app and
building the page allocate some 600 000 long-lived objects, and the collector rescans them
again and again while they are made (about a quarter of the start-up time on 2 cores,
`python scripts/latency.py --page-only`). `app.main` imports this module first, which turns
the collector off, and calls `finish()` once the page is built: every object made so far is
frozen (never scanned again, gc.freeze) and collection resumes for what requests allocate.

Nothing is lost by pausing it: the collector only frees reference cycles, and start-up
makes few."""

from __future__ import annotations

import gc

_was_enabled = gc.isenabled()
gc.disable()


def finish() -> None:
    """Freeze what start-up made and turn the collector back on (if it was on); idempotent."""
    if _was_enabled and not gc.isenabled():
        gc.freeze()
        gc.enable()

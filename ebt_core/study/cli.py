"""Shared plumbing of the command-line tools: bad input ends in one clear line, not a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable


def run(main: Callable, argv: list[str] | None = None):
    """Call `main(argv)`; a ValueError (bad argument, recipe or checkpoint: the message names
    it) is printed as `error: ...` and exits with status 2, like argparse's own errors."""
    try:
        return main(argv)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None

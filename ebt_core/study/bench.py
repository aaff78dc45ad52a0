"""Benchmark of thinking speed: what the KV cache buys.

    python -m ebt_core.study.bench --quick --json

Times `think` with and without the KV cache on a 256-character prompt (8 steps, 4 samples,
16 new tokens) and prints one JSON line. `kv_speedup` = time without cache / time with cache.
Without the cache, every descent step runs the whole model over the whole sequence (both
streams, every position), as the official implementation does; `prefix_only_speedup` compares
instead with recomputing just the context's stream at each step (the cheapest uncached variant).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from ..checkpoint import load
from ..config import ThinkConfig
from ..text import think as thinking
from ..text.model import TextEBT
from . import cli


def _model(name: str) -> tuple[TextEBT, str]:
    model = load(name)
    if not isinstance(model, TextEBT):
        raise ValueError(f"--checkpoint must name a text EBT, got {name!r} ({model.config.kind})")
    return model, name


def _prompt(vocab: str, length: int) -> str:
    lines, a = [], 17
    while sum(map(len, lines)) < length:
        a = (a * 37 + 11) % 997
        b = (a * 53 + 7) % 991
        lines.append(f"{a}+{b}={a + b}\n")
    return "".join(lines)[-length:]


def _time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default="arith-ebt")
    parser.add_argument("--quick", action="store_true", help="1 timed repeat instead of 3")
    parser.add_argument("--json", action="store_true", help="print one JSON line only")
    parser.add_argument("--prompt-length", type=int, default=256)
    parser.add_argument("--new-tokens", type=int, default=16)
    args = parser.parse_args(argv)
    if args.prompt_length < 1:
        raise ValueError(f"--prompt-length must be >= 1, got {args.prompt_length}")
    model, name = _model(args.checkpoint)
    prompt = _prompt(model.config.vocab, args.prompt_length)
    cfg = ThinkConfig(steps=8, samples=4, seed=0)
    n = args.new_tokens
    repeats = 1 if args.quick else 3
    thinking.think(model, prompt, cfg, 2)  # warm-up
    cached = _time(lambda: thinking.think(model, prompt, cfg, n), repeats)
    uncached = _time(lambda: thinking.think(model, prompt, cfg, n, cache="none"), repeats)
    prefix_only = _time(lambda: thinking.think(model, prompt, cfg, n, cache="prefix"), repeats)
    same = (
        thinking.think(model, prompt, cfg, n).text
        == thinking.think(model, prompt, cfg, n, cache="none").text
    )
    result = {
        "checkpoint": name,
        "prompt_chars": len(prompt),
        "steps": cfg.steps,
        "samples": cfg.samples,
        "new_tokens": n,
        "cached_s": round(cached, 4),
        "uncached_s": round(uncached, 4),
        "prefix_only_s": round(prefix_only, 4),
        "kv_speedup": round(uncached / cached, 2),
        "prefix_only_speedup": round(prefix_only / cached, 2),
        "same_text": same,
        "ms_per_token_cached": round(1000 * cached / n, 1),
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>22}: {v}")
    return result


if __name__ == "__main__":
    cli.run(main)

"""Load test of the Gradio app: N concurrent clients × M requests over its API endpoints.

    python scripts/loadtest.py                           # start app/main.py on a free port
    python scripts/loadtest.py --url http://127.0.0.1:7860/ --pid 1234   # a running server
    python scripts/loadtest.py --clients 8 --requests 5  # the target: no errors, RSS < +10 %

Mixes /think and /score, plus /landscape and /denoise when the server has them (read from
view_api). Each endpoint is first warmed with one request, then the server's resident memory
(RSS, from /proc or psutil) is read before and after the load. Prints one JSON line: errors,
median and p95 latency (overall and per endpoint), RSS before/after and its growth in percent.
With --rounds R > 1 it also reports the growth from the end of round 1 to the end of round R:
the first concurrent round grows glibc's per-thread malloc arenas once (a plateau, not a leak;
MALLOC_ARENA_MAX=2 in the server's environment keeps it small); later growth would be a leak.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app_server import ROOT, running_app

from app.payloads import request

SMALL_PHOTO_SIDE = 96  # a denoise request stays around a second on 2 CPUs


def rss_mb(pid: int | None) -> float | None:
    """Resident memory of a process (and its children) in MB; None when unknown."""
    if pid is None:
        return None
    try:
        import psutil  # optional

        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs) / 2**20
    except ImportError:
        pass
    except Exception:  # the process is gone: report nothing rather than a wrong number
        return None
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return kb / 1024


def small_photo() -> str:
    """A small PNG crop of an example photo (or a synthetic one) for /denoise."""
    import numpy as np
    from PIL import Image

    examples = sorted((ROOT / "assets" / "examples").glob("denoise-*.png"))
    if examples:
        image = Image.open(examples[0]).convert("RGB")
        image = image.crop((0, 0, min(image.width, 256), min(image.height, 256)))
        image.thumbnail((SMALL_PHOTO_SIDE, SMALL_PHOTO_SIDE))
    else:
        rng = np.random.default_rng(0)
        pixels = rng.integers(0, 256, (SMALL_PHOTO_SIDE, SMALL_PHOTO_SIDE, 3), dtype=np.uint8)
        image = Image.fromarray(pixels)
    path = Path(tempfile.mkdtemp(prefix="ebt-loadtest-")) / "photo.png"
    image.save(path)
    return str(path)


def requests_for(api: dict, text_ckpt: str, photo: str) -> dict[str, dict]:
    """Keyword arguments of one moderate request per endpoint the server has."""
    from gradio_client import handle_file

    wanted = {
        "/think": request("/think", checkpoint=text_ckpt, steps=4, samples=4, max_new_tokens=4),
        "/score": request("/score", checkpoint=text_ckpt),
        "/landscape": request(
            "/landscape", checkpoint=text_ckpt, resolution=21, steps=4, samples=4
        ),
        "/denoise": request("/denoise", image=handle_file(photo)),  # 2 steps
    }
    return {name: kwargs for name, kwargs in wanted.items() if name in api}


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summary(latencies: list[float]) -> dict:
    return {
        "n": len(latencies),
        "median_s": round(statistics.median(latencies), 3) if latencies else None,
        "p95_s": round(percentile(latencies, 0.95), 3) if latencies else None,
    }


def run_clients(url: str, calls: dict, clients: int, per_client: int) -> tuple[list, list]:
    """Each client thread sends `per_client` requests, cycling through the endpoints."""
    from gradio_client import Client

    names = sorted(calls)
    results, errors, lock = [], [], threading.Lock()

    def worker(k: int) -> None:
        client = Client(url, verbose=False)
        for i in range(per_client):
            name = names[(k + i) % len(names)]
            start = time.perf_counter()
            try:
                client.predict(**calls[name], api_name=name)
                with lock:
                    results.append((name, time.perf_counter() - start))
            except Exception as err:  # every failure counts; keep a few messages to show
                with lock:
                    errors.append(f"{name}: {type(err).__name__}: {str(err)[:200]}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server (default: start app/main.py)")
    parser.add_argument("--pid", type=int, help="the running server's process id (for RSS)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=5, help="requests per client")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the load (leak check)")
    parser.add_argument(
        "--endpoints", help="comma-separated subset, e.g. /think,/score (default: all found)"
    )
    parser.add_argument("--checkpoint", default="arith-ebt", help="text EBT to think with")
    parser.add_argument("--startup-timeout", type=float, default=180.0)
    args = parser.parse_args(argv)
    if min(args.clients, args.requests, args.rounds) < 1:
        parser.error("--clients, --requests and --rounds must be at least 1")
    return args


@contextmanager
def server(args: argparse.Namespace) -> Iterator[tuple[int | None, str]]:
    """(pid or None, URL): the server at --url, or app/main.py started on a free port (logging
    to a temporary file) and stopped at the end."""
    if args.url is not None:
        yield args.pid, args.url
        return
    log = tempfile.NamedTemporaryFile("w+", prefix="ebt-loadtest-", suffix=".log", delete=False)
    with running_app(log, args.startup_timeout, f"; see {log.name}") as (proc, url, _):
        yield proc.pid, url


def endpoint_calls(client, args: argparse.Namespace) -> dict[str, dict]:
    """One request per endpoint the server has (or per --endpoints)."""
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    calls = requests_for(api, args.checkpoint, small_photo())
    if not args.endpoints:
        return calls
    wanted = [e.strip() for e in args.endpoints.split(",")]
    unknown = [e for e in wanted if e not in calls]
    if unknown:
        raise SystemExit(f"--endpoints: unknown {unknown}; this server has {sorted(calls)}")
    return {e: calls[e] for e in wanted}


def warm(client, calls: dict) -> list[str]:
    """Call every endpoint once (model loads, imports); the errors, if any."""
    errors = []
    for name, kwargs in calls.items():
        try:
            client.predict(**kwargs, api_name=name)
        except Exception as err:
            errors.append(f"{name}: {type(err).__name__}: {str(err)[:200]}")
    return errors


def load(url: str, pid: int | None, calls: dict, args: argparse.Namespace) -> dict:
    """The load itself: `rounds` × `clients` × `requests`, RSS read before and after each round."""
    before = rss_mb(pid)
    results, errors, rounds, start = [], [], [], time.perf_counter()
    for _ in range(args.rounds):
        ok, failed = run_clients(url, calls, args.clients, args.requests)
        results, errors = results + ok, errors + failed
        time.sleep(1.0)  # let the server finish its bookkeeping before reading memory
        rounds.append(rss_mb(pid))
    wall = time.perf_counter() - start
    return dict(results=results, errors=errors, rounds=rounds, before=before, wall=wall)


def _pct(before: float | None, after: float | None) -> float | None:
    return None if not before or after is None else round(100 * (after - before) / before, 2)


def _mb(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def report_of(args, calls: dict, warm_errors: list[str], measured: dict) -> dict:
    results, errors, rounds = measured["results"], measured["errors"], measured["rounds"]
    before, after = measured["before"], rounds[-1]
    return {
        "clients": args.clients,
        "requests_per_client": args.requests,
        "endpoints": sorted(calls),
        "ok": len(results),
        "errors": len(errors),
        "error_samples": errors[:5],
        "warmup_errors": warm_errors,
        **{k: v for k, v in summary([t for _, t in results]).items() if k != "n"},
        "per_endpoint": {n: summary([t for m, t in results if m == n]) for n in sorted(calls)},
        "wall_s": round(measured["wall"], 2),
        "rss_mb_before": _mb(before),
        "rss_mb_after": _mb(after),
        "rss_growth_pct": _pct(before, after),
        "rss_mb_per_round": [_mb(r) for r in rounds],
        # growth once the concurrent working set exists (rounds ≥ 2): a leak keeps growing here
        "rss_growth_after_round_1_pct": _pct(rounds[0], rounds[-1]) if len(rounds) > 1 else None,
    }


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    from gradio_client import Client

    with server(args) as (pid, url):
        client = Client(url, verbose=False)
        calls = endpoint_calls(client, args)
        warm_errors = warm(client, calls)
        measured = load(url, pid, calls, args)
    report = report_of(args, calls, warm_errors, measured)
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()

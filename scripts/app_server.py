"""Start `python app/main.py` on a free port for the scripts that drive it (latency, load test,
screenshots), wait until its page is served, and stop it when they are done."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(
    output=subprocess.DEVNULL,
    timeout: float | None = None,
    where: str = "",
    script: Path = ROOT / "app" / "main.py",
) -> tuple[subprocess.Popen, str, float]:
    """Run the app (or another Gradio `script`) on a free port; `output` receives its stdout
    and stderr (None = ours). Returns the process, its URL and the seconds until the page was
    served. Exits with a message (`where` says where its log is) if the app dies or misses
    `timeout` seconds."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        cwd=ROOT,
        stdout=output,
        stderr=output,
    )
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return proc, url, time.perf_counter() - start
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"the app exited with {proc.returncode}{where}") from None
            if timeout is not None and time.perf_counter() - start > timeout:
                proc.terminate()
                raise SystemExit(f"the app did not answer within {timeout:.0f} s{where}") from None
            time.sleep(0.02)  # the resolution of the start-to-page time (latency.py)


@contextmanager
def running_app(
    output=subprocess.DEVNULL,
    timeout: float | None = None,
    where: str = "",
    script: Path = ROOT / "app" / "main.py",
) -> Iterator[tuple[subprocess.Popen, str, float]]:
    """`start_app` for the length of a `with` block: (process, URL, seconds to first page);
    the app is stopped when the block ends, however it ends."""
    proc, url, served = start_app(output, timeout, where, script)
    try:
        yield proc, url, served
    finally:
        proc.terminate()
        proc.wait(timeout=30)

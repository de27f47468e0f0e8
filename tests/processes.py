"""Real processes in the tests: wait until one answers, or say why it did not."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import httpx


def wait_until_ready(
    process: subprocess.Popen, url: str, seconds: float, output: Callable[[], str] = lambda: ""
) -> None:
    """Return once GET `url` answers 200; fail with the process's `output` if it exits or times out."""
    deadline = time.monotonic() + seconds
    while True:
        assert process.poll() is None, f"exited with {process.returncode}:\n{output()[-3000:]}"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{url} not ready after {seconds}s:\n{output()[-3000:]}"
        time.sleep(0.2)

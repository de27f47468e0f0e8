"""Real processes in the tests: wait until one answers, or say why it did not."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.bodies import free_port


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


@contextmanager
def running(
    command: list[str], url: str, seconds: float, log: Path, **popen: Any
) -> Iterator[subprocess.Popen]:
    """`command` started with its output in `log`, handed over once GET `url` answers 200 (or the
    test fails with the log's tail), and terminated afterwards."""
    with log.open("w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, **popen)
    try:
        wait_until_ready(process, url, seconds, log.read_text)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def careops_serving(workdir: Path, environment: dict, log_name: str = "server.log") -> Iterator[str]:
    """`careops serve` on a free loopback port, with `environment`; yields its base URL once ready."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "careops"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    base = f"http://127.0.0.1:{port}"
    with running(command, f"{base}/health/ready", 120, workdir / log_name, cwd=workdir, env=environment):
        yield base

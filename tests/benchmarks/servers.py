"""Servers for the benchmarks: the make-run-sized store, and starting a server until it answers."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.bodies import free_port

BIN = Path(sys.executable).parent


def careops(workdir: Path, environment: dict, *arguments: str) -> None:
    """Run one careops command in `workdir`."""
    subprocess.run(
        [str(BIN / "careops"), *arguments], cwd=workdir, env=environment, check=True, capture_output=True
    )


def start(command: list[str], workdir: Path, environment: dict, ready: str) -> Iterator[int]:
    """Start `command` on a free port, yield the port once `ready` answers 200, then stop it."""
    port = free_port()
    process = subprocess.Popen(
        [*command, "--port" if command[0].endswith("careops") else "-p", str(port)],
        cwd=workdir,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        assert process.poll() is None, f"{command[:3]} exited"
        try:
            if httpx.get(base + ready, timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{command[:3]} did not start"
        time.sleep(0.5)
    try:
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)

"""Servers for the benchmarks: the make-run-sized store, and starting a server until it answers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.bodies import free_port
from tests.processes import wait_until_ready

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
    wait_until_ready(process, f"http://127.0.0.1:{port}{ready}", 180)
    try:
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)

"""A lean, bounded HTTP/1.1 load generator: asyncio streams, one keep-alive connection per client.

httpx spends more CPU per request than the servers it would measure here (2 cores, shared), so the
benchmark writes the request bytes once and reads each response by its Content-Length.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class LoadResult:
    """Requests per second, latency percentiles (ms) and the count of non-200 answers."""

    rps: float
    p50_ms: float
    p99_ms: float
    failures: int


def request_bytes(path: str, body: dict, headers: dict[str, str]) -> bytes:
    """An HTTP/1.1 POST of `body` as JSON to `path`, with `headers`, as bytes to write."""
    payload = json.dumps(body).encode()
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    head.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


async def _client(
    port: int, request: bytes, deadline: float, latencies: list[float], failed: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if head[9:12] != b"200":
                failed.append(int(head[9:12]))
    finally:
        writer.close()


async def _run(port: int, request: bytes, concurrency: int, seconds: float) -> LoadResult:
    latencies: list[float] = []
    failed: list[int] = []
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(*(_client(port, request, deadline, latencies, failed) for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    latencies.sort()
    return LoadResult(
        rps=len(latencies) / elapsed,
        p50_ms=1000 * statistics.median(latencies),
        p99_ms=1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        failures=len(failed),
    )


def load(
    port: int, path: str, body: dict, headers: dict[str, str], concurrency: int, seconds: float
) -> LoadResult:
    """POST `body` to `path` from `concurrency` clients for `seconds`, after a one-second warm-up."""
    request = request_bytes(path, body, headers)
    asyncio.run(_run(port, request, concurrency, 1.0))
    return asyncio.run(_run(port, request, concurrency, seconds))

"""The online path side by side, in one run: `mlflow models serve` and `careops serve` (1 and 2 workers).

On a store the size of `make run`'s (100,000 appointments, 50,000 claims). Each server gets the
same single-record request at concurrency 1, 8 and 32, and 100-record batches, from a bounded
asyncio client on loopback. `mlflow models serve` scores a lone record without its patient's
history (its pyfunc reads history only from the rows it is given); careops reads it from its store.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from models.tasks import caller_records, get_task
from tests.bodies import free_port

pytestmark = pytest.mark.bench
SECONDS_PER_LOAD = 6.0
BIN = Path(sys.executable).parent


def careops(workdir: Path, environment: dict, *arguments: str) -> None:
    subprocess.run(
        [str(BIN / "careops"), *arguments], cwd=workdir, env=environment, check=True, capture_output=True
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    workdir = tmp_path_factory.mktemp("serving")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CAREOPS_", "MLFLOW_"))}
    environment |= {
        "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
        "CAREOPS_DATABASE_URL": f"sqlite:///{workdir / 'careops.db'}",
        "CAREOPS_ARTIFACT_LOCATION": str(workdir / "artifacts"),
        "CAREOPS_API_KEYS": "bench-key:admin",
        "CAREOPS_RELOAD_INTERVAL_SECONDS": "0",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    careops(
        workdir, environment, "generate", "appointments", "--rows", "100000", "--seed", "42", "--out", "a.csv"
    )
    careops(workdir, environment, "generate", "claims", "--rows", "50000", "--seed", "42", "--out", "c.csv")
    careops(workdir, environment, "train", "noshow", "--data", "a.csv")
    careops(workdir, environment, "train", "denial", "--data", "c.csv")
    return workdir, environment


def start(command: list[str], workdir: Path, environment: dict, ready: str) -> Iterator[str]:
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
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _load(url: str, body: dict, headers: dict, concurrency: int, seconds: float) -> dict:
    latencies: list[float] = []
    failures = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, timeout=30, limits=limits) as client:

        async def worker() -> None:
            nonlocal failures
            while time.monotonic() < deadline:
                started = time.perf_counter()
                response = await client.post(url, json=body)
                latencies.append(time.perf_counter() - started)
                failures += response.status_code != 200

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "failures": failures,
    }


def load(url: str, body: dict, headers: dict, concurrency: int) -> dict:
    asyncio.run(_load(url, body, headers, concurrency, 1.0))  # warm-up
    return asyncio.run(_load(url, body, headers, concurrency, SECONDS_PER_LOAD))


def test_serving_side_by_side(store: tuple[Path, dict]) -> None:
    workdir, environment = store
    appointments = caller_records(
        get_task("noshow"), get_task("noshow").load(workdir / "a.csv").valid.tail(100)
    )
    claims = caller_records(get_task("denial"), get_task("denial").load(workdir / "c.csv").valid.tail(1))
    key = {"X-API-Key": "bench-key"}
    results: dict[tuple[str, str], dict] = {}

    mlflow_serve = [
        str(BIN / "mlflow"),
        "models",
        "serve",
        "-m",
        "models:/noshow@champion",
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
    ]
    for base in start(mlflow_serve, workdir, environment, "/ping"):
        for c in (1, 8, 32):
            results[("mlflow serve", f"noshow x1 c={c}")] = load(
                base + "/invocations", {"dataframe_records": appointments[:1]}, {}, c
            )
        results[("mlflow serve", "noshow x100 c=8")] = load(
            base + "/invocations", {"dataframe_records": appointments}, {}, 8
        )
    for workers in (1, 2):
        name = f"careops {workers}w"
        command = [str(BIN / "careops"), "serve", "--host", "127.0.0.1", "--workers", str(workers)]
        for base in start(command, workdir, environment, "/health/ready"):
            for c in (1, 8, 32):
                results[(name, f"noshow x1 c={c}")] = load(
                    base + "/v1/noshow/score", {"appointments": appointments[:1]}, key, c
                )
            results[(name, "noshow x100 c=8")] = load(
                base + "/v1/noshow/score", {"appointments": appointments}, key, 8
            )
            results[(name, "denial x1 c=8")] = load(base + "/v1/denial/score", {"claims": claims}, key, 8)

    print(f"\n{'server':<14} {'load':<18} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for (server, case), r in results.items():
        print(f"{server:<14} {case:<18} {r['rps']:>8.1f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}")
        assert r["failures"] == 0, (server, case)
    reference = results[("mlflow serve", "noshow x1 c=8")]["rps"]
    best = max((1, 2), key=lambda w: results[(f"careops {w}w", "noshow x1 c=8")]["rps"])
    noshow = results[(f"careops {best}w", "noshow x1 c=8")]
    denial = min(results[(f"careops {w}w", "denial x1 c=8")]["p99_ms"] for w in (1, 2))
    ratio = noshow["rps"] / reference
    print(f"careops ({best} worker(s)) / mlflow serve, single record at c=8: {ratio:.1f}x (target >= 30x)")
    print(
        f"  its p99 {noshow['p99_ms']:.1f} ms (target <= 10 ms); denial claim p99 {denial:.1f} ms (<= 20 ms)"
    )
    missed = [
        text
        for text, met in (
            (f"{ratio:.1f}x mlflow serve", ratio >= 30),
            (f"no-show p99 {noshow['p99_ms']:.1f} ms", noshow["p99_ms"] <= 10),
            (f"denial p99 {denial:.1f} ms", denial <= 20),
        )
        if not met
    ]
    if missed:  # the online-path work is not finished: report, do not hide it
        pytest.xfail("targets not met yet: " + "; ".join(missed))

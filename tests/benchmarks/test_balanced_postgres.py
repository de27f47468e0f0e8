"""PostgreSQL past one machine: two `careops serve` instances on one PostgreSQL store behind nginx
(the deployment example, serving/deploy/nginx.conf), against one SQLite instance with 2 workers, in
one run, on the make-run store; then one instance killed (kill -9) under load.

Targets: through the balancer, single-record no-show and denial scores at c=8 reach at least 0.8x
the requests/s of SQLite's 2 workers, with a p99 within 1.5x of SQLite's. With an instance killed
mid-load, no acknowledged booking is missing from the store, and at most the requests in flight at
that moment fail.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from data.loaders.canonical import load_appointments, load_claims
from data.loaders.tables import read_table
from data.stores.appointments import AppointmentStore
from data.stores.claims import ClaimStore
from models.tasks import caller_records, get_task
from tests.benchmarks.balanced import nginx, postgres_database
from tests.benchmarks.load import LoadResult, load, request_bytes
from tests.benchmarks.servers import BIN, start
from tests.bodies import free_port
from tests.helpers import ADMIN
from tests.processes import wait_until_ready

pytestmark = pytest.mark.bench
SECONDS_PER_LOAD, CONCURRENCY = 8.0, 8
RPS_RATIO, P99_RATIO = 0.8, 1.5


def seed(url: str, workdir: Path) -> None:
    """The make-run store's history, in PostgreSQL: what training seeded into SQLite."""
    appointments = AppointmentStore(url)
    frame = load_appointments(read_table(workdir / "a.csv")).valid
    for start_row in range(0, len(frame), 20_000):
        appointments.seed(frame.iloc[start_row : start_row + 20_000])
    appointments.engine.dispose()
    claims = ClaimStore(url)
    claims.record(load_claims(read_table(workdir / "c.csv")).valid)
    claims.engine.dispose()


def instance(workdir: Path, environment: dict, name: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    command = [str(BIN / "careops"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    log = (workdir / f"{name}.log").open("w")
    process = subprocess.Popen(command, cwd=workdir, env=environment, stdout=log, stderr=subprocess.STDOUT)
    wait_until_ready(process, f"http://127.0.0.1:{port}/health/ready", 180)
    return process, port


def test_two_postgres_instances_behind_nginx_keep_sqlites_speed_and_lose_no_booking(
    store: tuple[Path, dict], tmp_path: Path
) -> None:
    workdir, environment = store
    noshow = caller_records(get_task("noshow"), get_task("noshow").load(workdir / "a.csv").valid.tail(1))
    claims = caller_records(get_task("denial"), get_task("denial").load(workdir / "c.csv").valid.tail(1))
    cases = {
        "noshow": ("/v1/noshow/score", {"appointments": noshow}),
        "denial": ("/v1/denial/score", {"claims": claims}),
    }
    results: dict[tuple[str, str], LoadResult] = {}
    command = [str(BIN / "careops"), "serve", "--host", "127.0.0.1", "--workers", "2"]
    for port in start(command, workdir, environment, "/health/ready"):
        for case, (path, body) in cases.items():
            results[("sqlite 1x2w", case)] = load(port, path, body, ADMIN, CONCURRENCY, SECONDS_PER_LOAD)
    with postgres_database() as url, ExitStack() as stack:
        began = time.perf_counter()
        seed(url, workdir)
        print(f"\nseeded PostgreSQL with the make-run store in {time.perf_counter() - began:.0f} s")
        pg_environment = {**environment, "CAREOPS_DATABASE_URL": url}
        processes = []
        for name in ("a", "b"):
            process, port = instance(workdir, pg_environment, f"pg-{name}")
            stack.callback(_stop, process)
            processes.append((process, port))
        balancer = stack.enter_context(nginx([port for _, port in processes], tmp_path / "nginx"))
        for case, (path, body) in cases.items():
            results[("postgres 2x1w nginx", case)] = load(
                balancer, path, body, ADMIN, CONCURRENCY, SECONDS_PER_LOAD
            )
        acknowledged, failed, in_flight = asyncio.run(
            _kill_one_under_load(balancer, processes[1][0], noshow[0])
        )
        stored = AppointmentStore(url).bookings_of(acknowledged)

    print(f"\n{'server':<22} {'load':<8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for (server, case), r in results.items():
        print(f"{server:<22} {case:<8} {r.rps:>8.1f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f}")
    for case in cases:
        base, balanced = results[("sqlite 1x2w", case)], results[("postgres 2x1w nginx", case)]
        ratio = balanced.rps / base.rps
        print(f"{case}: PostgreSQL behind nginx / SQLite = {ratio:.2f}x requests/s, "
              f"p99 {balanced.p99_ms / base.p99_ms:.2f}x")  # fmt: skip
    print(f"kill -9 of one instance under c={CONCURRENCY}: {len(acknowledged)} bookings acknowledged, "
          f"{len(stored)} of them in the store; {failed} requests failed, {in_flight} were in flight "
          "at the kill")  # fmt: skip
    assert all(r.failures == 0 for r in results.values())
    assert len(stored) == len(acknowledged) > 100
    assert failed <= in_flight
    for case in cases:
        base, balanced = results[("sqlite 1x2w", case)], results[("postgres 2x1w nginx", case)]
        assert balanced.rps >= RPS_RATIO * base.rps, (case, balanced, base)
        assert balanced.p99_ms <= P99_RATIO * base.p99_ms, (case, balanced, base)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=30)


async def _kill_one_under_load(
    port: int, victim: subprocess.Popen, template: dict
) -> tuple[list[str], int, int]:
    """c=8 clients booking a new visit per request through the balancer for 6 s; one instance is
    killed after 2 s. Returns the ids of the bookings answered 200, the requests that failed, and
    how many were in flight at the kill."""
    acknowledged: list[str] = []
    failed = [0]
    in_flight = [0]
    at_kill = [0]
    deadline = time.monotonic() + 6.0

    async def client(number: int) -> None:
        count = 0
        while time.monotonic() < deadline:
            count += 1
            visit_id = f"KILL-{number}-{count}"
            starts = datetime(2027, 9, 6, 8) + timedelta(minutes=count % 500)
            booked = (starts - timedelta(days=3)).isoformat()
            visit = {**template, "appointment_id": visit_id, "patient_id": f"KP-{number}-{count}",
                     "starts_at": starts.isoformat(), "booked_at": booked}  # fmt: skip
            request = request_bytes(
                "/v1/noshow/score", {"appointments": [visit]}, {**ADMIN, "Connection": "close"}
            )
            in_flight[0] += 1
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(request)
                answer = await reader.read()
                writer.close()
                if answer[9:12] == b"200":
                    acknowledged.append(visit_id)
                else:
                    failed[0] += 1
            except OSError:
                failed[0] += 1
            finally:
                in_flight[0] -= 1

    async def killer() -> None:
        await asyncio.sleep(2.0)
        at_kill[0] = in_flight[0]
        os.kill(victim.pid, signal.SIGKILL)

    await asyncio.gather(killer(), *(client(n) for n in range(CONCURRENCY)))
    return acknowledged, failed[0], at_kill[0]

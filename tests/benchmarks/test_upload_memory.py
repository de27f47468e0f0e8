"""Page uploads with bounded cost (`make bench`): the largest claims upload allowed, three at once
against one real server, raises its peak RSS by at most 400 MB, the RSS falls back to within 100 MB of
where it began, and /health/live answers within 100 ms throughout."""

from __future__ import annotations

import contextlib
import re
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pandas as pd
import pytest

from data.loaders.canonical import claims_for_file
from data.loaders.tables import write_table
from data.synthetic.appointments import generate_appointments
from data.synthetic.claims import generate_claims
from tests.benchmarks.servers import BIN
from tests.bodies import free_port
from tests.helpers import PASSWORD, USERS, ensure_users, make_settings
from tests.processes import wait_until_ready

pytestmark = pytest.mark.bench
MB = 1024 * 1024
UPLOADS = 3


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _helpers_rss(pid: int) -> int:
    """The RSS of the server's helper processes (fork server, prediction-log writer, upload readers)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])

    def descends(child: int) -> bool:
        while child in parents and child > 1:
            child = parents[child]
            if child == pid:
                return True
        return False

    total = 0
    for child in [c for c in parents if descends(c)]:
        with contextlib.suppress(OSError, AssertionError):  # gone meanwhile
            total += _rss(child)
    return total


def _signed_in(base: str, role: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=300)
    token = re.search(r'name="token" value="([^"]+)"', client.get("/app/sign-in").text).group(1)
    form = {"username": USERS[role], "password": PASSWORD, "code": "", "token": token}
    assert client.post("/app/sign-in", data=form).status_code == 303
    return client


def _largest(frame: pd.DataFrame, limit: int, body_bytes: int) -> int:
    """Rows of the largest upload allowed: the row limit, or as many as the body limit holds if fewer."""
    per_row = len(frame.head(1000).to_csv(index=False).encode()) / 1000
    return min(limit, int((body_bytes - 64 * 1024) / (per_row * 1.02)))


def _claims_files(settings, tmp_path: Path) -> tuple[int, list[bytes]]:
    frame = claims_for_file(generate_claims(settings.upload_max_rows, seed=515))
    frame = frame.drop(columns=[c for c in frame.columns if c.startswith(("true_", "denied", "denial_"))])
    rows = _largest(frame, settings.upload_max_rows, settings.max_body_bytes)
    frame = frame.head(rows).copy()
    contents = []
    for upload in range(UPLOADS):  # three files of different claims, so each adds its own
        frame["claim_id"] = [f"UP{upload}-{i:06d}" for i in range(rows)]
        contents.append(write_table(frame, tmp_path / f"largest-{upload}.csv").read_bytes())
    return rows, contents


def _day_files(settings, tmp_path: Path) -> tuple[int, list[bytes]]:
    """Three files of the row limit's appointments, each a clinic's own (no clinic-day over capacity)."""
    frame = generate_appointments(settings.upload_max_rows, seed=516)
    frame = frame.drop(columns=[c for c in frame.columns if c.startswith(("true_", "no_show", "outcome"))])
    rows = _largest(frame, settings.upload_max_rows, settings.max_body_bytes)
    frame = frame.head(rows).copy()
    contents = []
    for upload in range(UPLOADS):
        frame["appointment_id"] = [f"UP{upload}-{i:06d}" for i in range(rows)]
        frame["clinic_id"] = [f"U{upload}{c}" for c in frame["clinic_id"]]
        contents.append(write_table(frame, tmp_path / f"day-{upload}.csv").read_bytes())
    return rows, contents


KINDS = {  # role, page, upload route, file field, the files, what the notice starts with
    "claims": (
        "biller",
        "/app/worklist",
        "/app/worklist/upload",
        "claims_file",
        _claims_files,
        "claims added",
    ),
    "day": (
        "scheduler",
        "/app/day",
        "/app/day/upload",
        "appointments_file",
        _day_files,
        "appointments booked",
    ),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_three_of_the_largest_uploads_at_once_hold_memory_and_the_event_loop(
    store, tmp_path: Path, kind: str
) -> None:
    role, page, route, field, files, done = KINDS[kind]
    workdir, environment = store
    settings = make_settings(workdir, database_url=environment["CAREOPS_DATABASE_URL"])
    ensure_users(settings)
    rows, contents = files(settings, tmp_path)
    assert max(len(c) for c in contents) < settings.max_body_bytes - 64 * 1024

    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "careops"), "serve", "--port", str(port)],
        cwd=workdir, env={**environment, "CAREOPS_UPLOADS_AT_ONCE": str(UPLOADS)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(process, f"{base}/health/ready", 180)
        clients = [_signed_in(base, role) for _ in range(UPLOADS)]
        csrf = [re.search(r'name="csrf" value="([^"]+)"', c.get(page).text).group(1) for c in clients]
        time.sleep(2)
        before = _rss(process.pid)
        peak, helpers, health, stop = [before], [_helpers_rss(process.pid)], [], threading.Event()

        def watch() -> None:
            with httpx.Client(base_url=base, timeout=10) as probe:
                while not stop.is_set():
                    started = time.perf_counter()
                    assert probe.get("/health/live").status_code == 200
                    health.append(time.perf_counter() - started)
                    peak.append(_rss(process.pid))
                    helpers.append(_helpers_rss(process.pid))
                    time.sleep(0.05)

        watcher = threading.Thread(target=watch)
        watcher.start()
        started = time.perf_counter()

        def upload(i: int) -> httpx.Response:
            return clients[i].post(route, data={"csrf": csrf[i]}, files={field: ("largest.csv", contents[i])})

        with ThreadPoolExecutor(UPLOADS) as pool:
            answers = list(pool.map(upload, range(UPLOADS)))
        took = time.perf_counter() - started
        time.sleep(3)
        stop.set()
        watcher.join()
        after = _rss(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
    added = [re.search(r'role="status">([^<]+)', a.text).group(1) for a in answers]
    rise, settled = (max(peak) - before) / MB, (after - before) / MB
    print(
        f"\n{UPLOADS} uploads of {rows} {kind} rows ({len(contents[0]) / MB:.1f} MB) at once: {took:.1f} s; "
        "RSS "
        f"{before / MB:.0f} MB before, peak +{rise:.0f} MB, +{settled:.0f} MB 3 s after; /health/live "
        f"max {max(health) * 1000:.0f} ms over {len(health)} probes (median "
        f"{sorted(health)[len(health) // 2] * 1000:.0f} ms, {sum(h >= 0.1 for h in health)} of 100 ms or "
        "more); "
        f"helper processes {helpers[0] / MB:.0f} MB before, {max(helpers) / MB:.0f} MB at most"
    )
    assert all(a.status_code == 200 for a in answers) and all(
        s.startswith(f"{rows} {done}") for s in added
    ), added
    assert rise <= 400 and settled <= 100
    assert max(health) < 0.100

"""What the access audit trail costs the request path: single-record /v1/noshow/score with the trail
on and off, two servers side by side taking turns under the same load (issue 31, acceptance 5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from data.stores.audit import AuditStore
from models.tasks import caller_records, get_task
from tests.benchmarks.load import load
from tests.benchmarks.servers import BIN, start
from tests.helpers import ADMIN

pytestmark = pytest.mark.bench
ROUNDS, SECONDS, CONCURRENCY = 4, 5.0, 8


def test_the_audit_trail_keeps_ninety_percent_of_throughput(store: tuple[Path, dict]) -> None:
    workdir, environment = store
    task = get_task("noshow")
    body = {"appointments": caller_records(task, task.load(workdir / "a.csv").valid.tail(1))}
    command = [str(BIN / "careops"), "serve", "--host", "127.0.0.1", "--workers", "1"]
    audited = environment | {"CAREOPS_DATABASE_URL": f"sqlite:///{workdir / 'audited.db'}"}
    plain = environment | {
        "CAREOPS_DATABASE_URL": f"sqlite:///{workdir / 'unaudited.db'}",
        "CAREOPS_AUDIT": "false",
    }
    on, off = [], []
    for on_port in start(command, workdir, audited, "/health/ready"):
        for off_port in start(command, workdir, plain, "/health/ready"):
            for _ in range(ROUNDS):
                on.append(load(on_port, "/v1/noshow/score", body, ADMIN, CONCURRENCY, SECONDS))
                off.append(load(off_port, "/v1/noshow/score", body, ADMIN, CONCURRENCY, SECONDS))
    on_rps, off_rps = sum(r.rps for r in on), sum(r.rps for r in off)
    entries = AuditStore(f"sqlite:///{workdir / 'audited-audit.db'}").entries()
    scored = sum(1 for s in entries if s.entry.action == "score")
    p99_on = max(r.p99_ms for r in on)
    print(f"\nsingle record, c={CONCURRENCY}, {ROUNDS} alternating rounds of {SECONDS:.0f} s")
    print(f"  audit on : {on_rps / ROUNDS:8.1f} req/s, worst round p99 {p99_on:.1f} ms")
    print(f"  audit off: {off_rps / ROUNDS:8.1f} req/s, worst round p99 {max(r.p99_ms for r in off):.1f} ms")
    print(f"  ratio on/off {on_rps / off_rps:.3f} (target >= 0.90); {scored} scores in the trail")
    assert scored >= 0.95 * on_rps * SECONDS  # every answered score is in the trail
    assert on_rps / off_rps >= 0.90

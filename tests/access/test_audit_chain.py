"""The audit trail's chain: intact after appends from several writers, broken (and named) by a row
changed or deleted in the database, still intact after retention, and unforgeable without its key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from data.stores.audit import AuditEntry, AuditStore, audit
from services.access.audit import AuditTrail
from services.access.principal import Principal
from tests.helpers import backend_settings

KEY = b"audit-test-key"


def _entries(count: int, start: int = 0) -> list[AuditEntry]:
    now = datetime.now(UTC)
    return [
        AuditEntry(
            now, f"user:u{i % 3}", "scheduler", "read", "appointment", (f"A{i}", f"A{i + 1}"), 2, "10.0.0.1"
        )
        for i in range(start, start + count)
    ]


@pytest.fixture
def store(tmp_path: Path, backend: str) -> AuditStore:
    return AuditStore(backend_settings(tmp_path, backend).database_url, KEY)


def test_appended_entries_verify_and_read_back_as_written(store: AuditStore) -> None:
    store.append(_entries(5))
    store.append(_entries(3, start=5))
    result = store.verify()
    assert result.ok and result.checked == 8
    found = store.entries(record_id="A3")
    assert [s.seq for s in found] == [3, 4] and found[0].entry.record_ids == ("A2", "A3")
    assert [s.seq for s in store.entries(principal="user:u1")] == [2, 5, 8]


def test_a_changed_row_is_named(store: AuditStore) -> None:
    store.append(_entries(6))
    with store.engine.begin() as connection:
        connection.execute(update(audit).where(audit.c.seq == 4).values(record_ids='["B9"]'))
    result = store.verify()
    assert not result.ok and result.broken_at == 4 and result.checked == 3
    assert "entry 4 was changed" in result.reason


def test_a_deleted_row_is_named(store: AuditStore) -> None:
    store.append(_entries(6))
    with store.engine.begin() as connection:
        connection.execute(delete(audit).where(audit.c.seq == 3))
    result = store.verify()
    assert not result.ok and result.broken_at == 3 and "missing" in result.reason


def test_the_chain_cannot_be_rewritten_without_the_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    AuditStore(url, KEY).append(_entries(3))
    assert AuditStore(url, KEY).verify().ok
    assert not AuditStore(url, b"another key").verify().ok
    assert not AuditStore(url).verify().ok  # hashes without the key do not match either


def test_retention_keeps_the_rest_of_the_chain_verifiable(tmp_path: Path) -> None:
    store = AuditStore(f"sqlite:///{tmp_path / 'a.db'}", KEY)
    old = [
        AuditEntry(datetime.now(UTC) - timedelta(days=10), "user:old", "admin", "read", "claim", ("C1",), 1)
    ] * 4
    store.append(old)
    store.append(_entries(3))
    assert store.purge(datetime.now(UTC) - timedelta(days=1)) == 4
    result = store.verify()
    assert result.ok and result.checked == 3
    with store.engine.begin() as connection:  # and deleting the new first entry is still seen
        connection.execute(delete(audit).where(audit.c.seq == 5))
    assert store.verify().broken_at == 5


def test_the_trail_writes_from_its_thread_and_several_trails_share_one_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    trails = [AuditTrail(AuditStore(url, KEY)) for _ in range(3)]
    who = Principal("client", "emr", "scheduler", source="10.0.0.2", request_id="r1")
    for n in range(30):
        trails[n % 3].record(who, "score", "appointment", [f"A{n}"], door="api")
    for trail in trails:
        trail.close()
    store = AuditStore(url, KEY)
    assert store.verify().ok and store.verify().checked == 30
    first = store.entries(record_id="A0")[0].entry
    assert (first.principal, first.source, first.request_id, first.detail) == (
        "client:emr",
        "10.0.0.2",
        "r1",
        {"door": "api"},
    )

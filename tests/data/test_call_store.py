"""The call store on each backend: calls kept with their ids, found by patient and time, by visit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from data.stores.calls import Call, CallStore
from tests.helpers import fresh_postgres_database


def test_calls_are_kept_and_found_by_patient_since_a_time_and_by_visit(backend: str, tmp_path: Path) -> None:
    url = fresh_postgres_database() if backend == "postgresql" else f"sqlite:///{tmp_path / 'calls.db'}"
    store = CallStore(url)
    now = datetime(2027, 4, 12, 10, 0, tzinfo=UTC)
    kept = [
        store.add(Call("A1", "P1", "C01", now - timedelta(days=8), "no_answer", 0.41)),
        store.add(Call("A1", "P1", "C01", now - timedelta(days=1), "voicemail", 0.43)),
        store.add(Call("A2", "P2", "C02", now - timedelta(days=9), "confirmed", 0.12)),
    ]
    assert [c.call_id for c in kept] == [1, 2, 3]
    since = now - timedelta(days=7)
    assert store.called_since(["P1", "P2", "P3"], since) == {"P1"}
    assert store.called_since(["P2"], now - timedelta(days=9)) == {"P2"}  # the boundary counts
    assert store.called_since([f"X{i}" for i in range(1_200)] + ["P1"], since) == {"P1"}  # chunked
    assert [(c.outcome, c.risk) for c in store.of_appointments(["A1"])] == [
        ("no_answer", 0.41),
        ("voicemail", 0.43),
    ]
    assert CallStore(url).of_appointments(["A2"]) == [kept[2]]  # reopened: the table is kept
    paris = timezone(timedelta(hours=2))
    store.add(Call("A3", "P3", "C01", datetime(2027, 4, 12, 12, 0, tzinfo=paris), "voicemail", 0.2))
    assert store.of_appointments(["A3"])[0].called_at == now  # the same moment, in UTC
    assert store.called_since(["P3"], now) == {"P3"}
    store.engine.dispose()

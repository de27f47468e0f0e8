"""The access audit trail: who read, exported or changed which records, append-only and hash-chained.

Each entry carries a keyed hash (HMAC-SHA-256 with the audit key, plain SHA-256 without one) of its
own fields and of the entry before it, so a changed or deleted row breaks the chain from that row on
(`verify` names the first broken link); without the key, nobody with only the database can write
a chain that verifies. Entries are appended under the database's write lock (on PostgreSQL also an
advisory lock), so every process that writes extends one chain. Retention deletes the oldest
entries and moves the anchor (the last deleted link) with them. This is the one table where real
record ids are kept.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, Text, delete, select, text
from sqlalchemy.engine import Engine

from data.stores.engine import create_tables, store_engine, with_retries, write_transaction

CHAIN_LOCK_KEY = 0x61756469  # "audi": PostgreSQL advisory lock held while entries are appended
GENESIS = "0" * 64  # the link before the first entry
READ_CHUNK = 5_000

metadata = MetaData()
audit = Table(
    "careops_audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False, index=True),
    Column("principal", String(160), nullable=False, index=True),
    Column("role", String(16), nullable=False),
    Column("action", String(32), nullable=False),
    Column("resource", String(32), nullable=False),
    Column("record_ids", Text, nullable=False),  # a JSON list
    Column("count", Integer, nullable=False),
    Column("source", String(64), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("emergency", Boolean, nullable=False),
    Column("detail", Text, nullable=False),  # a JSON object: a reason, a door, a filter
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
# Where the chain starts: seq 0 and GENESIS until retention deletes the oldest entries.
anchor = Table(
    "careops_audit_anchor",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)


@dataclass(frozen=True)
class AuditEntry:
    """One access: when, by whom (principal and role), what (action, resource, record ids and how many),
    from where (source address or door) and under which request; `emergency` marks break-glass use."""

    at: datetime
    principal: str
    role: str
    action: str
    resource: str
    record_ids: tuple[str, ...] = ()
    count: int = 0
    source: str = ""
    request_id: str = ""
    emergency: bool = False
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StoredEntry:
    """An entry as kept: its place in the chain and its links."""

    seq: int
    entry: AuditEntry
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Verification:
    """The result of walking the chain: entries checked and the first broken link, if any."""

    checked: int
    broken_at: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        """Whether every link held."""
        return self.broken_at is None


FIELDS = ("principal", "role", "action", "resource", "count", "source", "request_id", "emergency", "detail")


def _values(entry: AuditEntry) -> dict:
    # Built by hand: dataclasses.asdict copies every field deeply, several times slower.
    return {name: getattr(entry, name) for name in FIELDS}


def _canonical(seq: int, entry: AuditEntry) -> bytes:
    values = _values(entry)
    values["at"] = entry.at.replace(tzinfo=None).isoformat(timespec="microseconds")
    values["record_ids"] = list(entry.record_ids)
    return json.dumps({"seq": seq, **values}, sort_keys=True, separators=(",", ":")).encode()


def entry_hash(prev_hash: str, seq: int, entry: AuditEntry, key: bytes | None = None) -> str:
    """The link of entry `seq`: HMAC-SHA-256 (SHA-256 without a key) over the previous link and the
    entry's fields."""
    message = prev_hash.encode() + b"\n" + _canonical(seq, entry)
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _entry(row: object) -> AuditEntry:
    return AuditEntry(
        at=row.at,
        principal=row.principal,
        role=row.role,
        action=row.action,
        resource=row.resource,
        record_ids=tuple(json.loads(row.record_ids)),
        count=row.count,
        source=row.source,
        request_id=row.request_id,
        emergency=bool(row.emergency),
        detail=json.loads(row.detail),
    )


class AuditStore:
    """The audit table; creating one creates it if missing."""

    def __init__(self, url: str | Engine, key: bytes | None = None) -> None:
        self.engine = store_engine(url)
        self.key = key
        create_tables(self.engine, metadata)

    def append(self, entries: Sequence[AuditEntry]) -> None:
        """Append entries at the end of the chain, in order, in one transaction."""
        if not entries:
            return

        def write() -> None:
            with write_transaction(self.engine) as connection:
                if self.engine.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
                last = connection.execute(
                    select(audit.c.seq, audit.c.hash).order_by(audit.c.seq.desc()).limit(1)
                ).first()
                seq, link = (last.seq, last.hash) if last is not None else self._anchor(connection)
                rows = []
                for entry in entries:
                    seq += 1
                    entry = _normalised(entry)
                    current = entry_hash(link, seq, entry, self.key)
                    rows.append(_row(seq, entry, link, current))
                    link = current
                connection.execute(audit.insert(), rows)

        with_retries(write)

    def entries(
        self,
        since: datetime | None = None,
        principal: str | None = None,
        record_id: str | None = None,
        limit: int | None = None,
    ) -> list[StoredEntry]:
        """Entries in chain order, filtered by time, principal and a record id they touch."""
        query = select(audit).order_by(audit.c.seq)
        if since is not None:
            query = query.where(audit.c.at >= since.replace(tzinfo=None))
        if principal is not None:
            query = query.where(audit.c.principal == principal)
        if record_id is not None:
            query = query.where(audit.c.record_ids.like(f"%{json.dumps(record_id)}%"))
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        found = [StoredEntry(r.seq, _entry(r), r.prev_hash, r.hash) for r in rows]
        if record_id is not None:  # the LIKE is a pre-filter; the JSON list decides
            found = [s for s in found if record_id in s.entry.record_ids]
        return found

    def verify(self) -> Verification:
        """Walk the whole chain: every entry's link must hash its fields and the link before it,
        and its `prev_hash` must be the previous entry's link (no entry changed, inserted or removed)."""
        checked = 0
        with self.engine.connect() as connection:
            previous = self._anchor(connection)
        for row in self._rows():
            if row.seq != previous[0] + 1:
                missing = f"entries {previous[0] + 1} to {row.seq - 1} are missing"
                return Verification(checked, previous[0] + 1, f"entry {previous[0] + 1}: {missing}")
            if row.prev_hash != previous[1]:
                return Verification(checked, row.seq, f"entry {row.seq} does not follow entry {previous[0]}")
            if entry_hash(row.prev_hash, row.seq, _entry(row), self.key) != row.hash:
                return Verification(checked, row.seq, f"entry {row.seq} was changed after it was written")
            previous = (row.seq, row.hash)
            checked += 1
        return Verification(checked)

    def purge(self, before: datetime) -> int:
        """Delete entries older than `before` (retention); the first kept entry's `prev_hash` still
        names the link before it, so the rest of the chain verifies."""

        def write() -> int:
            with write_transaction(self.engine) as connection:
                if self.engine.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
                cutoff = before.astimezone(UTC).replace(tzinfo=None) if before.tzinfo else before
                last = connection.execute(
                    select(audit.c.seq, audit.c.hash)
                    .where(audit.c.at < cutoff)
                    .order_by(audit.c.seq.desc())
                    .limit(1)
                ).first()
                if last is None:
                    return 0
                done = connection.execute(delete(audit).where(audit.c.seq <= last.seq))
                connection.execute(delete(anchor))
                connection.execute(anchor.insert(), [{"id": 1, "seq": last.seq, "hash": last.hash}])
                return done.rowcount or 0

        return with_retries(write)

    @staticmethod
    def _anchor(connection: object) -> tuple[int, str]:
        row = connection.execute(select(anchor.c.seq, anchor.c.hash)).first()
        return (row.seq, row.hash) if row is not None else (0, GENESIS)

    def _rows(self) -> Iterator[object]:
        after = 0
        while True:
            query = select(audit).where(audit.c.seq > after).order_by(audit.c.seq).limit(READ_CHUNK)
            with self.engine.connect() as connection:
                rows = connection.execute(query).all()
            if not rows:
                return
            yield from rows
            after = rows[-1].seq


def _normalised(entry: AuditEntry) -> AuditEntry:
    """The entry as it is stored and read back: a naive UTC time to the microsecond."""
    if entry.at.tzinfo is None and isinstance(entry.record_ids, tuple):
        return entry
    at = entry.at.astimezone(UTC).replace(tzinfo=None) if entry.at.tzinfo else entry.at
    return replace(entry, at=at, record_ids=tuple(entry.record_ids))


def _row(seq: int, entry: AuditEntry, prev_hash: str, current: str) -> dict:
    values = _values(entry)
    values["at"] = entry.at
    values["record_ids"] = json.dumps(list(entry.record_ids))
    values["detail"] = json.dumps(entry.detail, sort_keys=True)
    return {"seq": seq, **values, "prev_hash": prev_hash, "hash": current}

"""The access audit trail's writer: services hand it entries without waiting; a thread appends them.

Every read, export or change of patient- or claim-level data, and every sign-in, failure, lock-out,
session end and grant, goes through `AuditTrail.record`. A request only queues its entry; the writer
appends what is queued twice a second, in one transaction, so the chain's lock is
never on the request path. A clean stop writes what is queued; a crash can lose the last fraction
of a second.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from config import Settings, audit_key, audit_url
from data.stores.audit import AuditEntry, AuditStore
from services.access.principal import Principal

log = logging.getLogger(__name__)
WRITE_EVERY_SECONDS = 0.5  # fewer, larger writes: the writer wakes twice a second, not per entry
MOST_AT_ONCE = 2_000


class AuditTrail:
    """Queues access entries and appends them from a thread of its own (`synchronous`: at once)."""

    def __init__(
        self, store: AuditStore, synchronous: bool = False, retention_days: int | None = None
    ) -> None:
        self.store = store
        self.synchronous = synchronous
        self.retention_days = retention_days
        self.lost = 0  # entries whose write failed (counted; never their contents in a log line)
        self._queue: queue.SimpleQueue[AuditEntry | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._purged_day: int | None = None
        self._wake = threading.Event()
        if not synchronous and store is not None:
            self._thread = threading.Thread(target=self._run, name="careops-audit", daemon=True)
            self._thread.start()

    def record(
        self,
        who: Principal,
        action: str,
        resource: str,
        record_ids: Iterable[str] = (),
        count: int | None = None,
        **detail: object,
    ) -> None:
        """Note that `who` did `action` on these records of `resource` (count: of records, when it
        differs from the ids given, as for a list that left some out)."""
        if self.store is None:
            return
        ids = tuple(str(i) for i in record_ids)
        entry = AuditEntry(
            at=datetime.now(UTC).replace(tzinfo=None),  # naive UTC, as the store keeps it
            principal=who.id,
            role=who.role,
            action=action,
            resource=resource,
            record_ids=ids,
            count=len(ids) if count is None else count,
            source=who.source,
            request_id=who.request_id,
            emergency=who.emergency,
            detail={k: v for k, v in detail.items() if v is not None},
        )
        if self.synchronous:
            self._append([entry])
        else:
            self._queue.put(entry)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until what was queued before this call is written."""
        if self.synchronous or self._thread is None:
            return
        done = threading.Event()
        self._queue.put(_Marker(done))  # type: ignore[arg-type]
        self._wake.set()
        done.wait(timeout)

    def close(self) -> None:
        """Write what is queued and stop the writer."""
        if self._thread is not None:
            self._queue.put(None)
            self._wake.set()
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        # The writer wakes on its clock (or when asked to flush or stop), never on each entry: a
        # wake per request would trade the interpreter with the request threads hundreds of times a
        # second.
        while True:
            self._wake.wait(WRITE_EVERY_SECONDS)
            self._wake.clear()
            batch: list[AuditEntry] = []
            markers: list[_Marker] = []
            stop = False
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                elif isinstance(item, _Marker):
                    markers.append(item)  # what was queued before it is in `batch`
                else:
                    batch.append(item)
                    if len(batch) >= MOST_AT_ONCE:
                        self._append(batch)
                        batch = []
            self._append(batch)
            self._purge()
            for marker in markers:
                marker.done.set()
            if stop:
                return

    def _append(self, batch: list[AuditEntry]) -> None:
        if not batch or self.store is None:
            return
        try:
            self.store.append(batch)
        except Exception as error:  # the trail must not take the service down; no values in the log
            self.lost += len(batch)
            log.error("audit trail write failed: %s (%d entries)", type(error).__name__, len(batch))

    def _purge(self) -> None:
        """Once a day, delete what is older than the retention."""
        if self.retention_days is None or self.store is None:
            return
        today = datetime.now(UTC).toordinal()
        if self._purged_day == today:
            return
        self._purged_day = today
        try:
            self.store.purge(datetime.now(UTC) - timedelta(days=self.retention_days))
        except Exception as error:
            log.error("audit trail purge failed: %s", type(error).__name__)


def command_trail(settings: Settings) -> AuditTrail:
    """The trail of a command run at the machine: each entry written as it comes."""
    store = AuditStore(audit_url(settings), audit_key(settings)) if settings.audit else None
    return AuditTrail(store, synchronous=True)


class _Marker:
    def __init__(self, done: threading.Event) -> None:
        self.done = done

"""What happens to a listed claim after it goes out: front-end acknowledgments (277CA), remittance
outcomes (835), and the biller's appeals, corrections and write-offs, each kept as an event with its
day, so that the numbers page can count the denials overturned and the days to resolve them.

A status from a file carries the file's day: a file no newer than the last one applied to a claim
changes nothing, so files read out of order, or read again after the biller sent the claim again,
end where the newest says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update
from sqlalchemy.engine import Engine

from data.stores.engine import with_retries, write_transaction
from data.stores.worklist import LOOKUP_CHUNK, worklist
from data.stores.worklist_events import events


@dataclass(frozen=True)
class FileStatus:
    """A status a file gives one claim: its day, the words shown with it, and what identifies it."""

    claim_id: str
    status: str
    day: int | None
    note: str | None = None
    payer_claim_number: str | None = None
    codes: str | None = None  # CARC/RARC codes of a denial, e.g. "CO-50;N115"


def apply_file_statuses(
    connection: Connection, changes: Sequence[FileStatus], keep: frozenset[str], source: str
) -> dict[str, int]:
    """Set the statuses of the listed claims the changes name, unless a claim's status is in `keep` or
    it already holds a status from a file of the same day or newer; returns the listed claims
    changed, by claim id -> handle."""
    c = worklist.c
    ids = list(dict.fromkeys(change.claim_id for change in changes))
    held: dict[str, tuple[int, str, int | None]] = {}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        part = ids[start : start + LOOKUP_CHUNK]
        rows = connection.execute(
            select(c.claim_id, c.id, c.status, c.status_day).where(c.claim_id.in_(part))
        )
        held.update({claim_id: (handle, status, day) for claim_id, handle, status, day in rows})
    now, changed, logged = datetime.now(), {}, []
    for change in sorted(changes, key=lambda x: (x.day is None, x.day or 0)):  # oldest first
        if change.claim_id not in held:
            continue
        handle, status, day = held[change.claim_id]
        if status in keep or (day is not None and change.day is not None and change.day <= day):
            continue
        values = {"status": change.status, "status_day": change.day, "status_note": change.note}
        if change.payer_claim_number:
            values["payer_claim_number"] = change.payer_claim_number
        if change.codes is not None:
            values["denial_codes"] = change.codes
        connection.execute(update(worklist).where(c.id == handle).values(**values))
        held[change.claim_id] = (handle, change.status, change.day if change.day is not None else day)
        changed[change.claim_id] = handle
        logged.append(
            {"handle": handle, "status": change.status, "day": change.day, "at": now, "source": source}
        )
    if logged:
        connection.execute(events.insert(), logged)
    return changed


class ClaimWorkflow:
    """Applies the statuses files give listed claims (on the worklist's engine and tables)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def apply(self, changes: Sequence[FileStatus], keep: frozenset[str], source: str) -> dict[str, int]:
        """`apply_file_statuses` in one write transaction."""

        def write() -> dict[str, int]:
            with write_transaction(self.engine) as connection:
                return apply_file_statuses(connection, changes, keep, source)

        return with_retries(write) if changes else {}

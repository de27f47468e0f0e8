"""Uploaded claims read in a short-lived process, and handed on in chunks.

Parsing and validating a file costs several times its size in memory, and much of it stays with the
process that did it (its allocator keeps the freed pages). So a file is read by a process of its own
that exits when it is done; the server gets the valid claims back as JSON and builds, scores and
stores them a chunk at a time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TypeVar

import pandas as pd

from data.loaders.canonical import QUARANTINE_REASON, SOURCE_ROW
from data.loaders.uploads import UploadError, appointments_from_upload, claims_from_upload
from data.schemas import Claim
from models.tasks import caller_records, get_task
from services.processes import fork_server

CHUNK = 2000  # claims built, scored and stored at a time
NICENESS = 19  # a reader yields the processors to the server's requests
T = TypeVar("T")
READ_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class ClaimsRead:
    """An upload's claims as read: the valid ones as JSON, in file order, and why the others were not."""

    quarantined: int
    reason_counts: dict[str, int] = field(default_factory=dict)
    records: list[str] = field(default_factory=list)

    def chunks(self, size: int = CHUNK) -> Iterator[list[Claim]]:
        """The valid claims, `size` at a time."""
        for start in range(0, len(self.records), size):
            yield [Claim.model_validate_json(r) for r in self.records[start : start + size]]


@dataclass(frozen=True)
class AppointmentsRead:
    """An upload's appointments as read: the valid table, and the first rows that were not, with why."""

    valid: pd.DataFrame
    quarantined: int
    bad_rows: list[tuple[int, str]]  # (the file's line, after its header; the rule broken)


def read_claims(name: str, content: bytes, max_rows: int | None, in_process: bool = False) -> ClaimsRead:
    """Read an uploaded CSV or 837 in a process of its own (here with `in_process`); raises UploadError
    for a file that cannot be read, including one whose reader dies or runs out of time."""
    if in_process:
        return _read_claims(name, content, max_rows)
    return _in_reader(_read_claims, name, content, max_rows)


def read_appointments(
    content: bytes, max_rows: int | None, shown: int, in_process: bool = False
) -> AppointmentsRead:
    """Read an uploaded appointments CSV in a process of its own (here with `in_process`), keeping the
    first `shown` bad rows; raises UploadError as `read_claims` does."""
    if in_process:
        return _read_appointments(content, max_rows, shown)
    return _in_reader(_read_appointments, content, max_rows, shown)


def _in_reader(read: Callable[..., T], *args: object) -> T:
    """`read(*args)` in a short-lived reader process from the fork server; its answer, or its
    UploadError raised here."""
    context = fork_server()
    ours, theirs = context.Pipe(duplex=False)
    reader = context.Process(
        target=_serve, args=(theirs, read, *args), name="careops-upload-reader", daemon=True
    )
    reader.start()
    theirs.close()  # the reader holds its own end: if it dies, ours sees the end of input
    try:
        if not ours.poll(READ_TIMEOUT_SECONDS):
            raise UploadError("the file could not be read in the time an upload may take")
        answer = ours.recv()
    except EOFError:
        raise UploadError("the file could not be read (its reader stopped)") from None
    finally:
        ours.close()
        if reader.is_alive():
            reader.kill()
        reader.join()
    if isinstance(answer, UploadError):
        raise answer
    return answer


def _serve(answer: Connection, read: Callable[..., object], *args: object) -> None:
    """The reader process: what was read, or why the file cannot be read, then exit."""
    os.nice(NICENESS)
    try:
        answer.send(read(*args))
    except UploadError as error:
        answer.send(UploadError(str(error)))
    finally:
        answer.close()


def _read_claims(name: str, content: bytes, max_rows: int | None) -> ClaimsRead:
    loaded = claims_from_upload(name, content, max_rows)
    valid = caller_records(get_task("denial"), loaded.valid)
    records = [Claim.model_validate(r).model_dump_json() for r in valid]
    return ClaimsRead(len(loaded.quarantined), dict(loaded.reason_counts), records)


def _read_appointments(content: bytes, max_rows: int | None, shown: int) -> AppointmentsRead:
    loaded = appointments_from_upload(content, max_rows)
    bad = [
        (int(row[SOURCE_ROW]) + 1, str(row[QUARANTINE_REASON]))
        for _, row in loaded.quarantined.head(shown).iterrows()
    ]
    return AppointmentsRead(loaded.valid, len(loaded.quarantined), bad)

"""The biller's worklist: claims brought in before submission, their latest scores and their status.

Each claim gets a row number, its handle on the pages, so that no claim or patient id needs to
appear in a URL. Scores are kept with the model version that made them, so the list opens without
scoring every claim again; a claim's own page scores it afresh.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Column, DateTime, Float, Integer, MetaData, String, Table, Text, select, update
from sqlalchemy.engine import Engine

from data.schemas import Claim
from data.stores.engine import create_tables, store_engine, with_retries, write_transaction
from data.worklist_items import STATUSES, ItemScore, WorkItem

metadata = MetaData()
worklist = Table(
    "careops_worklist",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("claim_id", String(64), nullable=False, unique=True),
    Column("record", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("added_at", DateTime, nullable=False),
    Column("payer_id", String(64), nullable=False),
    Column("service_date", String(10), nullable=False),
    Column("model_version", String(32), nullable=True),
    Column("probability", Float, nullable=True),
    Column("expected_payment", Float, nullable=True),
    Column("dollars_at_risk", Float, nullable=True),
    Column("top_reason", String(32), nullable=True),
)


class WorklistStore:
    """The worklist table; creating one creates it if missing."""

    def __init__(self, url: str | Engine) -> None:
        self.engine = store_engine(url)
        create_tables(self.engine, metadata)

    def add(self, claims: Sequence[Claim], scores: Sequence[ItemScore], version: str) -> tuple[int, int]:
        """Add claims (or update ones already listed, which reopen); returns (added, updated)."""
        c = worklist.c
        now = datetime.now()

        def write() -> tuple[int, int]:
            added = updated = 0
            with write_transaction(self.engine) as connection:
                for claim, score in zip(claims, scores, strict=True):
                    values = {
                        "record": claim.model_dump_json(),
                        "status": "open",
                        "payer_id": claim.payer_id,
                        "service_date": claim.service_date.isoformat(),
                        "model_version": version,
                        "probability": score.probability,
                        "expected_payment": score.expected_payment,
                        "dollars_at_risk": score.dollars_at_risk,
                        "top_reason": score.top_reason,
                    }
                    found = connection.execute(select(c.id).where(c.claim_id == claim.claim_id)).first()
                    if found is None:
                        connection.execute(
                            worklist.insert().values(claim_id=claim.claim_id, added_at=now, **values)
                        )
                        added += 1
                    else:
                        connection.execute(update(worklist).where(c.id == found[0]).values(**values))
                        updated += 1
            return added, updated

        return with_retries(write)

    def items(self) -> list[WorkItem]:
        """Every claim on the list."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(worklist).order_by(worklist.c.id)).mappings().all()
        return [_item(row) for row in rows]

    def item(self, handle: int) -> WorkItem | None:
        """One claim by its handle."""
        with self.engine.connect() as connection:
            row = connection.execute(select(worklist).where(worklist.c.id == handle)).mappings().first()
        return _item(row) if row is not None else None

    def mark(self, handle: int, status: str) -> bool:
        """Set a claim's status; False when there is no such claim."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")

        def write() -> bool:
            with write_transaction(self.engine) as connection:
                done = connection.execute(
                    update(worklist).where(worklist.c.id == handle).values(status=status)
                )
                return done.rowcount == 1

        return with_retries(write)


def _item(row) -> WorkItem:
    return WorkItem(
        handle=row["id"],
        claim=Claim.model_validate(json.loads(row["record"])),
        status=row["status"],
        probability=row["probability"] or 0.0,
        expected_payment=row["expected_payment"] or 0.0,
        dollars_at_risk=row["dollars_at_risk"] or 0.0,
        top_reason=row["top_reason"],
        model_version=row["model_version"],
    )

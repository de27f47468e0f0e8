"""The biller's worklist: claims brought in before submission, their latest scores and their status.

Each claim gets a row number, its handle on the pages, so that no claim or patient id needs to
appear in a URL. Scores are kept with the model version that made them, so the list opens without
scoring every claim again; a claim's own page scores it afresh.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.engine import Engine

from data.schemas import Claim
from data.stores.engine import create_tables, store_engine, with_retries, write_transaction
from data.worklist_items import STATUSES, ItemScore, ListedItem, WorkItem, WorklistPage, WorklistView

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
    Column("total_charge", Float, nullable=True),  # kept beside the record, so the list never parses it
)
LOOKUP_CHUNK = 500  # claim ids looked up per statement (SQLite takes at most 32,766 parameters)
LISTED = (
    worklist.c.id, worklist.c.claim_id, worklist.c.payer_id, worklist.c.service_date, worklist.c.total_charge,
    worklist.c.status, worklist.c.probability, worklist.c.expected_payment, worklist.c.dollars_at_risk,
    worklist.c.top_reason,
)  # fmt: skip


class WorklistStore:
    """The worklist table; creating one creates it if missing."""

    def __init__(self, url: str | Engine) -> None:
        self.engine = store_engine(url)
        create_tables(self.engine, metadata)
        self._fill_charges()

    def add(self, claims: Sequence[Claim], scores: Sequence[ItemScore], version: str) -> tuple[int, int]:
        """Add claims (or update ones already listed, which reopen); returns (added, updated)."""
        c = worklist.c
        now = datetime.now()

        listed: dict[str, dict] = {}  # by claim id, in the order they came; a repeated claim's last wins
        for claim, score in zip(claims, scores, strict=True):
            listed[claim.claim_id] = {
                "record": claim.model_dump_json(),
                "status": "open",
                "payer_id": claim.payer_id,
                "service_date": claim.service_date.isoformat(),
                "model_version": version,
                "probability": score.probability,
                "expected_payment": score.expected_payment,
                "dollars_at_risk": score.dollars_at_risk,
                "top_reason": score.top_reason,
                "total_charge": claim.total_charge,
            }

        def write() -> int:
            with write_transaction(self.engine) as connection:
                ids, handles = list(listed), {}
                for start in range(0, len(ids), LOOKUP_CHUNK):
                    part = ids[start : start + LOOKUP_CHUNK]
                    handles.update(
                        connection.execute(select(c.claim_id, c.id).where(c.claim_id.in_(part))).all()
                    )
                new = [{"claim_id": k, "added_at": now, **v} for k, v in listed.items() if k not in handles]
                again = [{"handle": handles[k], **v} for k, v in listed.items() if k in handles]
                if new:
                    connection.execute(worklist.insert(), new)
                if again:
                    connection.execute(update(worklist).where(c.id == bindparam("handle")), again)
            return len(new)

        added = with_retries(write)
        return added, len(claims) - added

    def view(self, view: WorklistView, payers: frozenset[str] | None, limit: int | None) -> WorklistPage:
        """The first `limit` rows of a view (all of them for None) among the given payers' claims (every
        payer's for None), ranked in the store, with the counts and choices the page shows."""
        c = worklist.c
        scope = [] if payers is None else [c.payer_id.in_(sorted(payers))]
        probability, dollars = func.coalesce(c.probability, 0.0), func.coalesce(c.dollars_at_risk, 0.0)
        kept = [*scope, probability >= view.min_probability]
        kept += [c.payer_id == view.payer] if view.payer else []
        kept += [c.top_reason == view.category] if view.category else []
        kept += [c.service_date >= view.since.isoformat()] if view.since else []
        kept += [c.service_date <= view.until.isoformat()] if view.until else []
        kept += [c.status == view.status] if view.status != "all" else []
        order = {"probability": probability.desc(), "service_date": c.service_date.asc()}.get(
            view.sort, dollars.desc()
        )
        with self.engine.connect() as connection:
            every = connection.scalar(select(func.count()).select_from(worklist))
            listed = connection.scalar(_where(select(func.count()).select_from(worklist), scope))
            matching, at_risk = connection.execute(
                _where(select(func.count(), func.coalesce(func.sum(dollars), 0.0)), kept)
            ).one()
            choices = connection.execute(_where(select(c.payer_id, c.top_reason).distinct(), scope)).all()
            rows = connection.execute(_where(select(*LISTED), kept).order_by(order, c.id).limit(limit)).all()
        return WorklistPage(
            items=[_listed(row) for row in rows],
            matching=matching,
            listed=listed,
            left_out=every - listed,
            at_risk=float(at_risk),
            payers=sorted({payer for payer, _ in choices}),
            categories=sorted({reason for _, reason in choices if reason}),
        )

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

    def _fill_charges(self) -> None:
        """Copy the charge out of the record for rows an earlier careops added without it."""
        c = worklist.c
        with self.engine.connect() as connection:
            missing = connection.execute(select(c.id, c.record).where(c.total_charge.is_(None))).all()
        if not missing:
            return

        def write() -> None:
            with write_transaction(self.engine) as connection:
                for handle, record in missing:
                    charge = json.loads(record)["total_charge"]
                    connection.execute(update(worklist).where(c.id == handle).values(total_charge=charge))

        with_retries(write)


def _where(statement: Select, conditions: list) -> Select:
    for condition in conditions:
        statement = statement.where(condition)
    return statement


def _listed(row) -> ListedItem:
    return ListedItem(
        handle=row.id,
        claim_id=row.claim_id,
        payer_id=row.payer_id,
        service_date=date.fromisoformat(row.service_date),
        total_charge=row.total_charge,
        status=row.status,
        probability=row.probability or 0.0,
        expected_payment=row.expected_payment or 0.0,
        dollars_at_risk=row.dollars_at_risk or 0.0,
        top_reason=row.top_reason,
    )


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

"""The biller's worklist: claims brought in before submission, their latest scores and their status.

Each claim gets a row number, its handle on the pages, so that no claim or patient id needs to
appear in a URL. Scores are kept with the model version that made them, so the list opens without
scoring every claim again; a claim's own page scores it afresh.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Engine

from data.epoch import day_start, epoch_day
from data.filing_deadlines import UNFILED, DeadlinePolicy
from data.schemas import Claim
from data.stores.engine import create_tables, once, store_engine, with_retries, write_transaction
from data.stores.worklist_events import log_mark
from data.stores.worklist_events import metadata as events_metadata
from data.worklist_items import (
    STATUSES,
    Deadline,
    ItemScore,
    ListedItem,
    WorkItem,
    WorklistPage,
    WorklistView,
)

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
    # The service day and the payer's filing window (from the practice's payer table, brought up to
    # date as the list opens): the deadline is their sum, compared in the store.
    Column("service_day", Integer, nullable=True),
    Column("filing_window", Integer, nullable=True),
    # What search finds a claim by, besides its claim id (the payer's number comes with a 277CA or 835).
    Column("patient_id", String(64), nullable=True, index=True),
    Column("payer_claim_number", String(64), nullable=True, index=True),
    # The day of the last file that gave the status (a 277CA or 835), and what it said in words.
    Column("status_day", Integer, nullable=True),
    Column("status_note", String(300), nullable=True),
    Column("denial_codes", String(200), nullable=True),
)
LOOKUP_CHUNK = 500  # claim ids looked up per statement (SQLite takes at most 32,766 parameters)
LISTED = (
    worklist.c.id, worklist.c.claim_id, worklist.c.payer_id, worklist.c.service_date, worklist.c.total_charge,
    worklist.c.status, worklist.c.probability, worklist.c.expected_payment, worklist.c.dollars_at_risk,
    worklist.c.top_reason, worklist.c.service_day, worklist.c.filing_window,
)  # fmt: skip


class WorklistStore:
    """The worklist table; creating one creates it if missing."""

    def __init__(self, url: str | Engine) -> None:
        self.engine = store_engine(url)
        create_tables(self.engine, metadata)
        self._fill_charges()
        once(self.engine, "worklist: service days and patient ids", self._fill_days_and_patients)
        create_tables(self.engine, events_metadata)

    def set_windows(self, windows: Mapping[str, int]) -> int:
        """Bring each listed claim's filing window to its payer's in `windows` (None for a payer not
        in it); returns the rows changed. One statement per payer whose rows differ."""
        c = worklist.c
        with self.engine.connect() as connection:
            held = connection.execute(select(c.payer_id, c.filing_window).distinct()).all()
        stale = {payer for payer, window in held if windows.get(payer) != window}
        if not stale:
            return 0

        def write() -> int:
            with write_transaction(self.engine) as connection:
                return sum(
                    connection.execute(
                        update(worklist).where(c.payer_id == payer).values(filing_window=windows.get(payer))
                    ).rowcount
                    for payer in sorted(stale)
                )

        return with_retries(write)

    def add(
        self,
        claims: Sequence[Claim],
        scores: Sequence[ItemScore],
        version: str,
        windows: Mapping[str, int] | None = None,
    ) -> tuple[int, int]:
        """Add claims (or update ones already listed, which reopen), with their payers' filing windows
        in `windows`; returns (added, updated)."""
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
                "service_day": epoch_day(claim.service_date),
                "patient_id": claim.patient_id,
                "filing_window": (windows or {}).get(claim.payer_id),
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

    def view(
        self,
        view: WorklistView,
        payers: frozenset[str] | None,
        limit: int | None,
        policy: DeadlinePolicy | None = None,
    ) -> WorklistPage:
        """The first `limit` rows of a view (all of them for None) among the given payers' claims (every
        payer's for None), ranked in the store with the deadline `policy` (as of its day), with the
        counts and choices the page shows."""
        c = worklist.c
        policy = policy or DeadlinePolicy()
        scope = [] if payers is None else [c.payer_id.in_(sorted(payers))]
        probability, dollars = func.coalesce(c.probability, 0.0), func.coalesce(c.dollars_at_risk, 0.0)
        past, near = _deadline_conditions(policy)
        kept = [*scope, probability >= view.min_probability]
        kept += [c.payer_id == view.payer] if view.payer else []
        kept += [c.top_reason == view.category] if view.category else []
        kept += [c.service_date >= view.since.isoformat()] if view.since else []
        kept += [c.service_date <= view.until.isoformat()] if view.until else []
        kept += [c.status == view.status] if view.status != "all" else []
        kept += {"past": [past], "near": [near], "due": [or_(past, near)]}.get(view.deadline, [])
        deadline = c.service_day + c.filing_window
        order = {
            "probability": [probability.desc()],
            "service_date": [c.service_date.asc()],
            "dollars": [dollars.desc()],
            "deadline": [case((and_(c.status.in_(UNFILED), deadline.is_not(None)), 0), else_=1), deadline],
        }.get(view.sort, [case((near, dollars * policy.urgency_weight), else_=dollars).desc()])
        with self.engine.connect() as connection:
            every = connection.scalar(select(func.count()).select_from(worklist))
            listed = connection.scalar(_where(select(func.count()).select_from(worklist), scope))
            matching, at_risk = connection.execute(
                _where(select(func.count(), func.coalesce(func.sum(dollars), 0.0)), kept)
            ).one()
            choices = connection.execute(_where(select(c.payer_id, c.top_reason).distinct(), scope)).all()
            rows = connection.execute(_where(select(*LISTED), kept).order_by(*order, c.id).limit(limit)).all()
        return WorklistPage(
            items=[_listed(row, policy) for row in rows],
            matching=matching,
            listed=listed,
            left_out=every - listed,
            at_risk=float(at_risk),
            payers=sorted({payer for payer, _ in choices}),
            categories=sorted({reason for _, reason in choices if reason}),
        )

    def item(self, handle: int, policy: DeadlinePolicy | None = None) -> WorkItem | None:
        """One claim by its handle, with its deadline as of the `policy`'s day."""
        with self.engine.connect() as connection:
            row = connection.execute(select(worklist).where(worklist.c.id == handle)).mappings().first()
        return _item(row, policy or DeadlinePolicy()) if row is not None else None

    def mark(self, handle: int, status: str) -> bool:
        """Set a claim's status, kept as an event; False when there is no such claim."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")

        def write() -> bool:
            with write_transaction(self.engine) as connection:
                done = connection.execute(
                    update(worklist).where(worklist.c.id == handle).values(status=status)
                )
                if done.rowcount == 1:
                    log_mark(connection, handle, status)
                return done.rowcount == 1

        return with_retries(write)

    def payers_of(self, claim_ids: Sequence[str]) -> dict[str, str]:
        """The payer of each listed claim among `claim_ids`."""
        c, out = worklist.c, {}
        ids = list(dict.fromkeys(claim_ids))
        with self.engine.connect() as connection:
            for start in range(0, len(ids), LOOKUP_CHUNK):
                part = ids[start : start + LOOKUP_CHUNK]
                out.update(
                    connection.execute(select(c.claim_id, c.payer_id).where(c.claim_id.in_(part))).all()
                )
        return out

    def find(self, term: str, payers: frozenset[str] | None, policy: DeadlinePolicy) -> list[ListedItem]:
        """The listed claims whose claim id, patient id or payer claim number is `term`, among the
        given payers' claims (every payer's for None), in the order they were listed."""
        c = worklist.c
        matched = or_(c.claim_id == term, c.patient_id == term, c.payer_claim_number == term)
        scope = [] if payers is None else [c.payer_id.in_(sorted(payers))]
        with self.engine.connect() as connection:
            rows = connection.execute(_where(select(*LISTED).where(matched), scope).order_by(c.id).limit(500))
            return [_listed(row, policy) for row in rows]

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

    def _fill_days_and_patients(self) -> None:
        """Service day numbers (for deadlines) and patient ids (for search) of the rows an earlier careops
        added without them."""
        c = worklist.c
        with self.engine.connect() as connection:
            missing = connection.execute(select(c.id, c.record).where(c.service_day.is_(None))).all()

        def write() -> None:
            with write_transaction(self.engine) as connection:
                claims = [(handle, json.loads(record)) for handle, record in missing]
                rows = [
                    {
                        "handle": h,
                        "service_day": epoch_day(claim["service_date"]),
                        "patient_id": claim["patient_id"],
                    }
                    for h, claim in claims
                ]
                connection.execute(update(worklist).where(c.id == bindparam("handle")), rows)

        if missing:
            with_retries(write)


def _deadline_conditions(policy: DeadlinePolicy) -> tuple:
    """The store's conditions for a claim still to be filed past its deadline, and due soon."""
    c = worklist.c
    deadline, unfiled = c.service_day + c.filing_window, c.status.in_(UNFILED)
    past = and_(unfiled, deadline < policy.day)
    near = and_(unfiled, deadline >= policy.day, deadline <= policy.day + policy.warning_days)
    return past, near


def _deadline(service_day: int | None, window: int | None, status: str, policy: DeadlinePolicy) -> Deadline:
    day = None if service_day is None or window is None else day_start(service_day + window).date()
    return Deadline(day, policy.days_left(day), policy.flag(day, status))


def _where(statement: Select, conditions: list) -> Select:
    for condition in conditions:
        statement = statement.where(condition)
    return statement


def _listed(row, policy: DeadlinePolicy) -> ListedItem:
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
        deadline=_deadline(row.service_day, row.filing_window, row.status, policy),
    )


def _item(row, policy: DeadlinePolicy) -> WorkItem:
    return WorkItem(
        handle=row["id"],
        claim=Claim.model_validate(json.loads(row["record"])),
        status=row["status"],
        probability=row["probability"] or 0.0,
        expected_payment=row["expected_payment"] or 0.0,
        dollars_at_risk=row["dollars_at_risk"] or 0.0,
        top_reason=row["top_reason"],
        model_version=row["model_version"],
        deadline=_deadline(row["service_day"], row["filing_window"], row["status"], policy),
        payer_claim_number=row["payer_claim_number"],
        status_note=row["status_note"],
        denial_codes=row["denial_codes"],
    )

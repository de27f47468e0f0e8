"""The claim store: submitted claims and their remittance outcomes, in any SQLAlchemy database.

Training seeds it; the API records claims as they are submitted and remitted. Denial scores read
the payer history and earlier submissions from it, as `features.claim_history` defines them.
No names, dates of birth or diagnoses are stored: a patient id, payer, codes and day numbers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    func,
    select,
)

from data.claim_events import HISTORY_CATEGORIES, ClaimEvents, service_key
from data.epoch import epoch_day
from data.schemas import Claim, line_field, service_lines
from data.stores.claim_fills import fill_charges, fill_rendering_providers
from data.stores.daily_counts import IN_CHUNK, recount_days
from data.stores.engine import create_tables, once, store_engine, with_retries, write_transaction
from data.stores.prepared import Prepared, reading
from data.stores.records import record_json
from data.stores.upsert import upsert

metadata = MetaData()
claims_table = Table(
    "careops_claims",
    metadata,
    Column("claim_id", String(64), primary_key=True),
    Column("payer_id", String(64), nullable=False, index=True),
    Column("service_key", String(512), nullable=False, index=True),
    Column("submitted_day", Integer, nullable=False),
    Column("adjudicated_day", Integer, nullable=True),
    Column("denied", Float, nullable=True),
    Column("category", String(32), nullable=True),
    Column("record", Text, nullable=True),  # the canonical claim as JSON, to train on again
    # Its lines' charges, and of them those not denied (0 for a claim denied whole): the numbers
    # page sums them without reading each record.
    Column("charged", Float, nullable=True),
    Column("not_denied_charge", Float, nullable=True),
    Column("rendering_provider_id", String(64), nullable=True),  # for the denial analytics
    Index("ix_careops_claims_adjudicated", "adjudicated_day"),
)
lines_table = Table(
    "careops_claim_lines",
    metadata,
    Column("claim_id", String(64), primary_key=True),
    Column("line_number", Integer, primary_key=True),
    Column("payer_id", String(64), nullable=False),
    Column("procedure_code", String(16), nullable=False),
    Column("adjudicated_day", Integer, nullable=True),
    Column("denied", Float, nullable=True),
    Index("ix_careops_claim_lines_adjudicated", "adjudicated_day"),  # the denial analytics' window
)


# Daily counts kept as claims are recorded: what payer history sums before a day, by indexed range.
payer_days = Table(
    "careops_payer_days",
    metadata,
    Column("payer_id", String(64), primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("n", Float, nullable=False),
    Column("denied", Float, nullable=False),
    *(Column(f"category_{name}", Float, nullable=False) for name in HISTORY_CATEGORIES),
)
code_days = Table(
    "careops_code_days",
    metadata,
    Column("payer_id", String(64), primary_key=True),
    Column("procedure_code", String(16), primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("n", Float, nullable=False),
    Column("denied", Float, nullable=False),
)
service_days = Table(
    "careops_service_days",
    metadata,
    Column("service_key", String(512), primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("n", Float, nullable=False),
)
Index("ix_careops_claims_payer_adjudicated", claims_table.c.payer_id, claims_table.c.adjudicated_day)
Index("ix_careops_claims_service_submitted", claims_table.c.service_key, claims_table.c.submitted_day)
Index(
    "ix_careops_claim_lines_code_adjudicated",
    lines_table.c.payer_id,
    lines_table.c.procedure_code,
    lines_table.c.adjudicated_day,
)


@dataclass
class Touched:
    """The daily-count keys a write may change: (payer, day), (payer, code, day), (service key, day)."""

    payer: set[tuple[str, int]] = field(default_factory=set)
    code: set[tuple[str, str, int]] = field(default_factory=set)
    service: set[tuple[str, int]] = field(default_factory=set)

    def add_claims(self, rows: Iterable[Any]) -> None:
        for payer_id, key, submitted, adjudicated in rows:
            self.service.add((key, submitted))
            if adjudicated is not None:
                self.payer.add((payer_id, adjudicated))

    def add_lines(self, rows: Iterable[Any]) -> None:
        self.code |= {(p, code, day) for p, code, day in rows if day is not None}


def charges(lines: list[Any], denied: float | None) -> tuple[float, float]:
    """A claim's lines' charges, and of them those not denied (nothing for a claim denied whole)."""
    charged = sum(float(line_field(line, "charge")) for line in lines)
    kept = sum(float(line_field(line, "charge")) for line in lines if not line_field(line, "denied"))
    return charged, 0.0 if denied == 1 else kept


def _rows_of(row: Any, record: str) -> tuple[dict, list[dict]]:
    """The claim table's row and the line table's rows of one canonical claim (its JSON `record`)."""
    lines_of_claim = service_lines(row.service_lines)
    adjudicated = epoch_day(getattr(row, "adjudicated_at", None))
    denied = _float(getattr(row, "denied", None))
    known = adjudicated is not None and denied is not None
    category = getattr(row, "denial_category", None)
    charged, not_denied = charges(lines_of_claim, denied if known else None)
    claim = {
        "claim_id": row.claim_id,
        "payer_id": str(row.payer_id),
        "service_key": service_key(row.patient_id, row.service_date, lines_of_claim),
        "submitted_day": epoch_day(row.submitted_at),
        "adjudicated_day": adjudicated if known else None,
        "denied": denied if known else None,
        "category": category if known and isinstance(category, str) else None,
        "record": record,
        "charged": charged,
        "not_denied_charge": not_denied,
        "rendering_provider_id": _text(getattr(row, "rendering_provider_id", None)),
    }
    lines = []
    for number, line in enumerate(lines_of_claim, start=1):
        line_denied = _float(line_field(line, "denied")) if known else None
        lines.append(
            {
                "claim_id": row.claim_id,
                "line_number": number,
                "payer_id": str(row.payer_id),
                "procedure_code": str(line_field(line, "procedure_code")),
                "adjudicated_day": adjudicated if line_denied is not None else None,
                "denied": line_denied,
            }
        )
    return claim, lines


def _text(value: Any) -> str | None:
    return None if value is None or value != value or value == "" else str(value)


def _float(value: Any) -> float | None:
    return None if value is None or value != value else float(value)


class _Sums:
    """The request path's look-ups: a key's daily counts summed over the days before a day."""

    def __init__(self, engine: Engine) -> None:
        p, k, s = payer_days.c, code_days.c, service_days.c
        before = bindparam("day", type_=Float)  # day numbers may carry a fraction
        self.payer = Prepared(
            engine,
            select(
                func.sum(p.n), func.sum(p.denied), *(func.sum(p[f"category_{n}"]) for n in HISTORY_CATEGORIES)
            ).where(p.payer_id == bindparam("payer_id"), p.day < before),
        )
        self.code = Prepared(
            engine,
            select(func.sum(k.n), func.sum(k.denied)).where(
                k.payer_id == bindparam("payer_id"), k.procedure_code == bindparam("code"), k.day < before
            ),
        )
        self.service = Prepared(
            engine, select(func.sum(s.n)).where(s.service_key == bindparam("key"), s.day < before)
        )


class ClaimStore:
    """Claims and their outcomes; creating one creates its tables if missing."""

    def __init__(self, url: str | Engine) -> None:
        self.engine: Engine = store_engine(url)
        create_tables(self.engine, metadata)
        self._sums = _Sums(self.engine)
        with self.engine.connect() as connection:
            has_claims = connection.execute(select(claims_table.c.claim_id).limit(1)).first() is not None
            has_counts = connection.execute(select(service_days.c.day).limit(1)).first() is not None
        if has_claims and not has_counts:  # a store from before the daily counts: build them once
            with_retries(self._rebuild_counts)
        once(self.engine, "claims: charges", lambda: fill_charges(self.engine, claims_table, charges))
        once(
            self.engine,
            "claims: rendering providers",
            lambda: fill_rendering_providers(self.engine, claims_table),
        )

    def awaiting(self, limit: int = 1000) -> list[Claim]:
        """Claims recorded as submitted that have no remittance yet (the latest first), as records."""
        c = claims_table.c
        query = (
            select(c.record)
            .where(c.adjudicated_day.is_(None), c.record.is_not(None))
            .order_by(c.submitted_day.desc(), c.claim_id)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            return [Claim.model_validate(json.loads(r)) for r in connection.execute(query).scalars()]

    def record(self, frame: pd.DataFrame) -> int:
        """Store canonical claims as submitted, with their outcomes where known; returns claims written.

        Recording a claim again replaces it, so a later remittance updates its outcome.
        """
        claims, lines = [], []
        records = record_json(frame, list(Claim.model_fields))
        for index, row in enumerate(frame.itertuples(index=False)):
            claim, its_lines = _rows_of(row, records[index])
            claims.append(claim)
            lines.extend(its_lines)
        ids = sorted({claim["claim_id"] for claim in claims})
        line_keys = ["claim_id", "line_number"]
        line_columns = [c.name for c in lines_table.columns if c.name not in line_keys]

        def write() -> None:
            # One transaction: a claim recorded again replaces its lines (it may have fewer now),
            # and the daily counts of every key the old or new rows touch are counted again.
            with write_transaction(self.engine) as connection:
                touched = Touched()
                c, line = claims_table.c, lines_table.c
                for start in range(0, len(ids), IN_CHUNK):
                    chunk = ids[start : start + IN_CHUNK]
                    touched.add_claims(
                        connection.execute(
                            select(c.payer_id, c.service_key, c.submitted_day, c.adjudicated_day).where(
                                c.claim_id.in_(chunk)
                            )
                        ).all()
                    )
                    touched.add_lines(
                        connection.execute(
                            select(line.payer_id, line.procedure_code, line.adjudicated_day).where(
                                line.claim_id.in_(chunk)
                            )
                        ).all()
                    )
                upsert(connection, claims_table, claims, ["claim_id"])
                for start in range(0, len(ids), IN_CHUNK):
                    chunk = ids[start : start + IN_CHUNK]
                    connection.execute(delete(lines_table).where(lines_table.c.claim_id.in_(chunk)))
                upsert(connection, lines_table, lines, line_keys, line_columns)
                touched.add_claims(
                    (r["payer_id"], r["service_key"], r["submitted_day"], r["adjudicated_day"])
                    for r in claims
                )
                touched.add_lines((r["payer_id"], r["procedure_code"], r["adjudicated_day"]) for r in lines)
                self._recount(connection, touched)

        with_retries(write)
        return len(claims)

    def labelled_records(self) -> pd.DataFrame:
        """Every stored claim whose remittance has arrived, as a canonical table with its labels."""
        c = claims_table.c
        query = select(c.record).where(c.denied.is_not(None), c.record.is_not(None))
        with self.engine.connect() as connection:
            rows = connection.execute(query).scalars().all()
        return pd.DataFrame([json.loads(record) for record in rows], columns=list(Claim.model_fields))

    def known_outcomes(self) -> list[tuple[str, int]]:
        """(claim id, 1 denied or 0 paid) of every claim whose remittance has been recorded."""
        c = claims_table.c
        query = select(c.claim_id, c.denied).where(c.denied.is_not(None))
        with self.engine.connect() as connection:
            return [(claim, int(denied >= 0.5)) for claim, denied in connection.execute(query)]

    def counts_before(
        self,
        payers: Sequence[tuple[str, float]],
        codes: Sequence[tuple[str, float]],
        services: Sequence[tuple[str, float]],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sums of the daily counts before each query's day, by indexed range over one key's days.

        `payers`: (payer_id, day) -> n, denied, then one count per category; `codes`:
        ("payer|code", day) -> n, denied; `services`: (service_key, day) -> earlier submissions.
        """
        width = 2 + len(HISTORY_CATEGORIES)
        sums = self._sums
        looked_up: list[tuple[str, Any, float]] = []
        calls: list[tuple[Prepared, dict[str, Any]]] = []
        for payer_id, day in set(payers):
            looked_up.append(("payer", payer_id, day))
            calls.append((sums.payer, {"payer_id": payer_id, "day": day}))
        for key, day in set(codes):
            payer_id, _, code = key.partition("|")
            looked_up.append(("code", key, day))
            calls.append((sums.code, {"payer_id": payer_id, "code": code, "day": day}))
        for key, day in set(services):
            looked_up.append(("service", key, day))
            calls.append((sums.service, {"key": key, "day": day}))
        with reading(self.engine) as cursor:  # on SQLite, one snapshot; on PostgreSQL, one round trip
            answers = cursor.batch(calls)
        found = {place: rows[0] for place, rows in zip(looked_up, answers, strict=True)}

        def table(kind: str, queries: Sequence[tuple[str, float]], columns: int) -> np.ndarray:
            values = [[v or 0.0 for v in found[(kind, key, day)]] for key, day in queries]
            return np.asarray(values, dtype=np.float64).reshape(len(queries), columns)

        return table("payer", payers, width), table("code", codes, 2), table("service", services, 1)[:, 0]

    def _recount(self, connection: Connection, touched: Touched) -> None:
        """Count the daily totals of the touched keys again from the claims and lines themselves."""
        c, line = claims_table.c, lines_table.c
        claims_counted = select(c.payer_id, c.adjudicated_day, *_claim_sums()).where(c.denied.is_not(None))
        recount_days(connection, payer_days, touched.payer, claims_counted, (c.payer_id, c.adjudicated_day))
        code_key = (line.payer_id, line.procedure_code, line.adjudicated_day)
        lines_counted = select(*code_key, func.count(), func.sum(line.denied)).where(line.denied.is_not(None))
        recount_days(connection, code_days, touched.code, lines_counted, code_key)
        submissions = select(c.service_key, c.submitted_day, func.count())
        recount_days(connection, service_days, touched.service, submissions, (c.service_key, c.submitted_day))

    def _rebuild_counts(self) -> None:
        with write_transaction(self.engine) as connection:
            touched = Touched()
            c, line = claims_table.c, lines_table.c
            touched.add_claims(
                connection.execute(select(c.payer_id, c.service_key, c.submitted_day, c.adjudicated_day))
            )
            touched.add_lines(
                connection.execute(select(line.payer_id, line.procedure_code, line.adjudicated_day))
            )
            self._recount(connection, touched)

    def events(self, payer_ids: Iterable[str], service_keys: Iterable[str], before_day: float) -> ClaimEvents:
        """History events of these payers and service keys on days before `before_day`, as daily counts."""
        payers = sorted(set(payer_ids))
        keys = sorted(set(service_keys))
        c, line = claims_table.c, lines_table.c
        category_counts = [
            func.sum(func.coalesce((c.category == name).cast(Integer), 0)).label(f"category:{name}")
            for name in HISTORY_CATEGORIES
        ]
        claim_rows, line_rows, submission_rows = [], [], []
        with self.engine.connect() as connection:
            for start in range(0, len(payers), IN_CHUNK):
                chunk = payers[start : start + IN_CHUNK]
                query = (
                    select(c.payer_id, c.adjudicated_day, func.count(), func.sum(c.denied), *category_counts)
                    .where(c.payer_id.in_(chunk), c.adjudicated_day < before_day, c.denied.is_not(None))
                    .group_by(c.payer_id, c.adjudicated_day)
                )
                claim_rows += connection.execute(query).all()
                query = (
                    select(
                        line.payer_id,
                        line.procedure_code,
                        line.adjudicated_day,
                        func.count(),
                        func.sum(line.denied),
                    )
                    .where(
                        line.payer_id.in_(chunk), line.adjudicated_day < before_day, line.denied.is_not(None)
                    )
                    .group_by(line.payer_id, line.procedure_code, line.adjudicated_day)
                )
                line_rows += connection.execute(query).all()
            for start in range(0, len(keys), IN_CHUNK):
                query = (
                    select(c.service_key, c.submitted_day, func.count())
                    .where(c.service_key.in_(keys[start : start + IN_CHUNK]), c.submitted_day < before_day)
                    .group_by(c.service_key, c.submitted_day)
                )
                submission_rows += connection.execute(query).all()
        claim_columns = ["payer_id", "day", "n", "denied", *(f"category:{n}" for n in HISTORY_CATEGORIES)]
        return ClaimEvents(
            claims=_frame(claim_rows, claim_columns),
            lines=_frame(line_rows, ["payer_id", "procedure_code", "day", "n", "denied"]),
            submissions=_frame(submission_rows, ["service_key", "day", "n"]),
        )


def _claim_sums() -> list[Any]:
    c = claims_table.c
    return [
        func.count().label("n"),
        func.sum(c.denied).label("denied"),
        *(
            func.sum(func.coalesce((c.category == name).cast(Integer), 0)).label(f"category_{name}")
            for name in HISTORY_CATEGORIES
        ),
    ]


def _frame(rows: list[Any], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame([tuple(r) for r in rows], columns=columns)
    for name in columns:
        if name not in ("payer_id", "procedure_code", "service_key"):
            frame[name] = frame[name].astype(np.float64)
        else:
            frame[name] = frame[name].astype(object)
    return frame

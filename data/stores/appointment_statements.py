"""The appointment store's request-path statements, compiled once for its engine: the point look-ups
a score makes and the booking write (`data/stores/prepared.py` runs them on a DBAPI cursor)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, and_, bindparam, cast, exists, func, null, or_, select, union_all

from data.stores.appointment_tables import KNOWN, appointments, clinic_days
from data.stores.bookings import BOOKING
from data.stores.prepared import Cursor, Prepared, PreparedFamily, PreparedRows
from data.stores.upsert import upsert_statement


def _any_of(column: Any, count: int) -> Any:
    """`column` equal to one of the bound keys k0 .. k{count - 1}."""
    return or_(*(column == bindparam(f"k{i}") for i in range(count)))


class AppointmentStatements:
    """The request path's point look-ups and booking write, compiled once for the store's engine."""

    def __init__(self, engine: Engine) -> None:
        c, d = appointments.c, clinic_days.c
        not_cancelled = or_(c.outcome.is_(None), c.outcome != "cancelled")
        self.patients = PreparedFamily(
            engine,
            lambda count: select(c.patient_id, c.start_day, c.booked_at, c.outcome, c.appointment_id).where(
                _any_of(c.patient_id, count), not_cancelled
            ),
        )
        self.clinic_day = Prepared(
            engine,
            select(c.booked_at).where(
                c.clinic_id == bindparam("clinic_id"), c.start_day == bindparam("day"), not_cancelled
            ),
        )
        self.clinic_outcomes = Prepared(
            engine,
            select(func.sum(d.no_shows), func.sum(d.visits)).where(
                d.clinic_id == bindparam("clinic_id"), d.day <= bindparam("day")
            ),
        )
        self.known_places = PreparedFamily(
            engine,
            lambda count: select(c.appointment_id, c.clinic_id, c.start_day).where(
                _any_of(c.appointment_id, count), or_(*(c.outcome == k for k in KNOWN))
            ),
        )
        # A batch of bookings' insert-or-update, in one statement. A booking that would leave its
        # stored row as it is is left out before the insert (scoring a schedule again writes and
        # locks nothing, and PostgreSQL leaves no dead row versions behind); a stored row is updated
        # only if that moves no recorded outcome to another clinic or day. The statement returns
        # the ids it wrote; `book` also finds where the batch's recorded outcomes are.
        names = ("appointment_id", *BOOKING)
        stored = appointments.alias("stored")

        def moves_nothing(excluded: Any) -> Any:
            same_place = and_(c.clinic_id == excluded.clinic_id, c.start_day == excluded.start_day)
            return or_(c.outcome.is_(None), and_(*(c.outcome != k for k in KNOWN)), same_place)

        def book(count: int) -> Any:
            given = [
                select(*(cast(bindparam(f"{name}_{i}"), c[name].type).label(name) for name in names))
                for i in range(count)
            ]
            rows = (union_all(*given) if count > 1 else given[0]).subquery("given")
            as_stored = exists().where(
                stored.c.appointment_id == rows.c.appointment_id,
                *(stored.c[name].is_not_distinct_from(rows.c[name]) for name in BOOKING),
            )
            source = (names, select(*(rows.c[name] for name in names)).where(~as_stored))
            keys = ["appointment_id"]
            statement = upsert_statement(
                engine.dialect.name, appointments, keys, BOOKING, moves_nothing, source
            )
            return statement.returning(c.appointment_id)

        self._book = PreparedRows(engine, book)
        # On PostgreSQL, the look-up of the recorded outcomes' places rides in the same statement
        # (the insert as a CTE; the look-up sees the rows as they were before it): one round trip.
        self._book_and_look = None
        if engine.dialect.name == "postgresql":

            def book_and_look(count: int) -> Any:
                written = book(count).cte("written")
                ids = [c.appointment_id == bindparam(f"appointment_id_{i}") for i in range(count)]
                known = select(c.appointment_id, c.clinic_id, c.start_day).where(
                    or_(*ids), or_(*(c.outcome == k for k in KNOWN))
                )
                nothing = (cast(null(), c.clinic_id.type), cast(null(), c.start_day.type))
                return select(written.c.appointment_id, *nothing).union_all(known)

            self._book_and_look = PreparedRows(engine, book_and_look)

    def book(self, cursor: Cursor, rows: Sequence[dict]) -> tuple[set[str], list[tuple]]:
        """Write bookings (distinct ids, in key order); returns the ids written, and the stored place
        (id, clinic, day) of each booking's recorded outcome, if it has one."""
        if self._book_and_look is not None and len(rows) <= self._book_and_look.chunk:
            found = self._book_and_look.rows(cursor, rows)
            return {key for key, clinic, _ in found if clinic is None}, [r for r in found if r[1] is not None]
        written = {key for (key,) in self._book.rows(cursor, rows)}
        left = [row["appointment_id"] for row in rows if row["appointment_id"] not in written]
        return written, self.known_places.rows(cursor, left) if left else []

"""Daily counts kept beside the raw rows: recounted from them for every key a write touches."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from numbers import Real
from typing import Any

from sqlalchemy import Connection, Select, Table, delete, insert, text, tuple_

IN_CHUNK = 500  # keys per IN (...) list
LOCK_BUCKETS = 256  # keys share this many transaction locks (PostgreSQL's lock table is small)


def recount_days(
    connection: Connection, aggregate: Table, keys: Iterable[tuple], counted: Select, raw_key: Sequence[Any]
) -> None:
    """Replace `aggregate`'s rows for these keys with counts taken again from the raw rows.

    `counted` selects the aggregate's columns in order from the raw table, already filtered to the
    rows that count; `raw_key` are its expressions for the aggregate's primary key.
    """
    pairs = sorted(set(keys))
    key = tuple_(*aggregate.primary_key.columns)
    if connection.dialect.name == "postgresql":
        _lock_keys(connection, aggregate.name, pairs)
    for start in range(0, len(pairs), IN_CHUNK):
        chunk = pairs[start : start + IN_CHUNK]
        connection.execute(delete(aggregate).where(key.in_(chunk)))
        query = counted.where(tuple_(*raw_key).in_(chunk)).group_by(*raw_key)
        connection.execute(
            insert(aggregate).from_select([column.name for column in aggregate.columns], query)
        )


def _lock_keys(connection: Connection, name: str, pairs: Sequence[tuple]) -> None:
    """Hold a transaction lock on each key before counting it again (PostgreSQL).

    Two instances recording outcomes of one clinic-day at once would otherwise each count without
    the other's uncommitted row, and both insert the key: one fails, or the last count misses a
    row. With the lock, the second counts after the first commits, and so sees its row. Keys hash
    into LOCK_BUCKETS locks per table (two keys may share one: they then wait on each other, which
    costs time, never a count), taken in one statement in ascending order, so that two transactions
    never wait on each other in a circle and a large seeding holds at most LOCK_BUCKETS locks.
    """
    numbers = sorted({_lock_number(name, pair) for pair in pairs})
    connection.execute(
        text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k"),
        {"keys": numbers},
    )


def _lock_number(name: str, pair: tuple) -> int:
    # A day may come as an int, a float or a numpy number: each key is written one way before hashing.
    canonical = "|".join(str(int(v)) if isinstance(v, Real) and float(v).is_integer() else str(v)
                         for v in pair)  # fmt: skip
    table = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "big")
    bucket = int.from_bytes(hashlib.blake2b(canonical.encode(), digest_size=4).digest(), "big") % LOCK_BUCKETS
    return (table << 16) + bucket

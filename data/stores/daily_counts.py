"""Daily counts kept beside the raw rows: recounted from them for every key a write touches."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Select, Table, delete, insert, tuple_

IN_CHUNK = 500  # keys per IN (...) list


def recount_days(
    connection: Connection, aggregate: Table, keys: Iterable[tuple], counted: Select, raw_key: Sequence[Any]
) -> None:
    """Replace `aggregate`'s rows for these keys with counts taken again from the raw rows.

    `counted` selects the aggregate's columns in order from the raw table, already filtered to the
    rows that count; `raw_key` are its expressions for the aggregate's primary key.
    """
    pairs = sorted(set(keys))
    key = tuple_(*aggregate.primary_key.columns)
    for start in range(0, len(pairs), IN_CHUNK):
        chunk = pairs[start : start + IN_CHUNK]
        connection.execute(delete(aggregate).where(key.in_(chunk)))
        query = counted.where(tuple_(*raw_key).in_(chunk)).group_by(*raw_key)
        connection.execute(
            insert(aggregate).from_select([column.name for column in aggregate.columns], query)
        )

"""Insert-or-update in chunks, on PostgreSQL or SQLite: the write both stores share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Insert, Select, Table

CHUNK = 5000


def dialect_insert(dialect: str, table: Table) -> Any:
    """The dialect's INSERT (PostgreSQL's or SQLite's), which can take ON CONFLICT."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def upsert_statement(
    dialect: str,
    table: Table,
    keys: list[str],
    names: Iterable[str],
    where: Callable[[Any], Any] | None = None,
    source: tuple[Sequence[str], Select] | None = None,
) -> Insert:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET each of `names` to the inserted value; with `where`
    (given the inserted row, `excluded`), only where that holds for the stored row; with `source`
    (columns, SELECT), the rows that SELECT gives instead of VALUES."""
    statement = dialect_insert(dialect, table)
    if source is not None:
        statement = statement.from_select(list(source[0]), source[1])
    return statement.on_conflict_do_update(
        index_elements=keys,
        set_={name: statement.excluded[name] for name in names},
        where=None if where is None else where(statement.excluded),
    )


def upsert(
    connection: Connection,
    table: Table,
    rows: Sequence[dict],
    keys: list[str],
    columns: Iterable[str] | None = None,
) -> None:
    """Insert `rows`; where a row's `keys` exist already, update `columns` (default: all but the keys).

    Rows are written in key order inside the caller's transaction, so concurrent writers of
    overlapping rows take their row locks in the same order and cannot deadlock each other.
    """
    rows = sorted(rows, key=lambda row: tuple(row[k] for k in keys))
    names = [c.name for c in table.columns if c.name not in keys] if columns is None else list(columns)
    statement = upsert_statement(connection.dialect.name, table, keys, names)
    for start in range(0, len(rows), CHUNK):
        connection.execute(statement, rows[start : start + CHUNK])


def insert_new(connection: Connection, table: Table, rows: Sequence[dict], keys: list[str]) -> None:
    """Insert those of `rows` whose `keys` are not stored yet; the stored ones are left as they are."""
    statement = dialect_insert(connection.dialect.name, table).on_conflict_do_nothing(index_elements=keys)
    rows = sorted(rows, key=lambda row: tuple(row[k] for k in keys))
    for start in range(0, len(rows), CHUNK):
        connection.execute(statement, rows[start : start + CHUNK])

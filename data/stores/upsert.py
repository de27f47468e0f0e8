"""Insert-or-update in chunks, on PostgreSQL or SQLite: the write both stores share."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, Table

CHUNK = 5000


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
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    names = [c.name for c in table.columns if c.name not in keys] if columns is None else list(columns)
    for start in range(0, len(rows), CHUNK):
        statement = insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=keys, set_={name: statement.excluded[name] for name in names}
        )
        connection.execute(statement, rows[start : start + CHUNK])

"""Statements compiled once for a store's dialect and run straight on a DBAPI cursor.

The request path reads and writes a handful of rows per call. SQLAlchemy's per-execution work
(building the statement, its cache key, the result wrapping) costs ten times what SQLite takes to
answer such a point look-up. Each statement is still written once, in SQLAlchemy, and compiled for
the engine's dialect, so the same code runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.base import Executable

from data.stores.engine import process_lock


class Prepared:
    """One statement with named bind parameters, compiled for one engine's dialect.

    Literal values in the statement keep their compiled values; `in_()` of literals cannot be
    compiled ahead (it expands per call), so such conditions are written as `or_` of equalities.
    """

    def __init__(self, engine: Engine, statement: Executable) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self.sql = str(compiled)
        self._defaults = dict(compiled.params)
        self._order = list(compiled.positiontup or ()) if compiled.positional else None

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        """The DBAPI parameters for these named values, in the dialect's style."""
        merged = {**self._defaults, **values} if self._defaults else values
        if self._order is None:
            return merged
        return tuple(map(merged.__getitem__, self._order))


class PreparedFamily:
    """One look-up by a list of keys, compiled once per list length (`or_` of equalities), and run
    in chunks of at most `chunk` keys: a request reads forty patients in one statement, not forty."""

    def __init__(self, engine: Engine, build: Callable[[int], Executable], chunk: int = 64) -> None:
        self._engine, self._build, self.chunk = engine, build, chunk
        self._compiled: dict[int, Prepared] = {}

    def rows(self, cursor: Cursor, keys: Sequence[Any]) -> list[tuple]:
        """Every row the look-up returns for these keys (bound as k0, k1, ...)."""
        found: list[tuple] = []
        for start in range(0, len(keys), self.chunk):
            part = keys[start : start + self.chunk]
            statement = self._compiled.get(len(part))
            if statement is None:
                statement = self._compiled[len(part)] = Prepared(self._engine, self._build(len(part)))
            found += cursor.rows(statement, **{f"k{i}": key for i, key in enumerate(part)})
        return found


class Cursor:
    """A DBAPI cursor that runs `Prepared` statements; errors are SQLAlchemy's, parameters hidden."""

    def __init__(self, engine: Engine, cursor: Any) -> None:
        self._engine = engine
        self._cursor = cursor

    def execute(self, sql: str, parameters: Any = (), many: bool = False) -> None:
        """Run SQL text; a driver error becomes SQLAlchemy's DBAPIError, with its parameters hidden."""
        try:
            (self._cursor.executemany if many else self._cursor.execute)(sql, parameters)
        except self._engine.dialect.loaded_dbapi.Error as error:
            raise DBAPIError.instance(
                sql,
                parameters,
                error,
                self._engine.dialect.loaded_dbapi.Error,
                hide_parameters=True,
                dialect=self._engine.dialect,
            ) from error

    def rows(self, statement: Prepared, **values: Any) -> list[tuple]:
        """All rows the statement returns."""
        self.execute(statement.sql, statement.parameters(values))
        return self._cursor.fetchall()

    def one(self, statement: Prepared, **values: Any) -> tuple | None:
        """The first row, or None."""
        self.execute(statement.sql, statement.parameters(values))
        return self._cursor.fetchone()

    def many(self, statement: Prepared, values: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once per set of values."""
        if values:
            self.execute(statement.sql, [statement.parameters(v) for v in values], many=True)


@contextmanager
def reading(engine: Engine) -> Iterator[Cursor]:
    """Look-ups of committed data. On SQLite, one transaction: every look-up sees the same snapshot.
    On PostgreSQL, each look-up is its own statement in autocommit mode: no BEGIN and ROLLBACK round
    trips around a score's three reads (a booking committed between two of them is one a score made
    a moment later would see too)."""
    connection = engine.raw_connection()
    remote = engine.dialect.name == "postgresql"
    try:
        if remote:
            connection.driver_connection.autocommit = True  # set on the client: no round trip
        cursor = connection.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("BEGIN")  # the connection is in autocommit mode (see engine.py)
        yield Cursor(engine, cursor)
    except DBAPIError as error:
        if error.connection_invalidated or _closed(connection):
            connection.invalidate()  # a server restart: this connection is gone, not the next one
        raise
    finally:
        if not remote:
            connection.rollback()
        elif not _closed(connection):
            connection.driver_connection.autocommit = False
        connection.close()


def _closed(connection: Any) -> bool:
    """Whether the DBAPI connection is gone (closed by the server, or invalidated here)."""
    driver = getattr(connection, "driver_connection", None)
    return driver is None or bool(getattr(driver, "closed", False))


@contextmanager
def writing(engine: Engine) -> Iterator[Cursor]:
    """A write transaction that holds the write lock from its start, committed when the block ends."""
    with process_lock(engine):
        connection = engine.raw_connection()
        try:
            cursor = Cursor(engine, connection.cursor())
            if engine.dialect.name == "sqlite":
                cursor.execute("BEGIN IMMEDIATE")
            yield cursor
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()

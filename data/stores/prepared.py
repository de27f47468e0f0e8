"""Statements compiled once for a store's dialect and run straight on a DBAPI cursor.

The request path reads and writes a handful of rows per call. SQLAlchemy's per-execution work
(building the statement, its cache key, the result wrapping) costs ten times what SQLite takes to
answer such a point look-up. Each statement is still written once, in SQLAlchemy, and compiled for
the engine's dialect, so the same code runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.base import Executable

from data.stores.engine import process_lock

_NAMED = re.compile(r"%\((\w+)\)s")  # a named parameter, as psycopg writes it


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

    @classmethod
    def from_sql(cls, sql: str) -> Prepared:
        """A statement already written for PostgreSQL's driver, with named parameters only."""
        prepared = cls.__new__(cls)
        prepared.sql, prepared._defaults, prepared._order = sql, {}, None
        return prepared

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        """The DBAPI parameters for these named values, in the dialect's style."""
        merged = {**self._defaults, **values} if self._defaults else values
        if self._order is None:
            return merged
        return tuple(map(merged.__getitem__, self._order))


class Joined:
    """Several PostgreSQL look-ups as one statement: each one's rows come back as a JSON array (of
    objects, read back as tuples in column order) in a column of one row. Their bind parameters are
    renamed apart (`j0_name`, `j1_name`, ...). For look-ups of text and numbers: JSON keeps each
    (PostgreSQL writes a double with the digits that read back to the same double), but has no dates."""

    most = 16  # look-ups per statement: few shapes, so few statements for PostgreSQL to prepare

    def __init__(self, parts: tuple[Prepared, ...]) -> None:
        columns = []
        for i, part in enumerate(parts):
            sql = _NAMED.sub(lambda match, i=i: f"%(j{i}_{match.group(1)})s", part.sql)
            columns.append(f"(SELECT json_agg(q)::text FROM ({sql}) AS q)")
        self.statement = Prepared.from_sql("SELECT " + ", ".join(columns))
        self._parts = parts

    @classmethod
    @functools.lru_cache(maxsize=256)
    def of(cls, parts: tuple[Prepared, ...]) -> Joined:
        """The joined statement for these look-ups, built once per combination."""
        return cls(parts)

    def values(self, values: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The joined statement's values, from each look-up's."""
        joined: dict[str, Any] = {}
        for i, (part, own) in enumerate(zip(self._parts, values, strict=True)):
            joined.update({f"j{i}_{name}": value for name, value in part.parameters(own).items()})
        return joined

    @staticmethod
    def answers(row: tuple | None) -> list[list[tuple]]:
        """Each look-up's rows, from the joined statement's one row."""
        return [json.loads(column, object_pairs_hook=_values) if column else [] for column in row or ()]


def _values(pairs: list[tuple[str, Any]]) -> tuple:
    """A JSON object's values in order (its keys may repeat: two unnamed sums are both `sum`)."""
    return tuple(value for _, value in pairs)


class _CompiledPerCount:
    """A statement whose text depends on how many keys or rows it takes: compiled once per count."""

    def __init__(self, engine: Engine, build: Callable[[int], Executable], chunk: int = 64) -> None:
        self._engine, self._build, self.chunk = engine, build, chunk
        self._compiled: dict[int, Prepared] = {}

    def _for(self, count: int) -> Prepared:
        statement = self._compiled.get(count)
        if statement is None:
            statement = self._compiled[count] = Prepared(self._engine, self._build(count))
        return statement


class PreparedFamily(_CompiledPerCount):
    """One look-up by a list of keys, compiled once per list length (`or_` of equalities), and run
    in chunks of at most `chunk` keys: a request reads forty patients in one statement, not forty."""

    def calls(self, keys: Sequence[Any]) -> list[tuple[Prepared, dict[str, Any]]]:
        """The statements (one per chunk) and their values, for `Cursor.batch`."""
        found = []
        for start in range(0, len(keys), self.chunk):
            part = keys[start : start + self.chunk]
            found.append((self._for(len(part)), {f"k{i}": key for i, key in enumerate(part)}))
        return found

    def rows(self, cursor: Cursor, keys: Sequence[Any]) -> list[tuple]:
        """Every row the look-up returns for these keys (bound as k0, k1, ...)."""
        return [row for rows in cursor.batch(self.calls(keys)) for row in rows]


class PreparedRows(_CompiledPerCount):
    """One write of a list of rows, compiled once per row count (each row's values bound as
    `name_i`), and run in chunks of at most `chunk` rows: a batch of bookings is one statement."""

    def rows(self, cursor: Cursor, rows: Sequence[Mapping[str, Any]]) -> list[tuple]:
        """Every row the statement returns (its RETURNING) for these rows."""
        return [row for statement, values in self._chunks(rows) for row in cursor.rows(statement, **values)]

    def write(self, cursor: Cursor, rows: Sequence[Mapping[str, Any]]) -> None:
        """Write these rows (a statement without RETURNING)."""
        for statement, values in self._chunks(rows):
            cursor.execute(statement.sql, statement.parameters(values))

    def _chunks(self, rows: Sequence[Mapping[str, Any]]) -> Iterator[tuple[Prepared, dict[str, Any]]]:
        for start in range(0, len(rows), self.chunk):
            part = rows[start : start + self.chunk]
            values = {f"{name}_{i}": value for i, row in enumerate(part) for name, value in row.items()}
            yield self._for(len(part)), values


class Cursor:
    """A DBAPI cursor that runs `Prepared` statements; errors are SQLAlchemy's, parameters hidden."""

    def __init__(self, engine: Engine, cursor: Any) -> None:
        self._engine = engine
        self._cursor = cursor

    def execute(self, sql: str, parameters: Any = ()) -> None:
        """Run SQL text; a driver error becomes SQLAlchemy's DBAPIError, with its parameters hidden."""
        with self._wrapped(sql, parameters):
            self._cursor.execute(sql, parameters)

    @contextmanager
    def _wrapped(self, sql: str, parameters: Any) -> Iterator[None]:
        """A driver error raised in the block becomes SQLAlchemy's DBAPIError, parameters hidden."""
        try:
            yield
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

    def batch(self, calls: Sequence[tuple[Prepared, Mapping[str, Any]]]) -> list[list[tuple]]:
        """Each look-up's rows, in order. On PostgreSQL, up to `Joined.most` look-ups go as one
        statement: one round trip for a score's several look-ups, not one each. (SQLite answers
        in-process: one after another.)"""
        if self._engine.dialect.name != "postgresql" or len(calls) < 2:
            return [self.rows(statement, **values) for statement, values in calls]
        found: list[list[tuple]] = []
        for start in range(0, len(calls), Joined.most):
            part = calls[start : start + Joined.most]
            joined = Joined.of(tuple(statement for statement, _ in part))
            row = self.one(joined.statement, **joined.values([values for _, values in part]))
            found += joined.answers(row)
        return found


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
def writing(engine: Engine, autocommit: bool = False) -> Iterator[Cursor]:
    """A write transaction that holds the write lock from its start, committed when the block ends.

    `autocommit`: on PostgreSQL, each statement of the block is a transaction of its own, with no
    BEGIN and COMMIT round trips around it, for a block whose statements need not be atomic together.
    (SQLite keeps its BEGIN IMMEDIATE: that is how a writer queues for the file's lock.)"""
    remote = autocommit and engine.dialect.name == "postgresql"
    with process_lock(engine):
        connection = engine.raw_connection()
        try:
            if remote:
                connection.driver_connection.autocommit = True  # set on the client: no round trip
            cursor = Cursor(engine, connection.cursor())
            if engine.dialect.name == "sqlite":
                cursor.execute("BEGIN IMMEDIATE")
            yield cursor
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            if remote and not _closed(connection):
                connection.driver_connection.autocommit = False
            connection.close()

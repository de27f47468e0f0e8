"""The stores' database engine: SQLite made fit for concurrent writers, parameters kept out of errors.

SQLite serialises writers. In WAL mode readers never wait for the writer, and a write transaction
starts with BEGIN IMMEDIATE, so that it queues for the write lock (up to the busy timeout) instead
of failing when it upgrades from a read. On every backend SQLAlchemy hides statement parameters
(patient and claim identifiers) from its errors and logs.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    inspect,
    make_url,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError

from data.stores.upsert import insert_new

try:
    import fcntl
except ImportError:  # not on Windows: there, writers in other processes meet in SQLite's busy handler
    fcntl = None  # type: ignore[assignment]

SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "careops_write"
RETRIES = 5
T = TypeVar("T")


def store_engine(url: str | Engine) -> Engine:
    """An engine for a store: parameters hidden; on SQLite, WAL, a busy timeout and queued writers.

    Given an engine (the one the service opened for its database), the store shares it."""
    if isinstance(url, Engine):
        return url
    _private_sqlite_file(url)
    # No ping before each checkout on PostgreSQL: it is a round trip per request, a fifth of a score's.
    # A connection a server restart closed fails one request and is discarded (`prepared.reading`,
    # and SQLAlchemy's own disconnect handling), and the pool opens a new one.
    engine = create_engine(url, hide_parameters=True, pool_recycle=3600)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _private_sqlite_file(url: str) -> None:
    """A SQLite store's file, created readable by its owner only (its folder too, when made here):
    it holds appointments, claims and the audit trail. SQLite gives its journal files the same mode."""
    database = make_url(url).database if url.startswith("sqlite") else None
    if not database or database == ":memory:" or os.path.exists(database):
        return
    folder = os.path.dirname(os.path.abspath(database))
    os.makedirs(folder, mode=0o700, exist_ok=True)
    os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))


class WriteLock:
    """A lock for one database's writers: a thread lock, and on a SQLite file also an `flock` on a
    file beside it, so that writers in other processes (the API's workers, the prediction log's
    writer, a listener) queue in the kernel, which wakes the next one as soon as the lock is free."""

    def __init__(self, path: str | None = None) -> None:
        self._thread_lock = threading.Lock()
        self._path = path
        self._fd: int | None = None  # the lock file, open while the lock is held

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the lock; False when `blocking` is off or `timeout` (seconds) passed first."""
        deadline = time.monotonic() + timeout if blocking and timeout >= 0 else None
        if not self._thread_lock.acquire(blocking, timeout if blocking else -1):
            return False
        if self._path is None:
            return True
        # The lock file is opened for each hold and closed with it: a process that opens many
        # stores (a test run, a CLI) keeps no descriptor per store it is done with.
        fd = -1
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            if blocking and deadline is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._fd = fd
                return True
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    self._fd = fd
                    return True
                except BlockingIOError:
                    if deadline is None or time.monotonic() >= deadline:
                        os.close(fd)
                        self._thread_lock.release()
                        return False
                    time.sleep(0.001)
        except BaseException:
            if fd >= 0:  # never held: a success returned above
                os.close(fd)
            self._thread_lock.release()
            raise

    def release(self) -> None:
        """Let the next writer in."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor lets the flock go
        self._thread_lock.release()

    def __enter__(self) -> WriteLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


_engine_locks: WeakKeyDictionary[Engine, WriteLock] = WeakKeyDictionary()
_database_locks: dict[str, WriteLock] = {}
_locks_guard = threading.Lock()


def process_lock(engine: Engine) -> WriteLock:
    """The lock writers to `engine` queue on before they ask the database for its own.

    SQLite's busy handler waits in growing sleeps (up to 100 ms each), which would put those sleeps
    into request latency; this lock hands over as soon as the writer before is done. SQLite has
    one write lock per file, so every engine on one SQLite file (the bookings' and the prediction
    log's) shares one lock, and on a file it holds across processes too; on other databases each
    engine has its own thread lock.
    """
    with _locks_guard:
        if engine.dialect.name == "sqlite":
            database = engine.url.database
            in_memory = database in (None, "", ":memory:")
            path = None if in_memory or fcntl is None else f"{os.path.abspath(database)}-write-lock"
            return _database_locks.setdefault(engine.url.render_as_string(), WriteLock(path))
        return _engine_locks.setdefault(engine, WriteLock())


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that takes the write lock when it begins (after `process_lock`)."""
    with process_lock(engine), engine.execution_options(**{WRITE_OPTION: True}).begin() as connection:
        yield connection


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event emits BEGIN itself
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")  # first: switching to WAL may wait
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    immediate = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _transient(error: DBAPIError) -> bool:
    """A lock timeout, deadlock or serialization failure: the same write may succeed if tried again."""
    code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return code in ("40001", "40P01") or "database is locked" in str(error.orig)


def with_retries(write: Callable[[], T]) -> T:
    """Run a write transaction, again after a short pause if the database reports a transient conflict."""
    for attempt in range(RETRIES):
        try:
            return write()
        except DBAPIError as error:
            if attempt == RETRIES - 1 or not _transient(error):
                raise
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


SCHEMA_LOCK_KEY = 0x63617265  # "care": PostgreSQL advisory lock held while a store creates its tables


def create_tables(engine: Engine, metadata: MetaData) -> None:
    """Create the store's missing tables and add the columns and indexes an earlier careops's tables lack.

    Several processes (the API's workers, a listener, a CLI run) may open one store at once. A
    deferred SQLite transaction that reads the schema and then writes it fails at once with
    "database is locked" when another process wrote first, whatever the busy timeout; so the check
    and the DDL run in one write transaction (on PostgreSQL, under an advisory lock), tried again on
    a transient conflict.
    """

    def write() -> None:
        with write_transaction(engine) as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            metadata.create_all(connection)
            for table in metadata.sorted_tables:
                _add_missing_columns(connection, table)
                for index in table.indexes:  # `create_all` adds them only with a new table
                    index.create(connection, checkfirst=True)

    with_retries(write)


def _add_missing_columns(connection: Connection, table: Table) -> None:
    """Add the nullable columns a table created by an earlier careops lacks (`create_all` does not)."""
    present = {column["name"] for column in inspect(connection).get_columns(table.name)}
    for column in table.columns:
        if column.name not in present:
            kind = column.type.compile(dialect=connection.dialect)
            connection.exec_driver_sql(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}')


_marks_metadata = MetaData()
store_marks = Table("careops_store_marks", _marks_metadata, Column("name", String(64), primary_key=True))


def once(engine: Engine, name: str, work: Callable[[], object]) -> None:
    """Run `work` once in the store's life (filling columns an earlier careops left empty), and keep
    a mark that it was done, so that later openings cost one look-up."""
    create_tables(engine, _marks_metadata)
    with engine.connect() as connection:
        if connection.execute(select(store_marks.c.name).where(store_marks.c.name == name)).first():
            return
    work()

    def mark() -> None:
        # Several processes may open a new store at once, and each may do the work: keep one mark.
        with write_transaction(engine) as connection:
            insert_new(connection, store_marks, [{"name": name}], ["name"])

    with_retries(mark)

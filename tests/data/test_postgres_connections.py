"""On PostgreSQL no connection is pinged before use: one the server closed fails one look-up and is
discarded, and the next look-up works on a new connection."""

from __future__ import annotations

import os

from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from data.stores.appointments import AppointmentStore
from tests.helpers import POSTGRES_ENV, fresh_postgres_database, require_postgres


def test_a_connection_the_server_closed_fails_once_and_the_pool_recovers() -> None:
    require_postgres()
    url = fresh_postgres_database()
    store = AppointmentStore(url)
    assert store.history(["P1"], [("C01", 20000)], [("C01", 20000)]).bookings[("C01", 20000)].size == 0
    admin = create_engine(f"{os.environ[POSTGRES_ENV].rstrip('/')}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:  # as a server restart would: every session of the store ends
        ended = connection.execute(
            text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = :name"),
            {"name": url.rsplit("/", 1)[1]},
        ).scalar()
    admin.dispose()
    assert ended >= 1
    failures = 0
    for _ in range(store.engine.pool.size() + 2):
        try:
            store.history(["P1"], [("C01", 20000)], [("C01", 20000)])
        except DBAPIError:
            failures += 1
    assert failures <= 1  # the one connection that was open; then new ones
    assert store.history(["P1"], [("C01", 20000)], [("C01", 20000)]).bookings[("C01", 20000)].size == 0

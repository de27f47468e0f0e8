"""The worklist's events: each status a listed claim took, with its day and where it came from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Connection, DateTime, Index, Integer, MetaData, String, Table

metadata = MetaData()
events = Table(
    "careops_worklist_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("handle", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("day", Integer, nullable=True),  # the file's day (None for a biller's mark: see `at`)
    Column("at", DateTime, nullable=False),
    Column("source", String(16), nullable=False),  # 277ca, 835, pages
    Index("ix_careops_worklist_events_handle", "handle"),
)


def log_mark(connection: Connection, handle: int, status: str) -> None:
    """Keep a biller's mark as an event of now."""
    row = {"handle": handle, "status": status, "day": None, "at": datetime.now(), "source": "pages"}
    connection.execute(events.insert(), [row])

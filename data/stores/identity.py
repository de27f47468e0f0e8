"""People and systems that may use careops: users (local or signed in through an identity provider),
named API clients, server-held sessions, emergency grants and failed-authentication counters.

Secrets are kept only as hashes: argon2id for passwords, SHA-256 for client keys and session ids
(both random and long, so a fast hash is enough). TOTP secrets are kept as they must be to check a
code; the database file is readable by its owner only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    select,
    update,
)
from sqlalchemy.engine import Engine

from data.stores.engine import create_tables, store_engine, with_retries, write_transaction
from data.stores.upsert import upsert

metadata = MetaData()
users = Table(
    "careops_users",
    metadata,
    Column("username", String(128), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("clinics", Text, nullable=True),  # JSON list; NULL: every clinic
    Column("payers", Text, nullable=True),  # JSON list; NULL: every payer
    Column("password_hash", String(256), nullable=True),  # NULL for users of the identity provider
    Column("totp_secret", String(64), nullable=True),
    Column("totp_step", Integer, nullable=True),  # the last time step whose code was accepted
    Column("must_change_password", Boolean, nullable=False, default=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("locked_until", DateTime, nullable=True),
    Column("source", String(16), nullable=False),  # "local" or "oidc"
    Column("created_at", DateTime, nullable=False),
)
clients = Table(
    "careops_clients",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("clinics", Text, nullable=True),
    Column("payers", Text, nullable=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("expires_at", DateTime, nullable=True),
    Column("last_used_at", DateTime, nullable=True),
    Column("revoked_at", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
)
sessions = Table(
    "careops_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("username", String(128), nullable=False, index=True),
    Column("role", String(16), nullable=False),
    Column("clinics", Text, nullable=True),
    Column("payers", Text, nullable=True),
    Column("csrf", String(64), nullable=False),
    Column("source", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Column("ended_at", DateTime, nullable=True),
    Column("ended_why", String(32), nullable=True),
)
grants = Table(
    "careops_grants",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(128), nullable=False, index=True),
    Column("granted_by", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("starts_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
)
sign_in_flows = Table(  # single sign-on under way: what the callback must check, for 15 minutes
    "careops_sign_in_flows",
    metadata,
    Column("id_hash", String(64), primary_key=True),  # the digest of the browser's flow cookie
    Column("state", String(64), nullable=False),
    Column("nonce", String(64), nullable=False),
    Column("verifier", String(128), nullable=False),  # PKCE code verifier
    Column("created_at", DateTime, nullable=False),
)
failures = Table(
    "careops_auth_failures",
    metadata,
    Column("key", String(200), primary_key=True),  # "address:<ip>" or "account:<name>"
    Column("window_start", DateTime, nullable=False),
    Column("count", Integer, nullable=False),
)


def _names(value: str | None) -> frozenset[str] | None:
    return None if value is None else frozenset(json.loads(value))


def names_json(values: Sequence[str] | frozenset[str] | None) -> str | None:
    """A scope list as stored (None: every clinic or payer)."""
    return None if values is None else json.dumps(sorted(values))


@dataclass(frozen=True)
class UserRow:
    """A user as kept."""

    username: str
    role: str
    clinics: frozenset[str] | None
    payers: frozenset[str] | None
    password_hash: str | None
    totp_secret: str | None
    must_change_password: bool
    disabled: bool
    locked_until: datetime | None
    source: str


@dataclass(frozen=True)
class ClientRow:
    """A named API client as kept."""

    name: str
    role: str
    clinics: frozenset[str] | None
    payers: frozenset[str] | None
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class SessionRow:
    """A server-held session as kept (its id only as a hash)."""

    id_hash: str
    username: str
    role: str
    clinics: frozenset[str] | None
    payers: frozenset[str] | None
    csrf: str
    source: str
    created_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None
    ended_why: str | None


class IdentityStore:
    """Users, clients, sessions, grants and failure counters; creating one creates the tables."""

    def __init__(self, url: str | Engine) -> None:
        self.engine = store_engine(url)
        create_tables(self.engine, metadata)

    def _write(self, *statements: Any) -> int:
        def write() -> int:
            changed = 0
            with write_transaction(self.engine) as connection:
                for statement in statements:
                    changed += connection.execute(statement).rowcount or 0
            return changed

        return with_retries(write)

    # Users
    def put_user(self, row: dict) -> None:
        """Create or replace a user."""

        def write() -> None:
            with write_transaction(self.engine) as connection:
                upsert(connection, users, [row], ["username"], [k for k in row if k != "username"])

        with_retries(write)

    def user(self, username: str) -> UserRow | None:
        """A user by name."""
        with self.engine.connect() as connection:
            row = connection.execute(select(users).where(users.c.username == username)).first()
        return None if row is None else _user(row)

    def list_users(self) -> list[UserRow]:
        """Every user, by name."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(users).order_by(users.c.username)).all()
        return [_user(r) for r in rows]

    def update_user(self, username: str, **values: Any) -> bool:
        """Change a user's fields; False when there is no such user."""
        return self._write(update(users).where(users.c.username == username).values(**values)) > 0

    def use_totp_step(self, username: str, step: int) -> bool:
        """Take a TOTP time step as used, if no code of it or a later step was accepted before: True
        once per step, whichever worker asks first (a code works once)."""
        c = users.c
        earlier = (c.totp_step.is_(None)) | (c.totp_step < step)
        return self._write(update(users).where(c.username == username, earlier).values(totp_step=step)) > 0

    # Clients
    def put_client(self, row: dict) -> None:
        """Create or replace a client."""

        def write() -> None:
            with write_transaction(self.engine) as connection:
                upsert(connection, clients, [row], ["name"], [k for k in row if k != "name"])

        with_retries(write)

    def client_by_hash(self, key_hash: str) -> ClientRow | None:
        """The client whose key hashes to `key_hash`."""
        with self.engine.connect() as connection:
            row = connection.execute(select(clients).where(clients.c.key_hash == key_hash)).first()
        return None if row is None else _client(row)

    def client(self, name: str) -> ClientRow | None:
        """A client by name."""
        with self.engine.connect() as connection:
            row = connection.execute(select(clients).where(clients.c.name == name)).first()
        return None if row is None else _client(row)

    def list_clients(self) -> list[ClientRow]:
        """Every client, by name."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(clients).order_by(clients.c.name)).all()
        return [_client(r) for r in rows]

    def update_client(self, name: str, **values: Any) -> bool:
        """Change a client's fields; False when there is no such client."""
        return self._write(update(clients).where(clients.c.name == name).values(**values)) > 0

    # Sessions
    def add_session(self, row: dict) -> None:
        """Keep a new session."""
        self._write(sessions.insert().values(**row))

    def session(self, id_hash: str) -> SessionRow | None:
        """A session by its id's hash."""
        with self.engine.connect() as connection:
            row = connection.execute(select(sessions).where(sessions.c.id_hash == id_hash)).first()
        return None if row is None else _session(row)

    def touch_session(self, id_hash: str, when: datetime) -> None:
        """Note a session's latest use."""
        self._write(update(sessions).where(sessions.c.id_hash == id_hash).values(last_seen_at=when))

    def end_sessions(
        self, why: str, when: datetime, id_hash: str | None = None, username: str | None = None
    ) -> int:
        """End one session, or every open session of a user; returns how many ended."""
        query = update(sessions).where(sessions.c.ended_at.is_(None))
        if id_hash is not None:
            query = query.where(sessions.c.id_hash == id_hash)
        if username is not None:
            query = query.where(sessions.c.username == username)
        return self._write(query.values(ended_at=when, ended_why=why))

    def open_sessions(self) -> list[SessionRow]:
        """Sessions not ended, newest first."""
        query = select(sessions).where(sessions.c.ended_at.is_(None)).order_by(sessions.c.created_at.desc())
        with self.engine.connect() as connection:
            return [_session(r) for r in connection.execute(query).all()]

    # Grants
    def add_grant(self, row: dict) -> None:
        """Keep an emergency grant."""
        self._write(grants.insert().values(**row))

    def grant_for(self, username: str, when: datetime) -> dict | None:
        """The user's grant in force at `when`, if any."""
        query = (
            select(grants)
            .where(grants.c.username == username, grants.c.starts_at <= when, grants.c.expires_at > when)
            .order_by(grants.c.expires_at.desc())
            .limit(1)
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else dict(row._mapping)

    # Single sign-on flows
    def add_flow(self, row: dict, stale_before: datetime) -> None:
        """Keep a new sign-on flow, forgetting flows started before `stale_before`."""
        self._write(
            delete(sign_in_flows).where(sign_in_flows.c.created_at < stale_before),
            sign_in_flows.insert().values(**row),
        )

    def take_flow(self, id_hash: str, started_after: datetime) -> dict | None:
        """The flow for a cookie, once: it is deleted as it is read (None when unknown or stale)."""

        def take() -> dict | None:
            with write_transaction(self.engine) as connection:
                where = sign_in_flows.c.id_hash == id_hash
                row = connection.execute(select(sign_in_flows).where(where)).first()
                connection.execute(delete(sign_in_flows).where(where))
            return None if row is None or row.created_at < started_after else dict(row._mapping)

        return with_retries(take)

    # Failed authentication, per address and per account
    def add_failure(self, key: str, when: datetime, window_seconds: int) -> int:
        """Count one failure for `key` in the current window; returns the window's count."""

        def write() -> int:
            with write_transaction(self.engine) as connection:
                row = connection.execute(select(failures).where(failures.c.key == key)).first()
                if row is None or (when - row.window_start).total_seconds() >= window_seconds:
                    upsert(connection, failures, [{"key": key, "window_start": when, "count": 1}], ["key"],
                           ["window_start", "count"])  # fmt: skip
                    return 1
                connection.execute(update(failures).where(failures.c.key == key).values(count=row.count + 1))
                return row.count + 1

        return with_retries(write)

    def failures(self, key: str, when: datetime, window_seconds: int) -> int:
        """Failures counted for `key` in the window that is open at `when`."""
        with self.engine.connect() as connection:
            row = connection.execute(select(failures).where(failures.c.key == key)).first()
        if row is None or (when - row.window_start).total_seconds() >= window_seconds:
            return 0
        return row.count

    def clear_failures(self, key: str) -> None:
        """Forget `key`'s failures (after a success, or an admin's unlock)."""
        self._write(delete(failures).where(failures.c.key == key))


def _user(row: Any) -> UserRow:
    return UserRow(
        row.username, row.role, _names(row.clinics), _names(row.payers), row.password_hash, row.totp_secret,
        bool(row.must_change_password), bool(row.disabled), row.locked_until, row.source,
    )  # fmt: skip


def _client(row: Any) -> ClientRow:
    return ClientRow(
        row.name, row.role, _names(row.clinics), _names(row.payers), row.expires_at, row.last_used_at,
        row.revoked_at, row.created_at,
    )  # fmt: skip


def _session(row: Any) -> SessionRow:
    return SessionRow(
        row.id_hash, row.username, row.role, _names(row.clinics), _names(row.payers), row.csrf, row.source,
        row.created_at, row.last_seen_at, row.ended_at, row.ended_why,
    )  # fmt: skip

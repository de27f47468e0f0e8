"""Proving who calls: a named client's API key, or a person's password and TOTP code, opening a
session the server holds. Failures are counted per source address and per account in the store, so
that every worker agrees: past the limit the address gets 429 with a retry time, and the account is
locked for a while. Every sign-in, failure, lock-out and session end is in the audit trail."""

from __future__ import annotations

import hmac
import math
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from config import Settings
from data.stores.identity import IdentityStore, SessionRow, UserRow, names_json
from services.access.audit import AuditTrail
from services.access.principal import ROLE_ADMIN, Principal
from services.access.secrets import key_digest, new_key, password_matches, totp_step

LAST_USED_EVERY_SECONDS = 60  # a client's last-used time is written at most this often


class AuthenticationError(PermissionError):
    """The credentials do not prove who the caller says (401); the message never says which part."""


class ThrottledError(PermissionError):
    """Too many failures from this address or for this account (429)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed attempts; try again in {retry_after} s")
        self.retry_after = retry_after


class PasswordChangeRequired(PermissionError):
    """The password was right but must be changed before anything else (first sign-in, reset)."""


@dataclass(frozen=True)
class OpenedSession:
    """A new session: the id for the cookie (shown once, kept as a digest) and who it is for."""

    session_id: str
    principal: Principal
    csrf: str


@dataclass(frozen=True)
class UserSessions:
    """One user's open sessions, as the admin's sessions page lists them."""

    username: str
    role: str
    sessions: int
    sources: tuple[str, ...]  # where they were opened from, in order
    since: datetime  # the oldest began
    last_seen: datetime  # the latest was last used


def _user_sessions(username: str, rows: list[SessionRow]) -> UserSessions:
    sources = tuple(dict.fromkeys(r.source for r in rows))
    first, last = min(r.created_at for r in rows), max(r.last_seen_at for r in rows)
    return UserSessions(username, rows[0].role, len(rows), sources, first, last)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Authenticator:
    """Checks API keys and passwords, throttles failures, and holds page sessions."""

    def __init__(
        self,
        store: IdentityStore,
        audit: AuditTrail,
        settings: Settings,
        configured: dict[str, str] | None = None,
    ) -> None:
        """`configured` are keys from CAREOPS_API_KEYS (key: role), kept as digests: each acts as the
        client `configured-<role>`."""
        self.store = store
        self.audit = audit
        self.settings = settings
        self.configured = {key_digest(k): role for k, role in (configured or {}).items()}
        self._last_used: dict[str, float] = {}
        self._lock = threading.Lock()

    # API clients
    def client(self, key: str, source: str, request_id: str = "") -> Principal:
        """The client a key belongs to; AuthenticationError, or ThrottledError once the address has
        failed too often (a valid key is never throttled: guessing one is what the count stops)."""
        digest = key_digest(key)
        role = next((r for d, r in self.configured.items() if hmac.compare_digest(d, digest)), None)
        if role is not None:
            return Principal("client", f"configured-{role}", role, source=source, request_id=request_id)
        row = self.store.client_by_hash(digest)
        now = _now()
        if (
            row is None
            or row.revoked_at is not None
            or (row.expires_at is not None and row.expires_at <= now)
        ):
            self._check_throttle(f"address:{source}")
            self._fail(
                f"address:{source}",
                Principal("client", "unknown", "none", source=source, request_id=request_id),
            )
            raise AuthenticationError("unknown, revoked or expired API key")
        self._note_use(row.name)
        return Principal(
            "client", row.name, row.role, row.clinics, row.payers, source=source, request_id=request_id
        )

    # People
    def sign_in(
        self, username: str, password: str, code: str, source: str, request_id: str = ""
    ) -> OpenedSession:
        """Check a user's password (and TOTP code where they have one) and open a session."""
        for key in (f"address:{source}", f"account:{username}"):
            self._check_throttle(key)
        who = Principal("user", username, "none", source=source, request_id=request_id)
        user = self.store.user(username)
        now = _now()
        if user is not None and user.locked_until is not None and user.locked_until > now:
            self.audit.record(who, "sign_in_refused", "session", [], why="locked")
            raise ThrottledError(math.ceil((user.locked_until - now).total_seconds()))
        step = totp_step(user.totp_secret, code) if user is not None else None
        good = (
            user is not None
            and not user.disabled
            and user.source == "local"
            and password_matches(user.password_hash, password)
            and (user.totp_secret is None or step is not None)
        )
        if good and step is not None and not user.must_change_password:
            good = self.store.use_totp_step(username, step)  # a code opens one session, once
        if not good:
            self._fail(f"address:{source}", who)
            if (
                user is not None
                and self._fail(f"account:{username}", None) >= self.settings.auth_failures_allowed
            ):
                until = now + timedelta(minutes=self.settings.lockout_minutes)
                self.store.update_user(username, locked_until=until)
                self.audit.record(who, "lockout", "user", [username], until=until.isoformat())
            raise AuthenticationError("the user name, password or code is not right")
        self.store.clear_failures(f"account:{username}")
        if user.must_change_password:
            raise PasswordChangeRequired("set a new password before signing in")
        return self.open_session(user, source, request_id)

    def open_session(self, user: UserRow, source: str, request_id: str = "") -> OpenedSession:
        """A new session for a user whose identity is proven (a fresh id at every sign-in)."""
        session_id, csrf, now = new_key(), secrets.token_urlsafe(24), _now()
        self.store.add_session(
            {
                "id_hash": key_digest(session_id),
                "username": user.username,
                "role": user.role,
                "clinics": names_json(user.clinics),
                "payers": names_json(user.payers),
                "csrf": csrf,
                "source": source,
                "created_at": now,
                "last_seen_at": now,
            }
        )
        principal = self._principal(user.username, user.role, user.clinics, user.payers, source, request_id)
        self.audit.record(principal, "sign_in", "session", [user.username])
        return OpenedSession(session_id, principal, csrf)

    def session(
        self, session_id: str | None, source: str, request_id: str = ""
    ) -> tuple[Principal, str] | None:
        """The principal and CSRF token of an open session, or None when it is unknown, ended, idle
        too long, past its lifetime, or its user is disabled (the session then ends)."""
        if not session_id:
            return None
        digest = key_digest(session_id)
        row = self.store.session(digest)
        if row is None or row.ended_at is not None:
            return None
        now = _now()
        why = self._expired(row, now)
        if why is not None:
            self.end(row, why, source, request_id)
            return None
        self.store.touch_session(digest, now)
        principal = self._principal(row.username, row.role, row.clinics, row.payers, source, request_id)
        return principal, row.csrf

    def sign_out(self, session_id: str, source: str, request_id: str = "") -> None:
        """End the caller's own session."""
        row = self.store.session(key_digest(session_id))
        if row is not None and row.ended_at is None:
            self.end(row, "signed out", source, request_id)

    def end(
        self, row: SessionRow, why: str, source: str, request_id: str = "", by: Principal | None = None
    ) -> None:
        """End a session now, and say so in the audit trail."""
        self.store.end_sessions(why, _now(), id_hash=row.id_hash)
        who = by or Principal("user", row.username, row.role, source=source, request_id=request_id)
        self.audit.record(who, "session_end", "session", [row.username], why=why)

    def open_sessions(self, by: Principal) -> list[UserSessions]:
        """Each user with a session still open (not ended, idle or past its lifetime), the most
        recently seen first; the listing is recorded."""
        now, users = _now(), {}
        for row in self.store.open_sessions():
            if self._expired_by_time(row, now) is None:
                users.setdefault(row.username, []).append(row)
        listed = [_user_sessions(name, rows) for name, rows in users.items()]
        listed.sort(key=lambda u: u.last_seen, reverse=True)
        self.audit.record(by, "read", "session", [u.username for u in listed])
        return listed

    def revoke_sessions(self, by: Principal, username: str) -> int:
        """An admin ends every open session of a user; returns how many ended."""
        ended = self.store.end_sessions("revoked", _now(), username=username)
        self.audit.record(by, "session_revoke", "session", [username], sessions=ended)
        return ended

    def _expired_by_time(self, row: SessionRow, now: datetime) -> str | None:
        if (now - row.last_seen_at).total_seconds() > self.settings.session_idle_minutes * 60:
            return "idle"
        if (now - row.created_at).total_seconds() > self.settings.session_hours * 3600:
            return "lifetime"
        return None

    def _expired(self, row: SessionRow, now: datetime) -> str | None:
        if (why := self._expired_by_time(row, now)) is not None:
            return why
        user = self.store.user(row.username)
        if user is None or user.disabled:
            return "disabled"
        return None

    def _principal(
        self,
        username: str,
        role: str,
        clinics: frozenset[str] | None,
        payers: frozenset[str] | None,
        source: str,
        request_id: str,
    ) -> Principal:
        """A user's principal; under an emergency grant in force, every clinic and payer, marked."""
        grant = self.store.grant_for(username, _now()) if role != ROLE_ADMIN else None
        if grant is not None and (clinics is not None or payers is not None):
            return Principal("user", username, role, None, None, True, source, request_id)
        return Principal("user", username, role, clinics, payers, False, source, request_id)

    # Throttling
    def _check_throttle(self, key: str) -> None:
        window, settings = self.settings.auth_window_seconds, self.settings
        by_address = key.startswith("address:")
        allowed = settings.auth_address_failures_allowed if by_address else settings.auth_failures_allowed
        if self.store.failures(key, _now(), window) >= allowed:
            raise ThrottledError(window)

    def _fail(self, key: str, who: Principal | None) -> int:
        count = self.store.add_failure(key, _now(), self.settings.auth_window_seconds)
        if who is not None:
            self.audit.record(who, "sign_in_failed" if who.kind == "user" else "key_refused", "session", [])
        return count

    def _note_use(self, name: str) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last_used.get(name, -math.inf) < LAST_USED_EVERY_SECONDS:
                return
            self._last_used[name] = now
        # Written by a thread of its own: the request never waits on the store's write lock for it.
        threading.Thread(
            target=self.store.update_client, args=(name,), kwargs={"last_used_at": _now()}, daemon=True
        ).start()

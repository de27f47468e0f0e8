"""Managing who may use careops: local users (argon2id passwords, TOTP), named API clients, emergency
grants. Every change is in the audit trail, and every secret is shown once, to the caller only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from config import ROLES
from data.stores.identity import ClientRow, IdentityStore, UserRow, names_json
from services.access.audit import AuditTrail
from services.access.principal import ROLE_ADMIN, Principal
from services.access.secrets import hash_password, key_digest, new_key, new_totp_secret, totp_uri

MAX_GRANT_HOURS = 72


class AccountError(ValueError):
    """A change that cannot be made (unknown user, bad role, ...); the message says why."""


@dataclass(frozen=True)
class Credentials:
    """A user's first-time (or reset) credentials: shown once, never kept in clear."""

    username: str
    password: str
    totp_secret: str | None
    totp_uri: str | None


@dataclass(frozen=True)
class ClientKey:
    """A client's key: shown once at creation or rotation, kept only as a digest."""

    name: str
    key: str


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    return role


class Accounts:
    """Users, clients and grants, changed by an admin (or the operator at the command line)."""

    def __init__(self, store: IdentityStore, audit: AuditTrail) -> None:
        self.store = store
        self.audit = audit

    def add_user(
        self,
        who: Principal,
        username: str,
        role: str,
        clinics: Sequence[str] | None = None,
        payers: Sequence[str] | None = None,
        totp: bool = False,
    ) -> Credentials:
        """A local user with a random first password (to change at first sign-in); admins always get
        a TOTP second factor, others when `totp`."""
        if self.store.user(username) is not None:
            raise AccountError(f"user {username!r} exists; use reset")
        password = new_key()
        secret = new_totp_secret() if totp or role == ROLE_ADMIN else None
        self.store.put_user(
            {
                "username": username,
                "role": _role(role),
                "clinics": names_json(clinics),
                "payers": names_json(payers),
                "password_hash": hash_password(password),
                "totp_secret": secret,
                "must_change_password": True,
                "disabled": False,
                "locked_until": None,
                "source": "local",
                "created_at": _now(),
            }
        )
        self.audit.record(who, "user_add", "user", [username], role=role)
        return Credentials(username, password, secret, totp_uri(secret, username) if secret else None)

    def reset_user(self, who: Principal, username: str, totp: bool | None = None) -> Credentials:
        """New first-time credentials for a user: a new password and, where TOTP applies, a new
        secret; the account is unlocked and every session of the user ends."""
        user = self._user(username)
        password = new_key()
        wants_totp = user.role == ROLE_ADMIN or (user.totp_secret is not None if totp is None else totp)
        secret = new_totp_secret() if wants_totp else None
        self.store.update_user(
            username,
            password_hash=hash_password(password),
            totp_secret=secret,
            must_change_password=True,
            locked_until=None,
        )
        self.store.end_sessions("reset", _now(), username=username)
        self.audit.record(who, "user_reset", "user", [username])
        return Credentials(username, password, secret, totp_uri(secret, username) if secret else None)

    def set_password(self, who: Principal, username: str, password: str) -> None:
        """A user's own new password (at least 12 characters)."""
        if len(password) < 12:
            raise AccountError("a password needs at least 12 characters")
        self._user(username)
        self.store.update_user(username, password_hash=hash_password(password), must_change_password=False)
        self.audit.record(who, "password_change", "user", [username])

    def disable_user(self, who: Principal, username: str, disabled: bool = True) -> None:
        """Disable (or enable again) a user; disabling ends their sessions at once."""
        self._user(username)
        self.store.update_user(username, disabled=disabled)
        if disabled:
            self.store.end_sessions("disabled", _now(), username=username)
        self.audit.record(who, "user_disable" if disabled else "user_enable", "user", [username])

    def unlock_user(self, who: Principal, username: str) -> None:
        """Lift a lock-out."""
        self._user(username)
        self.store.update_user(username, locked_until=None)
        self.store.clear_failures(f"account:{username}")
        self.audit.record(who, "user_unlock", "user", [username])

    def set_scope(
        self, who: Principal, username: str, clinics: Sequence[str] | None, payers: Sequence[str] | None
    ) -> None:
        """Change the clinics and payers a user may see; their sessions end, so that the next sign-in
        carries the new scope."""
        self._user(username)
        self.store.update_user(username, clinics=names_json(clinics), payers=names_json(payers))
        self.store.end_sessions("scope changed", _now(), username=username)
        self.audit.record(who, "user_scope", "user", [username], clinics=clinics, payers=payers)

    def users(self) -> list[UserRow]:
        """Every user."""
        return self.store.list_users()

    def add_client(
        self,
        who: Principal,
        name: str,
        role: str,
        clinics: Sequence[str] | None = None,
        payers: Sequence[str] | None = None,
        expires_at: datetime | None = None,
    ) -> ClientKey:
        """A named API client with a new key (256 bits), kept only as a digest."""
        if self.store.client(name) is not None:
            raise AccountError(f"client {name!r} exists; use rotate")
        key = new_key()
        self.store.put_client(
            {
                "name": name,
                "role": _role(role),
                "clinics": names_json(clinics),
                "payers": names_json(payers),
                "key_hash": key_digest(key),
                "expires_at": expires_at,
                "last_used_at": None,
                "revoked_at": None,
                "created_at": _now(),
            }
        )
        self.audit.record(who, "client_add", "client", [name], role=role)
        return ClientKey(name, key)

    def rotate_client(self, who: Principal, name: str) -> ClientKey:
        """A new key for a client; the old one stops working at once."""
        self._client(name)
        key = new_key()
        self.store.update_client(name, key_hash=key_digest(key), revoked_at=None)
        self.audit.record(who, "client_rotate", "client", [name])
        return ClientKey(name, key)

    def revoke_client(self, who: Principal, name: str) -> None:
        """Stop a client's key from working."""
        self._client(name)
        self.store.update_client(name, revoked_at=_now())
        self.audit.record(who, "client_revoke", "client", [name])

    def clients(self) -> list[ClientRow]:
        """Every client."""
        return self.store.list_clients()

    def grant(self, who: Principal, username: str, reason: str, hours: float) -> datetime:
        """Emergency access (break-glass): for `hours`, the user sees every clinic and payer; every
        use is marked in the audit trail. Returns when it expires."""
        if who.role != ROLE_ADMIN:
            raise AccountError("only an admin may grant emergency access")
        if not reason.strip():
            raise AccountError("an emergency grant needs a written reason")
        if not 0 < hours <= MAX_GRANT_HOURS:
            raise AccountError(f"an emergency grant lasts more than 0 and at most {MAX_GRANT_HOURS} hours")
        self._user(username)
        starts = _now()
        expires = starts + timedelta(hours=hours)
        self.store.add_grant(
            {
                "username": username,
                "granted_by": who.id,
                "reason": reason,
                "starts_at": starts,
                "expires_at": expires,
            }
        )
        self.store.end_sessions("grant", starts, username=username)  # the next sign-in carries it
        self.audit.record(who, "grant", "user", [username], reason=reason, hours=hours)
        return expires

    def _user(self, username: str) -> UserRow:
        user = self.store.user(username)
        if user is None:
            raise AccountError(f"no user {username!r}")
        return user

    def _client(self, name: str) -> ClientRow:
        client = self.store.client(name)
        if client is None:
            raise AccountError(f"no client {name!r}")
        return client

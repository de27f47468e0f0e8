"""The pages' sign-in session: a signed, HttpOnly, SameSite=Strict cookie that expires when idle.

The cookie holds the role, a fingerprint of the API key it was opened with (a session ends when its
key is removed) and the CSRF token its forms must echo. It is signed with a secret derived from the
configured API keys, the same in every worker and across restarts; changing the keys ends every
session. No key, patient or record identifier is ever in the cookie or a URL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

COOKIE = "careops_session"
IDLE_SECONDS = 30 * 60


def fingerprint(key: str) -> str:
    """A short, one-way digest of an API key."""
    return hashlib.sha256(b"careops-session-key:" + key.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class PageSession:
    """Who is signed in: their role, their key's fingerprint and their CSRF token."""

    role: str
    key: str
    csrf: str

    def csrf_ok(self, token: str | None) -> bool:
        """Whether a form's token is this session's."""
        return token is not None and hmac.compare_digest(token, self.csrf)


class PageSessions:
    """Issues and reads session cookies for one set of API keys."""

    def __init__(self, keys: dict[str, str], idle_seconds: int = IDLE_SECONDS) -> None:
        material = "\n".join(sorted(f"{k}:{r}" for k, r in keys.items())).encode()
        secret = hashlib.sha256(b"careops-session-secret:" + material).digest()
        self.signer = TimestampSigner(secret, salt="careops-pages")
        self.roles = {fingerprint(k): r for k, r in keys.items()}
        self.idle_seconds = idle_seconds

    def open(self, key: str) -> PageSession | None:
        """A new session for a known API key, else None."""
        found = next(
            (role for k, role in self.roles.items() if hmac.compare_digest(k, fingerprint(key))), None
        )
        if found is None:
            return None
        return PageSession(found, fingerprint(key), secrets.token_urlsafe(24))

    def cookie(self, session: PageSession) -> str:
        """The signed cookie value (re-issued on each page, so that only idleness expires it)."""
        payload = json.dumps({"role": session.role, "key": session.key, "csrf": session.csrf})
        return self.signer.sign(payload.encode()).decode()

    def read(self, value: str | None) -> PageSession | None:
        """The session in a cookie, or None if absent, forged, idle too long or its key is gone."""
        if not value:
            return None
        try:
            payload = json.loads(self.signer.unsign(value, max_age=self.idle_seconds))
        except (BadSignature, SignatureExpired, ValueError):
            return None
        if self.roles.get(payload.get("key")) != payload.get("role"):
            return None
        return PageSession(payload["role"], payload["key"], payload["csrf"])

"""The pages' sign-in session as a page sees it: who is signed in, and the CSRF token their forms echo.

The session itself is held by the server (services/access/authentication.py): the cookie carries
only a random id, HttpOnly and SameSite=Strict, for /app only. Signing out, an admin's revoke,
disabling the user, idleness and the session's lifetime all end it at once, whatever the browser
still holds.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from services.access.principal import Principal

COOKIE = "careops_session"


@dataclass(frozen=True)
class PageSession:
    """Who is signed in, their session's id (to end it) and the CSRF token of its forms."""

    who: Principal
    session_id: str
    csrf: str

    @property
    def role(self) -> str:
        """The signed-in user's role."""
        return self.who.role

    @property
    def username(self) -> str:
        """The signed-in user's name."""
        return self.who.name

    def csrf_ok(self, token: str | None) -> bool:
        """Whether a form's token is this session's."""
        return token is not None and hmac.compare_digest(token.encode(), self.csrf.encode())

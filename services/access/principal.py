"""The principal a request acts for: a person (user), a system (named API client) or careops itself."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

ROLE_ADMIN = "admin"


class OutOfScopeError(PermissionError):
    """Records outside the principal's clinics or payers (403): their count, never their ids."""

    def __init__(self, resource: str, count: int) -> None:
        super().__init__(f"{count} {resource} record(s) are outside your scope")
        self.resource = resource
        self.count = count


@dataclass(frozen=True)
class Principal:
    """Who acts, in which role, over which clinics and payers (None: all), from where, in which request.

    `emergency` marks access beyond the usual scope under an admin's time-boxed grant."""

    kind: str  # "user", "client" or "system"
    name: str
    role: str
    clinics: frozenset[str] | None = None
    payers: frozenset[str] | None = None
    emergency: bool = False
    source: str = ""
    request_id: str = ""

    @property
    def id(self) -> str:
        """How the audit trail names the principal: kind and name."""
        return f"{self.kind}:{self.name}"

    def at(self, source: str, request_id: str = "") -> Principal:
        """The same principal, acting from `source` in request `request_id`."""
        return replace(self, source=source, request_id=request_id)

    def may_see_clinic(self, clinic_id: str) -> bool:
        """Whether the clinic is in scope."""
        return self.clinics is None or clinic_id in self.clinics

    def may_see_payer(self, payer_id: str) -> bool:
        """Whether the payer is in scope."""
        return self.payers is None or payer_id in self.payers

    def check_clinics(self, clinic_ids: Iterable[str], resource: str = "appointment") -> None:
        """Raise OutOfScopeError unless every clinic is in scope."""
        outside = sum(not self.may_see_clinic(c) for c in clinic_ids)
        if outside:
            raise OutOfScopeError(resource, outside)

    def check_payers(self, payer_ids: Iterable[str], resource: str = "claim") -> None:
        """Raise OutOfScopeError unless every payer is in scope."""
        outside = sum(not self.may_see_payer(p) for p in payer_ids)
        if outside:
            raise OutOfScopeError(resource, outside)


def system(name: str, source: str = "") -> Principal:
    """careops itself (a command run by the operator, a feed): every clinic and payer."""
    return Principal("system", name, ROLE_ADMIN, source=source)

"""From an identity provider's groups to a careops role and scope, through the mapping in
CAREOPS_OIDC_GROUPS. A user's role and scope are worked out again at every sign-in, so a group taken
away at the provider takes its access away at the user's next sign-in."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from config import ROLES
from services.access.principal import ROLE_ADMIN


class GroupMappingError(ValueError):
    """The mapping in configuration is not valid (refused at start-up, saying where)."""


class NoRoleError(PermissionError):
    """The user's groups give no role in careops, or two that cannot be held together."""


@dataclass(frozen=True)
class GroupGrant:
    """What one group gives: a role, and the clinics and payers (None: all)."""

    role: str
    clinics: frozenset[str] | None
    payers: frozenset[str] | None


@dataclass(frozen=True)
class RoleScope:
    """A user's role and scope from all their groups."""

    role: str
    clinics: frozenset[str] | None
    payers: frozenset[str] | None
    groups: tuple[str, ...]  # the mapped groups it came from, for the audit trail


def _names(entry: dict, field: str, group: str) -> frozenset[str] | None:
    value = entry.get(field)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise GroupMappingError(f"group {group!r}: {field} must be a list of names")
    return frozenset(value)


def parse_group_mapping(text: str) -> dict[str, GroupGrant]:
    """The mapping from its JSON: {"group": {"role": ..., "clinics": [...], "payers": [...]}}."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise GroupMappingError(f"CAREOPS_OIDC_GROUPS is not JSON (line {error.lineno})") from None
    if not isinstance(raw, dict):
        raise GroupMappingError("CAREOPS_OIDC_GROUPS must be an object of group to role and scope")
    mapping: dict[str, GroupGrant] = {}
    for group, entry in raw.items():
        if not isinstance(entry, dict) or entry.get("role") not in ROLES:
            raise GroupMappingError(f"group {group!r}: role must be one of {', '.join(ROLES)}")
        unknown = set(entry) - {"role", "clinics", "payers"}
        if unknown:
            raise GroupMappingError(f"group {group!r}: unknown field(s) {', '.join(sorted(unknown))}")
        mapping[group] = GroupGrant(
            entry["role"], _names(entry, "clinics", group), _names(entry, "payers", group)
        )
    return mapping


def _union(scopes: Iterable[frozenset[str] | None]) -> frozenset[str] | None:
    merged: set[str] = set()
    for scope in scopes:
        if scope is None:
            return None
        merged |= scope
    return frozenset(merged)


def role_scope(groups: Iterable[str], mapping: dict[str, GroupGrant]) -> RoleScope:
    """The role and scope a user's groups give: an admin group makes an admin; otherwise every mapped
    group must give the same role, and the clinics and payers are the union of theirs."""
    mapped = sorted({g for g in groups if g in mapping})
    if not mapped:
        raise NoRoleError("your groups give no role in careops")
    roles = {mapping[g].role for g in mapped}
    if ROLE_ADMIN in roles:
        return RoleScope(ROLE_ADMIN, None, None, tuple(g for g in mapped if mapping[g].role == ROLE_ADMIN))
    if len(roles) > 1:
        raise NoRoleError(f"your groups give more than one role ({', '.join(sorted(roles))})")
    return RoleScope(
        roles.pop(),
        _union(mapping[g].clinics for g in mapped),
        _union(mapping[g].payers for g in mapped),
        tuple(mapped),
    )

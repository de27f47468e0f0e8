"""Commands for who may use careops and what they did: users, API clients, sessions, emergency
grants and the access audit trail. Secrets are shown once, or written to a file readable by its
owner only (`--to`), never to a log."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from cli.common import exits, fail, operator, settings

users_app = typer.Typer(help="Local users: add, disable, reset, unlock, scope, list.", no_args_is_help=True)
clients_app = typer.Typer(help="Named API clients: add, rotate, revoke, list.", no_args_is_help=True)
sessions_app = typer.Typer(help="Open page sessions: list, revoke.", no_args_is_help=True)
audit_app = typer.Typer(help="The access audit trail: verify, export.", no_args_is_help=True)
app = typer.Typer()

ToOption = Annotated[
    Path | None,
    typer.Option("--to", help="Append the secret to this file (created 0600) instead of showing it."),
]
ClinicOption = Annotated[
    list[str] | None, typer.Option("--clinic", help="A clinic in scope (repeat; default: all).")
]
PayerOption = Annotated[
    list[str] | None, typer.Option("--payer", help="A payer in scope (repeat; default: all).")
]


@contextmanager
def _services() -> Iterator[object]:
    from services.access.accounts import AccountError
    from services.container import Services

    opened = Services.open(settings(), log_scores=False, audit_now=True)
    try:
        with exits(AccountError):
            yield opened
    finally:
        opened.close()


def _secret(lines: list[str], to: Path | None) -> None:
    """Show `lines` once, or append them to a 0600 file (its folder 0700)."""
    if to is None:
        for line in lines:
            typer.echo(line)
        return
    to.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(to, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.chmod(to, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    typer.echo(f"written to {to} (readable by you only)")


def _credential_lines(made: object) -> list[str]:
    """A user's first-time password, and TOTP secret where they have one, a line each."""
    lines = [f"{made.username} password {made.password}"]
    if made.totp_uri:
        lines.append(f"{made.username} totp {made.totp_uri}")
    return lines


@users_app.command("add")
def add_user(
    username: str,
    role: Annotated[str, typer.Option(help="scheduler, biller or admin.")],
    clinic: ClinicOption = None,
    payer: PayerOption = None,
    totp: Annotated[bool, typer.Option(help="A TOTP second factor (always, for admins).")] = False,
    to: ToOption = None,
) -> None:
    """Add a local user with a first-time password (changed at first sign-in)."""
    with _services() as services:
        made = services.accounts.add_user(operator(), username, role, clinic or None, payer or None, totp)
    _secret(_credential_lines(made), to)


@users_app.command("reset")
def reset_user(username: str, to: ToOption = None) -> None:
    """New first-time credentials; unlocks the account and ends its sessions."""
    with _services() as services:
        made = services.accounts.reset_user(operator(), username)
    _secret(_credential_lines(made), to)


@users_app.command("disable")
def disable_user(
    username: str, enable: Annotated[bool, typer.Option(help="Enable again instead.")] = False
) -> None:
    """Disable a user (their sessions end at once), or enable them again."""
    with _services() as services:
        services.accounts.disable_user(operator(), username, disabled=not enable)
    typer.echo(f"{username} {'enabled' if enable else 'disabled'}")


@users_app.command("unlock")
def unlock_user(username: str) -> None:
    """Lift a lock-out after failed sign-ins."""
    with _services() as services:
        services.accounts.unlock_user(operator(), username)
    typer.echo(f"{username} unlocked")


@users_app.command("scope")
def scope_user(username: str, clinic: ClinicOption = None, payer: PayerOption = None) -> None:
    """Set the clinics and payers a user sees (none given: all); their sessions end."""
    with _services() as services:
        services.accounts.set_scope(operator(), username, clinic or None, payer or None)
    typer.echo(f"{username}: clinics {clinic or 'all'}, payers {payer or 'all'}")


@users_app.command("list")
def list_users() -> None:
    """Every user, with role, scope and state (no secret)."""
    with _services() as services:
        for user in services.accounts.users():
            state = "disabled" if user.disabled else "locked" if user.locked_until else "active"
            clinics = ",".join(sorted(user.clinics)) if user.clinics is not None else "all"
            payers = ",".join(sorted(user.payers)) if user.payers is not None else "all"
            factor = "totp" if user.totp_secret else "-"
            scope = f"clinics {clinics}; payers {payers}"
            typer.echo(f"{user.username:<20} {user.role:<9} {state:<8} {factor:<4} {scope}")


@users_app.command("grant")
def grant(
    username: str,
    reason: Annotated[str, typer.Option(help="Why (kept in the audit trail).")],
    hours: Annotated[float, typer.Option(help="How long, at most 72.")] = 4,
) -> None:
    """Emergency access: the user sees every clinic and payer until it expires; each use is marked."""
    with _services() as services:
        expires = services.accounts.grant(operator(), username, reason, hours)
    typer.echo(f"{username} has emergency access until {expires:%Y-%m-%d %H:%M} UTC")


@clients_app.command("add")
def add_client(
    name: str,
    role: Annotated[str, typer.Option(help="scheduler, biller or admin.")],
    clinic: ClinicOption = None,
    payer: PayerOption = None,
    expires: Annotated[str | None, typer.Option(help="Expiry day, YYYY-MM-DD (default: none).")] = None,
    to: ToOption = None,
) -> None:
    """Add a named API client; its key is shown once (or written to --to) and kept only as a digest."""
    try:
        until = datetime.combine(date.fromisoformat(expires), datetime.min.time()) if expires else None
    except ValueError:
        raise fail("--expires must be a date such as 2027-06-30") from None
    with _services() as services:
        made = services.accounts.add_client(operator(), name, role, clinic or None, payer or None, until)
    _secret([f"{made.key}:{name}"], to)


@clients_app.command("rotate")
def rotate_client(name: str, to: ToOption = None) -> None:
    """A new key for the client; the old one stops working at once."""
    with _services() as services:
        made = services.accounts.rotate_client(operator(), name)
    _secret([f"{made.key}:{name}"], to)


@clients_app.command("revoke")
def revoke_client(name: str) -> None:
    """Stop the client's key from working."""
    with _services() as services:
        services.accounts.revoke_client(operator(), name)
    typer.echo(f"{name} revoked")


@clients_app.command("list")
def list_clients() -> None:
    """Every client, with role, scope, expiry and last use (no key)."""
    with _services() as services:
        for client in services.accounts.clients():
            state = "revoked" if client.revoked_at else "active"
            used = f"{client.last_used_at:%Y-%m-%d %H:%M}" if client.last_used_at else "never"
            expires = f"{client.expires_at:%Y-%m-%d}" if client.expires_at else "none"
            typer.echo(f"{client.name:<24} {client.role:<9} {state:<8} expires {expires}; last used {used}")


@sessions_app.command("list")
def list_sessions() -> None:
    """Users with open sessions: user, role, how many, from where, since when, last seen."""
    with _services() as services:
        for user in services.authenticator.open_sessions(operator()):
            since = f"since {user.since:%Y-%m-%d %H:%M}, last seen {user.last_seen:%H:%M:%S}"
            where = ",".join(user.sources)
            typer.echo(f"{user.username:<20} {user.role:<9} {user.sessions:>3} {where:<16} {since}")


@sessions_app.command("revoke")
def revoke_sessions(username: str) -> None:
    """End every open session of a user at once."""
    with _services() as services:
        ended = services.authenticator.revoke_sessions(operator(), username)
    typer.echo(f"ended {ended} session(s) of {username}")


@audit_app.command("verify")
def verify() -> None:
    """Walk the whole chain; exit 1 naming the first entry changed, inserted or removed."""
    from config import audit_key, audit_url
    from data.stores.audit import AuditStore

    config = settings()
    result = AuditStore(audit_url(config), audit_key(config)).verify()
    if result.ok:
        typer.echo(f"audit trail intact: {result.checked} entries verified")
        return
    typer.echo(f"audit trail broken at entry {result.broken_at}: {result.reason} "
               f"({result.checked} entries verified before it)", err=True)  # fmt: skip
    raise typer.Exit(code=1)


@audit_app.command("export")
def export(
    since: Annotated[str | None, typer.Option(help="From this day (YYYY-MM-DD).")] = None,
    user: Annotated[str | None, typer.Option(help="A principal, e.g. user:alice or client:emr.")] = None,
    patient: Annotated[str | None, typer.Option(help="Entries that touch this record id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of CSV.")] = False,
    out: Annotated[Path | None, typer.Option(help="Write here (0600) instead of standard output.")] = None,
) -> None:
    """Export entries, filtered by day, principal and record id (CSV with no live formulas, or JSON)."""
    from config import audit_url
    from data.stores.audit import AuditStore
    from services.access.audit import command_trail

    try:
        day = datetime.combine(date.fromisoformat(since), datetime.min.time()) if since else None
    except ValueError:
        raise fail("--since must be a date such as 2026-11-01") from None
    config = settings()
    found = AuditStore(audit_url(config)).entries(day, user, patient)
    text = _json_lines(found) if as_json else _csv(found)
    if out is None:
        typer.echo(text, nl=False)
        return
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    typer.echo(f"wrote {len(found)} entries to {out}", err=True)
    command_trail(config).record(
        operator(), "export", "audit", [], count=len(found), user=user, patient=patient
    )


COLUMNS = ("seq", "at", "principal", "role", "action", "resource", "count", "record_ids", "source",
           "request_id", "emergency", "detail", "hash")  # fmt: skip


def _rows(found: list) -> Iterator[dict]:
    for stored in found:
        entry = stored.entry
        yield {
            "seq": stored.seq, "at": entry.at.isoformat(), "principal": entry.principal, "role": entry.role,
            "action": entry.action, "resource": entry.resource, "count": entry.count,
            "record_ids": list(entry.record_ids), "source": entry.source, "request_id": entry.request_id,
            "emergency": entry.emergency, "detail": entry.detail, "hash": stored.hash,
        }  # fmt: skip


def _json_lines(found: list) -> str:
    return "".join(json.dumps(row) + "\n" for row in _rows(found))


def _csv(found: list) -> str:
    from data.spreadsheet import safe_cell

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in _rows(found):
        row["record_ids"] = ";".join(row["record_ids"])
        row["detail"] = json.dumps(row["detail"], sort_keys=True)
        writer.writerow([safe_cell(row[c]) for c in COLUMNS])
    return out.getvalue()


app.add_typer(users_app, name="users")
app.add_typer(clients_app, name="clients")
app.add_typer(sessions_app, name="sessions")
app.add_typer(audit_app, name="audit")

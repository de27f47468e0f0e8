"""People, not shared keys: local users with argon2id passwords and TOTP, lock-outs, throttling per
address and account, sessions the server holds and ends, named clients, and emergency grants."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import update

from data.stores.identity import sessions
from services.access.accounts import AccountError
from services.access.authentication import AuthenticationError, PasswordChangeRequired, ThrottledError
from services.access.principal import system
from services.container import Services
from tests.helpers import make_settings

ADMIN = system("tests")
PASSWORD = "a long enough password"


@pytest.fixture
def services(tmp_path: Path) -> Services:
    settings = make_settings(tmp_path, auth_failures_allowed=5, auth_address_failures_allowed=8)
    opened = Services.open(settings, log_scores=False, audit_now=True)
    yield opened
    opened.close()


def _user(services: Services, name: str, role: str = "scheduler", **scope: object) -> None:
    services.accounts.add_user(ADMIN, name, role, scope.get("clinics"), scope.get("payers"))
    services.accounts.set_password(ADMIN, name, PASSWORD)


def _actions(services: Services) -> list[tuple[str, str]]:
    return [(s.entry.principal, s.entry.action) for s in services.audit.store.entries()]


def test_first_passwords_must_be_changed_and_are_kept_only_as_argon2id(services: Services) -> None:
    made = services.accounts.add_user(ADMIN, "sam", "scheduler")
    stored = services.authenticator.store.user("sam")
    assert stored.password_hash.startswith("$argon2id$") and made.password not in stored.password_hash
    with pytest.raises(PasswordChangeRequired):
        services.authenticator.sign_in("sam", made.password, "", "10.0.0.1")
    with pytest.raises(AccountError):
        services.accounts.set_password(ADMIN, "sam", "short")
    services.accounts.set_password(ADMIN, "sam", PASSWORD)
    assert services.authenticator.sign_in("sam", PASSWORD, "", "10.0.0.1").principal.id == "user:sam"


def test_admins_need_their_totp_code(services: Services) -> None:
    made = services.accounts.add_user(ADMIN, "ada", "admin")
    assert made.totp_secret and made.totp_uri.startswith("otpauth://totp/careops:ada")
    services.accounts.set_password(ADMIN, "ada", PASSWORD)
    with pytest.raises(AuthenticationError):
        services.authenticator.sign_in("ada", PASSWORD, "000000", "10.0.0.1")
    code = pyotp.TOTP(made.totp_secret).now()
    assert services.authenticator.sign_in("ada", PASSWORD, code, "10.0.0.1").principal.role == "admin"


def test_a_totp_code_opens_one_session_only(services: Services) -> None:
    made = services.accounts.add_user(ADMIN, "ada", "admin")
    services.accounts.set_password(ADMIN, "ada", PASSWORD)
    totp = pyotp.TOTP(made.totp_secret)
    step = totp.timecode(datetime.now(UTC))
    current, before, after = (totp.generate_otp(s) for s in (step, step - 1, step + 1))
    assert services.authenticator.sign_in("ada", PASSWORD, current, "10.0.0.1").principal.role == "admin"
    for replayed in (current, before):  # seen over a shoulder, or the one before it: refused
        with pytest.raises(AuthenticationError):
            services.authenticator.sign_in("ada", PASSWORD, replayed, "10.0.0.2")
    # The next step's code (a phone a little ahead) still works, once.
    assert services.authenticator.sign_in("ada", PASSWORD, after, "10.0.0.1").principal.role == "admin"
    with pytest.raises(AuthenticationError):
        services.authenticator.sign_in("ada", PASSWORD, after, "10.0.0.1")


def test_repeated_failures_lock_the_account_and_an_admin_unlocks_it(services: Services) -> None:
    _user(services, "sam")
    _user(services, "kim")
    for attempt in range(5):
        with pytest.raises(AuthenticationError):
            services.authenticator.sign_in("sam", f"wrong {attempt}", "", f"10.0.1.{attempt}")
    with pytest.raises(ThrottledError) as locked:
        services.authenticator.sign_in("sam", PASSWORD, "", "10.0.2.1")  # even the right password
    assert 0 < locked.value.retry_after <= 15 * 60
    assert services.authenticator.sign_in("kim", PASSWORD, "", "10.0.2.1").principal.name == "kim"
    services.accounts.unlock_user(ADMIN, "sam")
    assert services.authenticator.sign_in("sam", PASSWORD, "", "10.0.2.1").principal.name == "sam"
    assert ("user:sam", "lockout") in _actions(services)
    assert ("system:tests", "user_unlock") in _actions(services)


def test_one_address_guessing_is_throttled_while_others_sign_in(services: Services) -> None:
    _user(services, "sam")
    refused = []
    for attempt in range(200):
        try:
            services.authenticator.sign_in(f"guess{attempt}", "guess", "", "203.0.113.9")
        except ThrottledError as error:
            refused.append(error.retry_after)
        except AuthenticationError:
            pass
    assert len(refused) == 192 and all(r > 0 for r in refused)  # 429 after the configured 8
    assert services.authenticator.sign_in("sam", PASSWORD, "", "198.51.100.7").principal.name == "sam"


def test_sessions_end_at_sign_out_revoke_disable_idle_and_lifetime(services: Services) -> None:
    _user(services, "sam")
    auth = services.authenticator
    first = auth.sign_in("sam", PASSWORD, "", "10.0.0.1")
    second = auth.sign_in("sam", PASSWORD, "", "10.0.0.1")
    assert first.session_id != second.session_id  # a new id at every sign-in
    assert auth.session(first.session_id, "10.0.0.1") is not None
    auth.sign_out(first.session_id, "10.0.0.1")
    assert auth.session(first.session_id, "10.0.0.1") is None and auth.session(second.session_id, "x")
    assert auth.revoke_sessions(ADMIN, "sam") == 1 and auth.session(second.session_id, "x") is None
    third = auth.sign_in("sam", PASSWORD, "", "10.0.0.1")
    services.accounts.disable_user(ADMIN, "sam")
    assert auth.session(third.session_id, "x") is None
    services.accounts.disable_user(ADMIN, "sam", disabled=False)
    for column, age in (("last_seen_at", timedelta(minutes=16)), ("created_at", timedelta(hours=13))):
        opened = auth.sign_in("sam", PASSWORD, "", "10.0.0.1")
        past = datetime.now(UTC).replace(tzinfo=None) - age
        with services.engine.begin() as connection:
            connection.execute(update(sessions).where(sessions.c.username == "sam").values({column: past}))
        assert auth.session(opened.session_id, "x") is None
    ends = [
        s.entry.detail.get("why") for s in services.audit.store.entries() if s.entry.action == "session_end"
    ]
    assert ends == ["signed out", "idle", "lifetime"]


def test_the_admin_lists_each_user_with_open_sessions_once_and_never_a_stale_one(services: Services) -> None:
    for name in ("sam", "kim", "lee"):
        _user(services, name)
    auth = services.authenticator
    auth.sign_in("sam", PASSWORD, "", "10.0.0.1")
    auth.sign_in("sam", PASSWORD, "", "10.0.0.2")
    auth.sign_in("kim", PASSWORD, "", "10.0.0.3")
    auth.sign_in("lee", PASSWORD, "", "10.0.0.4")  # then left idle past the limit, never looked at
    idle = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=16)
    with services.engine.begin() as connection:
        connection.execute(update(sessions).where(sessions.c.username == "lee").values(last_seen_at=idle))
    listed = {u.username: u for u in auth.open_sessions(ADMIN)}
    assert set(listed) == {"sam", "kim"}
    assert (listed["sam"].sessions, listed["sam"].sources) == (2, ("10.0.0.2", "10.0.0.1"))
    assert listed["kim"].sessions == 1 and listed["sam"].since <= listed["sam"].last_seen
    assert ("system:tests", "read") in _actions(services)


def test_named_clients_rotate_revoke_and_expire(services: Services) -> None:
    auth = services.authenticator
    key = services.accounts.add_client(ADMIN, "emr", "scheduler", clinics=["C01"]).key
    assert len(key) >= 43 and key not in str(services.accounts.clients())
    who = auth.client(key, "10.0.0.5")
    assert (who.id, who.role, who.clinics) == ("client:emr", "scheduler", frozenset({"C01"}))
    deadline = time.monotonic() + 5  # the last-used time is written off the request, by a thread
    while services.accounts.clients()[0].last_used_at is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert services.accounts.clients()[0].last_used_at is not None
    new = services.accounts.rotate_client(ADMIN, "emr").key
    with pytest.raises(AuthenticationError):
        auth.client(key, "10.0.0.5")
    assert auth.client(new, "10.0.0.5").name == "emr"
    services.accounts.revoke_client(ADMIN, "emr")
    with pytest.raises(AuthenticationError):
        auth.client(new, "10.0.0.5")
    old = services.accounts.add_client(ADMIN, "old", "biller", expires_at=datetime(2020, 1, 1)).key
    with pytest.raises(AuthenticationError):
        auth.client(old, "10.0.0.5")


def test_an_emergency_grant_widens_the_scope_until_it_expires_and_is_marked(services: Services) -> None:
    _user(services, "sam", clinics=["C01"])
    with pytest.raises(AccountError):
        services.accounts.grant(ADMIN, "sam", "  ", 2)
    assert services.authenticator.sign_in("sam", PASSWORD, "", "x").principal.clinics == frozenset({"C01"})
    services.accounts.grant(ADMIN, "sam", "covering the C02 front desk during an outage", 2)
    who = services.authenticator.sign_in("sam", PASSWORD, "", "x").principal
    assert who.clinics is None and who.emergency
    services.audit.record(who, "read", "appointment", ["A1"])
    assert [s.entry.emergency for s in services.audit.store.entries(record_id="A1")] == [True]


def test_the_sessions_command_lists_users_with_open_sessions(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cli import app

    _user(services, "sam")
    services.authenticator.sign_in("sam", PASSWORD, "", "10.0.0.1")
    monkeypatch.setenv("CAREOPS_DATABASE_URL", services.settings.database_url)
    listed = CliRunner().invoke(app, ["sessions", "list"])
    assert listed.exit_code == 0, listed.output
    assert re.search(r"^sam\s+scheduler\s+1 10\.0\.0\.1\s+since ", listed.output, re.M), listed.output

"""People signing in, in a real browser (Debian's Chromium) against a real server:

- through a certified OpenID provider (oidc-provider, started here): two schedulers of different
  clinic groups, a biller limited to one payer and an admin each see only what their groups give;
  a group taken away at the provider takes access away at the next sign-in; after sign-out the old
  cookie opens nothing; an admin's revoke ends another user's session at their next request;
- with local accounts and TOTP: a wrong password, a wrong code, a lock-out, and an admin's unlock.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from config import Settings, audit_url
from data.loaders.uploads import claims_from_upload
from data.stores.audit import AuditStore
from data.synthetic.claims import generate_claims
from data.x12.writer import write_837p
from models.tasks import caller_records, get_task
from services.access.principal import system
from services.container import Services
from tests.bodies import free_port, session_body
from tests.helpers import ADMIN, API_KEYS, PASSWORD, TrainedStore, ensure_users, make_settings, totp_now
from tests.identity_provider import CLIENT_ID, CLIENT_SECRET, IdentityProvider, identity_provider
from tests.processes import wait_until_ready

pytestmark = pytest.mark.e2e
DAY = "2027-03-16"
GROUPS = {
    "nora": ["north-desk", "all-staff"],
    "sol": ["south-desk"],
    "bill": ["billing-one-payer"],
    "ida": ["it-admins"],
}
ALLOWED_FAILURES = 3


@dataclass
class Practice:
    """A running careops with single sign-on and local users, and what it was given."""

    base: str
    workdir: Path
    provider: IdentityProvider
    claims_file: Path
    payer: str
    other_payers: int
    database_url: str


@pytest.fixture(scope="module")
def practice(trained_store: TrainedStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Practice]:
    workdir = tmp_path_factory.mktemp("sign-in")
    port, provider_port = free_port(), free_port()
    base, database_url = f"http://127.0.0.1:{port}", f"sqlite:///{workdir / 'careops.db'}"

    frame = generate_claims(40, seed=4343)
    frame["claim_id"] = [f"SSO{i:03d}" for i in range(len(frame))]
    claims_file = write_837p(caller_records(get_task("denial"), frame), workdir / "to-submit.837")
    payers = Counter(claims_from_upload(claims_file.name, claims_file.read_bytes()).valid["payer_id"])
    payer = payers.most_common(1)[0][0]
    mapping = {
        "north-desk": {"role": "scheduler", "clinics": ["C01"]},
        "south-desk": {"role": "scheduler", "clinics": ["C02"]},
        "billing-one-payer": {"role": "biller", "payers": [payer]},
        "it-admins": {"role": "admin"},
    }

    # Local accounts: a scheduler with a second factor, and an admin (who always has one).
    settings = make_settings(workdir, database_url=database_url)
    ensure_users(settings, {"scheduler": "tom", "admin": "ada"})
    services = Services.open(settings, log_scores=False, audit_now=True)
    services.accounts.reset_user(system("tests"), "tom", totp=True)
    services.accounts.set_password(system("tests"), "tom", PASSWORD)
    services.close()

    with identity_provider(provider_port, f"{base}/app/sso/callback", GROUPS, workdir) as provider:
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CAREOPS_")},
            "MLFLOW_TRACKING_URI": trained_store.settings.tracking_uri,
            "CAREOPS_API_KEYS": API_KEYS,
            "CAREOPS_DATABASE_URL": database_url,
            "CAREOPS_OIDC_ISSUER": provider.issuer,
            "CAREOPS_OIDC_CLIENT_ID": CLIENT_ID,
            "CAREOPS_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "CAREOPS_OIDC_SCOPES": "openid profile groups",
            "CAREOPS_OIDC_GROUPS": json.dumps(mapping),
            "CAREOPS_OIDC_NAME": "the test provider",
            "CAREOPS_AUTH_FAILURES_ALLOWED": str(ALLOWED_FAILURES),
        }
        log_path = workdir / "server.log"
        with log_path.open("w") as log:
            careops = str(Path(sys.executable).parent / "careops")
            process = subprocess.Popen(
                [careops, "serve", "--host", "127.0.0.1", "--port", str(port)],
                cwd=workdir, env=environment, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            wait_until_ready(process, f"{base}/health/ready", 120, log_path.read_text)
            for clinic in ("C01", "C02"):
                body = session_body(4, prefix=f"SSO-{clinic}", day=DAY)
                booked = [a for slot in body["slots"] for a in slot["appointments"]]
                for visit in booked:
                    visit["clinic_id"], visit["provider_id"] = clinic, f"{clinic}-D1"
                answer = httpx.post(f"{base}/v1/noshow/score", json={"appointments": booked}, headers=ADMIN)
                assert answer.status_code == 200
            yield Practice(
                base,
                workdir,
                provider,
                claims_file,
                payer,
                sum(payers.values()) - payers[payer],
                database_url,
            )
        finally:
            process.terminate()
            process.wait(timeout=20)
            log_text = log_path.read_text()
            assert "Traceback" not in log_text, log_text[-3000:]
            assert CLIENT_SECRET not in log_text


def sso_sign_in(page, practice: Practice, account: str) -> None:
    """Sign in through the provider: its login form (any password), then its consent, as needed."""
    page.goto(f"{practice.base}/app/sign-in")
    page.get_by_role("link", name="Sign in with the test provider").click()
    for _ in range(4):
        page.wait_for_load_state()
        if not page.url.startswith(practice.provider.issuer):
            break
        if page.locator("input[name=login]").count():
            page.locator("input[name=login]").fill(account)
            page.locator("input[name=password]").fill("any password")
            page.get_by_role("button", name="Sign-in").click()
        else:
            page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state()


def sign_out(page, practice: Practice) -> None:
    """Sign out of careops, and of the provider when careops sends the browser there."""
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(
        re.compile(f"^({re.escape(practice.provider.issuer)}|{re.escape(practice.base)}/app/sign-in)")
    )
    if page.url.startswith(practice.provider.issuer):
        page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(f"{practice.base}/app/sign-in")


def clinics_offered(page) -> list[str]:
    return page.locator("#clinic option").all_inner_texts()


def trail(practice: Practice, principal: str, action: str, seconds: float = 5) -> list:
    """The server's audit entries of a principal and action (the trail is written every half second)."""
    deadline = time.monotonic() + seconds
    store = AuditStore(audit_url(Settings(_env_file=None, database_url=practice.database_url)))
    while True:
        found = [s.entry for s in store.entries(principal=principal) if s.entry.action == action]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_each_user_of_the_provider_sees_only_what_their_groups_give(practice, browser) -> None:
    base = practice.base
    for account, clinics in (("nora", ["C01"]), ("sol", ["C02"]), ("ida", ["C01", "C02"])):
        context = browser.new_context()
        page = context.new_page()
        sso_sign_in(page, practice, account)
        page.wait_for_url(f"{base}/app/day*")
        page.goto(f"{base}/app/day?date={DAY}")
        assert sorted(clinics_offered(page)) == clinics, account
        if account == "nora":  # another clinic's day, asked for by name, shows nothing of it
            page.goto(f"{base}/app/day?clinic=C02&date={DAY}")
            assert "SSO-C02" not in page.content() and clinics_offered(page) == ["C01"]
        if account == "ida":  # the admin puts the claims on the worklist for the biller
            page.goto(f"{base}/app/worklist")
            page.get_by_label("Claims to check (canonical CSV or 837)").set_input_files(
                str(practice.claims_file)
            )
            page.get_by_role("button", name="Upload and score").click()
            page.wait_for_load_state()
            assert page.get_by_text("40 claims added").is_visible()
        context.close()

    context = browser.new_context()
    page = context.new_page()
    sso_sign_in(page, practice, "bill")
    page.wait_for_url(f"{base}/app/worklist*")
    page.goto(f"{base}/app/worklist?status=all")
    summary = page.locator("p.summary").inner_text()
    assert f"{practice.other_payers} claims of payers outside your scope are left out" in summary
    assert f"of {40 - practice.other_payers} claims shown" in summary
    assert page.goto(f"{base}/app/day").url.endswith("/app/day")  # a biller's page is not the day's
    assert page.get_by_role("heading", name="Not for your role").is_visible()
    context.close()
    assert trail(practice, "user:nora", "sign_in") and trail(practice, "user:bill", "sign_in")


def test_a_group_taken_away_takes_access_away_at_the_next_sign_in(practice, browser) -> None:
    base = practice.base
    context = browser.new_context()
    page = context.new_page()
    sso_sign_in(page, practice, "nora")
    page.wait_for_url(f"{base}/app/day*")
    practice.provider.set_groups({**GROUPS, "nora": ["all-staff"]})
    try:
        sign_out(page, practice)
        sso_sign_in(page, practice, "nora")
        assert page.url.startswith(f"{base}/app/sso/callback")
        assert page.get_by_text("You may not use careops: your groups give no role in careops.").is_visible()
        assert page.goto(f"{base}/app/day").url == f"{base}/app/sign-in"
    finally:
        practice.provider.set_groups(GROUPS)
    refused = trail(practice, "user:nora", "sign_in_refused")
    assert refused and refused[-1].detail["why"] == "your groups give no role in careops"
    context.close()


def test_after_sign_out_the_old_cookie_lands_on_sign_in(practice, browser) -> None:
    base = practice.base
    context = browser.new_context()
    page = context.new_page()
    sso_sign_in(page, practice, "sol")
    page.wait_for_url(f"{base}/app/day*")
    kept = context.cookies()
    assert [c["name"] for c in kept if c["name"] == "careops_session"]
    sign_out(page, practice)
    context.close()

    replay = browser.new_context()
    replay.add_cookies(kept)
    page = replay.new_page()
    assert page.goto(f"{base}/app/day").url == f"{base}/app/sign-in"
    replay.close()


def test_an_admins_revoke_ends_another_users_session_at_their_next_request(practice, browser) -> None:
    base = practice.base
    scheduler, admin = browser.new_context(), browser.new_context()
    nora, ida = scheduler.new_page(), admin.new_page()
    sso_sign_in(nora, practice, "nora")
    nora.wait_for_url(f"{base}/app/day*")
    sso_sign_in(ida, practice, "ida")
    ida.goto(f"{base}/app/admin/sessions")
    ida.get_by_role("button", name="End nora's sessions").first.click()  # one row per session
    ida.wait_for_load_state()
    assert not ida.get_by_role("button", name="End nora's sessions").count()
    assert nora.goto(f"{base}/app/day").url == f"{base}/app/sign-in"
    assert [e.record_ids for e in trail(practice, "user:ida", "session_revoke")] == [("nora",)]
    scheduler.close()
    admin.close()


def local_sign_in(page, practice: Practice, username: str, password: str, code: str) -> str:
    """Fill the local sign-in form; returns the alert shown, or "" when it signed in."""
    page.goto(f"{practice.base}/app/sign-in")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Code from your authenticator app").fill(code)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    alert = page.get_by_role("alert")
    return alert.inner_text() if alert.count() else ""


def test_local_accounts_with_totp_wrong_password_wrong_code_lock_out_and_unlock(practice, browser) -> None:
    settings = make_settings(practice.workdir, database_url=practice.database_url)
    context = browser.new_context()
    page = context.new_page()
    wrong = "The user name, password or code is not right."
    assert local_sign_in(page, practice, "tom", "not the password", totp_now(settings, "tom")) == wrong
    code = totp_now(settings, "tom")
    assert local_sign_in(page, practice, "tom", PASSWORD, f"{(int(code) + 1) % 1_000_000:06d}") == wrong
    assert local_sign_in(page, practice, "tom", "still not it", totp_now(settings, "tom")) == wrong
    # The account is locked now: even the right password and code are refused, with 429.
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        shown = local_sign_in(page, practice, "tom", PASSWORD, totp_now(settings, "tom"))
    assert shown == "Too many failed attempts; try again later."
    assert answer.value.status == 429 and int(answer.value.headers["retry-after"]) > 0
    assert trail(practice, "user:tom", "lockout")

    # An admin (password and code) unlocks tom from the users page.
    admin = browser.new_context()
    ada = admin.new_page()
    assert local_sign_in(ada, practice, "ada", PASSWORD, totp_now(settings, "ada")) == ""
    ada.goto(f"{practice.base}/app/admin/users")
    assert ada.get_by_role("row", name=re.compile("^tom ")).get_by_text("locked until").is_visible()
    ada.get_by_role("button", name="Unlock tom").click()
    ada.wait_for_load_state()
    assert not ada.get_by_role("button", name="Unlock tom").count()
    admin.close()

    assert local_sign_in(page, practice, "tom", PASSWORD, totp_now(settings, "tom")) == ""
    assert page.url == f"{practice.base}/app/day"
    assert [e.record_ids for e in trail(practice, "user:ada", "user_unlock")] == [("tom",)]
    context.close()

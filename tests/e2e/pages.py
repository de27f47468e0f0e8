"""What the browser tests share: signing in, the accessibility check with its screenshot."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import PASSWORD, USERS, make_settings, totp_now

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "pages"


def serious_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def accessible_and_shot(page, name: str, full_page: bool = True) -> None:
    """No serious or critical axe violation; the page kept as test-artifacts/pages/<name>."""
    assert serious_violations(page) == []
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)


def sign_in(page, base: str, role: str, workdir: Path | None = None) -> None:
    page.goto(f"{base}/app/day")
    assert page.url.endswith("/app/sign-in")  # signed out: sent to sign in
    page.get_by_label("User name").fill(USERS[role])
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    if workdir is not None:  # a user with a second factor
        settings = make_settings(workdir, database_url=f"sqlite:///{workdir / 'careops.db'}")
        page.get_by_label("Code from your authenticator app").fill(totp_now(settings, USERS[role]))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()

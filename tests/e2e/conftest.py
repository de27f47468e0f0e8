"""The end-to-end tests' browser: Debian's Chromium, driven by Playwright (no browser download)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import API_KEYS, TrainedStore, ensure_users, make_settings
from tests.processes import careops_serving


def chromium() -> str:
    """Debian's Chromium; skipped without it on a user's machine, a failure in CI."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    reason = "no chromium on PATH (apt-get install chromium; .ci/run installs it)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    executable = chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        watched = WatchedBrowser(launched)
        yield watched
        launched.close()
    assert watched.violations == [], watched.violations


class WatchedBrowser:
    """The browser, whose contexts report every Content-Security-Policy violation in their console:
    the pages must work under the policy, so the module fails on any (a context made with
    `watch=False`, for a test that provokes one, is not watched)."""

    def __init__(self, browser: object) -> None:
        self._browser = browser
        self.violations: list[str] = []

    def new_context(self, watch: bool = True, **options: object) -> object:
        context = self._browser.new_context(**options)
        if watch:
            context.on("console", self._note)
        return context

    def _note(self, message: object) -> None:
        if "Content Security Policy" in message.text:
            self.violations.append(f"{message.location.get('url', '')}: {message.text[:90]}")

    def __getattr__(self, name: str) -> object:
        return getattr(self._browser, name)


@pytest.fixture(scope="package")
def server(
    trained_store: TrainedStore, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """One careops server for the page tests (a real `careops serve`), and its working directory."""
    workdir = tmp_path_factory.mktemp("pages")
    ensure_users(make_settings(workdir, database_url=f"sqlite:///{workdir / 'careops.db'}"))
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CAREOPS_")},
        "MLFLOW_TRACKING_URI": trained_store.settings.tracking_uri,
        "CAREOPS_API_KEYS": API_KEYS,
        "CAREOPS_DATABASE_URL": f"sqlite:///{workdir / 'careops.db'}",
    }
    with careops_serving(workdir, environment) as base:
        yield base, workdir

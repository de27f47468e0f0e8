"""A real OpenID provider for the sign-in tests: panva's certified oidc-provider (npm, pinned by
tests/oidc/package-lock.json), run by node on loopback. Its accounts' groups come from a JSON file
the test may rewrite between sign-ins."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.processes import wait_until_ready

HERE = Path(__file__).parent / "oidc"
CLIENT_ID = "careops-tests"
CLIENT_SECRET = "t3st-Client-Secret-0f-the-OpenID-provider-48c1"  # 46 characters: over 128 bits


@dataclass
class IdentityProvider:
    """A running provider: its issuer URL, and the file that holds each account's groups."""

    issuer: str
    groups_file: Path

    def set_groups(self, groups: dict[str, list[str]]) -> None:
        """Each account's groups, as the provider will say at the next sign-in."""
        self.groups_file.write_text(json.dumps(groups), encoding="utf-8")


def node_or_skip() -> str:
    """node, with the provider installed; skipped on a user's machine without them, a failure in CI."""
    node = shutil.which("node")
    if node and (HERE / "node_modules" / "oidc-provider").is_dir():
        return node
    reason = "no node or no tests/oidc/node_modules (npm ci --prefix tests/oidc; make test and .ci/run do)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@contextmanager
def identity_provider(
    port: int, redirect_uri: str, groups: dict[str, list[str]], workdir: Path
) -> Iterator[IdentityProvider]:
    """Start the provider on 127.0.0.1:`port` for one client whose callback is `redirect_uri`."""
    node = node_or_skip()
    provider = IdentityProvider(f"http://127.0.0.1:{port}", workdir / "groups.json")
    provider.set_groups(groups)
    environment = {
        **os.environ,
        "OIDC_PORT": str(port),
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_REDIRECT_URI": redirect_uri,
        "OIDC_GROUPS_FILE": str(provider.groups_file),
    }
    log_path = workdir / "identity-provider.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [node, str(HERE / "provider.mjs")],
            cwd=HERE,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_ready(
            process, f"{provider.issuer}/.well-known/openid-configuration", 30, log_path.read_text
        )
        yield provider
    finally:
        process.terminate()
        process.wait(timeout=10)

"""Single sign-on's rules without a provider: groups to role and scope, the set-up refused at start-up
with the reason, and a callback that no browser of ours started refused before the provider is
asked anything. The sign-in itself, through a real provider in a real browser, is in
tests/e2e/test_sign_in_browser.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from config import audit_url
from data.stores.audit import AuditStore
from services.access.group_roles import GroupMappingError, NoRoleError, parse_group_mapping, role_scope
from services.access.single_sign_on import check_configuration
from serving.app import create_app
from tests.helpers import make_settings

MAPPING = parse_group_mapping(
    json.dumps(
        {
            "north": {"role": "scheduler", "clinics": ["C01"]},
            "south": {"role": "scheduler", "clinics": ["C02", "C03"]},
            "roaming": {"role": "scheduler"},
            "billing": {"role": "biller", "payers": ["P1"]},
            "it": {"role": "admin"},
        }
    )
)
SECRET = "a-Client-Secret-of-well-over-128-bits-1234"


def test_groups_give_one_role_and_the_union_of_their_scopes() -> None:
    both = role_scope(["north", "south", "unmapped"], MAPPING)
    assert (both.role, both.clinics, both.payers) == ("scheduler", frozenset({"C01", "C02", "C03"}), None)
    assert both.groups == ("north", "south")
    assert role_scope(["north", "roaming"], MAPPING).clinics is None  # a group with no list: every clinic
    assert role_scope(["billing"], MAPPING).payers == frozenset({"P1"})
    admin = role_scope(["north", "billing", "it"], MAPPING)  # an admin group wins over the rest
    assert (admin.role, admin.clinics, admin.payers) == ("admin", None, None)
    with pytest.raises(NoRoleError, match="no role"):
        role_scope(["unmapped"], MAPPING)
    with pytest.raises(NoRoleError, match="more than one role"):
        role_scope(["north", "billing"], MAPPING)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[1]", "must be an object"),
        ("{", "not JSON"),
        ('{"g": {"role": "root"}}', "role must be one of"),
        ('{"g": {"role": "scheduler", "clinics": "C01"}}', "clinics must be a list"),
        ('{"g": {"role": "biller", "payer": ["P1"]}}', "unknown field(s) payer"),
    ],
)
def test_a_mapping_that_is_not_valid_is_refused_saying_where(text: str, says: str) -> None:
    with pytest.raises(GroupMappingError) as refused:
        parse_group_mapping(text)
    assert says in str(refused.value)


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"oidc_issuer": "http://idp.example.org"}, "must be an https URL"),
        ({"oidc_client_id": None}, "CAREOPS_OIDC_CLIENT_ID is needed"),
        ({"oidc_client_secret": "short-secret"}, "under 128 bits"),
        ({"oidc_scopes": "profile groups"}, "must include openid"),
        ({"oidc_groups": '{"g": {"role": "owner"}}'}, "role must be one of"),
    ],
)
def test_the_service_refuses_to_start_on_an_unsafe_set_up(tmp_path: Path, overrides: dict, says: str) -> None:
    values = {
        "oidc_issuer": "https://idp.example.org",
        "oidc_client_id": "careops",
        "oidc_client_secret": SECRET,
    }
    settings = make_settings(tmp_path, **{**values, **overrides})
    with pytest.raises(ValueError) as refused:
        create_app(settings)
    assert says in str(refused.value) and "short-secret" not in str(refused.value)
    check_configuration(make_settings(tmp_path, **values))  # and the same set-up, made safe, passes


def test_a_callback_no_browser_of_ours_started_is_refused(tmp_path: Path) -> None:
    # The issuer is a closed port: nothing here may need the provider.
    settings = make_settings(
        tmp_path, oidc_issuer="http://127.0.0.1:9", oidc_client_id="careops", oidc_client_secret=SECRET
    )
    with TestClient(create_app(settings)) as client:
        form = client.get("/app/sign-in").text
        assert 'href="/app/sso/start"' in form and "Sign in with your organisation" in form
        forged = client.get("/app/sso/callback", params={"code": "stolen-code", "state": "guessed"})
        assert forged.status_code == 400 and "began in another browser" in forged.text
        assert "stolen-code" not in forged.text and "careops_session" not in forged.headers.get(
            "set-cookie", ""
        )
        away = client.get("/app/sso/start", follow_redirects=False)
        assert away.status_code == 502 and "cannot be reached" in away.text
        client.app.state.careops.services.audit.flush()
    failed = [
        s.entry for s in AuditStore(audit_url(settings)).entries() if s.entry.action == "sign_in_failed"
    ]
    assert [e.detail["why"] for e in failed] == [
        "sso: the sign-in had expired or began in another browser; please sign in again"
    ]

"""Every page route, fuzzed (hypothesis, a fixed seed, about a minute): its query parameters, form
fields, path parameters and uploads get text of any shape, huge and negative numbers, and bytes, sent
by a signed-in admin with the session's real CSRF token half of the time. No answer is a 500."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving.app import ROUTERS, create_app
from tests.bodies import sign_in_form
from tests.helpers import TrainedStore, ensure_users

EXAMPLES_PER_ROUTE = 50
SKIPPED = {"/app/sign-out"}  # ends the session the fuzz runs in; tested on its own elsewhere

values = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["", "0", "-1", "9223372036854775808", "1e309", "NaN", "2027-02-30", "../../etc/passwd",
                     "<script>alert(1)</script>", "{{7*7}}", "=HYPERLINK(\"x\")", "\x00", "C01", "all"]),
)  # fmt: skip
uploads = st.one_of(
    st.binary(max_size=2048),
    st.just(b"claim_id,payer_id\n" + b"[" * 5000 + b"\n"),
    st.just(b"ISA*00*" + b"~" * 100),
)


@pytest.fixture(scope="module")
def admin(trained_store: TrainedStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("page-fuzz")
    app_settings = trained_store.settings.model_copy(
        update={"database_url": f"sqlite:///{root / 'careops.db'}"}
    )
    ensure_users(app_settings)
    with TestClient(create_app(app_settings), raise_server_exceptions=False) as client:
        sign_in_form(client, "admin")
        yield client


def page_routes() -> list[tuple[str, str, APIRoute]]:
    found = []
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.path.startswith("/app") and route.path not in SKIPPED:
                found.extend((route.path, method, route) for method in sorted(route.methods))
    assert len(found) >= 20, found  # every page route, or the fuzz would pass on nothing
    return found


@pytest.mark.parametrize(
    ("path", "method", "route"), page_routes(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_no_page_route_answers_500_whatever_it_is_sent(
    admin: TestClient, path: str, method: str, route
) -> None:
    query, form = _fields(route.dependant, "query_params"), _fields(route.dependant, "body_params")
    path_names = _fields(route.dependant, "path_params")

    @settings(max_examples=EXAMPLES_PER_ROUTE, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        url = path
        for name in path_names:
            url = url.replace(
                "{" + name + "}", data.draw(st.text(alphabet="0123456789-x", min_size=1, max_size=22))
            )
        params = {n: data.draw(values) for n in query if data.draw(st.booleans())}
        fields = {n: data.draw(values) for n in form if n != "csrf" and data.draw(st.booleans())}
        files = {}
        for name in form:
            if name.endswith("_file"):
                fields.pop(name, None)
                files[name] = ("fuzz.csv", data.draw(uploads))
        if data.draw(st.booleans()):
            fields["csrf"] = _session_csrf(admin)
        response = admin.request(method, url, params=params, data=fields or None, files=files or None,
                                 follow_redirects=False)  # fmt: skip
        assert response.status_code < 500, (method, url, response.status_code)

    fuzz()


def _session_csrf(client: TestClient) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/app/admin/sessions").text)
    if found is None:  # the session was ended by a fuzzed form (a revoke, a disable): sign in again
        sign_in_form(client, "admin")
        found = re.search(r'name="csrf" value="([^"]+)"', client.get("/app/admin/sessions").text)
    return found.group(1)


def _fields(dependant, kind: str) -> list[str]:
    """The names of a route's fields of one kind, its dependencies' included (the role and CSRF
    dependencies read the form too)."""
    names = [field.alias for field in getattr(dependant, kind)]
    for sub in dependant.dependencies:
        names += [n for n in _fields(sub, kind) if n not in names]
    return names

"""The OpenAPI document tells the truth: schemathesis fuzzes every operation and checks each answer.

Bounded for `make test`: a fixed seed and a few dozen examples per operation.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from serving.app import create_app
from tests.helpers import ADMIN, TrainedStore

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def api_schema(trained_store: TrainedStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    database = f"sqlite:///{tmp_path_factory.mktemp('openapi') / 'careops.db'}"
    app = create_app(trained_store.settings.model_copy(update={"database_url": database, "max_batch": 20}))
    with TestClient(app):  # runs the lifespan: stores open, models loaded
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


EXAMPLES_PER_OPERATION = 40


def test_every_answer_matches_the_document(api_schema) -> None:
    """Each operation gets generated requests (valid and not); every answer must match the document."""
    failures: dict[str, str] = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=ADMIN, checks=CHECKS)

        try:
            run()
        except Exception as error:  # collect every operation's failure, then report them together
            failures[operation.label] = f"{type(error).__name__}: {str(error)[:1500]}"
    assert len(operations) >= 10
    assert failures == {}


def test_the_document_declares_the_error_shape_and_the_fhir_body(api_schema) -> None:
    document = api_schema.raw_schema
    score = document["paths"]["/v1/noshow/score"]["post"]["responses"]
    assert {"401", "403", "413", "422", "503"} <= set(score)
    assert score["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    fhir = document["paths"]["/fhir/Appointment/$no-show-risk"]["post"]
    assert fhir["requestBody"]["content"]["application/fhir+json"]["schema"]["properties"]["entry"]
    assert "HTTPValidationError" not in document["components"]["schemas"]

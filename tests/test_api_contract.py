"""The API contract: the OpenAPI document covers every route, and generated requests never get a 5xx."""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mes.api.openapi import build_document

API_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def api_routes(app) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(method, OpenAPI path) for every API rule in the app's URL map."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = rule.rule
            for argument in rule.arguments:
                converter = rule._converters[argument].__class__.__name__
                path = path.replace(f"<{'int:' if converter == 'IntegerConverter' else ''}{argument}>",
                                    "{" + argument + "}")
            routes |= {(method, path) for method in rule.methods & API_METHODS}
    return routes


def test_openapi_document_describes_exactly_the_routes_of_the_app(client, app) -> None:
    document = client.get("/api/v1/openapi.json").json
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert documented == api_routes(app)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                schema = response["content"]["application/json"]["schema"]
                assert schema, f"{method} {path} {status} has an empty schema"


# Built from the registered operations, exactly as /api/v1/openapi.json serves it.
schema = schemathesis.openapi.from_dict(build_document())


@pytest.fixture
def supervisor_headers(auth_header):  # type: ignore[no-untyped-def]
    return auth_header("supervisor")


# Examples per operation; CI's second (PostgreSQL) pass asks for fewer to stay inside its time budget.
EXAMPLES = int(os.environ.get("MES_CONTRACT_EXAMPLES", "100"))


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_generated_requests_never_get_a_server_error_and_every_answer_matches_its_schema(
        case, live_server, supervisor_headers) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(base_url=live_server, headers=supervisor_headers, checks=[
        not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance])

"""The JSON API against its own OpenAPI document (``GET /api/v1/openapi.json``), with
schemathesis: with the unit's valid API key and with invalid ones.

Checks on every response: not a server error; a status code, content type and body that the
document declares. And, as for the forms (test_forms_property.py): a refusal (status ≥ 400)
changes nothing in the database. Refusals of the API are not audited (neither a missing key
nor a bad file): like a refused form, they roll back with everything else.
"""

from __future__ import annotations

import os
import re

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from kontroll.cases.openapi import XLSX, openapi_document
from tests.support.app import make_test_app
from tests.support.scene import Scene, case_list, diff, table_rows

pytestmark = pytest.mark.fuzz

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
#: per test; twice the forms' default (KONTROLL_FUZZ_EXAMPLES, 25): one route, three tests
EXAMPLES = 2 * int(os.environ.get("KONTROLL_FUZZ_EXAMPLES", "25"))
HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much,
          HealthCheck.data_too_large]
#: shrinking a failure replays many requests (see the forms test): off unless asked for
SHRINK = [Phase.shrink] if os.environ.get("KONTROLL_FUZZ_SHRINK") == "1" else []
#: the document's examples (a real case list for IFO-FS) and generated cases
WITH_EXAMPLES = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=HEALTH,
                         phases=[Phase.explicit, Phase.generate, Phase.target, *SHRINK])
#: generated cases with extra strategies (schemathesis refuses ``given`` with the examples)
GENERATED = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=HEALTH,
                     phases=[Phase.generate, Phase.target, *SHRINK])


#: The document as the app serves it. Loaded at import (schemathesis builds the tests from
#: it), from an app without a database: the document route needs none. Each test then calls
#: its own app, on the test database (``case.call(app=...)``). (``schemathesis.pytest.
#: from_fixture`` would load it per test, but fails on pytest 9: it sets ``Node._nodeid``.)
_DOC_APP = make_test_app("sqlite://")
# an XLSX body is bytes, sent as they are
schemathesis.serializer.alias(XLSX, "application/octet-stream")
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _DOC_APP)


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?(\w+)>", r"{\1}", rule)


def test_the_document_is_valid_openapi_and_served_without_login(app: Flask, client) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json() == openapi_document()
    loaded = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    loaded.validate()  # against the OpenAPI 3.1 meta-schema; raises on an invalid document
    assert loaded.raw_schema["openapi"].startswith("3.")


def test_every_api_route_is_documented(app: Flask) -> None:
    documented = {(path, method.upper()) for path, ops in openapi_document()["paths"].items() for method in ops}
    routes = {(_openapi_path(r.rule), m) for r in app.url_map.iter_rules() if r.rule.startswith("/api/")
              for m in (r.methods or set()) - {"HEAD", "OPTIONS"}}
    assert routes - documented == set(), "API routes missing from kontroll/cases/openapi.py"
    assert documented - routes == set(), "the document describes routes that do not exist"


def _call_and_check(app: Flask, case: schemathesis.Case, headers: dict[str, str]) -> int:
    before = table_rows(app)
    response = case.call(app=app, headers=headers)
    case.validate_response(response, checks=CHECKS, headers=headers)
    event(f"{case.method} {case.operation.path}: {response.status_code}")
    if response.status_code >= 400:
        changes = diff(before, table_rows(app))
        assert not changes, f"refused ({response.status_code}) {case.method} {case.formatted_path} changed: {changes}"
    return response.status_code


@schema.parametrize()
@WITH_EXAMPLES
def test_api_as_documented_with_a_valid_key(app: Flask, scene: Scene, case: schemathesis.Case) -> None:
    """The key of IFO-FS, everything else as schemathesis makes it from the document."""
    _call_and_check(app, case, {"Authorization": f"Bearer {scene.api_token}"})


@schema.parametrize()
@schema.given(unit=st.sampled_from(["IFO-FS", "IFO-FS", "ifo-fs", None]), csv=st.booleans())
@GENERATED
def test_api_with_the_units_key(app: Flask, scene: Scene, case: schemathesis.Case, unit: str | None,
                                csv: bool) -> None:
    """The key of IFO-FS: mostly against its own unit (else the generated code), sometimes with
    a real case list as the body, so that imports succeed as well as fail."""
    if case.operation.path.startswith("/api/v1/enheter/"):
        if unit is not None:
            case.path_parameters = {**(case.path_parameters or {}), "code": unit}
        if csv and case.media_type == "text/csv":
            case.body = case_list(4).decode()
    _call_and_check(app, case, {"Authorization": f"Bearer {scene.api_token}"})


INVALID = st.one_of(
    st.sampled_from(["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer x", "Token abc"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=300).map(lambda t: f"Bearer {t}"),
    st.integers(195, 260).map(lambda n: "Bearer " + "k" * n),
)


@schema.parametrize()
@schema.given(kind=st.sampled_from(["other unit", "revoked", "garbage", "garbage", "none"]), garbage=INVALID)
@GENERATED
def test_api_with_invalid_keys(app: Flask, scene: Scene, case: schemathesis.Case, kind: str, garbage: str) -> None:
    """Another unit's key, a revoked key, malformed headers, no header: always 401 (or a 404
    for an address that does not exist), never a change."""
    if kind == "other unit":
        headers = {"Authorization": f"Bearer {scene.int_api_token}"}
    elif kind == "revoked":
        headers = {"Authorization": f"Bearer {scene.revoked_api_token}"}
    elif kind == "garbage":
        headers = {"Authorization": garbage}
    else:
        headers = {}
    if case.operation.path.startswith("/api/v1/enheter/"):
        case.path_parameters = {**(case.path_parameters or {}), "code": "IFO-FS"} if kind != "garbage" else \
            case.path_parameters
        if case.headers:
            case.headers.pop("Authorization", None)
    status = _call_and_check(app, case, headers)
    if case.operation.path.startswith("/api/v1/enheter/"):
        assert status in (400, 401, 404), status

"""The projector's HTTP API (/lag, /health, /ready): its errors in the services' shape."""

from __future__ import annotations

from litestar.testing import TestClient

from tests.support.api import http_settings, projector_api
from tests.support.embedded import embedded_system


def client() -> TestClient:
    return TestClient(projector_api(embedded_system(), http_settings()))


def test_lag_answers_before_the_worker_follows_a_generation():
    with client() as c:
        r = c.get("/lag")
    assert r.status_code == 200 and r.json()["generation"] is None


def test_a_malformed_since_is_a_400_in_the_error_shape():
    """Found by the fuzzer: litestar's own body, {"status_code", "detail"}."""
    with client() as c:
        r = c.get("/lag", params={"since": "true"})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request" and "since" in r.json()["message"]


def test_an_unknown_path_or_method_is_in_the_error_shape():
    with client() as c:
        assert c.get("/nope").json()["error"] == "not_found"
        r = c.delete("/health")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"


def test_its_document_says_a_400_is_in_the_error_shape():
    with client() as c:
        doc = c.get("/schema/openapi.json").json()
    assert doc["paths"]["/lag"]["get"]["responses"]["400"]["content"]["application/json"][
        "schema"] == {"$ref": "#/components/schemas/ErrorBody"}

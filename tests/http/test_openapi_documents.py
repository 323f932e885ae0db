"""What the services' OpenAPI documents say about requests and answers: what the API
enforces and answers, no less (tests/http/test_api_fuzz.py fuzzes the APIs against them)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from shared.config import Settings
from shared.services import NAMES
from tests.support.api import service_apps
from tests.support.embedded import embedded_system
from tests.support.tokens import ALICE, OPERATOR, SECRET


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    apps = service_apps(embedded_system(), Settings(token_secret=SECRET))
    docs = {}
    for name in NAMES:
        with TestClient(apps[name]) as c:
            docs[name] = c.get("/schema/openapi.json").json()
    return docs


def test_a_request_body_refuses_unknown_fields_in_the_document_too(documents):
    request = documents["booking"]["components"]["schemas"]["BookingRequest"]
    assert request["additionalProperties"] is False


def test_constraints_inside_lists_and_mappings_are_documented(documents):
    booking = documents["booking"]["components"]["schemas"]["BookingRequest"]
    assert booking["properties"]["seat_ids"]["items"] == {
        "type": "string", "minLength": 1, "maxLength": 16}
    show = documents["theatre"]["components"]["schemas"]["ShowRequest"]
    assert show["properties"]["prices"]["propertyNames"] == {
        "enum": ["Premium", "Recliner", "Regular"]}
    assert show["properties"]["prices"]["additionalProperties"]["maximum"] == 10_000_000


def test_every_component_a_document_refers_to_is_in_it(documents):
    for doc in documents.values():
        refs = str(doc).split("'#/components/schemas/")[1:]
        assert refs
        for ref in (part.split("'")[0] for part in refs):
            assert ref in doc["components"]["schemas"], ref


def test_a_seat_id_the_document_refuses_is_refused(api):
    """Found by the fuzzer: an empty seat id, valid by the document before, was refused."""
    body = {"show_id": "0", "seat_ids": [""], "payment_method": "pm_card_visa"}
    r = api.booking.post("/bookings", json=body, headers={**ALICE, "Idempotency-Key": "k"})
    assert r.status_code == 400 and r.json()["extra"][0]["key"] == "seat_ids[0]"


def error_schemas(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(operation, status, the response body's schema, resolved) of every 4xx and 5xx."""
    found = []
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    ref = schema.get("$ref", "").removeprefix("#/components/schemas/")
                    found.append((f"{method} {path}", status,
                                  doc["components"]["schemas"][ref] if ref else schema))
    return found


def test_every_documented_error_has_the_error_shape(documents):
    """Found by the fuzzer: litestar documents its own 400 body ({"status_code", "detail"})
    for a route that does not list 400, while the services answer {"error", "message"}."""
    for doc in documents.values():
        for operation, status, schema in error_schemas(doc):
            assert {"error", "message"} <= set(schema.get("required", ())), (operation, status)


def test_every_operation_taking_a_body_documents_413(documents):
    """Found by the fuzzer: withdrawing 2,000 seats at once is a 413, undocumented."""
    for doc in documents.values():
        for path, item in doc["paths"].items():
            for method, operation in item.items():
                if "requestBody" in operation:
                    assert "413" in operation["responses"], f"{method} {path}"


def test_a_body_over_the_request_limit_is_413_where_no_larger_one_is_allowed(api, settings):
    body = {"seat_ids": ["A1"] * settings.limits.max_request_bytes, "reason": "broken"}
    r = api.theatre.post("/shows/show-1/withdrawn-seats", json=body, headers=OPERATOR)
    assert r.status_code == 413 and r.json()["error"] == "request_too_large"


def test_a_datetime_is_documented_as_one(documents):
    """Found by the fuzzer: msgspec documents a datetime as any string, and "" was
    refused as malformed."""
    change = documents["pricing"]["components"]["schemas"]["RulesChange"]
    assert {"type": "string", "format": "date-time"} in change["properties"]["effective_from"]["anyOf"]

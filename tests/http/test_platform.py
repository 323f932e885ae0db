"""What every service has: limits, errors, health, readiness and its OpenAPI document."""

import pytest
from litestar.testing import TestClient

from booking.http import create_app as booking_app
from inventory.http import create_app as inventory_app
from payment.http import create_app as payment_app
from projections.queries import InMemoryQueries
from tests.support.embedded import embedded_system
from tests.support.tokens import ALICE
from theatre.http import create_app as theatre_app

APPS = {"booking": booking_app, "inventory": inventory_app, "payment": payment_app,
        "theatre": theatre_app}


def client(settings, name="booking", readiness=None):
    system = embedded_system()
    service = getattr(system, name)
    return TestClient(APPS[name](service, settings, readiness=readiness))


def test_oversized_body_is_413(api, settings):
    body = {"show_id": "show-1", "seat_ids": ["A1"], "payment_method": "pm_card_visa",
            "padding": "x" * settings.limits.max_request_bytes}
    r = api.booking.post("/bookings", json=body, headers={**ALICE, "Idempotency-Key": "k"})
    assert r.status_code == 413
    assert r.json()["error"] == "request_too_large"
    assert str(settings.limits.max_request_bytes) in r.json()["message"]


def test_unexpected_errors_do_not_leak(api, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("password=hunter2 at db-host-7")

    monkeypatch.setattr(InMemoryQueries, "customer_bookings", broken)
    r = api.booking.get("/bookings", headers=ALICE)
    assert r.status_code == 500
    assert r.json()["error"] == "internal_error"
    assert "hunter2" not in r.text and "RuntimeError" not in r.text


def test_unknown_route_is_a_json_404(api):
    r = api.booking.get("/nowhere", headers=ALICE)
    assert r.status_code == 404 and r.json()["error"] == "not_found"


@pytest.mark.parametrize("name", APPS)
def test_health_and_ready_need_no_token(settings, name):
    with client(settings, name) as c:
        assert c.get("/health").json() == {"status": "alive"}
        r = c.get("/ready")
        assert r.status_code == 200 and r.json() == {"ready": True, "checks": {}}


def test_ready_is_503_when_a_check_fails(settings):
    checks = {"database": True, "kafka_partitions_assigned": False}
    with client(settings, readiness=lambda: checks) as c:
        r = c.get("/ready")
        assert r.status_code == 503
        assert r.json() == {"ready": False, "checks": checks, "error": "not_ready",
                            "message": "failing: kafka_partitions_assigned"}
        assert c.get("/health").status_code == 200


def test_ready_is_503_when_the_probe_itself_fails(settings):
    def probe():
        raise ConnectionError("down")

    with client(settings, readiness=probe) as c:
        assert c.get("/ready").status_code == 503


@pytest.mark.parametrize("name", APPS)
def test_openapi_document_and_docs_page(settings, name):
    with client(settings, name) as c:
        assert c.get("/schema/openapi.json").status_code == 200
        for page in ("/schema", "/schema/swagger"):
            r = c.get(page)
            assert r.status_code == 200 and "text/html" in r.headers["content-type"]


def test_openapi_lists_the_booking_endpoints(settings):
    with client(settings) as c:
        doc = c.get("/schema/openapi.json").json()
    paths = doc["paths"]
    assert set(paths["/bookings"]) == {"get", "post"}
    assert "get" in paths["/bookings/{booking_id}"]
    assert "post" in paths["/bookings/{booking_id}/payment-attempts"]
    assert "post" in paths["/bookings/{booking_id}/cancel"]
    assert {"/health", "/ready"} <= set(paths)
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    create = paths["/bookings"]["post"]
    assert {"200", "202", "409"} <= set(create["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])
    named = {p["name"] for ops in paths.values() for op in ops.values()
             for p in op.get("parameters", [])}
    assert not named & {"api", "request", "caller"}  # the handlers' plumbing is not API


@pytest.mark.parametrize("name", APPS)
def test_each_handler_takes_at_most_one_dependency(settings, name):
    """litestar resolves two or more dependencies of a handler in an anyio task group, a
    task each (costly under load): handlers take one (shared.http.app)."""
    app = APPS[name](getattr(embedded_system(), name), settings)
    checked = 0
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            provided = handler.resolve_dependencies()
            taken = [p for p in handler.parsed_fn_signature.parameters if p in provided]
            assert len(taken) <= 1, f"{handler.handler_name} takes {taken}"
            checked += 1
    assert checked

"""The operators' saga endpoints on the projector's API, over the embedded system: a
booking's path across the services, and the stuck bookings (with the gauge)."""

from datetime import timedelta

import pytest
from litestar.testing import TestClient

from projections.metrics import watch_stuck
from projections.operations import Operations
from projections.ops_http import create_app, rules
from projections.queries import InMemoryQueries
from shared.config import Settings
from shared.observability.settings import ObservabilitySettings
from tests.support.scrape import samples, value
from tests.support.tokens import ALICE, OPERATOR, SECRET


@pytest.fixture
def ops_api(api):
    settings = Settings(token_secret=SECRET, observability=ObservabilitySettings(
        stuck_pending_s=5, stuck_margin_s=5))
    views = InMemoryQueries(api.system.views, refresh=api.system.project_all)
    ops = Operations(views, rules(settings), stores=api.system.apps, now=api.clock.now)
    with TestClient(create_app(ops, settings, None, [])) as client:
        yield client, ops


def test_a_bookings_path_across_the_services(api, ops_api):
    client, _ = ops_api
    api.open_show()
    booking_id = api.book().json()["booking_id"]
    api.settle()
    r = client.get(f"/ops/bookings/{booking_id}/trace", headers=OPERATOR)
    assert r.status_code == 200, r.text
    path = r.json()
    assert (path["status"], path["stuck"]) == ("CONFIRMED", None)
    steps = {(s["service"], s["event"]) for s in path["steps"]}  # (the fake clock stands still)
    assert {("booking", "BookingRequested"), ("inventory", "SeatsReserved"),
            ("payment", "PaymentSucceeded"), ("inventory", "SeatsBooked"),
            ("booking", "BookingConfirmed")} <= steps
    assert path["steps"][0]["after_ms"] == 0
    assert sum(s["after_ms"] for s in path["steps"]) == path["took_ms"]


def test_the_path_is_for_operators_and_of_a_known_booking(api, ops_api):
    client, _ = ops_api
    path = "/ops/bookings/00000000-0000-0000-0000-000000000000/trace"
    assert client.get(path, headers=ALICE).status_code == 403
    assert client.get(path).status_code == 401
    r = client.get(path, headers=OPERATOR)
    assert r.status_code == 404 and r.json()["error"] == "booking_not_found"
    assert client.get("/ops/stuck-bookings", headers=ALICE).status_code == 403
    assert client.get("/metrics").status_code == 200  # open to scrapers


def test_a_booking_without_inventorys_answer_is_listed_stuck_and_counted(api, ops_api):
    client, ops = ops_api
    unwatch = watch_stuck(ops)
    try:
        api.open_show()
        booking_id = api.book().json()["booking_id"]
        api.system.project_all()  # the request is in the views; inventory never hears of it
        assert client.get("/ops/stuck-bookings", headers=OPERATOR).json()["bookings"] == []
        api.clock.advance(timedelta(seconds=6))
        listed = client.get("/ops/stuck-bookings", headers=OPERATOR).json()
        assert [(b["booking_id"], b["status"], b["waiting_for"]) for b in listed["bookings"]] \
            == [(booking_id, "PENDING", "inventory")]
        assert listed["thresholds_s"]["pending"] == 5
        scraped = samples(client.get("/metrics").text)
        assert value(scraped, "cinema_stuck_bookings", state="PENDING") == 1
        assert value(scraped, "cinema_stuck_bookings", state="PAYMENT_PENDING") == 0
        api.settle()  # inventory answers: the saga moves on
        assert client.get("/ops/stuck-bookings", headers=OPERATOR).json()["bookings"] == []
    finally:
        unwatch()

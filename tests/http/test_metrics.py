"""/metrics: open to scrapers, requests by route template, the saga's decisions counted."""

from shared.messaging.inbox import Inbox
from tests.support.scrape import names, samples, value
from tests.support.tokens import ALICE


def scrape(client) -> dict:
    r = client.get("/metrics")  # no token: scrapers carry none
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return samples(r.text)


def test_requests_are_counted_by_route_template_and_status(api):
    api.open_show()
    before = scrape(api.booking)
    booking_id = api.book().json()["booking_id"]
    api.settle()
    api.booking_of(booking_id)
    assert api.booking.get("/bookings", headers={}).status_code == 401
    after = scrape(api.booking)
    route = "/bookings/{booking_id}"
    for name, labels in [
        ("cinema_http_requests_total", {"route": "/bookings", "method": "POST", "status": "202"}),
        ("cinema_http_requests_total", {"route": route, "method": "GET", "status": "200"}),
        ("cinema_http_requests_total", {"route": "/bookings", "method": "GET", "status": "401"}),
        ("cinema_http_request_duration_seconds_count", {"route": "/bookings", "method": "POST"}),
    ]:
        assert value(after, name, service="booking", **labels) == \
            value(before, name, service="booking", **labels) + 1, (name, labels)
    # No raw path (no booking id) in any label value.
    assert not any(booking_id in v for _, ls in after for _, v in ls)


def test_the_sagas_decisions_are_counted(api):
    api.open_show()
    before = scrape(api.inventory)  # one registry per process: every service's counters
    api.book(seats=["A1"], key="k1")
    api.book(seats=["A1"], key="k2", who=ALICE)  # the seat is taken: rejected or refused
    api.settle()
    after = scrape(api.inventory)
    delta = lambda name, **ls: value(after, name, **ls) - value(before, name, **ls)
    assert delta("cinema_holds_total", outcome="placed") == 1
    assert delta("cinema_holds_total", outcome="booked") == 1
    assert delta("cinema_payments_total", outcome="succeeded") == 1
    assert delta("cinema_bookings_total", outcome="confirmed") == 1
    assert delta("cinema_message_handling_seconds_count", service="inventory",
                 event="BookingRequested") >= 1
    assert {"process_cpu_seconds_total", "cinema_notifications_total",
            "cinema_dead_letters_total"} - names(after) <= {"cinema_notifications_total",
                                                             "cinema_dead_letters_total"}


def test_a_dead_letter_is_counted_by_service_and_topic(api):
    before = scrape(api.booking)
    assert not Inbox(api.system.booking).receive("e2eabc.inventory.events", 0, 0, b"{not json")
    after = scrape(api.booking)
    labels = {"service": "booking", "topic": "inventory.events"}
    assert value(after, "cinema_dead_letters_total", **labels) == \
        value(before, "cinema_dead_letters_total", **labels) + 1

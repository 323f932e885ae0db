"""What an operator sees of the distributed system: every process's /metrics."""

from __future__ import annotations

import os
import signal
import time
import uuid

import httpx
import pytest

from shared.observability.trace_file import read_spans
from tests.support.scrape import samples, value

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def observed(postgres_server, kafka_bootstrap, redis_server):
    from tests.e2e.harness import Distributed
    from tests.support.paths import E2E_LOGS

    # A booking PENDING for 2 s is stuck here (30 s as shipped).
    system = Distributed.create(postgres_server, E2E_LOGS, stuck_pending_s="2")
    system.trace_everything()
    try:
        yield system.start()
    finally:
        system.close()


def confirmed_bookings(system, n: int = 3) -> list[str]:
    show = f"show-{uuid.uuid4().hex[:8]}"
    system.open_show(show)
    ids = [system.book("ann", show, [f"A{i + 1}"]).json()["booking_id"] for i in range(n)]
    for booking_id in ids:
        assert system.wait_for("ann", booking_id)["status"] == "CONFIRMED"
    return ids


def scrape(system, process: str) -> dict:
    r = httpx.get(system.local.url(process) + "/metrics", timeout=10)  # no token
    assert r.status_code == 200, r.text
    return samples(r.text)


def test_every_process_exports_its_series_after_traffic(observed):
    r = observed.clients["notifications"].put(  # so the confirmations are sent to someone
        "/customers/me/contact", json={"email": "ann@example.com"}, headers=observed.auth("ann"))
    assert r.status_code == 200, r.text
    confirmed_bookings(observed)
    assert observed.views_caught_up(["booking", "inventory", "payment"], timeout=10)
    deadline = time.monotonic() + 15  # the notification service sends every second
    while not value(scrape(observed, "notifications"), "cinema_notifications_total",
                    state="sent"):
        assert time.monotonic() < deadline, "no notification counted as sent"
        time.sleep(0.2)
    found = {p: scrape(observed, p) for p in observed.local.processes}
    positive = {
        "booking": [
            ("cinema_http_requests_total", {"route": "/bookings", "method": "POST",
                                            "status": "202"}),
            ("cinema_http_request_duration_seconds_count", {"route": "/bookings"}),
            ("cinema_messages_consumed_total", {"topic": "inventory.events"}),
            ("cinema_messages_consumed_total", {"topic": "payment.events"}),
            ("cinema_messages_produced_total", {"topic": "booking.events"}),
            ("cinema_message_handling_seconds_count", {"event": "SeatsReserved"}),
            ("cinema_bookings_total", {"outcome": "confirmed"}),
            ("cinema_inbox_position", {"topic": "inventory.events"}),
        ],
        "inventory": [
            ("cinema_holds_total", {"outcome": "placed"}),
            ("cinema_holds_total", {"outcome": "booked"}),
            ("cinema_messages_produced_total", {"topic": "inventory.events"}),
        ],
        "payment": [
            ("cinema_payments_total", {"outcome": "succeeded"}),
            ("cinema_messages_consumed_total", {"topic": "booking.events"}),
        ],
        "pricing": [("cinema_messages_consumed_total", {"topic": "inventory.events"})],
        "notifications": [("cinema_notifications_total", {"state": "sent"}),
                          ("cinema_messages_consumed_total", {"topic": "booking.events"})],
        "theatre": [("cinema_http_requests_total", {"route": "/ready"})],
        "projections": [
            ("cinema_projection_delay_seconds_count", {"stream": "booking"}),
            ("cinema_http_requests_total", {"route": "/lag"}),
            ("process_cpu_seconds_total", {}),
        ],
    }
    for process, series in positive.items():
        for name, labels in series:
            assert value(found[process], name, **labels) > 0, (process, name, labels)
    # Gauges that may be 0 but must be there.
    present = {
        "booking": [("cinema_outbox_backlog_events", {"service": "booking"}),
                    ("cinema_inbox_lag_messages", {"topic": "payment.events"})],
        "projections": [("cinema_projection_lag_events", {"stream": "payment"}),
                        ("cinema_projection_lag_seconds", {"stream": "booking"}),
                        ("cinema_view_lag_seconds", {"view": "bookings"}),
                        ("cinema_view_lag_events", {"view": "seat_maps"})],
    }
    for process, series in present.items():
        for name, labels in series:
            wanted = set(labels.items())
            assert any(n == name and wanted <= ls for n, ls in found[process]), (process, name)


def spans_of(path, trace_id: str, wanted: int = 0, timeout: float = 15.0,
             named: str = "") -> list[dict]:
    """The spans of one trace in the system's trace file, once every process has written
    them (each exports every second, on its own schedule): until ``wanted`` projector
    spans, and a span ``named`` so, are in and every span's parent is (or the time is up)."""
    deadline = time.monotonic() + timeout
    while True:
        spans = [s for s in read_spans(str(path)) if s["trace_id"] == trace_id]
        ids = {s["span_id"] for s in spans}
        projected = [s for s in spans if s["service"] == "projections"]
        whole = all(s["parent_span_id"] in ids for s in spans if s["parent_span_id"])
        found = not named or any(s["name"] == named for s in spans)
        if (len(projected) >= wanted and whole and found) or time.monotonic() > deadline:
            return spans
        time.sleep(0.2)


def ancestors(spans: list[dict], span: dict) -> list[dict]:
    by_id = {s["span_id"]: s for s in spans}
    chain = [span]
    while chain[-1]["parent_span_id"] is not None:
        chain.append(by_id[chain[-1]["parent_span_id"]])  # KeyError: a broken link
    return chain[::-1]


def test_one_booking_is_one_trace_across_every_service(observed):
    r = observed.clients["notifications"].put(  # so the confirmation is sent to someone
        "/customers/me/contact", json={"email": "ann@example.com"}, headers=observed.auth("ann"))
    assert r.status_code == 200, r.text
    show = f"show-{uuid.uuid4().hex[:8]}"
    observed.open_show(show)
    r = observed.book("ann", show, ["A1"])
    booking_id = r.json()["booking_id"]
    assert observed.wait_for("ann", booking_id)["status"] == "CONFIRMED"
    # The booking's trace: the one whose spans name the booking.
    mine = {s["trace_id"] for s in read_spans(str(observed.trace_file))
            if s["attributes"].get("cinema.booking_id") == booking_id}
    deadline = time.monotonic() + 15
    while len(mine) != 1 and time.monotonic() < deadline:
        time.sleep(0.2)
        mine = {s["trace_id"] for s in read_spans(str(observed.trace_file))
                if s["attributes"].get("cinema.booking_id") == booking_id}
    assert len(mine) == 1, f"the booking's spans are in {len(mine)} traces"
    (trace_id,) = mine
    # The confirmation's message is sent by notifications' dispatch, within a second.
    spans = spans_of(observed.trace_file, trace_id, wanted=5, named="notification dispatch")
    # It starts at the request.
    roots = [s for s in spans if s["parent_span_id"] is None]
    assert [(s["name"], s["service"]) for s in roots] == [("POST /bookings", "booking")]
    assert roots[0]["kind"] == "SERVER"
    assert {"booking", "inventory", "payment", "pricing", "notifications",
            "projections"} <= {s["service"] for s in spans}
    assert any(s["kind"] == "CLIENT" and s["name"] == "simulated confirm" for s in spans)
    sent = [s for s in spans if s["service"] == "notifications" and s["kind"] == "CLIENT"]
    assert sent and all(s["name"].endswith(" send") for s in sent)
    # Every span hangs from the request, each hop the child of the one before: the
    # confirmation reached the views through booking, inventory, payment, inventory,
    # booking, in that order.
    confirmed = [s for s in spans if s["name"] == "BookingConfirmed project"]
    assert len(confirmed) == 1
    path = ancestors(spans, confirmed[0])
    services = [s["service"] for s in path]
    hops = [svc for i, svc in enumerate(services) if i == 0 or services[i - 1] != svc]
    assert hops == ["booking", "inventory", "payment", "inventory", "booking", "projections"], \
        [(s["service"], s["name"]) for s in path]
    kinds = [s["kind"] for s in path]
    assert kinds.count("PRODUCER") == 4 and kinds.count("CONSUMER") >= 5, kinds
    starts = [s["start_ns"] for s in path]
    assert starts == sorted(starts), "a child started before its parent"
    for s in spans:
        if s is not roots[0]:
            ancestors(spans, s)  # every span reaches the root


def stuck(system) -> list[dict]:
    r = system.clients["projections"].get("/ops/stuck-bookings",
                                          headers=system.auth("ops", operator=True))
    assert r.status_code == 200, r.text
    return r.json()["bookings"]


def stuck_gauge(system, state: str) -> float:
    return value(scrape(system, "projections"), "cinema_stuck_bookings", state=state)


def test_a_stopped_inventory_leaves_a_booking_stuck_until_it_runs_again(observed):
    show = f"show-{uuid.uuid4().hex[:8]}"
    observed.open_show(show)
    assert stuck(observed) == [] and stuck_gauge(observed, "PENDING") == 0
    inventory = observed.local.procs["inventory"].pid
    os.kill(inventory, signal.SIGSTOP)
    try:
        booking_id = observed.book("bea", show, ["A1"]).json()["booking_id"]
        deadline = time.monotonic() + 20  # the threshold is 2 s
        while not (listed := stuck(observed)):
            assert time.monotonic() < deadline, "never listed as stuck"
            time.sleep(0.2)
        assert [(b["booking_id"], b["status"], b["waiting_for"]) for b in listed] == \
            [(booking_id, "PENDING", "inventory")]
        assert listed[0]["stuck_for_s"] >= 2
        assert stuck_gauge(observed, "PENDING") == 1
        path = observed.clients["projections"].get(
            f"/ops/bookings/{booking_id}/trace", headers=observed.auth("ops", operator=True)).json()
        assert path["stuck"]["waiting_for"] == "inventory"
        assert [s["event"] for s in path["steps"]] == ["BookingRequested"]
    finally:
        os.kill(inventory, signal.SIGCONT)
    assert observed.wait_for("bea", booking_id, timeout=40)["status"] == "CONFIRMED"
    deadline = time.monotonic() + 10
    while stuck(observed):
        assert time.monotonic() < deadline, "still listed once the saga moved on"
        time.sleep(0.2)
    assert stuck_gauge(observed, "PENDING") == 0
    path = observed.clients["projections"].get(
        f"/ops/bookings/{booking_id}/trace", headers=observed.auth("ops", operator=True)).json()
    services = [s["service"] for s in path["steps"]]
    assert path["stuck"] is None and services[0] == "booking" and "inventory" in services
    hold = next(s for s in path["steps"] if s["event"] == "SeatsReserved")
    assert hold["after_ms"] >= 2000  # the hop that waited for inventory
    assert path["trace_id"] is not None  # every trace is kept here

"""What an operator sees of the distributed system: every process's /metrics."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support.scrape import samples, value

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def observed(postgres_server, kafka_bootstrap, redis_server):
    from tests.e2e.harness import Distributed
    from tests.support.paths import E2E_LOGS

    system = Distributed.create(postgres_server, E2E_LOGS)
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
    confirmed_bookings(observed)
    assert observed.views_caught_up(["booking", "inventory", "payment"], timeout=10)
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

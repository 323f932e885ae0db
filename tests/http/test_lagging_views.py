"""Reads while the views lag behind the saga: what a customer polls never goes back.

The views here are projected only when a test says so, stream by stream and a few
events at a time, as a projector catching up would; the saga runs meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from booking.http import create_app as booking_app
from embedded.system import EmbeddedSystem
from inventory.http import create_app as inventory_app
from projections.booking_view import STATUS_RANK
from projections.projector import project
from projections.queries import InMemoryQueries
from projections.sources import read_public
from tests.support.api import LAYOUT, http_settings
from tests.support.embedded import embedded_system
from tests.support.tokens import ALICE, OPERATOR

SEAT_RANK = {"AVAILABLE": 0, "RESERVED": 1, "BOOKED": 2}
STREAMS = ("booking", "inventory", "payment")


@contextmanager
def lagging_system() -> Iterator[tuple[EmbeddedSystem, TestClient, TestClient]]:
    system = embedded_system()
    views = InMemoryQueries(system.views)  # no refresh: the views move only when projected
    s = http_settings()
    with (TestClient(booking_app(system.booking, s, views=views)) as booking,
          TestClient(inventory_app(system.inventory, s, views=views)) as inventory):
        yield system, booking, inventory


def project_some(system: EmbeddedSystem, stream: str, events: int) -> None:
    """The next few events of one stream into the views, as one projector round would."""
    start = system.views.position(stream) + 1
    batch = read_public(system.apps[stream], start, limit=events)
    project(system.views, batch.events)
    if batch.last:
        system.views.set_position(stream, batch.last)


def run_saga(system: EmbeddedSystem) -> None:
    """Relay and deliver until quiet, projecting nothing."""
    while system.relay_all() + system.deliver_all():
        pass


def read(booking: TestClient, inventory: TestClient, booking_id: str) -> tuple[str, str]:
    b = booking.get(f"/bookings/{booking_id}", headers=ALICE)
    s = inventory.get("/shows/show-1/seats", headers=ALICE)
    assert b.status_code == 200 and s.status_code == 200, (b.text, s.text)
    a1 = next(seat for seat in s.json()["seats"] if seat["seat_id"] == "A1")
    return b.json()["status"], a1["state"]


def start_booking(booking: TestClient, inventory: TestClient) -> str:
    r = inventory.put("/shows/show-1/inventory", json=LAYOUT, headers=OPERATOR)
    assert r.status_code == 201, r.text
    body = {"show_id": "show-1", "seat_ids": ["A1"], "payment_method": "pm_card_visa"}
    r = booking.post("/bookings", json=body, headers={**ALICE, "Idempotency-Key": "k1"})
    assert r.status_code == 202, r.text
    return r.json()["booking_id"]


def test_a_booking_not_projected_yet_reads_as_requested_not_ahead_of_the_view():
    with lagging_system() as (system, booking, inventory):
        booking_id = start_booking(booking, inventory)
        run_saga(system)
        assert system.booking.get_booking(booking_id).status == "CONFIRMED"  # the store
        # Nothing projected: the store answers, as the booking and the show began.
        assert read(booking, inventory, booking_id) == ("PENDING", "AVAILABLE")
        # The views catch up one event at a time; every answer is at or past the last.
        project_some(system, "booking", 1)
        project_some(system, "inventory", 1)
        assert read(booking, inventory, booking_id) == ("PENDING", "AVAILABLE")
        for stream in STREAMS:
            project_some(system, stream, 100)
        assert read(booking, inventory, booking_id) == ("CONFIRMED", "BOOKED")


STEPS = st.lists(
    st.one_of(st.just(("saga", 0)), st.just(("read", 0)),
              st.tuples(st.sampled_from(STREAMS), st.integers(1, 3))),
    max_size=30,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS)
def test_polls_never_see_a_booking_or_a_seat_go_back(steps):
    with lagging_system() as (system, booking, inventory):
        booking_id = start_booking(booking, inventory)
        seen = [read(booking, inventory, booking_id)]
        for action, n in [*steps, ("settle", 0), *((s, 100) for s in STREAMS)]:
            if action == "settle":
                run_saga(system)
            elif action == "saga":  # one step: relay what is new, deliver what was relayed
                system.relay_all()
                system.deliver_all()
            elif action == "read":
                seen.append(read(booking, inventory, booking_id))
            else:
                project_some(system, action, n)
        seen.append(read(booking, inventory, booking_id))
        statuses = [STATUS_RANK[b] for b, _ in seen]
        seats = [SEAT_RANK[a] for _, a in seen]
        assert statuses == sorted(statuses), seen
        assert seats == sorted(seats), seen
        assert seen[-1] == ("CONFIRMED", "BOOKED")

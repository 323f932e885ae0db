"""Booking's seat claims shared by its instances through the real Redis (and database):
a seat claimed or held through one instance is refused at once through the other, until
inventory's answer (written by the instance following the show) frees it or the claim
lapses. Redis is advisory: without it, each instance goes on with what it knows itself."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from eventsourcing.persistence import Tracking

from booking.application import BookingService, SeatsTaken
from booking.domain import Booking
from booking.shared_claims import SOLD_TTL, SharedClaims
from shared import contracts as c
from shared.clock import FakeClock
from shared.redis_link import RedisLink

pytestmark = pytest.mark.infra

SHOW = "s1"
Start = Callable[..., BookingService]


@pytest.fixture
def instances(pg_database, redis_server, redis_prefix, endpoints) -> Iterator[tuple[FakeClock, Start]]:
    """``start(url=..., claim_ttl=...)``: a booking instance on the test's database, its
    claims shared through the Redis at ``url`` (the real one by default)."""
    clock, started = FakeClock(), []

    def start(url: str = endpoints.redis_url, claim_ttl: float = 10.0) -> BookingService:
        shared = SharedClaims(RedisLink(url), namespace=redis_prefix, claim_ttl=claim_ttl)
        started.append(BookingService(env=pg_database.eventsourcing_env(), clock=clock,
                                      claim_ttl=claim_ttl, shared_claims=shared))
        return started[-1]

    yield clock, start
    for app in started:
        app.close()


def request(app: BookingService, customer: str, seats: list[str], show: str = SHOW) -> uuid.UUID:
    return app.request_booking(customer, f"key-{customer}", show, seats, "pm_card_visa").booking.id


def refused(app: BookingService, customer: str, seats: list[str]) -> list[str]:
    """The seats named in the refusal; nothing may have been recorded."""
    with pytest.raises(SeatsTaken) as refusal:
        request(app, customer, seats)
    assert app.find(booking_id_of(customer)) is None
    return refusal.value.seat_ids


def booking_id_of(customer: str) -> uuid.UUID:
    """The id of the booking ``request`` makes for this customer (made or not)."""
    return Booking.create_id(customer, f"key-{customer}")


def event_id() -> str:
    return f"inventory/{uuid.uuid4()}/1"


def reserved(clock: FakeClock, booking_id: uuid.UUID, seats: list[str],
             hold: timedelta = timedelta(minutes=10)) -> c.SeatsReserved:
    return c.SeatsReserved(event_id=event_id(), occurred_at=clock.now(), show_id=SHOW,
                           booking_id=booking_id, seat_ids=seats, amount=900 * len(seats),
                           currency="EUR", reserved_until=clock.now() + hold)


def released(clock: FakeClock, booking_id: uuid.UUID, seats: list[str]) -> c.SeatsReleased:
    return c.SeatsReleased(event_id=event_id(), occurred_at=clock.now(), show_id=SHOW,
                           booking_id=booking_id, seat_ids=seats, reason="hold_expired")


def holders(app: BookingService, seats: list[str]) -> dict[str, str]:
    assert app.shared_claims is not None
    return app.shared_claims.holders(SHOW, seats)


def test_a_seat_claimed_through_one_instance_is_refused_through_the_other(instances) -> None:
    _, start = instances
    one, two = start(), start()
    ann = request(one, "ann", ["A1", "A2"])
    assert refused(two, "bob", ["A2", "A3"]) == ["A2"]
    # All or nothing: A3 was claimed neither in Redis nor in two's memory.
    assert holders(two, ["A1", "A2", "A3"]) == {"A1": str(ann), "A2": str(ann)}
    assert two.taken_seats.claimed() == {}
    request(two, "cy", ["A3"])  # so it is free
    # A repeated request is answered as the first time, not refused by its own claims.
    again = one.request_booking("ann", "key-ann", SHOW, ["A1", "A2"], "pm_card_visa")
    assert not again.created and again.booking.id == ann
    again = two.request_booking("ann", "key-ann", SHOW, ["A2", "A1"], "pm_card_visa")
    assert not again.created and again.booking.id == ann
    assert holders(one, ["A1", "A2"]) == {"A1": str(ann), "A2": str(ann)}  # still ann's


def test_a_rejection_written_by_the_follower_frees_the_seats(instances) -> None:
    clock, start = instances
    one, follower = start(), start()
    ann = request(one, "ann", ["A1", "A2"])
    assert refused(follower, "bob", ["A2"]) == ["A2"]
    # Rejected for one seat (ann's hold limit, say): every seat ann claimed is free again.
    follower.handle(c.SeatsRejected(event_id=event_id(), occurred_at=clock.now(), show_id=SHOW,
                                    booking_id=ann, reason="too_many_seats", seat_ids=["A1"]))
    assert holders(follower, ["A1", "A2"]) == {}
    assert follower.find(ann).status.value == "CANCELLED"
    request(follower, "bob", ["A1", "A2"])


def test_holds_and_sales_are_shared_until_a_release(instances, redis_server) -> None:
    clock, start = instances
    one, follower = start(), start()
    ann = request(one, "ann", ["A1"])
    follower.handle(reserved(clock, ann, ["A1"], hold=timedelta(minutes=3)))
    key = follower.shared_claims.key(SHOW, "A1")
    assert 170_000 < redis_server.pttl(key) <= 180_000  # held until reserved_until
    follower.handle(c.SeatsBooked(event_id=event_id(), occurred_at=clock.now(), show_id=SHOW,
                                  booking_id=ann, seat_ids=["A1"]))
    assert SOLD_TTL * 1000 - 60_000 < redis_server.pttl(key) <= SOLD_TTL * 1000
    # Neither instance's memory refuses bob (one never followed the show, the follower's
    # was forgotten as at a rebalance): Redis does, on both.
    follower.taken_seats.forget()
    one.taken_seats.forget()
    assert refused(one, "bob", ["A1"]) == ["A1"]
    assert refused(follower, "bob", ["A1"]) == ["A1"]
    # The theatre cancels the show: inventory releases the sold seat.
    follower.handle(c.SeatsReleased(event_id=event_id(), occurred_at=clock.now(), show_id=SHOW,
                                    booking_id=ann, seat_ids=["A1"], reason="show_cancelled"))
    assert holders(one, ["A1"]) == {}
    request(one, "bob", ["A1"])


def test_redelivered_messages_are_harmless(instances) -> None:
    clock, start = instances
    one, follower = start(), start()
    ann = request(one, "ann", ["A1"])
    hold = reserved(clock, ann, ["A1"])
    release = released(clock, ann, ["A1"])
    position = f"{uuid.uuid4()}:0"
    assert follower.handle(hold, Tracking(position, 1))
    assert follower.handle(release, Tracking(position, 2))
    bob = request(follower, "bob", ["A1"])  # (one's own memory still has ann's claim)
    follower.handle(reserved(clock, bob, ["A1"]), Tracking(position, 3))
    # Read again (after a restart, say): recognised, and ann's release leaves bob's hold.
    assert not follower.handle(release, Tracking(position, 2))
    assert holders(one, ["A1"]) == {"A1": str(bob)}
    # The same fact republished at a new position: written again, the same.
    assert follower.handle(reserved(clock, bob, ["A1"]), Tracking(position, 4))
    assert holders(one, ["A1"]) == {"A1": str(bob)}
    assert refused(start(), "cy", ["A1"]) == ["A1"]  # a third instance knows it from Redis


def test_a_claim_without_an_answer_lapses(instances) -> None:
    _, start = instances
    one, two = start(claim_ttl=0.5), start(claim_ttl=0.5)
    request(one, "ann", ["A1"])
    assert refused(two, "bob", ["A1"]) == ["A1"]
    time.sleep(0.6)
    request(two, "bob", ["A1"])


def test_instances_of_other_deployments_do_not_see_each_others_seats(
    pg_database, redis_prefix, endpoints,
) -> None:
    def instance(namespace: str) -> BookingService:
        shared = SharedClaims(RedisLink(endpoints.redis_url), namespace=namespace)
        return BookingService(env=pg_database.eventsourcing_env(), shared_claims=shared)

    one, other = instance(f"{redis_prefix}a."), instance(f"{redis_prefix}b.")
    try:
        request(one, "ann", ["A1"])
        request(other, "bob", ["A1"])
    finally:
        one.close()
        other.close()


# --- without Redis -----------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mute_server() -> Iterator[str]:
    """A Redis URL whose server accepts connections and never answers (a hung Redis)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield f"redis://127.0.0.1:{s.getsockname()[1]}/0"


def timed(durations: list[float], action: Callable[..., object], *args: object) -> None:
    started = time.monotonic()
    action(*args)
    durations.append(time.monotonic() - started)


@pytest.mark.parametrize("dead", ["refused", "mute"])
def test_without_redis_requests_go_on_with_what_each_instance_knows(
    instances, mute_server, dead,
) -> None:
    clock, start = instances
    url = mute_server if dead == "mute" else f"redis://127.0.0.1:{closed_port()}/0"
    one, two = start(url), start(url)
    durations: list[float] = []
    for n in range(10):
        ann, seat = f"ann{n}", [f"A{n}"]
        timed(durations, request, one, ann, seat)
        # one still knows its own claim; two cannot know it without Redis.
        timed(durations, refused, one, f"bob{n}", seat)
        timed(durations, request, two, f"bob{n}", seat)
        # What the follower hears cannot be written; nothing raises.
        timed(durations, two.handle, reserved(clock, booking_id_of(ann), seat))
    assert max(durations) < 1.0, f"a call took {max(durations):.2f}s"
    assert not one.shared_claims.link.up and not two.shared_claims.link.up
    if dead == "mute":  # a wait per instance, then none for retry_after (1 s)
        assert sum(d > 0.25 for d in durations) <= 4, durations

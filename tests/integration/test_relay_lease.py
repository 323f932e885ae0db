"""The relay lease on a real PostgreSQL: one instance of a service relays at a time, and
another takes over when the holder's session ends, however it ends."""

from __future__ import annotations

import time

import psycopg
import pytest

from shared.messaging.relay_lease import RelayLease, holder_of

pytestmark = pytest.mark.infra


@pytest.fixture
def leases(pg_database):
    made: list[RelayLease] = []

    def lease(name: str = "BookingService.outbox", check_every: float = 0.05) -> RelayLease:
        made.append(RelayLease(pg_database.conninfo, name, check_every=check_every))
        return made[-1]

    yield lease
    for one in made:
        one.release()


def backend_of(lease: RelayLease) -> int:
    assert lease._conn is not None
    return lease._conn.info.backend_pid


def test_one_instance_holds_the_lease_and_a_standby_takes_it_when_released(leases) -> None:
    first, second = leases(), leases()
    assert first.hold()
    assert not second.hold()
    assert first.hold()  # held, and still the only holder
    first.release()
    assert second.hold()
    assert not first.hold()


def test_a_holder_killed_mid_session_loses_the_lease_to_a_standby(leases, pg_database) -> None:
    holder, standby = leases(), leases()
    assert holder.hold() and not standby.hold()
    # As if the holder's process were killed with -9: its session ends under it.
    with psycopg.connect(pg_database.conninfo, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (backend_of(holder),))
    deadline = time.monotonic() + 5
    while not standby.hold():
        assert time.monotonic() < deadline, "the standby never took the lease"
        time.sleep(0.02)
    time.sleep(holder.check_every)
    assert not holder.hold(), "the old holder still believes it relays"


def test_each_service_has_a_lease_of_its_own(leases) -> None:
    booking, payment = leases("BookingService.outbox"), leases("PaymentService.outbox")
    assert booking.hold() and payment.hold()


def test_the_relaying_instance_is_named_in_the_database(leases, pg_database) -> None:
    names = [f"BookingService.outbox-{i}" for i in range(40)]  # keys of both signs
    for i, name in enumerate(names):
        assert holder_of(pg_database.conninfo, name) is None
        lease = leases(name)
        lease.holder = f"booking relay {i}"
        assert lease.hold()
        assert holder_of(pg_database.conninfo, name) == f"booking relay {i}"
    lease.release()
    assert holder_of(pg_database.conninfo, names[-1]) is None


def test_a_holder_that_falls_silent_loses_the_lease_after_it_expires(leases) -> None:
    """A holder whose host is lost closes nothing: its session stays open until PostgreSQL
    ends it, which the lease's idle timeout makes happen after ``expire_after``."""
    silent = leases()
    silent.expire_after = 0.5
    standby = leases()
    assert silent.hold() and not standby.hold()
    time.sleep(0.3)
    assert not standby.hold(), "expired too early"
    deadline = time.monotonic() + 5
    while not standby.hold():  # the silent one never confirms again
        assert time.monotonic() < deadline, "the lease of a silent holder never expired"
        time.sleep(0.05)
    assert not silent.hold(), "the silent holder still believes it relays"


def test_the_holder_is_woken_by_a_write_in_the_store(leases, pg_database) -> None:
    """Whichever instance wrote: the store NOTIFYs its channel, and the holder LISTENs."""
    holder = leases()
    holder.listen_to = "bookingservice_events"
    assert holder.hold()
    started = time.monotonic()
    holder.wait_for_writes(0.2)  # nothing written: waits it out
    assert time.monotonic() - started >= 0.19
    with psycopg.connect(pg_database.conninfo, autocommit=True) as writer:
        writer.execute("SELECT pg_notify('bookingservice_events', '')")
    started = time.monotonic()
    holder.wait_for_writes(5.0)  # queued while nobody waited: returns at once
    assert time.monotonic() - started < 1.0
    assert holder.held


def test_one_wake_up_serves_every_write_notified_so_far(leases, pg_database) -> None:
    holder = leases()
    holder.listen_to = "bookingservice_events"
    assert holder.hold()
    with psycopg.connect(pg_database.conninfo, autocommit=True) as writer:
        for _ in range(5):  # five commits while the relay was busy
            writer.execute("SELECT pg_notify('bookingservice_events', '')")
    time.sleep(0.1)
    holder.wait_for_writes(5.0)
    started = time.monotonic()
    holder.wait_for_writes(0.3)  # the queue was taken: nothing new, so it waits
    assert time.monotonic() - started >= 0.25

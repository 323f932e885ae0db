"""The saga's invariants (README.md, "Invariants"), checked against a running embedded system."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Protocol, TypeVar
from uuid import UUID

from booking.application import BookingService
from booking.domain import ALLOWED_TRANSITIONS, BY_THE_THEATRE, Booking, BookingStatus
from embedded.system import EmbeddedSystem
from inventory.application import InventoryService
from inventory.domain import BOOKED, RELEASED, RESERVED, ShowInventory
from payment.application import PaymentService
from payment.domain import Payment
from payment.gateway import Ledger
from projections.projector import InMemoryViewStore, project
from projections.sources import read_public
from shared.clock import FakeClock
from shared.service import ServiceApplication

A = TypeVar("A")


class ServiceStores(Protocol):
    """What the checks of the services' stores read: the embedded system, or the stores
    of a distributed one (tests/e2e/harness.Stores, which bench/audit.py checks)."""

    @property
    def apps(self) -> Mapping[str, ServiceApplication]: ...
    @property
    def booking(self) -> BookingService: ...
    @property
    def inventory(self) -> InventoryService: ...
    @property
    def payment(self) -> PaymentService: ...


def aggregates(system: ServiceStores, service: str, cls: type[A]) -> list[A]:
    """Every aggregate of a class in a service's store, as it is now."""
    app = system.apps[service]
    ids, out = [], []
    for n in app.recorder.select_notifications(start=1, limit=1_000_000):
        if n.originator_version == 1:
            ids.append(n.originator_id)
    for aggregate_id in ids:
        a: object = app.repository.get(aggregate_id)
        if isinstance(a, cls):
            out.append(a)
    return out


def bookings(system: ServiceStores) -> list[Booking]:
    return aggregates(system, "booking", Booking)


def shows(system: ServiceStores) -> list[ShowInventory]:
    return aggregates(system, "inventory", ShowInventory)


def payments(system: ServiceStores) -> list[Payment]:
    return aggregates(system, "payment", Payment)


# --- at every moment ----------------------------------------------------------


def one_holder_per_seat(system: ServiceStores) -> None:
    """1. A seat of a show is held or sold by at most one booking at any moment."""
    for show in shows(system):
        live = [(b, h) for b, h in show.holds.items() if h["status"] in (RESERVED, BOOKED)]
        seats = Counter(s for _, h in live for s in h["seat_ids"])
        doubled = [s for s, n in seats.items() if n > 1]
        assert not doubled, f"{show.show_id}: seats {doubled} held by two bookings"
        for b, h in live:
            for s in h["seat_ids"]:
                assert show.holders.get(s) == b, f"{show.show_id}/{s}: holder map disagrees"
    confirmed = Counter(
        (b.show_id, s) for b in bookings(system) if b.status is BookingStatus.CONFIRMED for s in b.seat_ids
    )
    sold_twice = [k for k, n in confirmed.items() if n > 1]
    assert not sold_twice, f"seats sold twice: {sold_twice}"


def at_most_one_charge_stands(ledger: Ledger) -> None:
    """3. At most one successful charge per booking stands: any other is refunded (at
    rest: a second success the service has not heard of yet is refunded when it does)."""
    twice = [b for b, n in ledger.standing_charges_by_booking().items() if n > 1]
    assert not twice, f"bookings charged twice: {twice}"


def no_intent_confirmed_twice(ledger: Ledger) -> None:
    """3 (every moment). The payment service confirms an intent at most once."""
    twice = {i: n for i, n in ledger.confirmations_by_intent().items() if n > 1}
    assert not twice, f"intents confirmed more than once: {twice}"


def one_charge_kept_per_payment(system: ServiceStores) -> None:
    """3. A payment keeps at most one charge: every other success it
    recorded is refunded or to be refunded, never taken as the booking's payment."""
    for p in payments(system):
        kept = [a for a in p.attempts if a["succeeded"]]
        assert len(kept) <= 1, f"payment of {p.booking_id} kept {len(kept)} charges"
        assert p.charge_intent not in p.not_kept, f"payment of {p.booking_id}: kept and not"


def transitions_allowed(previous: dict, system: ServiceStores) -> None:
    """8. States change only along the allowed graph; CONFIRMED and CANCELLED are final."""
    repository = system.booking.repository
    for b in bookings(system):
        seen_version, before = previous.get(b.id, (1, BookingStatus.PENDING))
        for version in range(seen_version + 1, b.version + 1):
            status: BookingStatus = repository.get(b.id, version=version).status
            assert status == before or status in ALLOWED_TRANSITIONS[before], (
                f"booking {b.id} moved {before} -> {status}"
            )
            before = status
        previous[b.id] = (b.version, before)


def customer_holds_within(system: ServiceStores, limit: int) -> None:
    """Limits (every moment). No customer holds more than ``limit`` seats unpaid in a show."""
    for show in shows(system):
        held: Counter[str] = Counter()
        for h in show.holds.values():
            if h["status"] == RESERVED:
                held[h.get("customer_id", "")] += len(h["seat_ids"])
        over = {c: n for c, n in held.items() if c and n > limit}
        assert not over, f"{show.show_id}: customers over the hold limit: {over}"


def holds_honoured(system: ServiceStores, customer_cancelled: set) -> None:
    """4, 9 and saga rule 7 (every moment). Seats are released only when their deadline
    passed, their customer cancelled, the show was cancelled or one of the hold's seats
    was withdrawn, never because a payment failed; seats are booked only within the hold,
    so a late success never resurrects them; and nothing is reserved or booked on a
    cancelled show or a withdrawn seat after the theatre said so."""
    app = system.inventory
    reserved_until: dict[tuple[str, str], datetime] = {}
    seats_of: dict[tuple[str, str], list[str]] = {}
    cancelled: set[str] = set()
    withdrawn: set[tuple[str, str]] = set()
    for n in app.recorder.select_notifications(start=1, limit=1_000_000):
        e = app.mapper.to_domain_event(n)
        if isinstance(e, ShowInventory.SeatsReserved | ShowInventory.SeatsBooked):
            assert e.show_id not in cancelled, f"{e.show_id}: seats sold after its cancellation"
            sold = [s for s in e.seat_ids if (e.show_id, s) in withdrawn]
            assert not sold, f"{e.show_id}: withdrawn seats {sold} sold"
        if isinstance(e, ShowInventory.SeatsReserved):
            reserved_until[(e.show_id, e.booking_id)] = e.reserved_until
            seats_of[(e.show_id, e.booking_id)] = list(e.seat_ids)
        elif isinstance(e, ShowInventory.SeatsReleased):
            if e.reason == "hold_expired":
                assert e.at >= reserved_until[(e.show_id, e.booking_id)], "released before deadline"
            elif e.reason == "show_cancelled":
                assert e.show_id in cancelled, f"{e.booking_id} released for a show not cancelled"
            elif e.reason == "seat_withdrawn":
                held = seats_of[(e.show_id, e.booking_id)]
                assert any((e.show_id, s) in withdrawn for s in held), (
                    f"{e.booking_id} released for a withdrawn seat it does not hold")
            else:
                assert UUID(e.booking_id) in customer_cancelled, (
                    f"seats of {e.booking_id} released but its customer never cancelled"
                )
        elif isinstance(e, ShowInventory.SeatsBooked):
            assert e.at < reserved_until[(e.show_id, e.booking_id)], "seats booked after the hold expired"
        elif isinstance(e, ShowInventory.Cancelled):
            cancelled.add(e.show_id)
        elif isinstance(e, ShowInventory.SeatsWithdrawn):
            withdrawn.update((e.show_id, s) for s in e.seat_ids)


def theatre_decisions_kept(system: EmbeddedSystem) -> None:
    """9 (every moment). A cancelled show holds no seat for anyone; a withdrawn seat has no
    holder."""
    for show in shows(system):
        if show.cancelled:
            assert not show.holds, f"{show.show_id} is cancelled but holds {sorted(show.holds)}"
        held = [s for s in show.withdrawn if s in show.holders]
        assert not held, f"{show.show_id}: withdrawn seats {held} still held"


# --- at quiescence -----------------------------------------------------------


def all_final(system: ServiceStores) -> None:
    """5. Every booking reaches CONFIRMED or CANCELLED."""
    stuck = [(b.id, b.status) for b in bookings(system) if b.is_active]
    assert not stuck, f"bookings not settled: {stuck}"


def confirmed_iff_paid_and_booked(system: ServiceStores) -> None:
    """2. CONFIRMED iff its payment succeeded (and stands) and all its seats are BOOKED for it."""
    show_by_id = {s.show_id: s for s in shows(system)}
    payment_by_booking = {p.booking_id: p for p in payments(system)}
    for b in bookings(system):
        pay = payment_by_booking.get(b.id)
        paid = pay is not None and pay.succeeded and not pay.refunded
        show = show_by_id.get(b.show_id)
        hold = show.hold_of(b.id) if show else None
        booked = show is not None and hold is not None and hold["status"] == BOOKED and all(
            show.holders.get(s) == str(b.id) for s in b.seat_ids
        )
        confirmed = b.status is BookingStatus.CONFIRMED
        assert confirmed == paid == booked, (
            f"booking {b.id}: confirmed={confirmed} paid={paid} seats booked={booked}"
        )


def refunded_when_the_theatre_cancelled(system: EmbeddedSystem) -> None:
    """9 (at rest). No booking stays CONFIRMED on a cancelled show, and every booking the
    theatre cancelled has its charge, if it was charged, refunded."""
    cancelled_shows = {show.show_id for show in shows(system) if show.cancelled}
    payment_by_booking = {p.booking_id: p for p in payments(system)}
    for b in bookings(system):
        if b.show_id in cancelled_shows:
            assert b.status is BookingStatus.CANCELLED, f"{b.id} {b.status} on a cancelled show"
        if b.cancellation_reason in BY_THE_THEATRE:
            pay = payment_by_booking.get(b.id)
            assert pay is None or not pay.succeeded or pay.refunded, f"{b.id} not refunded"


def money_balances(system: ServiceStores, ledger: Ledger) -> None:
    """3. Money captured equals the sum of confirmed bookings plus the sum refunded (a
    confirmed booking counts what is left of its charge after a refund made outside)."""
    captured = sum(ledger.captured_by_booking().values())
    confirmed = sum((b.amount or 0) - b.refunded_amount
                    for b in bookings(system) if b.status is BookingStatus.CONFIRMED)
    assert captured == confirmed + ledger.refunded_total(), (
        f"captured {captured} != confirmed {confirmed} + refunded {ledger.refunded_total()}"
    )


def holds_released(system: ServiceStores) -> None:
    """4 (at rest). Once deadlines passed, no hold is left RESERVED."""
    for show in shows(system):
        left = [b for b, h in show.holds.items() if h["status"] == RESERVED]
        assert not left, f"{show.show_id}: holds still reserved after expiry: {left}"
        for b, h in show.holds.items():
            if h["status"] == RELEASED:
                assert all(show.holders.get(s) != b for s in h["seat_ids"])


def views_equal_fold(system: EmbeddedSystem) -> None:
    """7. Every view equals a fold of the event streams, rebuilt from scratch."""
    system.project_all()
    rebuilt = InMemoryViewStore()
    for app in system.apps.values():
        project(rebuilt, read_public(app, 1, limit=1_000_000).events)
    for name, docs in system.views.docs.items():
        strip = lambda d: {k: v for k, v in d.items() if k not in ("_positions", "_rev")}
        live = {k: strip(v) for k, v in docs.items()}
        fresh = {k: strip(v) for k, v in rebuilt.docs[name].items()}
        assert live == fresh, f"view {name} differs from a fresh fold"
    for b in bookings(system):
        assert system.views.docs["bookings"][str(b.id)]["status"] == b.status.value


def taken_seats_agree(system: EmbeddedSystem) -> None:
    """At rest, what booking knows of taken seats (booking/taken_seats.py, which refuses
    requests at once) is inventory's state: every seat it names is held or sold, and by
    the booking it names. It may know less (it starts empty), never something false."""
    from booking.taken_seats import UNKNOWN

    holders = {show.show_id: show.holders for show in shows(system)}
    for show_id, seats in system.booking.taken_seats.known().items():
        for seat, booking in seats.items():
            actual = holders.get(show_id, {}).get(seat)
            assert actual is not None, f"booking believes {show_id}/{seat} taken; it is free"
            assert booking in (UNKNOWN, str(actual)), (
                f"booking believes {show_id}/{seat} held by {booking}; inventory: {actual}")
    # Every claim of a recorded booking ends with inventory's answer for it.
    assert system.booking.taken_seats.claimed() == {}, "a claim outlived inventory's answer"


def settle(system: EmbeddedSystem, clock: FakeClock, hold_for: timedelta) -> None:
    """Let the system come to rest: deliver everything, let every deadline pass."""
    system.run_until_quiet()
    clock.advance(hold_for)
    system.sweep()
    system.run_until_quiet()


def check_always(system: EmbeddedSystem, ledger: Ledger, previous: dict, cancelled: set) -> None:
    one_holder_per_seat(system)
    no_intent_confirmed_twice(ledger)
    transitions_allowed(previous, system)
    holds_honoured(system, cancelled)
    theatre_decisions_kept(system)


def check_at_rest(system: EmbeddedSystem, ledger: Ledger, previous: dict, cancelled: set) -> None:
    check_always(system, ledger, previous, cancelled)
    all_final(system)
    confirmed_iff_paid_and_booked(system)
    at_most_one_charge_stands(ledger)
    one_charge_kept_per_payment(system)
    money_balances(system, ledger)
    refunded_when_the_theatre_cancelled(system)
    holds_released(system)
    taken_seats_agree(system)
    views_equal_fold(system)

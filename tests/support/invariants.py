"""The saga's invariants (README.md, "Invariants"), checked against a running embedded system."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol, TypeVar
from uuid import UUID

from booking.application import BookingService
from booking.domain import ALLOWED_TRANSITIONS, BY_THE_THEATRE, Booking, BookingStatus
from embedded.system import EmbeddedSystem
from inventory.application import InventoryService
from inventory.domain import BOOKED, RELEASED, RESERVED, ShowInventory
from notifications.contact import EMAIL, ContactPreferences
from notifications.domain import (
    CONFIRMATION,
    FAILED_PERMANENTLY,
    NO_CONTACT,
    PAYMENT_REMINDER,
    SENT,
    BookingNotices,
    Notification,
)
from payment.application import PaymentService
from payment.domain import Payment
from payment.records import Ledger
from pricing.domain import ShowPricing
from pricing.rules import governing, price_show
from projections.projector import InMemoryViewStore, project
from projections.sources import read_public
from shared import ids, price_list
from shared.clock import FakeClock
from shared.contracts import DemandRule, ShowPriced
from shared.service import ServiceApplication

A = TypeVar("A")
T = TypeVar("T")


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


_moments: dict[int, dict[Any, Any]] = {}  # id(system) -> what one_moment() has read


@contextmanager
def one_moment(system: object) -> Iterator[None]:
    """Within it, the checks share what they read: each service's aggregates and events
    are loaded once, not once per check (nothing moves the stores in between). Loading
    them is most of what the simulation's checks after every step cost."""
    if id(system) in _moments:  # within another: the same moment
        yield
        return
    _moments[id(system)] = {}
    try:
        yield
    finally:
        del _moments[id(system)]


def _once(system: object, key: tuple, load: Callable[[], T]) -> T:
    memo = _moments.get(id(system))
    if memo is None:
        return load()
    if key not in memo:
        memo[key] = load()
    return memo[key]


def aggregates(system: ServiceStores, service: str, cls: type[A]) -> list[A]:
    """Every aggregate of a class in a service's store, as it is now (do not change them:
    within one_moment() the checks share them)."""
    def load() -> list[A]:
        app = system.apps[service]
        versions: dict[Any, int] = {}  # in the order the aggregates were created
        for n in app.recorder.select_notifications(start=1, limit=1_000_000):
            versions[n.originator_id] = n.originator_version
        seen = _seen(system)
        out = []
        for aggregate_id, version in versions.items():
            key = (service, aggregate_id)
            if key not in seen or seen[key][0] != version:  # new, or moved since
                seen[key] = (version, app.repository.get(aggregate_id))
            a: object = seen[key][1]
            if isinstance(a, cls):
                out.append(a)
        return out
    return _once(system, ("aggregates", service, cls), load)


def _seen(system: object) -> dict[tuple[Any, ...], tuple[int, Any]]:
    """What the checks already read from a system's stores: each aggregate with its
    version (one at the version its store has now is as it was: events are only ever
    appended), and each list of events with the last one's id, so the checks after every
    step read only what the step wrote."""
    seen: dict[tuple[Any, ...], tuple[int, Any]] | None = getattr(system, "_checked", None)
    if seen is None:
        seen = {}
        try:
            object.__setattr__(system, "_checked", seen)
        except (AttributeError, TypeError):  # a system that keeps no attributes
            pass
    return seen


def domain_events(system: ServiceStores, service: str, *topics: str) -> list[Any]:
    """A service's stored events in their order (those of these topics, if given)."""
    def load() -> list[Any]:
        app = system.apps[service]
        # The embedded system writes one transaction at a time, so the events read so far
        # stay the first ones: only those after them are decoded. (A store written by
        # several processes may fill a gap in its notification ids later: read whole.)
        seen = _seen(system) if isinstance(system, EmbeddedSystem) else {}
        key = (service, topics, id(app.recorder))  # a service started again: its own
        last, events = seen.get(key, (0, []))
        if last > (app.recorder.max_notification_id() or 0):  # another store
            last, events = 0, []
        more = app.recorder.select_notifications(start=last + 1, limit=1_000_000,
                                                 topics=topics)
        events = events + [app.mapper.to_domain_event(n) for n in more]
        if more:
            seen[key] = (more[-1].id, events)
        return events
    return _once(system, ("events", service, topics), load)


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
    """3 (every moment). The payment service confirms an intent at most once (where the
    provider's records count confirmations: the simulated provider's)."""
    counted = ledger.confirmations_by_intent()
    assert counted is not None, "the provider's records do not count confirmations"
    twice = {i: n for i, n in counted.items() if n > 1}
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
    reserved_until: dict[tuple[str, str], datetime] = {}
    seats_of: dict[tuple[str, str], list[str]] = {}
    cancelled: set[str] = set()
    withdrawn: set[tuple[str, str]] = set()
    for e in domain_events(system, "inventory"):
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


def theatre_decisions_kept(system: ServiceStores) -> None:
    """9 (every moment). A cancelled show holds no seat for anyone; a withdrawn seat has no
    holder."""
    for show in shows(system):
        if show.cancelled:
            assert not show.holds, f"{show.show_id} is cancelled but holds {sorted(show.holds)}"
        held = [s for s in show.withdrawn if s in show.holders]
        assert not held, f"{show.show_id}: withdrawn seats {held} still held"


# --- prices, at every moment ----------------------------------------------------


class PriceVersion(NamedTuple):
    """A show's prices as one version makes them (shared/price_list.py)."""

    prices: dict[str, int]
    currency: str
    rounding: int
    caps: dict[str, int]
    demand: DemandRule | None


class Hold(NamedTuple):
    """A hold as inventory made it (its SeatsReserved), beside what the show's prices and
    counts were as inventory's events make them at that moment."""

    show_id: str
    seat_ids: list[str]
    seats: dict[str, str]  # the show's seats: seat id -> category
    amount: int
    currency: str
    price_version: int
    uplifts: dict[str, int]
    latest_version: int  # the latest price version inventory had then
    version: PriceVersion | None  # the hold's version as published (None: it never was)
    demand_uplifts: dict[str, int]  # what that version's demand rule gave the counts then


class HoldPrices(NamedTuple):
    holds: dict[str, list[Hold]]  # booking id -> the holds made for it
    # booking id -> what its seats cost when inventory refused it for price_changed
    # (None: its price version was never published)
    refused_at: dict[str, int | None]


def published_prices(system: EmbeddedSystem) -> dict[tuple[str, int], ShowPriced]:
    """Every price version pricing published, by show and version."""
    app = system.apps["pricing"]
    published = (app.to_public(e) for e in domain_events(system, "pricing", ShowPricing.Priced.TOPIC))
    return {(p.show_id, p.price_version): p for p in published if isinstance(p, ShowPriced)}


def hold_prices(system: EmbeddedSystem) -> HoldPrices:
    """Inventory's holds and its price_changed refusals, replayed in its order with
    pricing's published prices (version 0: the list prices the show opened with)."""
    return _once(system, ("hold prices",), lambda: _replay_hold_prices(system))


def _replay_hold_prices(system: EmbeddedSystem) -> HoldPrices:
    published = published_prices(system)
    requested = {str(b.id): b for b in bookings(system)}
    seats: dict[str, dict[str, str]] = {}
    list_prices: dict[str, PriceVersion] = {}
    latest: dict[str, int] = {}
    booked: dict[str, dict[str, list[str]]] = {}  # show -> booking -> its seats, BOOKED
    withdrawn: dict[str, set[str]] = {}
    out = HoldPrices({}, {})

    def version(show_id: str, number: int) -> PriceVersion | None:
        if number == 0:
            return list_prices[show_id]
        p = published.get((show_id, number))
        if p is None:
            return None
        return PriceVersion(dict(p.prices), p.currency, p.rounding, dict(p.caps), p.demand)

    def demand_uplifts(show_id: str, rule: DemandRule | None) -> dict[str, int]:
        layout = seats[show_id]
        sold = price_list.category_counts(layout, (s for held in booked[show_id].values() for s in held))
        on_sale = price_list.category_counts(layout, (s for s in layout if s not in withdrawn[show_id]))
        return {c: u for c, u in price_list.uplifts(rule, sold, on_sale).items() if u}

    for e in domain_events(system, "inventory"):
        if isinstance(e, ShowInventory.Opened):
            seats[e.show_id], booked[e.show_id], withdrawn[e.show_id] = dict(e.seats), {}, set()
            list_prices[e.show_id] = PriceVersion(dict(e.prices), e.currency, 1, {}, None)
            priced = getattr(e, "priced", None)  # a version that came before the opening
            latest[e.show_id] = priced["price_version"] if priced else 0
        elif isinstance(e, ShowInventory.Repriced):
            latest[e.show_id] = e.price_version
        elif isinstance(e, ShowInventory.SeatsReserved):
            v = version(e.show_id, e.price_version)
            out.holds.setdefault(e.booking_id, []).append(Hold(
                e.show_id, list(e.seat_ids), seats[e.show_id], e.amount, e.currency,
                e.price_version, dict(e.uplifts or {}), latest[e.show_id], v,
                demand_uplifts(e.show_id, v.demand if v else None)))
        elif isinstance(e, ShowInventory.SeatsRejected) and e.reason == "price_changed":
            v = version(e.show_id, latest[e.show_id])
            out.refused_at[e.booking_id] = None if v is None else price_list.amount(
                requested[e.booking_id].seat_ids, seats[e.show_id], v.prices,
                demand_uplifts(e.show_id, v.demand), v.rounding, v.caps)
        elif isinstance(e, ShowInventory.SeatsBooked):
            booked[e.show_id][e.booking_id] = list(e.seat_ids)
        elif isinstance(e, ShowInventory.SeatsReleased):
            booked[e.show_id].pop(e.booking_id, None)
        elif isinstance(e, ShowInventory.SeatsWithdrawn):
            withdrawn[e.show_id].update(e.seat_ids)
    return out


def holds_priced_as_published(system: EmbeddedSystem) -> None:
    """10. A hold costs what the price version it records makes its seats cost: that
    version's prices as pricing published them (version 0: the show's list prices),
    raised by the demand uplifts the hold records, which are what the version's demand
    rule gives the show's counts at that moment; and it is the latest version inventory
    had."""
    for booking_id, made in hold_prices(system).holds.items():
        for h in made:
            hold = f"{h.show_id}: the hold of {booking_id}"
            assert h.price_version == h.latest_version, (
                f"{hold} is priced from version {h.price_version}, not the latest "
                f"inventory had ({h.latest_version})")
            assert h.version is not None, f"{hold}: price version {h.price_version} never published"
            assert h.uplifts == h.demand_uplifts, (
                f"{hold} records uplifts {h.uplifts}; the demand rule gives {h.demand_uplifts}")
            v = h.version
            costs = price_list.amount(h.seat_ids, h.seats, v.prices, h.uplifts, v.rounding, v.caps)
            assert (h.amount, h.currency) == (costs, v.currency), (
                f"{hold} is {h.amount} {h.currency}; version {h.price_version} makes it "
                f"{costs} {v.currency}")


def quotes_honoured(system: EmbeddedSystem, ledger: Ledger) -> None:
    """10. A booking never pays other than its quote: one requested with a quoted amount
    is held and charged that amount, or refused (price_changed) because its seats cost
    otherwise when inventory decided; one without a quote is never refused for its price."""
    prices = hold_prices(system)
    captured, charged = ledger.captured_by_booking(), ledger.successful_charges_by_booking()
    for b in bookings(system):
        key, quoted = str(b.id), b.quoted_amount
        if quoted is None:
            assert key not in prices.refused_at, f"booking {key} refused price_changed without a quote"
            continue
        held = sorted(h.amount for h in prices.holds.get(key, []))
        assert all(amount == quoted for amount in held), (
            f"booking {key} was quoted {quoted} and held at {held}")
        charges = charged.get(key, 0)  # a second success is refunded; each is the quote
        assert captured.get(key, 0) == quoted * charges, (
            f"booking {key} was quoted {quoted} and charged {captured[key]} in {charges}")
        if key in prices.refused_at:
            assert prices.refused_at[key] != quoted, (
                f"booking {key} refused price_changed, but its seats cost {quoted}, as quoted")


def holds_keep_their_price(system: EmbeddedSystem, ledger: Ledger) -> None:
    """10. A hold's price never changes once made: inventory makes one hold per booking,
    a live hold keeps the amount and price version it was made with whatever prices come
    after, and booking's amount and the charge captured for the booking are that amount."""
    made: dict[str, Hold] = {}
    for booking_id, holds in hold_prices(system).holds.items():
        assert len(holds) == 1, f"booking {booking_id} was held {len(holds)} times"
        made[booking_id] = holds[0]
    for show in shows(system):
        for booking_id, live in show.holds.items():
            h = made[booking_id]
            assert (live.get("amount"), live.get("price_version")) == (h.amount, h.price_version), (
                f"{show.show_id}: the hold of {booking_id} is now {live.get('amount')} of version "
                f"{live.get('price_version')}; it was made {h.amount} of version {h.price_version}")
    for b in bookings(system):
        if b.amount is not None:
            assert b.amount == made[str(b.id)].amount, (
                f"booking {b.id} records {b.amount}; its hold is {made[str(b.id)].amount}")
    # Every charge is the hold's amount: a second success (on another intent of the same
    # booking, refunded: at most one stands) is that amount too.
    charges = ledger.successful_charges_by_booking()
    for booking_id, amount in ledger.captured_by_booking().items():
        assert booking_id in made and amount == made[booking_id].amount * charges[booking_id], (
            f"booking {booking_id} charged {amount} in {charges[booking_id]} charge(s); "
            f"its hold: {made.get(booking_id)}")


# --- notifications, at every moment ---------------------------------------------------


def notifications(system: EmbeddedSystem) -> list[Notification]:
    return aggregates(system, "notifications", Notification)


def sent_once(system: EmbeddedSystem) -> None:
    """12 (every moment). No message reached a channel before its attempt was recorded,
    nor twice, but once more for each attempt recorded as interrupted (a crash between
    the send and its record: an allowed repeat, with the same message id)."""
    by_id = {n.message_id: n for n in notifications(system)}
    for message_id, times in (system.email.times_sent() + system.push.times_sent()).items():
        n = by_id.get(message_id)
        assert n is not None and n.attempt >= 1, f"{message_id} sent before its attempt was recorded"
        assert times <= 1 + len(n.interrupted), (
            f"{message_id} sent {times} times; interrupted attempts recorded: {n.interrupted}")


def reminders_in_time(system: EmbeddedSystem) -> None:
    """12 (every moment). A payment reminder is decided no earlier than its time before the
    hold's end, and no attempt of it starts once the service has learned that the booking
    was paid, cancelled or released, nor once the hold has ended."""
    moved_on: set[UUID] = set()  # booking notices the service knows paid or over
    reminders: dict[UUID, Any] = {}  # notification id -> its Due event
    before = system.notifications.remind_before
    ends = (BookingNotices.Paid, BookingNotices.Confirmed, BookingNotices.Cancelled,
            BookingNotices.SeatsGone)
    for e in domain_events(system, "notifications"):
        if isinstance(e, ends):
            moved_on.add(e.originator_id)
        elif isinstance(e, Notification.Due) and e.kind == PAYMENT_REMINDER:
            reminders[e.originator_id] = e
            until = datetime.fromisoformat(e.facts["reserved_until"])
            assert e.at >= until - before, f"reminder {e.originator_id} decided early"
        elif isinstance(e, Notification.AttemptStarted) and e.originator_id in reminders:
            due = reminders[e.originator_id]
            assert ids.booking_notices_id(due.booking_id) not in moved_on, (
                f"reminder of {due.booking_id} sent after it was paid, cancelled or released")
            assert e.at < datetime.fromisoformat(due.facts["reserved_until"]), (
                f"reminder of {due.booking_id} sent after the hold ended")


# --- at quiescence -----------------------------------------------------------


def all_final(system: ServiceStores) -> None:
    """5. Every booking reaches CONFIRMED or CANCELLED."""
    stuck = [(b.id, b.status) for b in bookings(system) if b.is_active]
    assert not stuck, f"bookings not settled: {stuck}"


def no_dead_letters(system: ServiceStores) -> None:
    """Every message the services publish is taken: crashes, restarts, redeliveries and
    outages never make a good one a dead letter."""
    found = {name: [(d.topic, d.offset, d.reason) for d in app.dead_letters.listed()]
             for name, app in system.apps.items()}
    assert not any(found.values()), f"dead letters: {found}"


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


def refunded_when_the_theatre_cancelled(system: ServiceStores) -> None:
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
    confirmed booking counts what is left of its charge after a refund made outside).
    At rest only: a charge is captured before its booking is confirmed, and refunded
    before booking learns that it is cancelled. At every moment, each capture is its
    hold's amount (holds_keep_their_price)."""
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


def prices_follow_the_rules(system: EmbeddedSystem) -> None:
    """10 (at rest). Every show pricing prices is priced, while on sale, by the rules that
    govern it now (every rule change that came into effect reached it: at once, or by
    the timer), and inventory has the latest version pricing published of it."""
    now = system.clock.now()
    changes = system.pricing.rule_changes()
    for show in aggregates(system, "pricing", ShowPricing):
        if show.on_sale(now):
            change = governing(changes, show.on_sale_since, now)
            due = price_show(change.rules if change else None, show.facts())
            assert (show.prices, show.caps, show.rounding, show.currency) == (
                due.prices, due.caps, due.rounding, due.currency), (
                f"{show.show_id} is priced {show.prices} by rules v{show.rules_version}; "
                f"the rules in force (v{change.version if change else 0}) make it {due.prices}")
        held = system.inventory.get_show(show.show_id).price_version
        assert held == show.price_version, (
            f"{show.show_id}: inventory prices from version {held}, pricing published "
            f"{show.price_version}")


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


def notified(system: EmbeddedSystem) -> None:
    """12 (at rest). Every message decided is sent, given up or dropped; every CONFIRMED
    booking whose customer gave an email address has one confirmation by email, sent
    (or given up after the channel refused every attempt); a customer who gave no
    contact details was sent nothing."""
    all_notifications = notifications(system)
    left = [(n.kind, n.status) for n in all_notifications if not n.final]
    assert not left, f"messages not settled: {left}"
    contacts = {c.customer_id: c for c in aggregates(system, "notifications", ContactPreferences)}
    refused = Counter(m for m, _ in [*system.email.refused, *system.push.refused])
    emailed: dict[UUID, list[Notification]] = {}
    for n in all_notifications:
        if n.kind == CONFIRMATION and n.channel == EMAIL:
            emailed.setdefault(n.booking_id, []).append(n)
        if n.customer_id not in contacts:
            assert n.reason == NO_CONTACT, f"{n.kind} for {n.customer_id}: no contact, {n.status}"
    for b in bookings(system):
        contact = contacts.get(b.customer_id)
        if (b.status is not BookingStatus.CONFIRMED or contact is None or contact.email is None
                or EMAIL not in contact.channels_for(CONFIRMATION)):
            continue
        found = emailed.get(b.id, [])
        assert len(found) == 1, f"{len(found)} confirmations by email decided for {b.id}"
        n = found[0]
        assert n.status == SENT or (n.status == FAILED_PERMANENTLY and
                                    refused[n.message_id] >= n.attempt - len(n.interrupted)), (
            f"the confirmation of {b.id} is {n.status} ({n.reason})")


def settle(system: EmbeddedSystem, clock: FakeClock, hold_for: timedelta) -> None:
    """Let the system come to rest: deliver everything, let every deadline pass, and
    the messages due be sent (tried again as their backoffs end)."""
    system.run_until_quiet()
    clock.advance(hold_for)
    system.sweep()
    system.run_until_quiet()
    for _ in range(50):
        due = list(system.notifications.due.values())
        if not due:
            return
        clock.advance(max(timedelta(0), min(due) - clock.now()) + timedelta(seconds=1))
        system.sweep()
    raise AssertionError("the notifications never settled")


def check_always(system: EmbeddedSystem, ledger: Ledger, previous: dict, cancelled: set) -> None:
    with one_moment(system):
        one_holder_per_seat(system)
        no_intent_confirmed_twice(ledger)
        transitions_allowed(previous, system)
        holds_honoured(system, cancelled)
        theatre_decisions_kept(system)
        holds_priced_as_published(system)
        quotes_honoured(system, ledger)
        holds_keep_their_price(system, ledger)
        sent_once(system)
        reminders_in_time(system)


def check_at_rest(system: EmbeddedSystem, ledger: Ledger, previous: dict, cancelled: set) -> None:
    with one_moment(system):
        check_always(system, ledger, previous, cancelled)
        all_final(system)
        no_dead_letters(system)
        confirmed_iff_paid_and_booked(system)
        at_most_one_charge_stands(ledger)
        one_charge_kept_per_payment(system)
        money_balances(system, ledger)
        refunded_when_the_theatre_cancelled(system)
        prices_follow_the_rules(system)
        holds_released(system)
        taken_seats_agree(system)
        views_equal_fold(system)
        notified(system)


def audit_checks(stores: ServiceStores, ledger: Ledger, customer_cancelled: set[UUID],
                 transitions: bool = True) -> list[tuple[str, Callable[[], None]]]:
    """The checks, by name, of a distributed system's stores and its payment provider's
    records at rest (tests/support/audit.py stops at the first that fails, bench/audit.py
    reports each). Whether an intent was confirmed twice only where the records count
    confirmations: Stripe's do not (it refuses a second confirm, which charges nothing).
    ``transitions``: reload every version of every booking (slow on big runs)."""
    checks: list[tuple[str, Callable[[], None]]] = [
        ("every booking final", lambda: all_final(stores)),
        ("no message dead-lettered", lambda: no_dead_letters(stores)),
        ("no seat held or sold twice", lambda: one_holder_per_seat(stores)),
        ("confirmed iff paid and booked", lambda: confirmed_iff_paid_and_booked(stores)),
        ("at most one charge per booking", lambda: at_most_one_charge_stands(ledger)),
        ("captured = confirmed + refunded", lambda: money_balances(stores, ledger)),
        ("holds honoured (released only after deadline)",
         lambda: holds_honoured(stores, customer_cancelled)),
        ("the theatre's decisions kept", lambda: theatre_decisions_kept(stores)),
        ("refunded when the theatre cancelled",
         lambda: refunded_when_the_theatre_cancelled(stores)),
    ]
    if ledger.confirmations_by_intent() is not None:
        checks.append(("no intent confirmed twice", lambda: no_intent_confirmed_twice(ledger)))
    if transitions:
        checks.append(("transitions allowed", lambda: transitions_allowed({}, stores)))
    return checks

"""Each saga path and edge case, as an example on the embedded runtime."""

from __future__ import annotations

from datetime import timedelta

import pytest
from eventsourcing.persistence import OperationalError

from booking.application import IdempotencyConflict
from booking.domain import BookingRuleViolation, BookingStatus
from embedded.system import EmbeddedSystem
from inventory.domain import HoldLimits
from payment.gateway import AUTHENTICATION_REQUIRED, IntentStateError, SimulatedProvider
from projections.sources import read_public
from shared import ids
from shared.clock import FakeClock
from shared.contracts import TOPICS, decode
from tests.support import invariants as inv
from tests.support.embedded import embedded_system

HOLD = timedelta(minutes=10)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def provider() -> SimulatedProvider:
    return SimulatedProvider()


@pytest.fixture
def system(clock, provider) -> EmbeddedSystem:
    s = embedded_system(clock=clock, limits=HoldLimits(max_seats=4, hold_for=HOLD), provider=provider)
    s.inventory.open_show("s1", {f"A{i}": "std" for i in range(1, 7)}, {"std": 1000}, "EUR")
    s.run_until_quiet()
    return s


def book(system, customer="ann", seats=("A1", "A2"), method="pm_card_visa", key="k1", show="s1"):
    booking, _, _ = system.booking.request_booking(customer, key, show, list(seats), method)
    return booking.id


def status(system, booking_id):
    return system.booking.get_booking(booking_id).status


def seat_states(system, *seats):
    show = system.inventory.get_show("s1")
    return [show.seat_state(s) for s in seats]


def at_rest_ok(system, clock, provider, cancelled=frozenset()):
    inv.settle(system, clock, HOLD)
    inv.check_at_rest(system, provider.ledger, {}, set(cancelled))


def test_happy_path_confirms_books_seats_and_charges_once(system, clock, provider):
    b = book(system)
    assert status(system, b) is BookingStatus.PENDING  # the response comes before the saga
    system.run_until_quiet()
    assert status(system, b) is BookingStatus.CONFIRMED
    assert seat_states(system, "A1", "A2") == ["BOOKED", "BOOKED"]
    assert provider.ledger.captured_by_booking() == {str(b): 2000}
    at_rest_ok(system, clock, provider)


def test_failure_then_retry_confirms(system, clock, provider):
    b = book(system, method="pm_card_chargeDeclined")
    system.run_until_quiet()
    assert status(system, b) is BookingStatus.PAYMENT_PENDING
    assert seat_states(system, "A1") == ["RESERVED"]  # a failure does not release seats
    clock.advance(timedelta(minutes=5))
    system.sweep()
    assert seat_states(system, "A1") == ["RESERVED"]
    system.booking.retry_payment(b, "ann", "pm_card_visa")
    system.run_until_quiet()
    assert status(system, b) is BookingStatus.CONFIRMED
    at_rest_ok(system, clock, provider)


def test_no_retry_cancels_at_expiry_and_frees_the_seats(system, clock, provider):
    b = book(system, method="pm_card_chargeDeclined")
    system.run_until_quiet()
    clock.advance(HOLD - timedelta(seconds=1))
    assert system.inventory.release_expired_holds() == 0  # the timers also remind, send
    clock.advance(timedelta(seconds=1))
    assert system.inventory.release_expired_holds() == 1
    system.sweep()
    booking = system.booking.get_booking(b)
    assert (booking.status, booking.cancellation_reason) == (BookingStatus.CANCELLED, "hold_expired")
    assert seat_states(system, "A1", "A2") == ["AVAILABLE", "AVAILABLE"]
    with pytest.raises(BookingRuleViolation):
        system.booking.retry_payment(b, "ann", "pm_card_visa")
    at_rest_ok(system, clock, provider)


def test_customer_cancel_releases_the_seats(system, clock, provider):
    b = book(system, method="pm_card_chargeDeclined")
    system.run_until_quiet()
    system.booking.cancel(b, "ann")
    system.run_until_quiet()
    assert system.booking.get_booking(b).cancellation_reason == "cancelled_by_customer"
    assert seat_states(system, "A1", "A2") == ["AVAILABLE", "AVAILABLE"]
    at_rest_ok(system, clock, provider, {b})


def test_a_late_success_is_refunded_and_never_resurrects_seats(system, clock, provider):
    b = book(system, method="pm_card_chargeDeclined")
    system.run_until_quiet()
    system.booking.retry_payment(b, "ann", "pm_card_visa")
    # Payment charges within the hold, but inventory hears of it only after the deadline.
    system.relays["booking"].relay_once()
    payment_consumer = system.consumers["payment"]
    for tp in payment_consumer.ready():
        while payment_consumer.deliver(*tp):
            pass
    assert provider.ledger.captured_by_booking() == {str(b): 2000}
    clock.advance(HOLD)
    system.run_until_quiet()
    booking = system.booking.get_booking(b)
    assert booking.status is BookingStatus.CANCELLED
    assert booking.refunded_amount == 2000
    assert seat_states(system, "A1", "A2") == ["AVAILABLE", "AVAILABLE"]
    assert system.payment.get_payment(b).refunded
    at_rest_ok(system, clock, provider)


def test_customer_cancel_racing_a_success_refunds(system, clock, provider):
    b = book(system)
    # Inventory and payment act, but booking hears nothing before its customer cancels.
    for _ in range(6):
        system.relay_all()
        for name in ("inventory", "payment"):
            c = system.consumers[name]
            for tp in c.ready():
                while c.deliver(*tp):
                    pass
    assert seat_states(system, "A1") == ["BOOKED"]
    system.booking.cancel(b, "ann")
    system.run_until_quiet()
    assert status(system, b) is BookingStatus.CANCELLED
    assert seat_states(system, "A1", "A2") == ["AVAILABLE", "AVAILABLE"]
    assert provider.ledger.refunded_total() == 2000
    at_rest_ok(system, clock, provider, {b})


def test_contention_each_seat_is_won_once(system, clock, provider):
    # Requests booking cannot refuse at once (it forgets what it knew in between, as
    # through different instances): inventory decides.
    ids = []
    for i in range(5):
        ids.append(book(system, customer=f"c{i}", seats=("A3", "A4"), key=f"k{i}"))
        system.booking.taken_seats.forget()
    system.run_until_quiet()
    statuses = [status(system, b) for b in ids]
    assert statuses.count(BookingStatus.CONFIRMED) == 1
    losers = [system.booking.get_booking(b) for b in ids if status(system, b) is BookingStatus.CANCELLED]
    assert {(x.cancellation_reason, x.cancellation_detail) for x in losers} == {
        ("seats_unavailable", "seats_taken")
    }
    at_rest_ok(system, clock, provider)


@pytest.mark.parametrize(
    ("show", "seats", "detail"),
    [
        ("s1", ("A1", "Z9"), "unknown_seat"),
        ("nope", ("A1",), "unknown_show"),
        ("s1", ("A1", "A2", "A3", "A4", "A5"), "too_many_seats"),
        ("s1", ("A1", "A1"), "duplicate_seat"),
    ],
)
def test_rejections_cancel_with_the_reason(system, clock, provider, show, seats, detail):
    b = book(system, seats=seats, show=show)
    system.run_until_quiet()
    booking = system.booking.get_booking(b)
    assert (booking.status, booking.cancellation_detail) == (BookingStatus.CANCELLED, detail)
    assert provider.ledger.captured_by_booking() == {}
    at_rest_ok(system, clock, provider)


def test_same_idempotency_key_returns_the_same_booking_and_different_content_conflicts(system):
    b = book(system)
    assert book(system) == b
    events = system.booking.recorder.max_notification_id()
    assert book(system) == b and system.booking.recorder.max_notification_id() == events
    with pytest.raises(IdempotencyConflict):
        book(system, seats=("A5",))
    assert book(system, customer="bob", seats=("A3",)) != b  # keys are per customer


def test_republished_and_redelivered_messages_have_no_further_effect(system, clock, provider):
    b = book(system)
    system.run_until_quiet()
    sizes = {n: a.recorder.max_notification_id() for n, a in system.apps.items()}
    # Republish every service's whole log (a relay that lost its position) ...
    for relay in system.relays.values():
        relay._position = 0  # as if it had lost its position: republish everything
        relay.relay_once()
    # ... and rewind every consumer to the start (redelivery).
    for consumer in system.consumers.values():
        for tp in list(consumer.offsets):
            consumer.rewind(*tp, by=1000)
    system.run_until_quiet()
    assert {n: a.recorder.max_notification_id() for n, a in system.apps.items()} == sizes
    assert provider.ledger.successful_charges_by_booking() == {str(b): 1}
    at_rest_ok(system, clock, provider)


def test_restarted_inventory_recovers_deadlines_missed_while_down(system, clock, provider):
    b = book(system, method="pm_card_chargeDeclined")
    system.run_until_quiet()
    clock.advance(HOLD * 3)  # the process was down past the deadline
    system.start_services()
    assert not system.inventory.deadlines  # not read yet: the first sweep learns them
    system.sweep()  # from the event store
    assert status(system, b) is BookingStatus.CANCELLED


def test_deadlines_not_learned_for_a_failed_read_are_learned_by_the_next_sweep(
    system, clock, provider, monkeypatch,
):
    b = book(system, method="pm_card_chargeDeclined")
    system.run_until_quiet()
    clock.advance(HOLD * 3)
    system.start_services()

    def store_away(*args, **kwargs):
        raise OperationalError("the store did not answer")

    monkeypatch.setattr(system.inventory, "notifications", store_away)
    with pytest.raises(OperationalError):
        system.sweep()
    monkeypatch.undo()
    system.sweep()
    assert status(system, b) is BookingStatus.CANCELLED


def test_messages_are_keyed_by_show(system):
    book(system)
    system.relay_all()
    logs = system.broker.logs[TOPICS["booking"]]
    assert [decode(v).show_id for p in logs for _, v in p] == ["s1"]
    assert [k for p in logs for k, _ in p] == ["s1"]


class FlakyProvider(SimulatedProvider):
    """Fails its first create the way a network call does: after the caller has begun."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    def create_intent(self, *args, **kwargs):
        if self.failures:
            self.failures -= 1
            raise ConnectionError("provider unreachable")
        return super().create_intent(*args, **kwargs)


def test_a_provider_unreachable_leaves_no_trace_in_the_cache_and_is_asked_again(clock):
    """Writers change cached aggregates in place (no copy); a follow-up whose call fails
    leaves nothing unsaved behind, and the reconciliation makes the attempt it left due."""
    provider = FlakyProvider()
    system = embedded_system(clock=clock, limits=HoldLimits(max_seats=4, hold_for=HOLD),
                             provider=provider)
    system.inventory.open_show("s1", {f"A{i}": "std" for i in range(1, 7)}, {"std": 1000}, "EUR")
    b = book(system)
    with pytest.raises(ConnectionError):
        system.run_until_quiet()  # payment recorded the amount due, then could not create
    payment_id = ids.payment_id(b)
    stored = system.payment.recorder.select_events(payment_id)
    assert system.payment.find(payment_id).version == len(stored)  # nothing unsaved
    assert system.payment.find(payment_id).started == {}  # nothing asked of the provider
    system.sweep()  # the reconciliation makes the attempt; the charge goes through
    assert status(system, b) is BookingStatus.CONFIRMED
    system.start_services()  # every aggregate reloaded from its store, nothing cached
    assert status(system, b) is BookingStatus.CONFIRMED
    assert provider.ledger.successful_charges_by_booking() == {str(b): 1}
    at_rest_ok(system, clock, provider)


def test_a_customer_over_the_hold_limit_is_cancelled_until_a_hold_ends(clock, provider):
    system = embedded_system(clock=clock, provider=provider,
                             limits=HoldLimits(max_seats=4, hold_for=HOLD, max_held_per_customer=3))
    system.inventory.open_show("s1", {f"A{i}": "std" for i in range(1, 7)}, {"std": 1000}, "EUR")
    held = book(system, seats=("A1", "A2"), method="pm_card_chargeDeclined", key="k1")
    system.run_until_quiet()
    over = book(system, seats=("A3", "A4"), key="k2")  # 2 held + 2 asked > 3
    system.run_until_quiet()
    refused = system.booking.get_booking(over)
    assert (refused.status, refused.cancellation_detail) == (BookingStatus.CANCELLED,
                                                             "customer_hold_limit")
    assert seat_states(system, "A3", "A4") == ["AVAILABLE", "AVAILABLE"]
    other = book(system, customer="bob", seats=("A3", "A4"), key="k3")  # others are not limited
    one_more = book(system, seats=("A5",), key="k4")  # 2 held + 1 = 3: within the limit
    system.run_until_quiet()
    assert status(system, other) is status(system, one_more) is BookingStatus.CONFIRMED
    clock.advance(HOLD)  # ann's unpaid hold expires: she may hold again
    system.sweep()
    system.run_until_quiet()
    assert status(system, held) is BookingStatus.CANCELLED
    again = book(system, seats=("A1", "A2", "A6"), key="k5")
    system.run_until_quiet()
    assert status(system, again) is BookingStatus.CONFIRMED
    at_rest_ok(system, clock, provider)


def test_a_request_written_without_the_lock_never_caches_a_stale_copy(system, clock, provider):
    # The race: a booking request commits outside the write lock, and before its thread
    # goes on, the saga runs (relay, inventory, payment, booking's consumer moving the
    # booking on). Whatever the request's thread does after its commit must not replace
    # the consumer's newer copy in the cache with its own older one.
    store, real_put, raced = system.booking.events, system.booking.events.put, []

    def put_then_race(events, **kwargs):
        recordings = real_put(events, **kwargs)
        if not raced:
            raced.append(True)
            system.run_until_quiet()  # the consumer wins the race
        return recordings

    store.put = put_then_race
    try:
        b = book(system)
    finally:
        store.put = real_put
    assert raced
    system.run_until_quiet()
    assert status(system, b) is BookingStatus.CONFIRMED
    at_rest_ok(system, clock, provider)


def test_the_relay_publishes_every_public_event_and_decodes_private_topics_once(system):
    book(system, key="k1")
    book(system, customer="bob", seats=("A3",), method="pm_card_chargeDeclined", key="k2")
    system.run_until_quiet()  # the relay has met payment's private topics by now
    payment, answers = system.payment, []
    real = payment.to_public

    def counting(domain_event):
        answers.append(real(domain_event))
        return answers[-1]

    def relay_payment() -> int:  # count what the relay alone asks (the views ask too)
        payment.to_public = counting
        try:
            return system.relays["payment"].relay_once()
        finally:
            del payment.to_public

    book(system, customer="cy", seats=("A4",), key="k3")
    book(system, customer="di", seats=("A5",), method="pm_card_chargeDeclined", key="k4")
    for _ in range(100):
        others = sum(r.relay_once() for name, r in system.relays.items() if name != "payment")
        if not relay_payment() + others + system.deliver_all():
            break
    # Private events (Opened, AttemptRequested, AmountDue ...) were skipped undecoded.
    assert answers and all(a is not None for a in answers)
    # And everything public in payment's store was published, nothing else.
    published = [decode(v) for part in system.broker.logs[TOPICS["payment"]] for _, v in part]
    public = [e for *_, e in read_public(payment, 1, 10_000).events]
    assert sorted(e.event_id for e in published) == sorted(e.event_id for e in public)
    assert len(public) >= 4


def test_the_relay_is_caught_up_only_after_reading_less_than_a_full_batch(system):
    """The relay loop waits for a write only then (shared/runtime.py); after a full batch
    it reads again at once, since more may be stored."""
    relay = system.relays["booking"]
    relay.batch_size = 2
    for i in range(3):  # three BookingRequested events
        book(system, customer=f"c{i}", seats=(f"A{i + 1}",), key=f"k{i}")
    assert relay.relay_once() == 2 and not relay.caught_up
    assert relay.relay_once() == 1 and relay.caught_up
    assert relay.relay_once() == 0 and relay.caught_up
    assert len([v for part in system.broker.logs[TOPICS["booking"]] for _, v in part]) == 3


# --- the crash-safety rule: an intent's id is recorded before it is confirmed ---------


class Crash(BaseException):
    """The process dies here (not an Exception: nothing on the way catches it)."""


class CrashingProvider(SimulatedProvider):
    """Dies once, at ``where``: after creating an intent, before a confirm reaches the
    provider, or after the provider confirmed (charged) but before its answer is read."""

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where

    def create_intent(self, *args, **kwargs):
        intent = super().create_intent(*args, **kwargs)
        self._maybe("after_create")
        return intent

    def confirm(self, key, intent_id):
        self._maybe("before_confirm")
        intent = super().confirm(key, intent_id)
        self._maybe("after_confirm")
        return intent

    def _maybe(self, here: str) -> None:
        if self.where == here:
            self.where = ""
            raise Crash(here)


def intents_of(provider: SimulatedProvider, booking_id) -> list[str]:
    return [i.status for i in provider.store.intents.values() if i.booking_id == str(booking_id)]


def crashed(where: str, clock):
    provider = CrashingProvider(where)
    system = embedded_system(clock=clock, limits=HoldLimits(max_seats=4, hold_for=HOLD),
                             provider=provider)
    system.inventory.open_show("s1", {f"A{i}": "std" for i in range(1, 7)}, {"std": 1000}, "EUR")
    b = book(system)
    with pytest.raises(Crash):
        system.run_until_quiet()
    system.start_services()  # every service restarts: what was only in memory is gone
    system.run_until_quiet()
    return system, provider, b


def test_an_intent_created_but_not_recorded_is_never_confirmed(clock):
    system, provider, b = crashed("after_create", clock)
    assert status(system, b) is BookingStatus.PAYMENT_PENDING  # its message was recorded
    # The payment started again learns that its attempt is due, and the reconciliation
    # makes it, with a new intent (the provider ignores keys): the first one, never
    # recorded, was never confirmed and charged nothing.
    system.sweep()
    assert status(system, b) is BookingStatus.CONFIRMED
    assert sorted(intents_of(provider, b)) == ["requires_confirmation", "succeeded"]
    assert list(provider.ledger.confirmations_by_intent().values()) == [1]
    at_rest_ok(system, clock, provider)


def test_an_intent_recorded_but_not_confirmed_is_confirmed_by_the_reconciliation(clock):
    system, provider, b = crashed("before_confirm", clock)
    assert status(system, b) is BookingStatus.PAYMENT_PENDING  # nothing answers by itself
    assert intents_of(provider, b) == ["requires_confirmation"]
    clock.advance(system.payment.reconcile_after - timedelta(seconds=1))
    system.sweep()
    assert status(system, b) is BookingStatus.PAYMENT_PENDING  # not pending long enough
    clock.advance(timedelta(seconds=1))
    system.sweep()
    assert status(system, b) is BookingStatus.CONFIRMED
    assert list(provider.ledger.confirmations_by_intent().values()) == [1]
    at_rest_ok(system, clock, provider)


def test_an_intent_confirmed_before_a_crash_is_recorded_not_confirmed_again(clock):
    system, provider, b = crashed("after_confirm", clock)
    assert intents_of(provider, b) == ["succeeded"]  # charged, but not recorded
    clock.advance(system.payment.reconcile_after)
    system.sweep()
    assert status(system, b) is BookingStatus.CONFIRMED
    assert list(provider.ledger.confirmations_by_intent().values()) == [1]
    at_rest_ok(system, clock, provider)


def test_an_intent_left_unconfirmed_past_the_hold_is_cancelled_never_charged(clock):
    system, provider, b = crashed("before_confirm", clock)
    clock.advance(HOLD)
    system.sweep()
    booking = system.booking.get_booking(b)
    assert (booking.status, booking.cancellation_reason) == (BookingStatus.CANCELLED,
                                                             "hold_expired")
    assert intents_of(provider, b) == ["canceled"]
    assert provider.ledger.confirmations_by_intent() == {}
    assert system.payment.get_payment(b).attempts[0]["reason"] == "hold_expired"
    at_rest_ok(system, clock, provider)


# --- open intents when the hold goes ------------------------------------------------------


def three_d_secure_waiting(system):
    b = book(system, method=AUTHENTICATION_REQUIRED)
    system.run_until_quiet()
    [waiting] = system.payment.get_payment(b).open_intents()
    assert waiting.client_secret and status(system, b) is BookingStatus.PAYMENT_PENDING
    return b, waiting.intent_id


def test_an_intent_waiting_when_the_hold_expires_is_cancelled(system, clock, provider):
    b, intent_id = three_d_secure_waiting(system)
    clock.advance(HOLD)
    system.sweep()
    booking = system.booking.get_booking(b)
    assert (booking.status, booking.cancellation_reason) == (BookingStatus.CANCELLED,
                                                             "hold_expired")
    assert provider.retrieve(intent_id).status == "canceled"
    with pytest.raises(IntentStateError):  # too late to authenticate: nothing is charged
        provider.authenticate(intent_id, success=True)
    assert system.payment.get_payment(b).attempts[0]["reason"] == "canceled"
    at_rest_ok(system, clock, provider)


def test_an_intent_waiting_when_the_customer_cancels_is_cancelled(system, clock, provider):
    b, intent_id = three_d_secure_waiting(system)
    system.booking.cancel(b, "ann")
    system.run_until_quiet()
    assert provider.retrieve(intent_id).status == "canceled"
    assert not system.payment.get_payment(b).open_intents()
    at_rest_ok(system, clock, provider, {b})


def test_an_authentication_racing_the_release_is_refunded(system, clock, provider):
    b, intent_id = three_d_secure_waiting(system)
    provider.authenticate(intent_id, success=True)  # its webhook is not delivered yet ...
    system.booking.cancel(b, "ann")  # ... when the hold is released: the cancel answers it
    system.run_until_quiet()
    booking = system.booking.get_booking(b)
    assert (booking.status, booking.refunded_amount) == (BookingStatus.CANCELLED, 2000)
    assert provider.ledger.captured_by_booking() == {str(b): 2000}
    assert provider.ledger.refunded_total() == 2000
    at_rest_ok(system, clock, provider, {b})


def test_a_webhook_taken_by_another_instance_finds_the_payment_as_stored(clock):
    """Any payment instance takes webhooks; one that cached the payment before its
    attempt started (it does not follow that partition) must still find the intent."""
    from payment.application import PaymentService

    provider = SimulatedProvider(clock=clock, queue_events=True)
    system = embedded_system(clock=clock, limits=HoldLimits(max_seats=4, hold_for=HOLD),
                             provider=provider)
    system.inventory.open_show("s1", {f"A{i}": "std" for i in range(1, 7)}, {"std": 1000}, "EUR")
    system.webhooks_delivered = False
    b = book(system, method=AUTHENTICATION_REQUIRED)
    system.relay_all()
    system.consumers["payment"].deliver(*system.consumers["payment"].ready()[0])
    other = PaymentService(clock=clock, provider=provider, recorder=system.payment.recorder)
    try:
        with other.writing():  # cached by the other instance, before any attempt
            assert not other.find(ids.payment_id(b)).started
        system.run_until_quiet()
        [waiting] = system.payment.get_payment(b).open_intents()
        provider.events.clear()
        provider.authenticate(waiting.intent_id, success=True)
        [succeeded] = provider.events
        assert other.provider_event(succeeded)
    finally:
        other.close()
    system.start_services()  # the services read what the other instance wrote
    system.run_until_quiet()
    assert status(system, b) is BookingStatus.CONFIRMED


def test_a_confirm_whose_write_loses_to_another_writer_is_not_sent_again(
    system, clock, provider, monkeypatch,
):
    """The write recording a confirm's answer fails its version check (another instance
    wrote the payment): decided again, the intent is retrieved, never confirmed again."""
    from eventsourcing.persistence import IntegrityError

    payment, real_save, lost = system.payment, system.payment.save_all, []

    def save_losing_once(*aggregates):
        if not lost:
            lost.append(True)
            raise IntegrityError("another writer won")
        return real_save(*aggregates)

    monkeypatch.setattr(payment, "save_all", save_losing_once)  # follow-ups' writes only
    b = book(system)
    system.run_until_quiet()
    assert lost and status(system, b) is BookingStatus.CONFIRMED
    assert list(provider.ledger.confirmations_by_intent().values()) == [1]
    monkeypatch.undo()
    at_rest_ok(system, clock, provider)


def test_the_checks_read_again_only_what_moved_and_see_all_of_it(system):
    """The checks after every step read from the stores only what the step wrote (the
    aggregates at a new version, the events after those already read)."""
    first = book(system, "ann", ["A1"], "pm_card_chargeDeclined", key="a")
    second = book(system, "bob", ["A2"], key="b")
    system.run_until_quiet()
    before = {b.id: b for b in inv.bookings(system)}
    assert before[first].status is BookingStatus.PAYMENT_PENDING
    events = len(inv.domain_events(system, "booking"))
    system.booking.cancel(first, "ann")
    system.run_until_quiet()
    after = {b.id: b for b in inv.bookings(system)}
    assert after[first].status is BookingStatus.CANCELLED  # moved: read again
    assert after[second] is before[second]  # at the version read before: that copy
    moved = inv.domain_events(system, "booking")[events:]
    assert [type(e).__name__ for e in moved] == ["Cancelled"]

"""Deterministic simulation of the whole saga, driven by hypothesis.

Customers race for overlapping seats on two small shows, some with a quote for seats of
show-b; payments succeed, fail or wait for 3-D Secure, which customers complete, fail or
abandon for another method; customers retry and cancel, and change their contact details; the theatre withdraws seats and
cancels a show; operators change the chain's price rules (at once, or from a moment that
the timers then reach) and set or clear show-b's demand rule; the clock jumps and the
services' timers run; the broker delivers partitions in any interleaving, relays crash
and republish, consumers are rewound and restarted, and whole services restart from
their stores. The provider's webhooks are delivered in any order, repeated or lost (the
reconciliation finds what a lost one said), and payment dies after creating an intent,
before confirming it or after the provider charged. The notification service's email
provider has outages, and the service dies right after a send it had not yet recorded.
After every step the invariants that
hold at every moment are checked (tests/support/invariants.py), the prices' among them,
and at rest all of them (6, no further effect of a repeat, is checked by the steps that
repeat).

Profiles: HYPOTHESIS_PROFILE=ci (default, 2,000 scenarios), dev (200), long (20,000).
"""

from __future__ import annotations

import contextlib
import os
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from booking.application import IdempotencyConflict, SeatsTaken
from booking.domain import BookingRuleViolation
from inventory.domain import HoldLimits
from notifications.contact import LANGUAGES, ContactDetails
from notifications.domain import KINDS
from notifications.recording import Crash as NotifierCrash
from payment.gateway import AUTHENTICATION_REQUIRED, SimulatedProvider
from pricing.application import ShowNotFound
from pricing.domain import ShowNotPriceable
from pricing.rules import Adjustment, PriceRules, TimeBand
from shared import quotes
from shared.clock import FakeClock
from shared.contracts import DemandRule, decode
from shared.services import NAMES
from tests.support import invariants as inv
from tests.support.embedded import embedded_system
from theatre.domain import ShowIsCancelled, ShowPlan

common = {"deadline": None, "suppress_health_check": list(HealthCheck), "stateful_step_count": 40}
settings.register_profile("dev", max_examples=200, **common)
settings.register_profile("ci", max_examples=2_000, **common)
settings.register_profile("long", max_examples=20_000, **common)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")

HOLD = timedelta(minutes=10)
HELD_PER_CUSTOMER = 2  # low, so that customers with several bookings run into it
SHOWS = {"show-a": ["A1", "A2", "A3", "A4"], "show-b": ["B1", "B2", "B3"]}
CUSTOMERS = ["ann", "bob", "cat"]
# Ann and Bob gave an email address (Bob a browser's push subscription too); Cat gave no
# contact details, so she is told nothing.
CONTACTS = {"ann": "ann@example.com", "bob": "bob@example.com"}
PUSH = {"endpoint": "https://push.example.net/send/bob",
        "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
        "auth": "tBHItJI5svbpez7KI4CCXg"}
METHODS = ["pm_card_visa", "pm_card_chargeDeclined", AUTHENTICATION_REQUIRED]
SERVICES = list(NAMES)
FILM = {"title": "Dune", "runtime_minutes": 100, "rating": "12A", "language": "en",
        "format": "2D"}
SEATS_B = {"B1": "Regular", "B2": "Regular", "B3": "Premium"}
# The chain's rules as operators change them: a base for each of show-b's categories (rules
# without one price it from the list price, and cannot in another currency: CannotPrice),
# an evening band (show-b starts at 18:00 local), sometimes a theatre's own base, a
# rounding step and a cap that demand uplifts run into.
PRICE_RULES = st.builds(
    lambda regular, premium, own, evening, rounding, cap: PriceRules(
        currency="EUR",
        base={"*": {"Regular": regular, "Premium": premium},
              **({} if own is None else {"odeon": {"Regular": own}})},
        time_bands=[TimeBand(name="evening", starts="17:00", ends="23:00",
                             adjustment=Adjustment(percent=evening))],
        rounding=rounding,
        caps={} if cap is None else {"Regular": cap},
    ),
    regular=st.sampled_from([800, 900, 1000]),
    premium=st.sampled_from([1300, 1500]),
    own=st.sampled_from([None, None, 950]),
    evening=st.sampled_from([100, 115]),
    rounding=st.sampled_from([1, 50]),
    cap=st.sampled_from([None, 1000]),
)
# Thresholds that three seats cross: a Regular seat booked is 50 % of its category, the
# Premium seat 100 % of its own.
DEMAND_RULE = st.builds(
    DemandRule, threshold_percent=st.sampled_from([30, 50, 100]),
    uplift_percent=st.sampled_from([10, 25]), every_percent=st.sampled_from([0, 25]),
    max_uplift_percent=st.just(50),
)


class Crash(BaseException):
    """The payment process dies (not an Exception: nothing on the way catches it)."""


class CrashingProvider(SimulatedProvider):
    """The simulated provider, at which payment's process may die once (``crash_at``):
    after creating an intent, before a confirm reaches it, or after it charged."""

    crash_at = ""

    def create_intent(self, *args, **kwargs):
        intent = super().create_intent(*args, **kwargs)
        self._crash("after_create")
        return intent

    def confirm(self, key, intent_id):
        self._crash("before_confirm")
        intent = super().confirm(key, intent_id)
        self._crash("after_confirm")
        return intent

    def _crash(self, here: str) -> None:
        if self.crash_at == here:
            self.crash_at = ""
            raise Crash(here)


class SagaSimulation(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.provider = CrashingProvider(clock=self.clock, queue_events=True, ids_from="sim")
        self.system = embedded_system(
            clock=self.clock,
            limits=HoldLimits(max_seats=3, hold_for=HOLD, max_held_per_customer=HELD_PER_CUSTOMER),
            provider=self.provider, partitions=2,
        )
        # show-a is opened by an operator's PUT to inventory; show-b is scheduled by the
        # theatre, which may then withdraw its seats and cancel it.
        self.system.inventory.open_show("show-a", {s: "std" for s in SHOWS["show-a"]},
                                        {"std": 900}, "EUR")
        theatre = self.system.theatre
        theatre.register_theatre("odeon", "Odeon", "London", "Leicester Square", "Europe/London")
        theatre.lay_out_screen("odeon", "one", "Screen 1", [{"row": "B", "seats": [
            {"number": int(s[1:]), "column": int(s[1:]), "category": category}
            for s, category in SEATS_B.items()]}])
        theatre.schedule_show(ShowPlan("show-b", "odeon", "one", FILM, "2030-06-01T18:00",
                                       {"Regular": 900, "Premium": 1300}, "EUR"))
        self.system.run_until_quiet()
        for customer in CONTACTS:
            self.customer_changes_contact(customer, "en", True, customer == "bob")
        # Pricing prices show-b (its version 1: the list prices) and quotes for it; show-a
        # keeps its list prices (version 0), and requests for it carry no quote.
        assert self.system.inventory.get_show("show-b").seats == SEATS_B
        assert self.system.inventory.get_show("show-b").price_version == 1
        self.secret = self.system.settings.token_secret  # what quotes are signed with
        self.quotes: list[tuple[str, list[str], str]] = []  # customer, seats, quote token
        self.booking_ids: list = []
        self.statuses: dict = {}
        self.processed: dict[str, set[str]] = {s: set() for s in SERVICES}
        self.customer_cancelled: set = set()  # bookings whose customer asked to cancel
        self.delivered: list = []  # the provider's events delivered once
        # Events the reconciliation can stand in for (an open intent's outcome); the
        # provider's others (a declined intent paid again) are never lost in the
        # simulation, as Stripe retries a webhook until it is taken.
        self.losable: set[str] = set()

    # --- customers -------------------------------------------------------------

    @rule(
        customer=st.sampled_from(CUSTOMERS),
        key=st.integers(0, 5),
        show=st.sampled_from([*SHOWS, "show-unknown"]),
        data=st.data(),
        method=st.sampled_from(METHODS),
        follow=st.booleans(),
    )
    def request_booking(self, customer, key, show, data, method, follow) -> None:
        own = SHOWS.get(show, ["A1"])
        seat = st.one_of(st.sampled_from(own), st.sampled_from(own), st.just("Z9"))
        seats = data.draw(st.one_of(  # half of them valid requests, half anything
            st.lists(st.sampled_from(own), min_size=1, max_size=3, unique=True),
            st.lists(seat, min_size=1, max_size=3),
        ), label="seats")
        self._request(customer, key, show, seats, method, follow, data)

    def _request(self, customer, key, show, seats, method, follow, data,
                 quoted_amount=None) -> None:
        before = self._log_sizes()
        try:
            booking, created, _ = self.system.booking.request_booking(
                customer, f"key-{key}", show, seats, method, quoted_amount
            )
        except IdempotencyConflict:
            assert self._log_sizes() == before
            return
        except SeatsTaken as refused:  # known taken: refused at once, nothing recorded
            assert self._log_sizes() == before
            assert refused.seat_ids and set(refused.seat_ids) <= set(seats)
            return
        if created:
            self.booking_ids.append(booking.id)
        else:  # invariant 6: a repeated request has no further effect
            assert self._log_sizes() == before
        if follow:
            # One round of the saga at once: without it most requests are still PENDING
            # when a scenario ends, and live holds (their expiry, retries, the hold limit)
            # are seldom reached.
            self.everyone_catches_up(data.draw(st.permutations(SERVICES), label="order"))

    @rule(
        customer=st.sampled_from(CUSTOMERS),
        seats=st.lists(st.sampled_from(SHOWS["show-b"]), min_size=1, max_size=2, unique=True),
        book_now=st.booleans(),
        key=st.integers(0, 5),
        data=st.data(),
        method=st.sampled_from(METHODS),
        follow=st.booleans(),
    )
    def customer_asks_for_a_quote(self, customer, seats, book_now, key, data, method,
                                  follow) -> None:
        """A quote for seats of show-b, booked with at once or kept for later (when the
        prices may have moved on, or the quote expired)."""
        try:
            quoted = self.system.pricing.quote("show-b", seats, self.secret)
        except ShowNotFound:  # cancelled, as pricing knows
            return
        self.quotes.append((customer, seats, quoted.token))
        if book_now:
            self._book_with_quote(customer, seats, quoted.token, key, method, follow, data)

    @precondition(lambda self: self.quotes)
    @rule(key=st.integers(0, 5), data=st.data(), method=st.sampled_from(METHODS),
          follow=st.booleans())
    def customer_books_with_a_kept_quote(self, key, data, method, follow) -> None:
        customer, seats, token = data.draw(st.sampled_from(self.quotes), label="quote")
        self._book_with_quote(customer, seats, token, key, method, follow, data)

    def _book_with_quote(self, customer, seats, token, key, method, follow, data) -> None:
        """As booking's HTTP layer does: the quote is read back and checked, and the
        request carries its amount."""
        try:
            quote = quotes.read(token, self.secret, self.clock.now())
        except quotes.QuoteExpired:  # refused (409), nothing recorded: ask for a new one
            return
        quotes.check_matches(quote, "show-b", seats)
        self._request(customer, key, "show-b", seats, method, follow, data, quote.amount)

    @precondition(lambda self: self.booking_ids)
    @rule(data=st.data(), method=st.sampled_from(METHODS))
    def retry_payment(self, data, method) -> None:
        booking_id = data.draw(st.sampled_from(self.booking_ids))
        booking = self.system.booking.get_booking(booking_id)
        try:
            self.system.booking.retry_payment(booking_id, booking.customer_id, method)
        except BookingRuleViolation:
            pass

    @precondition(lambda self: self.booking_ids)
    @rule(data=st.data())
    def cancel(self, data) -> None:
        booking_id = data.draw(st.sampled_from(self.booking_ids))
        booking = self.system.booking.get_booking(booking_id)
        try:
            self.system.booking.cancel(booking_id, booking.customer_id)
            self.customer_cancelled.add(booking_id)
        except BookingRuleViolation:
            pass

    @rule(customer=st.sampled_from(CUSTOMERS), seat=st.sampled_from(SHOWS["show-a"]),
          order=st.permutations(SERVICES))
    def request_with_three_d_secure(self, customer, seat, order) -> None:
        """A booking whose payment waits for the customer, followed until it does."""
        try:
            booking, created, _ = self.system.booking.request_booking(
                customer, f"3ds-{seat}", "show-a", [seat], AUTHENTICATION_REQUIRED)
        except (IdempotencyConflict, SeatsTaken):
            return
        if created:
            self.booking_ids.append(booking.id)
        self.everyone_catches_up(order)
        self.everyone_catches_up(order)

    @precondition(lambda self: self._intents("requires_action"))
    @rule(data=st.data(), success=st.booleans())
    def customer_authenticates(self, data, success) -> None:
        """In the customer's browser: 3-D Secure completed, or failed."""
        before = len(self.provider.events)
        self.provider.authenticate(data.draw(st.sampled_from(self._intents("requires_action"))),
                                   success)
        self.losable.update(e.event_id for e in self.provider.events[before:])

    @precondition(lambda self: self._intents("failed"))
    @rule(data=st.data())
    def customer_pays_a_declined_intent_again(self, data) -> None:
        """Stripe lets a client confirm a declined intent again: a charge payment did not
        ask for, which it must refund (at most one charge per booking stands)."""
        self.provider.pay_again(data.draw(st.sampled_from(self._intents("failed"))))

    def _intents(self, status: str) -> list[str]:
        return sorted(i.intent_id for i in self.provider.store.intents.values()
                      if i.status == status)

    @rule(customer=st.sampled_from(sorted(CONTACTS)), language=st.sampled_from(LANGUAGES),
          reminders=st.booleans(), push=st.booleans())
    def customer_changes_contact(self, customer, language, reminders, push) -> None:
        """A language, payment reminders or not, a browser subscribed or not; the email
        address stays (a confirmation is owed to it at rest)."""
        self.system.notifications.set_contact(customer, ContactDetails.checked(
            CONTACTS[customer], language, [PUSH] if push else [], {}, reminders, KINDS))

    # --- the notifications' channels ------------------------------------------------

    @rule(outage=st.sampled_from([None, None, "smtp 421 busy"]))
    def email_provider(self, outage) -> None:
        """The email provider refuses every message for a while (retryable), or is back."""
        self.system.email.outage = outage

    @rule(order=st.permutations(SERVICES), jump=st.booleans())
    def notifier_dies_after_a_send(self, order, jump) -> None:
        """The notification service dies right after its provider accepted an email, before
        the send is recorded; every service restarts from its store (the fault rule's
        restart). Its next attempt is made once the send timeout has passed."""
        self.everyone_catches_up(order)
        if jump:
            self.clock.advance(self.system.notifications.retry.send_timeout)
        self.system.email.crash_after_next = True
        try:
            self.system.notifications.remind_due()
            self.system.notifications.dispatch_due()
        except NotifierCrash:
            self.system.start_services()
        finally:
            self.system.email.crash_after_next = False

    # --- the provider's webhooks and the reconciliation ----------------------------

    @precondition(lambda self: self.provider.events)
    @rule(data=st.data())
    def webhook_arrives(self, data) -> None:
        """The next event to arrive is any of those waiting: webhooks come in any order."""
        events = self.provider.events
        event = events.pop(data.draw(st.integers(0, len(events) - 1)))
        self.system.payment.provider_event(event)
        self.delivered.append(event)

    @precondition(lambda self: self.delivered)
    @rule(data=st.data())
    def webhook_arrives_again(self, data) -> None:
        event = data.draw(st.sampled_from(self.delivered))
        before = self._log_sizes()["payment"]
        assert self.system.payment.provider_event(event) is False
        assert self._log_sizes()["payment"] == before, f"payment reprocessed {event.event_id}"

    @rule(data=st.data())
    def webhook_lost(self, data) -> None:
        lost = [e for e in self.provider.events if e.event_id in self.losable]
        if lost:
            self.provider.events.remove(data.draw(st.sampled_from(lost)))

    @rule(jump=st.booleans())
    def reconciliation(self, jump) -> None:
        if jump:  # past the time after which a pending intent is asked about
            self.clock.advance(self.system.payment.reconcile_after)
        self.system.payment.reconcile()

    @rule(where=st.sampled_from(["after_create", "before_confirm", "after_confirm"]),
          customer=st.sampled_from(CUSTOMERS), seat=st.sampled_from(SHOWS["show-a"]),
          method=st.sampled_from(METHODS), order=st.permutations(SERVICES))
    def payment_dies_at_the_provider(self, where, customer, seat, method, order) -> None:
        """Payment's process dies at its next call of that kind, while a new booking (if
        its seat is free) and the rest of the saga move on; then it restarts from its
        store (every service does, as the fault rule's restart)."""
        with contextlib.suppress(IdempotencyConflict, SeatsTaken):
            booking, created, _ = self.system.booking.request_booking(
                customer, f"crash-{seat}", "show-a", [seat], method)
            if created:
                self.booking_ids.append(booking.id)
        self.provider.crash_at = where
        try:
            self.everyone_catches_up(order)
            self.everyone_catches_up(order)
        except Crash:
            self.system.start_services()
        finally:
            self.provider.crash_at = ""

    # --- the theatre ---------------------------------------------------------------

    @rule(seat=st.sampled_from(SHOWS["show-b"]))
    def theatre_withdraws_a_seat(self, seat) -> None:
        try:
            self.system.theatre.withdraw_seats("show-b", [seat], "broken")
        except ShowIsCancelled:
            pass

    @rule()
    def theatre_cancels_the_show(self) -> None:
        self.system.theatre.cancel_show("show-b", "print damaged")  # again: no effect

    @rule(customer=st.sampled_from(CUSTOMERS), seat=st.sampled_from(SHOWS["show-b"]),
          order=st.permutations(SERVICES))
    def theatre_cancels_after_a_sale(self, customer, seat, order) -> None:
        """A paid booking on show-b, then the cancellation, each reaching some services
        before the others move: the path that must cancel a confirmed booking and refund it."""
        if self.sell(customer, f"sale-{seat}", seat, order):
            self.theatre_cancels_the_show()

    def sell(self, customer: str, key: str, seat: str, order: list[str]) -> bool:
        """A paid booking of a show-b seat, each message reaching some services before the
        others move; False when it was refused at once (nothing to follow up)."""
        try:
            booking, created, _ = self.system.booking.request_booking(
                customer, key, "show-b", [seat], "pm_card_visa")
        except (IdempotencyConflict, SeatsTaken):
            return False
        if created:
            self.booking_ids.append(booking.id)
        self.everyone_catches_up(order)
        self.everyone_catches_up(order)
        return True

    # --- prices ----------------------------------------------------------------

    @rule(rules=PRICE_RULES, applies=st.sampled_from(["all_shows"] * 4 + ["new_shows"]),
          after=st.sampled_from([None, 1, 3, 5]))  # a jump lands on 1 or 3 exactly
    def operator_changes_the_rules(self, rules, applies, after) -> None:
        """New rules for every show on sale, at once (None) or once the clock reaches
        ``after`` minutes from now (the timer reprices), or for shows put on sale from
        then on (not show-b: its prices stay)."""
        effective_from = None if after is None else self.clock.now() + timedelta(minutes=after)
        self.system.pricing.change_rules(rules, applies, effective_from, "ops")

    @rule(demand=st.none() | DEMAND_RULE)  # None: cleared
    def operator_sets_the_demand_rule(self, demand) -> None:
        try:
            self.system.pricing.set_demand("show-b", demand, "ops")
        except ShowNotPriceable:  # cancelled, as pricing knows
            pass

    @rule(demand=DEMAND_RULE, customer=st.sampled_from(CUSTOMERS),
          seat=st.sampled_from(["B1", "B2"]), other=st.sampled_from(CUSTOMERS),
          key=st.integers(0, 5), quoted=st.booleans(), order=st.permutations(SERVICES),
          data=st.data())
    def demand_after_a_sale(self, demand, customer, seat, other, key, quoted, order,
                            data) -> None:
        """A demand rule for show-b, a Regular seat sold under it, then a booking for seats
        left (with a quote, or without), each reaching some services before the others
        move: the path on which a hold costs a demand uplift, or is refused
        (price_changed) when pricing quoted before it heard of the uplift."""
        self.operator_sets_the_demand_rule(demand)
        self.everyone_catches_up(order)
        if not self.sell(customer, f"demand-{seat}", seat, order):
            return
        left = [s for s in SHOWS["show-b"] if s != seat]
        seats = data.draw(st.lists(st.sampled_from(left), min_size=1, max_size=2, unique=True),
                          label="seats left")
        if quoted:
            self.customer_asks_for_a_quote(other, seats, True, key, data, "pm_card_visa", True)
        else:
            self._request(other, key, "show-b", seats, "pm_card_visa", True, data)

    # --- time ------------------------------------------------------------------

    @rule(minutes=st.sampled_from([1, 3, 9, 10, 11]))  # around the 10-minute deadline
    def clock_jumps(self, minutes) -> None:
        self.clock.advance(timedelta(minutes=minutes))

    @rule()
    def timers(self) -> None:
        """Every service's timers once, as its scheduler runs them: inventory releases
        the holds whose deadline passed, pricing reprices for rule changes now due."""
        for timer in self.system.timers:
            timer.job()

    # --- the broker and the processes -------------------------------------------

    @rule(service=st.sampled_from(SERVICES), crash=st.booleans())
    def relay(self, service, crash) -> None:
        if crash:  # published, then died before recording: the next relay republishes
            self.system.relays[service].publish_next()
        else:
            self.system.relays[service].relay_once()

    @rule(service=st.sampled_from(SERVICES), data=st.data())
    def deliver(self, service, data) -> None:
        consumer = self.system.consumers[service]
        ready = consumer.ready()
        if not ready:
            return
        topic, partition = data.draw(st.sampled_from(ready))
        self.deliver_one(service, topic, partition)

    def deliver_one(self, service: str, topic: str, partition: int) -> None:
        consumer = self.system.consumers[service]
        value = consumer.broker.read(topic, partition, consumer.offsets[(topic, partition)])
        event_id = decode(value).event_id
        before = self._log_sizes()[service]
        consumer.deliver(topic, partition)
        if event_id in self.processed[service]:
            # invariant 6: a duplicated or redelivered message has no further effect
            assert self._log_sizes()[service] == before, f"{service} reprocessed {event_id}"
        self.processed[service].add(event_id)

    @rule(service=st.sampled_from(SERVICES), most=st.integers(2, 6), data=st.data())
    def deliver_batch(self, service, most, data) -> None:
        """A run of one partition in one transaction, positions of ignored runs unwritten."""
        consumer = self.system.consumers[service]
        ready = consumer.ready()
        if not ready:
            return
        topic, partition = data.draw(st.sampled_from(ready))
        start = consumer.offsets[(topic, partition)]
        end = min(consumer.broker.end_offset(topic, partition), start + most)
        event_ids = [decode(consumer.broker.read(topic, partition, o)).event_id for o in range(start, end)]
        before = self._log_sizes()[service]
        consumer.deliver_batch(topic, partition, most)
        if all(e in self.processed[service] for e in event_ids):
            # invariant 6, for batches: a redelivered run has no further effect
            assert self._log_sizes()[service] == before, f"{service} reprocessed {event_ids}"
        self.processed[service].update(event_ids)
        if data.draw(st.booleans()):
            consumer.idle()

    @rule(service=st.sampled_from(SERVICES))
    def service_catches_up(self, service) -> None:
        # A coarse step (all that waits for one service, then its relay) reaches deep
        # interleavings, such as a success that arrives just after the deadline, quickly.
        consumer = self.system.consumers[service]
        for topic, partition in consumer.ready():
            while consumer.offsets[(topic, partition)] < consumer.broker.end_offset(topic, partition):
                self.deliver_one(service, topic, partition)
        self.system.relays[service].relay_once()

    @rule(order=st.permutations(SERVICES))
    def everyone_catches_up(self, order) -> None:
        for service in order:
            self.service_catches_up(service)

    @rule(
        service=st.sampled_from(SERVICES),
        fault=st.sampled_from(["rewind", "consumer_restart", "process_restart"]),
        by=st.integers(1, 4),
        data=st.data(),
    )
    def fault(self, service, fault, by, data) -> None:
        consumer = self.system.consumers[service]
        if fault == "rewind":  # redelivery, as after a rebalance
            if consumer.offsets:  # (a service that follows no topic has nothing to rewind)
                topic, partition = data.draw(st.sampled_from(sorted(consumer.offsets)))
                consumer.rewind(topic, partition, by)
        elif fault == "consumer_restart":  # positions reloaded from the service's store
            left_at = dict(consumer.offsets)
            consumer.restart()
            if any(consumer.offsets[tp] > at for tp, at in left_at.items()):
                # Ahead of where a rewind left it, past messages sent again: a consumer
                # skips messages only when a rebalance moves it, and that revokes the
                # partitions first, so what the service learned from them in memory
                # (booking's taken seats) goes too.
                self.system.apps[service].partitions_revoked()
        else:  # every service loses its memory (caches, deadline index) and restarts
            self.system.start_services()

    @rule()
    def project_views(self) -> None:
        self.system.project_all()

    # --- invariants -------------------------------------------------------------

    @invariant()
    def always(self) -> None:
        with inv.one_moment(self.system):
            inv.check_always(self.system, self.provider.ledger, self.statuses,
                             self.customer_cancelled)
            inv.customer_holds_within(self.system, HELD_PER_CUSTOMER)

    def teardown(self) -> None:
        self.system.email.outage = None  # over: what was refused meanwhile goes out now
        inv.settle(self.system, self.clock, HOLD)
        inv.check_at_rest(self.system, self.provider.ledger, self.statuses, self.customer_cancelled)

    def _log_sizes(self) -> dict[str, int]:
        return {s: self.system.apps[s].recorder.max_notification_id() or 0 for s in SERVICES}


SagaSimulation.TestCase.settings = settings.get_profile(PROFILE)
TestSagaSimulation = SagaSimulation.TestCase

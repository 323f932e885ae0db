"""Deterministic simulation of the whole saga, driven by hypothesis.

Customers race for overlapping seats on two small shows; payments succeed or fail;
customers retry and cancel; the theatre withdraws seats and cancels a show; the clock jumps; the broker delivers partitions in any
interleaving, relays crash and republish, consumers are rewound and restarted, and
whole services restart from their stores. After every step the invariants that
hold at every moment are checked, and at rest all eight.

Profiles: HYPOTHESIS_PROFILE=ci (default, 2,000 scenarios), dev (200), long (20,000).
"""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from booking.application import IdempotencyConflict, SeatsTaken
from booking.domain import BookingRuleViolation
from inventory.domain import HoldLimits
from payment.gateway import SimulatedProvider
from shared.clock import FakeClock
from shared.contracts import decode
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
METHODS = ["pm_card_visa", "pm_card_chargeDeclined"]
SERVICES = list(NAMES)
FILM = {"title": "Dune", "runtime_minutes": 100, "rating": "12A", "language": "en",
        "format": "2D"}


class SagaSimulation(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.provider = SimulatedProvider()
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
            {"number": n, "column": n, "category": "Regular"} for n in range(1, 4)]}])
        theatre.schedule_show(ShowPlan("show-b", "odeon", "one", FILM, "2030-06-01T18:00",
                                       {"Regular": 900}, "EUR"))
        self.system.run_until_quiet()
        assert self.system.inventory.get_show("show-b").seats == {s: "Regular" for s in SHOWS["show-b"]}
        self.booking_ids: list = []
        self.statuses: dict = {}
        self.processed: dict[str, set[str]] = {s: set() for s in SERVICES}
        self.customer_cancelled: set = set()  # bookings whose customer asked to cancel

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
        before = self._log_sizes()
        try:
            booking, created, _ = self.system.booking.request_booking(
                customer, f"key-{key}", show, seats, method
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
        try:
            booking, created, _ = self.system.booking.request_booking(
                customer, f"sale-{seat}", "show-b", [seat], "pm_card_visa")
        except (IdempotencyConflict, SeatsTaken):
            return
        if created:
            self.booking_ids.append(booking.id)
        self.everyone_catches_up(order)
        self.everyone_catches_up(order)
        self.theatre_cancels_the_show()

    # --- time ------------------------------------------------------------------

    @rule(minutes=st.sampled_from([1, 3, 9, 10, 11]))  # around the 10-minute deadline
    def clock_jumps(self, minutes) -> None:
        self.clock.advance(timedelta(minutes=minutes))

    @rule()
    def expiry_sweep(self) -> None:
        self.system.inventory.release_expired_holds()

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
            consumer.restart()
        else:  # every service loses its memory (caches, deadline index) and restarts
            self.system.start_services()

    @rule()
    def project_views(self) -> None:
        self.system.project_all()

    # --- invariants -------------------------------------------------------------

    @invariant()
    def always(self) -> None:
        inv.check_always(self.system, self.provider.ledger, self.statuses, self.customer_cancelled)
        inv.customer_holds_within(self.system, HELD_PER_CUSTOMER)

    def teardown(self) -> None:
        inv.settle(self.system, self.clock, HOLD)
        inv.check_at_rest(self.system, self.provider.ledger, self.statuses, self.customer_cancelled)

    def _log_sizes(self) -> dict[str, int]:
        return {s: self.system.apps[s].recorder.max_notification_id() or 0 for s in SERVICES}


SagaSimulation.TestCase.settings = settings.get_profile(PROFILE)
TestSagaSimulation = SagaSimulation.TestCase

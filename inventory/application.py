"""Inventory service: seat layouts and prices per show, holds, their expiry."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from copy import deepcopy
from datetime import datetime
from functools import singledispatchmethod
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import IntegrityError, ProcessRecorder
from eventsourcing.utils import EnvType

from inventory.domain import (
    REJECTED,
    CustomerDayHolds,
    HoldLimits,
    InventoryRuleViolation,
    ShowInventory,
    UnknownShowRequests,
    theatre_day,
)
from inventory.publishing import to_public
from inventory.unknown_shows import UnknownShows
from shared import contracts as c
from shared import ids
from shared.clock import Clock
from shared.observability import tracing
from shared.service import ServiceApplication

log = logging.getLogger(__name__)


class ShowNotFound(LookupError):
    pass


class InventoryService(ServiceApplication):
    service = "inventory"
    # A busy show collects thousands of events; snapshots keep loading it cheap. Its state
    # is small (live holds, ended ones by id: ~135 KB, 1.5 ms to decode, after a 2,000-
    # request flash sale), while replaying an event costs ~0.1 ms: loading from the store
    # (a cold cache, another instance) costs the snapshot plus on average interval/2
    # events, and taking a snapshot reloads the aggregate (snapshot + interval events).
    # Requests for a show id never opened pile up on one UnknownShowRequests: snapshot it too,
    # and a customer's day (two events per hold, a small state).
    snapshotting_intervals: ClassVar = {ShowInventory: 50, UnknownShowRequests: 200,
                                        CustomerDayHolds: 100}

    def __init__(
        self,
        env: EnvType | None = None,
        clock: Clock | None = None,
        limits: HoldLimits | None = None,
        recorder: ProcessRecorder | None = None,
    ) -> None:
        super().__init__(env, clock, recorder)
        self.limits = limits or HoldLimits()
        # show id -> earliest reserved_until among its live holds; derived from the store by
        # the first sweep, then kept by this instance's own writes.
        self.deadlines: dict[str, datetime] = {}
        # When set, the next sweep learns every show's deadline from the store. Set at start
        # (the runtime sweeps once at start-up, off the thread that starts the service), and
        # whenever this instance gains Kafka partitions: their previous owner may have reserved
        # seats on those shows since, and only it knew their deadlines.
        self._relearn_deadlines = threading.Event()
        self._relearn_deadlines.set()
        self.unknown_shows = UnknownShows(self)

    def to_public(self, domain_event: Any) -> c.PublicEvent | None:
        return to_public(domain_event)

    # --- commands --------------------------------------------------------------

    def open_show(
        self, show_id: str, seats: dict[str, str], prices: dict[str, int], currency: str
    ) -> tuple[ShowInventory, bool]:
        """Create a show's seat inventory; repeating the same layout is harmless.

        The show takes over the requests rejected as "unknown show" so far, and closes
        their record in the same write (unknown_shows.py): a rejection recorded
        meanwhile makes that write conflict, and the show is opened again with it."""
        ShowInventory.validate_layout(seats, prices)
        with self.writing():
            for _ in range(self.MAX_CONFLICT_RETRIES):
                existing = self.find(ids.show_inventory_id(show_id))
                if existing is not None:
                    break
                requests, rejected, priced = self.unknown_shows.hand_over(show_id)
                show = ShowInventory(
                    show_id=show_id, seats=seats, prices=prices, currency=currency,
                    rejected_as_unknown=rejected, priced=priced,
                )
                try:
                    self.save_all(show, requests)
                    return deepcopy(show), True  # the cached object stays with the writers
                except IntegrityError:
                    # Opened by another instance, or a request was rejected meanwhile.
                    self._forget((show.id, requests.id))
            else:
                raise InventoryRuleViolation(f"show {show_id} could not be opened: conflicts")
            existing = deepcopy(existing)
        if self.opened_as(existing) != (seats, prices, currency):
            raise InventoryRuleViolation(f"show {show_id} already exists with another layout")
        return existing, False

    def opened_as(self, show: ShowInventory) -> tuple[dict[str, str], dict[str, int], str]:
        """The seats, list prices and currency the show was opened with: pricing's prices
        replace the list prices in its state (at once, if they came before it opened)."""
        opened: Any = self.mapper.to_domain_event(self.recorder.select_events(show.id, lte=1)[0])
        return dict(opened.seats), dict(opened.prices), opened.currency

    def get_show(self, show_id: str) -> ShowInventory:
        return self._known(self.find(ids.show_inventory_id(show_id)), show_id)

    def get_show_as_opened(self, show_id: str) -> ShowInventory:
        """The show as it was put on sale, every seat available: see ``find_as_created``."""
        return self._known(self.find_as_created(ids.show_inventory_id(show_id)), show_id)

    @staticmethod
    def _known(show: ShowInventory | None, show_id: str) -> ShowInventory:
        if show is None:
            raise ShowNotFound(show_id)
        return show

    def release_expired_holds(self) -> int:
        """Release every hold whose deadline passed. Safe to call any time, any number
        of times, from any number of instances: what is due is derived from the event
        store, not from timers, and a release that loses the version check to another
        writer (another instance's sweep, or the show's own consumer) is dropped and
        looked at again by the next sweep."""
        if self._relearn_deadlines.is_set():
            self._relearn_deadlines.clear()  # before: an assignment meanwhile sets it again
            try:
                self.recover_deadlines()
            except BaseException:
                self._relearn_deadlines.set()  # not learned: the next sweep tries again
                raise
        now = self.clock.now()
        released = 0
        for show_id in [s for s, d in list(self.deadlines.items()) if d <= now]:
            try:
                with self.writing():
                    show = self.get_show(show_id)
                    expired = show.release_expired(now)
                    self._trace_expiries(show)
                    self.save_all(show)
                released += len(expired)
            except IntegrityError:
                continue  # writing() dropped the stale copy; the next sweep reads the store
        return released

    def _trace_expiries(self, show: ShowInventory) -> None:
        """A hold the sweep released goes on in its booking's trace (if this instance saw
        it placed since it started): a span there, which the release's events name."""
        if not tracing.enabled():
            return
        for event in show.pending_events:
            booking_id = getattr(event, "booking_id", None)
            traceparent = self.recent_traces.of(booking_id) if booking_id else None
            if traceparent is not None:
                tracing.stamp([event], tracing.marked(
                    "hold expired", traceparent, {"cinema.booking_id": booking_id}))

    def traced_as(self, domain_event: Any) -> tuple[Any, ...]:
        """A show serves many bookings: a trace is remembered under its booking."""
        booking_id = getattr(domain_event, "booking_id", None)
        return (booking_id,) if booking_id else ()

    def recover_deadlines(self) -> None:
        """Rebuild the deadline index from the shows on record (after a start or crash,
        or on gaining another instance's partitions)."""
        for n in self.notifications(ShowInventory.Opened.TOPIC):
            opened: Any = self.mapper.to_domain_event(n)  # ShowInventory.Opened
            self.recorded([self.get_show(opened.show_id)])

    def partitions_assigned(self) -> None:
        super().partitions_assigned()  # the cached shows go: their next load is fresh
        # Not here: reading every show would hold up the consumer's rebalance.
        self._relearn_deadlines.set()

    def recorded(self, aggregates: Iterable[Any]) -> None:
        for a in aggregates:
            if isinstance(a, ShowInventory):
                deadline = a.next_deadline()
                if deadline is None:
                    self.deadlines.pop(a.show_id, None)
                else:
                    self.deadlines[a.show_id] = deadline

    # --- reactions -------------------------------------------------------------

    @singledispatchmethod
    def policy(self, message: c.PublicEvent, processing: ProcessingEvent) -> None:
        pass

    def aggregate_of(self, message: c.ShowEvent) -> ShowInventory | None:
        return self.find(ids.show_inventory_id(message.show_id))  # None: not open

    @policy.register
    def on_booking_requested(
        self, message: c.BookingRequested, processing: ProcessingEvent
    ) -> None:
        now = self.clock.now()
        show = self.aggregate_of(message)
        if show is None:  # not open (yet), or opened just now: unknown_shows.py
            show = self.unknown_shows.reject_unless_opened(message, processing, now)
            if show is None:
                return
        if self.unknown_shows.rejected_before_opening(show, message):
            return
        day_holds = self._day_holds(show, message, now)
        show.request_hold(
            message.booking_id, message.seat_ids, now, self.limits, message.customer_id,
            message.quoted_amount, day_holds,
        )
        processing.collect_events(show)
        if day_holds is not None and str(message.booking_id) in day_holds.holds:
            processing.collect_events(day_holds)

    def _day_holds(self, show: ShowInventory, message: c.BookingRequested,
                   now: datetime) -> CustomerDayHolds | None:
        """What the customer holds across the show's theatre day, for a request the show
        has not decided yet (None: the show has no day, or it decided it before)."""
        if (show.day is None or not message.customer_id or not self.limits.counts_days
                or show.decided(message.booking_id)):
            return None
        day_id = ids.customer_day_holds_id(message.customer_id, show.day)
        holds = self.find(day_id)
        if holds is not None and not holds.has_room(
                len(message.seat_ids), now, self.limits.max_held_per_customer_day):
            # Before refusing, the stored version: this copy may be older than a write of
            # another instance's (a hold of another show that ended meanwhile).
            holds = self.find_current(day_id)
        return holds or CustomerDayHolds(customer_id=message.customer_id, day=show.day)

    def _hold_ended(self, show: ShowInventory, customer_id: str, booking_id: UUID,
                    processing: ProcessingEvent) -> None:
        """A hold was booked or released: the customer's day no longer counts it."""
        if show.day is None or not customer_id or not self.limits.counts_days:
            return
        holds = self.find(ids.customer_day_holds_id(customer_id, show.day))
        if holds is not None and str(booking_id) in holds.holds:
            holds.ended(str(booking_id), self.clock.now())
            processing.collect_events(holds)

    @policy.register
    def on_show_scheduled(self, message: c.ShowScheduled, processing: ProcessingEvent) -> None:
        """The theatre put a show on sale: its seats open as an operator's PUT opens them,
        taking over the requests rejected before (unknown_shows.py)."""
        show = self.aggregate_of(message)
        layout: tuple[dict[str, str], dict[str, int], str] = (
            dict(message.seats), dict(message.prices), message.currency)
        if show is not None:
            if self.opened_as(show) != layout:
                log.warning("show %s is open with another layout; kept", message.show_id)
            return
        try:
            ShowInventory.validate_layout(layout[0], layout[1])
        except InventoryRuleViolation as e:
            log.error("show %s not opened: %s", message.show_id, e)  # theatre validates first
            return
        requests, rejected, priced = self.unknown_shows.hand_over(message.show_id)
        show = ShowInventory(show_id=message.show_id, seats=layout[0], prices=layout[1],
                             currency=layout[2], rejected_as_unknown=rejected, priced=priced,
                             day=theatre_day(message.theatre_id, message.local_start))
        processing.collect_events(show, requests)

    @policy.register
    def on_show_rescheduled(self, message: c.ShowRescheduled,
                            processing: ProcessingEvent) -> None:
        """Holds made from now on count on the show's new day (those made before count
        on the old one until they end or lapse)."""
        day = theatre_day(message.theatre_id, message.local_start)
        self._react(message, processing, lambda show: show.move_to_day(day, self.clock.now()))

    @policy.register
    def on_show_priced(self, message: c.ShowPriced, processing: ProcessingEvent) -> None:
        """Pricing published a version of the show's prices: later holds are priced from
        it. Prices that come before the show opens are kept for its opening."""
        now = self.clock.now()
        show = self.aggregate_of(message)
        if show is None:
            show = self.unknown_shows.keep_prices(message, processing, now)
            if show is None:
                return
        try:
            show.reprice(message.price_version, message.prices, message.currency,
                         message.rounding, message.caps, message.demand, now)
        except InventoryRuleViolation as e:
            log.error("show %s not repriced: %s", message.show_id, e)  # pricing validates first
            return
        processing.collect_events(show)

    @policy.register
    def on_show_cancelled(self, message: c.ShowCancelled, processing: ProcessingEvent) -> None:
        self._react(message, processing, lambda show: show.cancel(self.clock.now()))

    @policy.register
    def on_seats_withdrawn(self, message: c.SeatsWithdrawn, processing: ProcessingEvent) -> None:
        self._react(message, processing,
                    lambda show: show.withdraw(message.seat_ids, self.clock.now()))

    @policy.register
    def on_booking_cancelled(
        self, message: c.BookingCancelled, processing: ProcessingEvent
    ) -> None:
        self._react(message, processing,
                    lambda show: show.booking_cancelled(message.booking_id, self.clock.now()))
        show = self.aggregate_of(message)  # the same object: found in the batch being decided
        hold = show.hold_of(message.booking_id) if show is not None else None
        if show is not None and hold is not None and hold["status"] != REJECTED:  # it held
            self._hold_ended(show, message.customer_id, message.booking_id, processing)

    @policy.register
    def on_payment_succeeded(
        self, message: c.PaymentSucceeded, processing: ProcessingEvent
    ) -> None:
        show = self.aggregate_of(message)
        hold = show.holds.get(str(message.booking_id)) if show is not None else None
        self._react(message, processing,
                    lambda show: show.payment_succeeded(message.booking_id, self.clock.now()))
        if show is not None and hold is not None:  # booked, or released if too late
            self._hold_ended(show, hold.get("customer_id", ""), message.booking_id, processing)

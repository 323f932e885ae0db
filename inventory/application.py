"""Inventory service: seat layouts and prices per show, holds, their expiry."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import singledispatchmethod
from typing import Any

from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import IntegrityError, ProcessRecorder
from eventsourcing.utils import EnvType

from inventory.domain import HoldLimits, InventoryRuleViolation, ShowInventory, UnknownShowRequest
from inventory.publishing import to_public
from shared import contracts as c
from shared import ids
from shared.clock import Clock
from shared.service import ServiceApplication


class ShowNotFound(LookupError):
    pass


class InventoryService(ServiceApplication):
    service = "inventory"
    subscribes_to = ("booking", "payment")
    # A busy show collects thousands of events; snapshots keep loading it cheap.
    snapshotting_intervals = {ShowInventory: 200}

    def __init__(
        self,
        env: EnvType | None = None,
        clock: Clock | None = None,
        limits: HoldLimits | None = None,
        recorder: ProcessRecorder | None = None,
    ) -> None:
        super().__init__(env, clock, recorder)
        self.limits = limits or HoldLimits()
        # show id -> earliest reserved_until among its live holds; derived, rebuilt at start.
        self.deadlines: dict[str, datetime] = {}
        self.recover_deadlines()

    def to_public(self, domain_event: Any) -> c.PublicEvent | None:
        return to_public(domain_event)

    # --- commands --------------------------------------------------------------

    def open_show(
        self, show_id: str, seats: dict[str, str], prices: dict[str, int], currency: str
    ) -> tuple[ShowInventory, bool]:
        """Create a show's seat inventory; repeating the same layout is harmless."""
        ShowInventory.validate_layout(seats, prices)
        with self.write_lock:
            existing = self.find(ids.show_inventory_id(show_id))
            if existing is None:
                show = ShowInventory(show_id=show_id, seats=seats, prices=prices, currency=currency)
                try:
                    self.save_all(show)
                    return show, True
                except IntegrityError:
                    existing = self.find(ids.show_inventory_id(show_id))
        if (existing.seats, existing.prices, existing.currency) != (seats, prices, currency):
            raise InventoryRuleViolation(f"show {show_id} already exists with another layout")
        return existing, False

    def get_show(self, show_id: str) -> ShowInventory:
        show = self.find(ids.show_inventory_id(show_id))
        if show is None:
            raise ShowNotFound(show_id)
        return show

    def release_expired_holds(self) -> int:
        """Release every hold whose deadline passed. Safe to call any time, any number
        of times: what is due is derived from the event store, not from timers."""
        now = self.clock.now()
        released = 0
        for show_id in [s for s, d in list(self.deadlines.items()) if d <= now]:
            with self.write_lock:
                show = self.get_show(show_id)
                released += len(show.release_expired(now))
                self.save_all(show)
        return released

    def recover_deadlines(self) -> None:
        """Rebuild the deadline index from the shows on record (after a start or crash)."""
        topic = ShowInventory.Opened.TOPIC
        start = 1
        while True:
            page = self.recorder.select_notifications(start=start, limit=500, topics=[topic])
            for n in page:
                self.recorded([self.get_show(self.mapper.to_domain_event(n).show_id)])
            if len(page) < 500:
                return
            start = page[-1].id + 1

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

    @policy.register
    def _(self, m: c.BookingRequested, p: ProcessingEvent) -> None:
        now = self.clock.now()
        show = self.find(ids.show_inventory_id(m.show_id))
        if show is not None:
            if show.hold_of(m.booking_id) is None and self._rejected_as_unknown(m):
                return  # decided before the show existed; a redelivery must not hold seats
            show.request_hold(m.booking_id, m.seat_ids, now, self.limits)
            p.collect_events(show)
        elif not self._rejected_as_unknown(m):
            p.collect_events(UnknownShowRequest(booking_id=m.booking_id, show_id=m.show_id, at=now))

    def _rejected_as_unknown(self, m: c.BookingRequested) -> bool:
        return self.find(ids.unknown_show_request_id(m.booking_id)) is not None

    @policy.register
    def _(self, m: c.BookingCancelled, p: ProcessingEvent) -> None:
        show = self.find(ids.show_inventory_id(m.show_id))
        if show is not None:
            show.booking_cancelled(m.booking_id, self.clock.now())
            p.collect_events(show)

    @policy.register
    def _(self, m: c.PaymentSucceeded, p: ProcessingEvent) -> None:
        show = self.find(ids.show_inventory_id(m.show_id))
        if show is not None:
            show.payment_succeeded(m.booking_id, self.clock.now())
            p.collect_events(show)

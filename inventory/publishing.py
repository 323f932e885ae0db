"""Which inventory events are public, and their contracts."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from inventory.domain import (
    CustomerDayHolds,
    ShowInventory,
    UnknownShowRequest,
    UnknownShowRequests,
)
from shared import contracts as c


def to_public(e: Any) -> c.PublicEvent | None:
    if isinstance(e, CustomerDayHolds.Event):  # what a customer holds in a day: inventory's own
        return None
    event_id = c.event_id("inventory", e.originator_id, e.originator_version)
    if isinstance(e, ShowInventory.Opened):
        return c.ShowInventoryOpened(
            event_id=event_id, occurred_at=e.timestamp, show_id=e.show_id,
            seats=dict(e.seats), prices=dict(e.prices), currency=e.currency,
        )
    if isinstance(e, UnknownShowRequests.Rejected):
        return c.SeatsRejected(
            event_id=event_id, occurred_at=e.at, show_id=e.show_id,
            booking_id=UUID(e.booking_id), reason="unknown_show", seat_ids=[],
        )
    if isinstance(e, UnknownShowRequest.Rejected):  # recorded before UnknownShowRequests
        return c.SeatsRejected(
            event_id=event_id, occurred_at=e.at, show_id=e.show_id, booking_id=e.booking_id,
            reason="unknown_show", seat_ids=[],
        )
    if isinstance(e, ShowInventory.SeatsWithdrawn):
        return c.SeatsOffSale(event_id=event_id, occurred_at=e.at, show_id=e.show_id,
                              seat_ids=list(e.seat_ids))
    if isinstance(e, ShowInventory.DemandChanged):
        return c.ShowDemandChanged(
            event_id=event_id, occurred_at=e.at, show_id=e.show_id,
            price_version=e.price_version, uplifts=dict(e.uplifts), booked=dict(e.booked),
            capacity=dict(e.capacity),
        )
    if not hasattr(e, "booking_id"):
        return None
    base = {
        "event_id": event_id, "occurred_at": e.at, "show_id": e.show_id,
        "booking_id": UUID(e.booking_id),
    }
    if isinstance(e, ShowInventory.SeatsReserved):
        return c.SeatsReserved(
            **base, seat_ids=list(e.seat_ids), amount=e.amount, currency=e.currency,
            reserved_until=e.reserved_until, price_version=getattr(e, "price_version", 0),
            uplifts=dict(getattr(e, "uplifts", None) or {}),
        )
    if isinstance(e, ShowInventory.SeatsRejected):
        return c.SeatsRejected(**base, reason=e.reason, seat_ids=list(e.seat_ids))
    if isinstance(e, ShowInventory.SeatsReleased):
        return c.SeatsReleased(**base, seat_ids=list(e.seat_ids), reason=e.reason)
    if isinstance(e, ShowInventory.SeatsBooked):
        return c.SeatsBooked(**base, seat_ids=list(e.seat_ids))
    return None

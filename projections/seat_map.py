"""A show's seat map: each seat's state, price and holder, and the counts.

Built from the inventory stream alone, which is in order, so it mirrors the
show's aggregate exactly.
"""

from __future__ import annotations

from typing import Any

from shared import contracts as c
from shared.contracts import SEAT_STATES

SOURCES = ("inventory",)  # the streams it folds (rebuild.py relies on it)


def key(event: c.PublicEvent) -> str | None:
    if isinstance(event, (c.ShowInventoryOpened, c.SeatsReserved, c.SeatsReleased, c.SeatsBooked,
                          c.SeatsOffSale)):
        return event.show_id
    return None


def apply(doc: dict[str, Any] | None, e: c.PublicEvent) -> dict[str, Any] | None:
    if isinstance(e, c.ShowInventoryOpened):
        doc = {
            "_id": e.show_id,
            "currency": e.currency,
            "seats": {
                s: {"category": cat, "price": e.prices[cat], "state": "AVAILABLE", "booking_id": None}
                for s, cat in e.seats.items()
            },
        }
    elif doc is None:
        return None
    elif isinstance(e, c.SeatsReserved):
        _set(doc, e.seat_ids, "RESERVED", str(e.booking_id))
    elif isinstance(e, c.SeatsBooked):
        _set(doc, e.seat_ids, "BOOKED", str(e.booking_id))
    elif isinstance(e, c.SeatsReleased):
        held = [s for s in e.seat_ids if doc["seats"][s]["booking_id"] == str(e.booking_id)]
        _set(doc, held, "AVAILABLE", None)
    elif isinstance(e, c.SeatsOffSale):  # before the release of whoever held them
        _set(doc, e.seat_ids, "WITHDRAWN", None)
    doc["counts"] = _counts(doc["seats"])
    return doc


def _set(doc: dict[str, Any], seat_ids: list[str], state: str, booking_id: str | None) -> None:
    for s in seat_ids:
        doc["seats"][s].update(state=state, booking_id=booking_id)


def _counts(seats: dict[str, dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(SEAT_STATES, 0)
    for seat in seats.values():
        counts[seat["state"]] += 1
    return counts

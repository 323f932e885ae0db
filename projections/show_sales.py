"""Sales per show: confirmed bookings, seats sold and revenue (booking stream only)."""

from __future__ import annotations

from typing import Any

from shared import contracts as c

SOURCES = ("booking",)  # the streams it folds (rebuild.py relies on it)


def key(event: c.PublicEvent) -> str | None:
    return event.show_id if isinstance(event, c.BookingConfirmed) else None


def apply(doc: dict[str, Any] | None, e: c.PublicEvent) -> dict[str, Any] | None:
    if not isinstance(e, c.BookingConfirmed):
        return doc
    doc = doc or {"_id": e.show_id, "confirmed_bookings": 0, "revenue": 0}
    doc["confirmed_bookings"] += 1
    doc["revenue"] += e.amount
    return doc

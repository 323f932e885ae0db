"""One version of a screen's seat layout: every seat, where it is and what it is.

A show keeps the layout version it was scheduled with, and a layout version never
changes once laid out, so each version is a document of its own
(``<theatre>/<screen>/v<version>``): a show's detail reads its version by ``_id``, and a
show's catalogue entry copies the screen's name from it.
"""

from __future__ import annotations

from typing import Any

from shared import contracts as c

SOURCES = ("theatre",)  # the streams it folds (rebuild.py relies on it)


def layout_key(theatre_id: str, screen_id: str, layout_version: int) -> str:
    return f"{theatre_id}/{screen_id}/v{layout_version}"


def key(event: c.PublicEvent) -> str | None:
    if isinstance(event, c.ScreenLaidOut):
        return layout_key(event.theatre_id, event.screen_id, event.layout_version)
    return None


def apply(doc: dict[str, Any] | None, e: c.PublicEvent) -> dict[str, Any] | None:
    if not isinstance(e, c.ScreenLaidOut):
        return doc
    return {
        "_id": layout_key(e.theatre_id, e.screen_id, e.layout_version),
        "theatre_id": e.theatre_id,
        "screen_id": e.screen_id,
        "name": e.name,
        "layout_version": e.layout_version,
        "seats": [
            {"seat_id": s.seat_id, "row": s.row, "number": s.number, "column": s.column,
             "category": s.category, "wheelchair": s.wheelchair, "companion": s.companion,
             "in_service": s.in_service}
            for s in e.seats
        ],
    }

"""A theatre in the catalogue: where it is, and its screens as currently laid out.

Built from the theatre stream alone. A screen keeps its highest layout version, so a
layout folded twice or late changes nothing; the registration is folded once, and a
screen laid out before it (which the theatre service never records) waits in the same
document, unlisted until the theatre is registered.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from projections.common import fold_case
from shared import contracts as c

SOURCES = ("theatre",)  # the streams it folds (rebuild.py relies on it)


def key(event: c.PublicEvent) -> str | None:
    if isinstance(event, (c.TheatreRegistered, c.ScreenLaidOut)):
        return event.theatre_id
    return None


def apply(doc: dict[str, Any] | None, e: c.PublicEvent) -> dict[str, Any] | None:
    if not isinstance(e, (c.TheatreRegistered, c.ScreenLaidOut)):
        return doc
    doc = doc or _blank(e.theatre_id)
    if isinstance(e, c.TheatreRegistered):
        doc.update(registered=True, name=e.name, city=e.city, address=e.address,
                   time_zone=e.time_zone, city_key=fold_case(e.city), name_key=fold_case(e.name))
    else:
        current = {s["screen_id"]: s for s in doc["screens"]}
        if e.screen_id not in current or current[e.screen_id]["layout_version"] < e.layout_version:
            current[e.screen_id] = screen(e)
            doc["screens"] = [current[k] for k in sorted(current)]
    return doc


def screen(e: c.ScreenLaidOut) -> dict[str, Any]:
    """A screen as the theatre lists it: its current layout version and seat counts."""
    in_service = [s for s in e.seats if s.in_service]
    return {
        "screen_id": e.screen_id,
        "name": e.name,
        "layout_version": e.layout_version,
        "seats": len(e.seats),
        "in_service": len(in_service),
        "wheelchair_spaces": sum(s.wheelchair for s in in_service),
        "categories": dict(sorted(Counter(s.category for s in in_service).items())),
    }


def _blank(theatre_id: str) -> dict[str, Any]:
    return {
        "_id": theatre_id,
        "registered": False,
        "name": None,
        "city": None,
        "address": None,
        "time_zone": None,
        "city_key": None,
        "name_key": None,
        "screens": [],  # by screen id (a list: ids are the theatre's, any text)
    }

"""The catalogue's documents as readers get them: plain JSON, without the fold's own
fields (positions, revisions, which booking holds a seat, lower-cased keys).

A show (``show_entry``)::

    {"show_id": "s1", "status": "SCHEDULED" | "CANCELLED", "cancellation_reason": None,
     "film": {"title", "runtime_minutes", "rating", "language", "format"},
     "theatre": {"theatre_id", "name", "city", "time_zone"},
     "screen": {"screen_id", "name", "layout_version"},
     "starts_at": "2026-05-01T18:30:00Z", "ends_at": "2026-05-01T20:40:00Z",  # UTC
     "local_start": "2026-05-01T19:30:00+01:00", "day": "2026-05-01",  # the theatre's
     "prices": {"Regular": 900}, "currency": "GBP",  # one seat's price at a hold now
     "price_version": 2,  # pricing's version the prices come from; 0: the list prices
     "seats_open": True,  # inventory has opened its seats: the counts are live from then
     "seat_counts": {"total", "available", "reserved", "booked", "withdrawn"}}

Its detail (``show_detail``) adds ``"seats"``: every seat of the screen's layout the show
was scheduled with, in the layout's order, each ``{"seat_id", "row", "number", "column",
"category", "wheelchair", "companion", "price", "state"}``; ``state`` is AVAILABLE,
RESERVED, BOOKED, WITHDRAWN or NOT_ON_SALE (not scheduled for sale: out of service), and
``price`` is None for a seat not on sale.

A theatre (``theatre_entry``)::

    {"theatre_id", "name", "city", "address", "time_zone",
     "screens": [{"screen_id", "name", "layout_version", "seats", "in_service",
                  "wheelchair_spaces", "categories": {"Regular": 80, ...}}]}  # by name
"""

from __future__ import annotations

from typing import Any

from projections.catalogue_shows import seat_state

_GEOMETRY = ("row", "number", "column", "category", "wheelchair", "companion")


def show_entry(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "show_id": doc["_id"],
        "status": doc["status"],
        "cancellation_reason": doc["cancellation_reason"],
        "film": dict(doc["film"]),
        "theatre": {"theatre_id": doc["theatre_id"], "name": doc["theatre_name"],
                    "city": doc["city"], "time_zone": doc["time_zone"]},
        "screen": {"screen_id": doc["screen_id"], "name": doc["screen_name"],
                   "layout_version": doc["layout_version"]},
        **{f: doc[f] for f in ("starts_at", "ends_at", "local_start", "day")},
        "prices": dict(doc["prices"]),
        "price_version": doc.get("price_version", 0),  # 0 in documents folded before pricing
        "currency": doc["currency"],
        "seats_open": doc["inventory_open"],
        "seat_counts": dict(doc["seat_counts"]),
    }


def show_detail(doc: dict[str, Any], layout: dict[str, Any] | None) -> dict[str, Any]:
    """A show with every seat. Without its layout (not projected: the theatre service
    lays a screen out before it schedules on it), the seats on sale, without geometry."""
    laid_out = layout["seats"] if layout else [
        {"seat_id": s, "category": category} for s, category in doc["seats"].items()]
    seats = []
    for seat in laid_out:
        category = doc["seats"].get(seat["seat_id"], seat["category"])
        on_sale = seat["seat_id"] in doc["seats"]
        seats.append({"seat_id": seat["seat_id"], **{f: seat.get(f) for f in _GEOMETRY},
                      "category": category,
                      "price": doc["prices"].get(category) if on_sale else None,
                      "state": seat_state(doc, seat["seat_id"])})
    return {**show_entry(doc), "seats": seats}


def theatre_entry(doc: dict[str, Any]) -> dict[str, Any]:
    screens = sorted(doc["screens"], key=lambda s: (s["name"], s["screen_id"]))
    return {
        "theatre_id": doc["_id"],
        **{f: doc[f] for f in ("name", "city", "address", "time_zone")},
        "screens": [{**s, "categories": dict(s["categories"])} for s in screens],
    }

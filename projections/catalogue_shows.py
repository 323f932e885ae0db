"""A show in the catalogue: film, theatre, screen, times, prices and live seat counts.

Built from three streams whose relative order is not fixed: theatre's (the show as
scheduled, rescheduled, cancelled, its withdrawn seats, its list prices), inventory's
(its seats reserved, booked and released, the demand uplifts it applies) and pricing's
(each version of its prices). Each stream writes fields of its own, and the counts and
prices are computed from what the streams said every time, so the document comes out the
same in any interleaving (inventory's or pricing's events may come first: the document
then waits, unlisted, with ``status`` None, until the show is scheduled).

``prices`` is what one seat of each category costs at a hold made now (the list prices
until pricing publishes a version, then the highest version with inventory's uplifts
for it: projections/show_prices.py); ``price_version`` 0 means the list prices.

The theatre's name, city and time zone, and the screen's name, are copied from the
catalogue_theatres and catalogue_layouts views when the show is scheduled (``JOINS``).
That relies on one order, within the theatre stream: a theatre is registered and its
screen laid out before a show is scheduled on it (the theatre service cannot schedule a
show on a screen it does not know; without them, those fields stay None).
What is copied never changes afterwards (contracts have no renaming event; a layout
version is never laid out again), so the copy stays right; a renaming contract would
need its shows updated too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

from projections import show_prices
from projections.catalogue_layouts import layout_key
from projections.common import fold_case, utc_text
from shared import contracts as c

SOURCES = ("inventory", "pricing", "theatre")  # the streams it folds (rebuild.py relies on it)

_THEATRE = (c.ShowScheduled, c.ShowRescheduled, c.ShowCancelled, c.SeatsWithdrawn)
_INVENTORY = (c.ShowInventoryOpened, c.SeatsReserved, c.SeatsBooked, c.SeatsReleased)
STATES = ("AVAILABLE", "RESERVED", "BOOKED", "WITHDRAWN")  # of a seat on sale


_FOLDED = _THEATRE + _INVENTORY + show_prices.EVENTS


def key(event: c.PublicEvent) -> str | None:
    return event.show_id if isinstance(event, _FOLDED) else None


def _scheduled_only(join_key: Callable[[c.ShowScheduled], str]) -> Callable[[Any], str | None]:
    return lambda e: join_key(e) if isinstance(e, c.ShowScheduled) else None


# The documents of other views read when a show is scheduled (projector.py: JOINS).
JOINS = {
    "theatre": ("catalogue_theatres", _scheduled_only(lambda e: e.theatre_id)),
    "layout": ("catalogue_layouts",
               _scheduled_only(lambda e: layout_key(e.theatre_id, e.screen_id, e.layout_version))),
}


def apply(doc: dict[str, Any] | None, e: c.PublicEvent,
          joined: dict[str, dict[str, Any] | None]) -> dict[str, Any] | None:
    if not isinstance(e, _FOLDED):
        return doc
    doc = doc or _blank(e.show_id)
    if isinstance(e, c.ShowScheduled):
        _scheduled(doc, e, joined["theatre"] or {}, joined["layout"] or {})
    elif isinstance(e, show_prices.EVENTS):
        show_prices.fold(_inputs(doc), e)
        _price(doc)
    else:
        _FOLDS[type(e)](doc, e)
    doc["seat_counts"] = seat_counts(doc)
    return doc


def _scheduled(doc: dict[str, Any], e: c.ShowScheduled, theatre: dict[str, Any],
               layout: dict[str, Any]) -> None:
    doc.update(
        status=doc["status"] or "SCHEDULED",
        film=msgspec.structs.asdict(e.film),
        title_key=fold_case(e.film.title),
        theatre_id=e.theatre_id,
        theatre_name=theatre.get("name"),
        city=theatre.get("city"),
        city_key=theatre.get("city_key"),
        time_zone=theatre.get("time_zone"),
        screen_id=e.screen_id,
        screen_name=layout.get("name"),
        layout_version=e.layout_version,
        seats=dict(e.seats),
    )
    _inputs(doc).update(list=dict(e.prices), list_currency=e.currency)
    _price(doc)
    _times(doc, e.starts_at, e.ends_at, e.local_start)


def _inputs(doc: dict[str, Any]) -> dict[str, Any]:
    """The prices' inputs (show_prices); a document folded before prices came from
    pricing has the list prices it was scheduled with."""
    if "pricing" not in doc:
        doc["pricing"] = show_prices.blank(doc["prices"], doc["currency"])
    inputs: dict[str, Any] = doc["pricing"]
    return inputs


def _price(doc: dict[str, Any]) -> None:
    inputs = doc["pricing"]
    doc.update(prices={cat: p["price"] for cat, p in show_prices.prices_now(inputs).items()},
               price_version=show_prices.price_version(inputs),
               currency=show_prices.currency(inputs))


def _rescheduled(doc: dict[str, Any], e: c.ShowRescheduled) -> None:
    _times(doc, e.starts_at, e.ends_at, e.local_start)


def _times(doc: dict[str, Any], starts_at: datetime, ends_at: datetime, local_start: str) -> None:
    doc.update(starts_at=utc_text(starts_at), ends_at=utc_text(ends_at), local_start=local_start,
               day=datetime.fromisoformat(local_start).date().isoformat())


def _cancelled(doc: dict[str, Any], e: c.ShowCancelled) -> None:
    doc.update(status="CANCELLED", cancellation_reason=e.reason)


def _withdrawn(doc: dict[str, Any], e: c.SeatsWithdrawn) -> None:
    doc["withdrawn"] = sorted({*doc["withdrawn"], *e.seat_ids})


def _opened(doc: dict[str, Any], e: c.ShowInventoryOpened) -> None:
    doc["inventory_open"] = True


def _reserved(doc: dict[str, Any], e: c.SeatsReserved) -> None:
    for s in e.seat_ids:
        doc["held"][s] = {"state": "RESERVED", "booking_id": str(e.booking_id)}


def _booked(doc: dict[str, Any], e: c.SeatsBooked) -> None:
    for s in e.seat_ids:
        doc["held"][s] = {"state": "BOOKED", "booking_id": str(e.booking_id)}


def _released(doc: dict[str, Any], e: c.SeatsReleased) -> None:
    for s in e.seat_ids:
        if doc["held"].get(s, {}).get("booking_id") == str(e.booking_id):
            del doc["held"][s]


# By exact type (contracts are final structs; a new version is a new class, added here).
# ShowScheduled, which reads other views, and the price events are folded by apply itself.
_FOLDS: dict[type, Callable[[dict[str, Any], Any], None]] = {
    c.ShowRescheduled: _rescheduled,
    c.ShowCancelled: _cancelled,
    c.SeatsWithdrawn: _withdrawn,
    c.ShowInventoryOpened: _opened,
    c.SeatsReserved: _reserved,
    c.SeatsBooked: _booked,
    c.SeatsReleased: _released,
}


def seat_state(doc: dict[str, Any], seat_id: str) -> str:
    """A seat of the show's screen: NOT_ON_SALE (not among the seats scheduled, e.g. out
    of service), WITHDRAWN (by the theatre, whatever inventory still holds), else as
    inventory holds it: RESERVED, BOOKED or AVAILABLE."""
    if seat_id not in doc["seats"]:
        return "NOT_ON_SALE"
    if seat_id in doc["withdrawn"]:
        return "WITHDRAWN"
    held = doc["held"].get(seat_id)
    return held["state"] if held else "AVAILABLE"


def seat_counts(doc: dict[str, Any]) -> dict[str, int]:
    """The seats on sale by state, and their total. A cancelled show's are as inventory
    left them (every hold released)."""
    counts = dict.fromkeys(STATES, 0)
    for seat_id in doc["seats"]:
        counts[seat_state(doc, seat_id)] += 1
    return {"total": len(doc["seats"]), **{s.lower(): n for s, n in counts.items()}}


def _blank(show_id: str) -> dict[str, Any]:
    return {
        "_id": show_id,
        "status": None,  # SCHEDULED, CANCELLED; None until theatre's ShowScheduled is folded
        "cancellation_reason": None,
        "film": None,
        "title_key": None,
        "theatre_id": None,
        "theatre_name": None,
        "city": None,
        "city_key": None,
        "time_zone": None,
        "screen_id": None,
        "screen_name": None,
        "layout_version": None,
        "starts_at": None,
        "ends_at": None,
        "local_start": None,
        "day": None,
        "prices": {},  # category -> one seat's price at a hold now
        "price_version": 0,
        "currency": None,
        "seats": {},  # seat id -> category: every seat on sale, as scheduled
        "withdrawn": [],
        "inventory_open": False,
        "held": {},  # inventory's: seat id -> {"state": RESERVED|BOOKED, "booking_id"}
        "seat_counts": {},
        "pricing": show_prices.blank(),  # the prices' inputs, as each stream said them
    }

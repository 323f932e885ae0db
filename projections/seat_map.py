"""A show's seat map: each seat's state, holder and price now, the prices per category,
and the counts.

The seats' states come from the inventory stream alone, which is in order, so they
mirror the show's aggregate exactly. The prices come from two streams whose relative
order is not fixed: inventory's (the list prices the show opened with, the demand
uplifts it applies) and pricing's (each price version, ShowPriced). They are computed
from what each stream said last (projections/show_prices.py: the highest price version,
inventory's latest uplifts, valid for that version only), so they come out the same in
any interleaving. A price version may be folded before inventory opens the show: the
document then waits with ``opened`` False, and readers are not shown it.

A seat's ``price`` is what it costs at a hold made now, whatever its state: a held seat
keeps the price of its hold in inventory, not here. ``prices`` gives per category the
price now, its ``base`` (the version's, or the list price before any version) and the
``uplift_percent`` applied; ``price_version`` 0 means the list prices.
"""

from __future__ import annotations

from typing import Any

from projections import show_prices
from shared import contracts as c
from shared.contracts import SEAT_STATES

SOURCES = ("inventory", "pricing")  # the streams it folds (rebuild.py relies on it)

_INVENTORY = (c.ShowInventoryOpened, c.SeatsReserved, c.SeatsReleased, c.SeatsBooked,
              c.SeatsOffSale)


def key(event: c.PublicEvent) -> str | None:
    if isinstance(event, _INVENTORY + show_prices.EVENTS):
        return event.show_id
    return None


def apply(doc: dict[str, Any] | None, e: c.PublicEvent) -> dict[str, Any] | None:
    if isinstance(e, show_prices.EVENTS):
        doc = doc or _blank(e.show_id)
        show_prices.fold(_inputs(doc), e)
        _price(doc)
    elif isinstance(e, c.ShowInventoryOpened):
        doc = doc or _blank(e.show_id)
        inputs = _inputs(doc)
        inputs.update(list=dict(e.prices), list_currency=e.currency)
        doc["opened"] = True
        doc["seats"] = {s: {"category": cat, "price": 0, "state": "AVAILABLE", "booking_id": None}
                        for s, cat in e.seats.items()}
        _price(doc)
    elif doc is None or not doc.get("opened", True):
        return None  # inventory's stream opens a show before anything else of it
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


def shown(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """The document as readers get it: None until inventory has opened the show (a
    document of prices alone is no seat map)."""
    return doc if doc is not None and doc.get("opened", True) else None


def _blank(show_id: str) -> dict[str, Any]:
    return {"_id": show_id, "opened": False, "currency": None, "seats": {}, "price_version": 0,
            "prices": {}, "pricing": show_prices.blank()}


def _inputs(doc: dict[str, Any]) -> dict[str, Any]:
    """The prices' inputs (show_prices); a document folded before prices came from
    pricing shows the list prices it opened with, which its seats carry."""
    if "pricing" not in doc:
        doc["opened"] = True
        doc["pricing"] = show_prices.blank(
            {s["category"]: s["price"] for s in doc["seats"].values()}, doc["currency"])
    inputs: dict[str, Any] = doc["pricing"]
    return inputs


def _price(doc: dict[str, Any]) -> None:
    """Every price again from the inputs: only the price events and opening change them."""
    inputs = doc["pricing"]
    prices = show_prices.prices_now(inputs)
    doc.update(currency=show_prices.currency(inputs),
               price_version=show_prices.price_version(inputs), prices=prices)
    for seat in doc["seats"].values():
        seat["price"] = prices[seat["category"]]["price"]


def _set(doc: dict[str, Any], seat_ids: list[str], state: str, booking_id: str | None) -> None:
    for s in seat_ids:
        doc["seats"][s].update(state=state, booking_id=booking_id)


def _counts(seats: dict[str, dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(SEAT_STATES, 0)
    for seat in seats.values():
        counts[seat["state"]] += 1
    return counts

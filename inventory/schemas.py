"""The inventory API's bodies, and how a show's seats are shown."""

from __future__ import annotations

from typing import Annotated

import msgspec

from inventory.domain import ShowInventory
from shared.contracts import SEAT_STATES
from shared.http.schemas import (
    Currency,
    MinorUnits,
    RequestBody,
    ResponseBody,
    SeatId,
)

MAX_SEATS_PER_SHOW = 2_000
Category = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]


class SeatLayout(RequestBody, frozen=True):
    seats: Annotated[dict[SeatId, Category], msgspec.Meta(max_length=MAX_SEATS_PER_SHOW)]
    prices: Annotated[dict[Category, MinorUnits], msgspec.Meta(max_length=100)]
    currency: Currency


class SeatView(ResponseBody, frozen=True, omit_defaults=True):
    seat_id: str
    category: str
    price: int  # minor units, in the show's currency
    state: str  # AVAILABLE, RESERVED, BOOKED, WITHDRAWN
    booking_id: str | None = None  # operators only


class SeatCounts(ResponseBody, frozen=True):
    total: int
    available: int
    reserved: int
    booked: int
    withdrawn: int


class SeatMap(ResponseBody, frozen=True):
    show_id: str
    currency: str
    counts: SeatCounts
    seats: list[SeatView]


def seat_map(show: ShowInventory, reveal_holders: bool) -> SeatMap:
    """From the write model: answers to commands, and reads not yet projected."""
    seats = [
        SeatView(
            seat, category, show.prices[category], show.seat_state(seat),
            show.holders.get(seat) if reveal_holders else None,
        )
        for seat, category in show.seats.items()
    ]
    states = [s.state for s in seats]
    counts = SeatCounts(len(seats), *(states.count(s) for s in SEAT_STATES))
    return SeatMap(show.show_id, show.currency, counts, seats)


def seat_map_from_doc(doc: dict, reveal_holders: bool) -> SeatMap:
    """From the seat_maps view (projections/seat_map.py)."""
    seats = [
        SeatView(seat, s["category"], s["price"], s["state"],
                 s["booking_id"] if reveal_holders else None)
        for seat, s in doc["seats"].items()
    ]
    c = doc["counts"]  # (documents folded before withdrawals existed lack WITHDRAWN)
    counts = SeatCounts(len(seats), *(c.get(s, 0) for s in SEAT_STATES))
    return SeatMap(doc["_id"], doc["currency"], counts, seats)

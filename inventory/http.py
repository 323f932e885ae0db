"""The inventory API (port 8002): operators put shows on sale; anyone signed in sees seats.

Which booking holds a seat is shown to operators only: to a customer it would
reveal other customers' bookings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import msgspec
from litestar import Litestar, Response, get, put
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, PathParameter

from inventory.application import InventoryService, ShowNotFound
from inventory.domain import InventoryRuleViolation, ShowInventory
from shared.config import Settings
from shared.http.app import service_app
from shared.http.auth import Caller, CallerRequest, operator_only
from shared.http.errors import Problem, error_responses
from shared.http.health import Readiness
from shared.http.schemas import (
    Currency,
    MinorUnits,
    RequestBody,
    ResponseBody,
    SeatId,
)
from shared.views import ViewQueries

MAX_SEATS_PER_SHOW = 2_000
# A full layout is larger than the general request limit: ~64 bytes per seat at most.
MAX_LAYOUT_BYTES = MAX_SEATS_PER_SHOW * 64 + 4_096
Category = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
ShowPath = Annotated[str, PathParameter(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class InvalidLayout(Exception):
    """A layout that could never be sold (no seats, a category without price): 422."""


PROBLEMS = {
    ShowNotFound: Problem(404, "show_not_found", "no show {}"),
    InvalidLayout: Problem(422, "invalid_layout"),
    InventoryRuleViolation: Problem(409, "show_conflict"),
}


class SeatLayout(RequestBody, frozen=True):
    seats: Annotated[dict[SeatId, Category], msgspec.Meta(max_length=MAX_SEATS_PER_SHOW)]
    prices: Annotated[dict[Category, MinorUnits], msgspec.Meta(max_length=100)]
    currency: Currency


class SeatView(ResponseBody, frozen=True, omit_defaults=True):
    seat_id: str
    category: str
    price: int  # minor units, in the show's currency
    state: str  # AVAILABLE, RESERVED, BOOKED
    booking_id: str | None = None  # operators only


class SeatCounts(ResponseBody, frozen=True):
    total: int
    available: int
    reserved: int
    booked: int


class SeatMap(ResponseBody, frozen=True):
    show_id: str
    currency: str
    counts: SeatCounts
    seats: list[SeatView]


def seat_map(show: ShowInventory, reveal_holders: bool) -> SeatMap:
    seats = [
        SeatView(
            seat, category, show.prices[category], show.seat_state(seat),
            show.holders.get(seat) if reveal_holders else None,
        )
        for seat, category in show.seats.items()
    ]
    states = [s.state for s in seats]
    counts = SeatCounts(
        len(seats), states.count("AVAILABLE"), states.count("RESERVED"), states.count("BOOKED")
    )
    return SeatMap(show.show_id, show.currency, counts, seats)


def seat_map_from_doc(doc: dict, reveal_holders: bool) -> SeatMap:
    """From the seat_maps view (projections/seat_map.py)."""
    seats = [
        SeatView(seat, s["category"], s["price"], s["state"],
                 s["booking_id"] if reveal_holders else None)
        for seat, s in doc["seats"].items()
    ]
    c = doc["counts"]
    counts = SeatCounts(len(seats), c["AVAILABLE"], c["RESERVED"], c["BOOKED"])
    return SeatMap(doc["_id"], doc["currency"], counts, seats)


@dataclass(frozen=True)
class InventoryApi:
    """What the handlers use, handed to them as one dependency (shared.http.app: why)."""
    inventory: InventoryService
    views: ViewQueries | None  # None: an app without a read side (some tests)


def read_seats(
    inventory: InventoryService, views: ViewQueries, show_id: str, caller: Caller
) -> SeatMap:
    doc = views.seat_map(show_id)
    if doc is None:  # not projected yet (or no such show): the store decides, as opened
        # (never ahead of the view that follows, so no seat is seen taken, then free again)
        return seat_map(inventory.get_show_as_opened(show_id), reveal_holders=caller.is_operator)
    return seat_map_from_doc(doc, reveal_holders=caller.is_operator)


@put(
    "/shows/{show_id:str}/inventory", guards=[operator_only], sync_to_thread=True,
    request_max_body_size=MAX_LAYOUT_BYTES,
    responses={
        201: ResponseSpec(SeatMap, description="the show is now on sale"),
        **error_responses(400, 401, 403, 409, 413, 422),
    },
)
def open_show(
    show_id: ShowPath, data: JSONBody[SeatLayout], api: NamedDependency[InventoryApi]
) -> Response[SeatMap]:
    """Put a show on sale with its seats and prices. Repeating the same layout is
    harmless (200); another layout for an existing show is a conflict (409)."""
    try:  # checked first: open_show raises the same exception type for a conflict
        ShowInventory.validate_layout(data.seats, data.prices)
    except InventoryRuleViolation as e:
        raise InvalidLayout(str(e)) from e
    show, created = api.inventory.open_show(
        show_id, dict(data.seats), dict(data.prices), data.currency
    )
    return Response(
        seat_map(show, reveal_holders=True), status_code=201 if created else 200,
        headers={"Location": f"/shows/{show_id}/seats"},
    )


@get("/shows/{show_id:str}/seats", sync_to_thread=True, responses=error_responses(400, 401, 404))
def get_seats(
    show_id: ShowPath, request: CallerRequest, api: NamedDependency[InventoryApi],
) -> SeatMap:
    """Each seat's state, category and price, with counts (from the seat_maps view)."""
    return read_seats(api.inventory, api.views, show_id, request.user)


def create_app(
    service: InventoryService, settings: Settings, readiness: Readiness | None = None,
    views: ViewQueries | None = None,
) -> Litestar:
    return service_app(
        title="cinema-saga inventory",
        description="Shows' seat layouts, prices and the state of every seat.",
        routes=[open_show, get_seats],
        settings=settings,
        readiness=readiness,
        dependencies={"api": InventoryApi(service, views)},
        problems=PROBLEMS,
    )

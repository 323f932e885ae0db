"""The inventory API (port 8002): operators put shows on sale; anyone signed in sees seats.

Which booking holds a seat is shown to operators only: to a customer it would
reveal other customers' bookings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from litestar import Response, get, put
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, PathParameter

from inventory.application import InventoryService, ShowNotFound
from inventory.domain import InventoryRuleViolation, ShowInventory
from inventory.schemas import MAX_SEATS_PER_SHOW, SeatLayout, SeatMap, seat_map, seat_map_from_doc
from shared.http.app import ServiceApi
from shared.http.auth import Caller, CallerRequest, operator_only
from shared.http.errors import Problem, error_responses
from shared.http.links import links, to
from shared.views import ViewQueries

# A full layout is larger than the general request limit: ~64 bytes per seat at most.
MAX_LAYOUT_BYTES = MAX_SEATS_PER_SHOW * 64 + 4_096
ShowPath = Annotated[str, PathParameter(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class InvalidLayout(Exception):
    """A layout that could never be sold (no seats, a category without price): 422."""


PROBLEMS = {
    ShowNotFound: Problem(404, "show_not_found", "no show {}"),
    InvalidLayout: Problem(422, "invalid_layout"),
    InventoryRuleViolation: Problem(409, "show_conflict"),
}


# A show put on sale links to its seats.
SEATS = {"GetSeats": to("GET", "/shows/{show_id}/seats", show_id="$request.path.show_id")}


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
    operation_class=links({201: SEATS, 200: SEATS}),
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
    assert api.views is not None  # an app without a read side serves no reads
    return read_seats(api.inventory, api.views, show_id, request.user)


API = ServiceApi(
    title="cinema-saga inventory",
    description="Shows' seat layouts, prices and the state of every seat.",
    routes=[open_show, get_seats],
    problems=PROBLEMS,
    handlers_take=lambda service, views, settings: InventoryApi(service, views),
)
create_app = API.create_app

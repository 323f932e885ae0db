"""The theatre API (port 8005): operators register theatres, lay out screens and
schedule shows; customers browse the catalogue.

Operators' writes are answered from the store, with ``X-Consistency-Token``; the
catalogue is answered from the views (``shared.views.CatalogueQueries``), and waits for
a token passed back as ``?consistency_token=``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Response, get, post, put
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, PathParameter, QueryParameter

from shared.http.app import ServiceApi
from shared.http.auth import operator_only
from shared.http.errors import Problem, error_responses
from shared.http.links import links, to
from shared.http.schemas import ConsistencyToken, consistency_token, stale_header
from shared.views import CatalogueQueries, ViewQueries, wait_for
from theatre import domain
from theatre.application import (
    Outcome,
    ScreenNotFound,
    ShowNotFound,
    TheatreNotFound,
    TheatreService,
)
from theatre.schemas import (
    MAX_PROGRAMME,
    Cancellation,
    CataloguePage,
    Programme,
    ProgrammeView,
    Reschedule,
    ScreenLayout,
    ScreenView,
    ShowRequest,
    ShowView,
    TheatreRegistration,
    TheatreView,
    Withdrawal,
    catalogue_page,
    screen_view,
    show_view,
    theatre_view,
)

Slug = Annotated[str, PathParameter(pattern=domain.SLUG_PATTERN, description="an operator's slug")]
Filter = Annotated[str | None, QueryParameter(min_length=1, max_length=200)]
TheatreFilter = Annotated[str | None, QueryParameter(pattern=domain.SLUG_PATTERN)]
Day = Annotated[date | None, QueryParameter(description="a local date in the theatre's zone")]
Offset = Annotated[int, QueryParameter(ge=0, le=100_000)]
Limit = Annotated[int, QueryParameter(ge=1, le=100)]
# A full layout or programme is larger than the general request limit.
MAX_LAYOUT_BYTES = domain.MAX_SEATS * 128 + 4_096
MAX_PROGRAMME_BYTES = MAX_PROGRAMME * 640 + 4_096


class CatalogueUnavailable(Exception):
    """The read side this service was given answers no catalogue queries (yet)."""


PROBLEMS = {
    TheatreNotFound: Problem(404, "theatre_not_found", "no theatre {}"),
    ScreenNotFound: Problem(404, "screen_not_found"),
    ShowNotFound: Problem(404, "show_not_found", "no show {}"),
    domain.InvalidTheatre: Problem(422, "invalid_theatre"),
    domain.InvalidLayout: Problem(422, "invalid_layout"),
    domain.NoSuchLocalTime: Problem(422, "nonexistent_local_time"),
    domain.InvalidShow: Problem(422, "invalid_show"),
    domain.InvalidId: Problem(422, "invalid_id"),
    domain.ShowsClash: Problem(409, "show_clash"),
    domain.ShowIsCancelled: Problem(409, "show_cancelled"),
    domain.ShowHasStarted: Problem(409, "show_started"),
    domain.ConflictingRepeat: Problem(409, "already_exists"),
    CatalogueUnavailable: Problem(503, "catalogue_unavailable", "the catalogue is not "
                                  "available: this service's read side answers no catalogue "
                                  "queries yet"),
}


# What an operator does next with a theatre or a show just written.
THE_THEATRE, THE_SHOW = "$request.path.theatre_id", "$request.path.show_id"
FOLLOW_THEATRE = {
    "GetTheatre": to("GET", "/catalogue/theatres/{theatre_id}", theatre_id=THE_THEATRE),
    "LayOutScreen": to("PUT", "/theatres/{theatre_id}/screens/{screen_id}",
                       theatre_id=THE_THEATRE),
    "ScheduleProgramme": to("POST", "/theatres/{theatre_id}/programme", theatre_id=THE_THEATRE),
}
READ_SHOW = {"GetShow": to("GET", "/shows/{show_id}", show_id=THE_SHOW)}
FOLLOW_SHOW = {
    **READ_SHOW,
    "GetCatalogueShow": to("GET", "/catalogue/shows/{show_id}", show_id=THE_SHOW),
    "RescheduleShow": to("POST", "/shows/{show_id}/reschedule", show_id=THE_SHOW),
    "WithdrawSeats": to("POST", "/shows/{show_id}/withdrawn-seats", show_id=THE_SHOW),
    "CancelShow": to("POST", "/shows/{show_id}/cancel", show_id=THE_SHOW),
}


@dataclass(frozen=True)
class TheatreApi:
    """What the handlers use, handed to them as one dependency (shared.http.app: why)."""
    theatres: TheatreService
    views: ViewQueries | None  # None: an app without a read side (some tests)


def written(api: TheatreApi, done: Outcome[Any], body: Any, location: str = "") -> Response:
    """A command's answer: 201 when it made something new, else 200 (a change, or a
    repeat that changed nothing), with its write's consistency token."""
    headers = consistency_token(api.theatres, done.position)
    if location:
        headers["Location"] = location
    return Response(body, status_code=201 if done.created else 200, headers=headers)


# --- operators -----------------------------------------------------------------------


@put("/theatres/{theatre_id:str}", guards=[operator_only], sync_to_thread=True,
     responses={201: ResponseSpec(TheatreView, description="registered"),
                **error_responses(400, 401, 403, 409, 413, 422)},
     operation_class=links({201: FOLLOW_THEATRE, 200: FOLLOW_THEATRE}))
def register_theatre(theatre_id: Slug, data: JSONBody[TheatreRegistration],
                     api: NamedDependency[TheatreApi]) -> Response[TheatreView]:
    """Register a theatre with its IANA time zone. The same registration again is
    harmless (200); other details for a registered theatre are a conflict (409)."""
    done = api.theatres.register_theatre(theatre_id, data.name, data.city, data.address,
                                         data.time_zone)
    return written(api, done, theatre_view(done.result), f"/catalogue/theatres/{theatre_id}")


@put("/theatres/{theatre_id:str}/screens/{screen_id:str}", guards=[operator_only],
     sync_to_thread=True, request_max_body_size=MAX_LAYOUT_BYTES,
     responses={201: ResponseSpec(ScreenView, description="a new screen, layout version 1"),
                **error_responses(400, 401, 403, 404, 413, 422)})
def lay_out_screen(theatre_id: Slug, screen_id: Slug, data: JSONBody[ScreenLayout],
                   api: NamedDependency[TheatreApi]) -> Response[ScreenView]:
    """Lay out a screen: rows of seats, each at a column (columns without a seat are gaps
    and aisles). A new screen is 201; a changed layout is its next version (200), and
    shows scheduled before keep theirs; the current layout again changes nothing."""
    rows = [{"row": r.row, "seats": [msgspec.structs.asdict(s) for s in r.seats]}
            for r in data.rows]
    done = api.theatres.lay_out_screen(theatre_id, screen_id, data.name, rows)
    return written(api, done, screen_view(done.result))


@put("/shows/{show_id:str}", guards=[operator_only], sync_to_thread=True,
     responses={201: ResponseSpec(ShowView, description="scheduled: on sale"),
                **error_responses(400, 401, 403, 404, 409, 413, 422)},
     operation_class=links({201: FOLLOW_SHOW, 200: FOLLOW_SHOW}))
def schedule_show(show_id: Slug, data: JSONBody[ShowRequest],
                  api: NamedDependency[TheatreApi]) -> Response[ShowView]:
    """Schedule a show at a local start in its theatre's time zone, with a price for
    every category on sale. A clash on its screen (its film and cleaning gap included) is
    409 naming the other show; the same request again is harmless (200)."""
    done = api.theatres.schedule_show(data.plan(show_id, data.theatre_id))
    return written(api, done, show_view(done.result), f"/shows/{show_id}")


@post("/theatres/{theatre_id:str}/programme", guards=[operator_only], sync_to_thread=True,
      request_max_body_size=MAX_PROGRAMME_BYTES,
      responses={200: ResponseSpec(ProgrammeView, description="every show was scheduled before"),
                 **error_responses(400, 401, 403, 404, 409, 413, 422)})
def schedule_programme(theatre_id: Slug, data: JSONBody[Programme],
                       api: NamedDependency[TheatreApi]) -> Response[ProgrammeView]:
    """Schedule a programme (a week's shows, say) all or nothing: any show that cannot be
    scheduled, or clashes with another (of the programme or on record), is refused,
    named, and nothing is scheduled. Shows scheduled before as asked are left be."""
    done = api.theatres.schedule_shows(
        theatre_id, [s.plan(s.show_id, theatre_id) for s in data.shows])
    shows, new = done.result
    return written(api, done, ProgrammeView(theatre_id, len(new), len(shows) - len(new),
                                            [show_view(s) for s in shows]))


@post("/shows/{show_id:str}/reschedule", status_code=200, guards=[operator_only],
      sync_to_thread=True, responses=error_responses(400, 401, 403, 404, 409, 413, 422),
      operation_class=links({200: READ_SHOW}))
def reschedule_show(show_id: Slug, data: JSONBody[Reschedule],
                    api: NamedDependency[TheatreApi]) -> Response[ShowView]:
    """Move a show to a new local start on its screen (its old slot does not count)."""
    done = api.theatres.reschedule_show(show_id, data.start)
    return written(api, done, show_view(done.result))


@post("/shows/{show_id:str}/cancel", status_code=200, guards=[operator_only],
      sync_to_thread=True, responses=error_responses(400, 401, 403, 404, 413, 422),
      operation_class=links({200: READ_SHOW}))
def cancel_show(show_id: Slug, data: JSONBody[Cancellation],
                api: NamedDependency[TheatreApi]) -> Response[ShowView]:
    """Cancel a show for good (its bookings are cancelled and refunded) and free its
    slot. Cancelling it again changes nothing."""
    done = api.theatres.cancel_show(show_id, data.reason)
    return written(api, done, show_view(done.result))


@post("/shows/{show_id:str}/withdrawn-seats", status_code=200, guards=[operator_only],
      sync_to_thread=True, responses=error_responses(400, 401, 403, 404, 409, 413, 422),
      operation_class=links({200: READ_SHOW}))
def withdraw_seats(show_id: Slug, data: JSONBody[Withdrawal],
                   api: NamedDependency[TheatreApi]) -> Response[ShowView]:
    """Take broken seats out of a show's sale (a booking holding one is cancelled and
    refunded). Seats withdrawn before are left be."""
    done = api.theatres.withdraw_seats(show_id, list(data.seat_ids), data.reason)
    return written(api, done, show_view(done.result))


@get("/shows/{show_id:str}", guards=[operator_only], sync_to_thread=True,
     responses=error_responses(400, 401, 403, 404))
def get_show(show_id: Slug, api: NamedDependency[TheatreApi]) -> ShowView:
    """A show as the theatre service has it now (its withdrawn seats included)."""
    return show_view(api.theatres.get_show(show_id))


# --- the catalogue, for anyone signed in ----------------------------------------------


def catalogue(api: TheatreApi, token: str | None) -> tuple[CatalogueQueries, dict[str, str]]:
    """The catalogue's views once they show the token's write, and the header that says
    when they did not in time."""
    views = api.views
    if views is None or not isinstance(views, CatalogueQueries):
        raise CatalogueUnavailable()
    return views, stale_header(wait_for(views, token))


def one_of(api: TheatreApi, token: str | None,
           find: Callable[[CatalogueQueries], dict[str, Any] | None],
           missing: Exception) -> Response[dict[str, Any]]:
    """One document of the catalogue, as the views hold it, or 404."""
    views, headers = catalogue(api, token)
    found = find(views)
    if found is None:
        raise missing
    return Response(found, headers=headers)


@get("/catalogue/shows", sync_to_thread=True, responses=error_responses(400, 401, 503))
def list_shows(api: NamedDependency[TheatreApi], city: Filter = None, day: Day = None,
               theatre_id: TheatreFilter = None,
               film: Filter = None, offset: Offset = 0, limit: Limit = 50,
               consistency_token: ConsistencyToken = None) -> Response[CataloguePage]:
    """Shows on sale by start time: in a city, on a local day (YYYY-MM-DD, in each
    theatre's time zone), at a theatre, of a film (its title, any case)."""
    views, headers = catalogue(api, consistency_token)
    shows = views.shows(city=city, day=day.isoformat() if day else None, theatre_id=theatre_id,
                        film=film, offset=offset, limit=limit)
    return Response(catalogue_page(shows, offset, limit), headers=headers)


@get("/catalogue/shows/{show_id:str}", sync_to_thread=True,
     responses=error_responses(400, 401, 404, 503))
def catalogue_show(show_id: Slug, api: NamedDependency[TheatreApi],
                   consistency_token: ConsistencyToken = None) -> Response[dict[str, Any]]:
    """A show with its film, theatre, screen, seats and how many are still free."""
    return one_of(api, consistency_token, lambda views: views.show(show_id),
                  ShowNotFound(show_id))


@get("/catalogue/theatres", sync_to_thread=True, responses=error_responses(400, 401, 503))
def list_theatres(api: NamedDependency[TheatreApi], city: Filter = None, offset: Offset = 0,
                  limit: Limit = 50,
                  consistency_token: ConsistencyToken = None) -> Response[CataloguePage]:
    """Theatres by city, then name."""
    views, headers = catalogue(api, consistency_token)
    theatres = views.theatres(city=city, offset=offset, limit=limit)
    return Response(catalogue_page(theatres, offset, limit), headers=headers)


@get("/catalogue/theatres/{theatre_id:str}", sync_to_thread=True,
     responses=error_responses(400, 401, 404, 503))
def catalogue_theatre(theatre_id: Slug, api: NamedDependency[TheatreApi],
                      consistency_token: ConsistencyToken = None) -> Response[dict[str, Any]]:
    """A theatre with its screens."""
    return one_of(api, consistency_token, lambda views: views.theatre(theatre_id),
                  TheatreNotFound(theatre_id))


API = ServiceApi(
    title="cinema-saga theatre",
    description="Theatres, screens and their seat layouts, shows, and the catalogue.",
    routes=[register_theatre, lay_out_screen, schedule_show, schedule_programme,
            reschedule_show, cancel_show, withdraw_seats, get_show,
            list_shows, catalogue_show, list_theatres, catalogue_theatre],
    problems=PROBLEMS,
    handlers_take=lambda service, views, settings: TheatreApi(service, views),
)
create_app = API.create_app

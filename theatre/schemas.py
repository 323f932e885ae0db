"""The theatre API's requests and responses, and how its aggregates are shown."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from shared.contracts import SeatCategory
from shared.http.schemas import Currency, MinorUnits, RequestBody, ResponseBody, SeatId, utc
from theatre.domain import (
    MAX_RUNTIME_MINUTES,
    MAX_SEATS,
    ROW_PATTERN,
    SLUG_PATTERN,
    Screen,
    Show,
    ShowPlan,
    Theatre,
)

Slug = Annotated[str, msgspec.Meta(pattern=SLUG_PATTERN, examples=["odeon-leicester-sq"])]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
LocalDateTime = Annotated[str, msgspec.Meta(
    pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$", examples=["2026-03-27T19:30"],
    description="a local date-time in the theatre's time zone, without an offset; one the "
                "clocks skip is refused, one that happens twice is the first")]
MAX_PROGRAMME = 200  # shows in one programme request
MAX_ROWS = 100


# --- requests ------------------------------------------------------------------------


class TheatreRegistration(RequestBody, frozen=True):
    name: Name
    city: Name
    address: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    time_zone: Annotated[str, msgspec.Meta(min_length=1, max_length=64,
                                           examples=["Europe/London"])]


class SeatPlace(RequestBody, frozen=True):
    number: Annotated[int, msgspec.Meta(ge=1, le=999)]  # the seat id is the row and this
    column: Annotated[int, msgspec.Meta(ge=1, le=999, description=(
        "its position across the row; columns without a seat are gaps and aisles"))]
    category: SeatCategory
    wheelchair: bool = False  # a wheelchair space
    companion: bool = False  # beside a wheelchair space, in the next column
    in_service: bool = True  # False: shown, never sold


class RowLayout(RequestBody, frozen=True):
    row: Annotated[str, msgspec.Meta(pattern=ROW_PATTERN, examples=["A"])]
    seats: Annotated[list[SeatPlace], msgspec.Meta(max_length=MAX_SEATS)]


class ScreenLayout(RequestBody, frozen=True):
    name: Name
    rows: Annotated[list[RowLayout], msgspec.Meta(min_length=1, max_length=MAX_ROWS)]


class FilmBody(RequestBody, frozen=True):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    runtime_minutes: Annotated[int, msgspec.Meta(ge=1, le=MAX_RUNTIME_MINUTES)]
    rating: Annotated[str, msgspec.Meta(min_length=1, max_length=8, examples=["12A"])]
    language: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    format: Literal["2D", "3D", "IMAX"]


class ShowDetails(RequestBody, frozen=True):
    screen_id: Slug
    film: FilmBody
    start: LocalDateTime
    # The list prices, every category on sale: pricing's rules may price it otherwise.
    prices: Annotated[dict[SeatCategory, MinorUnits], msgspec.Meta(min_length=1)]
    currency: Currency

    def plan(self, show_id: str, theatre_id: str) -> ShowPlan:
        return ShowPlan(show_id=show_id, theatre_id=theatre_id, screen_id=self.screen_id,
                        film=msgspec.structs.asdict(self.film), start=self.start,
                        prices={c: p for c, p in self.prices.items()},
                        currency=self.currency)


class ShowRequest(ShowDetails, frozen=True):
    """A show to schedule, its id in the path."""
    theatre_id: Slug


class ProgrammeShow(ShowDetails, frozen=True):
    """A show of a theatre's programme, the theatre in the path."""
    show_id: Slug


class Programme(RequestBody, frozen=True):
    shows: Annotated[list[ProgrammeShow], msgspec.Meta(min_length=1, max_length=MAX_PROGRAMME)]


class Reschedule(RequestBody, frozen=True):
    start: LocalDateTime


class Cancellation(RequestBody, frozen=True):
    reason: Reason


class Withdrawal(RequestBody, frozen=True):
    seat_ids: Annotated[list[SeatId], msgspec.Meta(min_length=1, max_length=MAX_SEATS)]
    reason: Reason


# --- responses -----------------------------------------------------------------------


class TheatreView(ResponseBody, frozen=True):
    theatre_id: str
    name: str
    city: str
    address: str
    time_zone: str


class SeatView(ResponseBody, frozen=True):
    seat_id: str
    row: str
    number: int
    column: int
    category: str
    wheelchair: bool
    companion: bool
    in_service: bool


class ScreenView(ResponseBody, frozen=True):
    theatre_id: str
    screen_id: str
    name: str
    layout_version: int
    seats: list[SeatView]
    seats_on_sale: int


class FilmView(ResponseBody, frozen=True):
    title: str
    runtime_minutes: int
    rating: str
    language: str
    format: str


class ShowView(ResponseBody, frozen=True):
    show_id: str
    theatre_id: str
    screen_id: str
    layout_version: int
    film: FilmView
    status: str  # SCHEDULED, RESCHEDULED, CANCELLED
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC: the film's end
    local_start: str  # in the theatre's time zone, with its offset
    seats: dict[str, str]  # seat id -> category: what was put on sale
    withdrawn: dict[str, str]  # seat id -> why it was taken out of sale
    prices: dict[str, int]
    currency: str
    cancellation_reason: str | None


class ProgrammeView(ResponseBody, frozen=True):
    theatre_id: str
    scheduled: int  # new shows
    unchanged: int  # shows scheduled before as asked
    shows: list[ShowView]


class CataloguePage(ResponseBody, frozen=True):
    """A page of the catalogue, as the views hold it."""
    items: list[dict[str, Any]]
    offset: int
    limit: int
    next_offset: int | None  # None: the last page


def theatre_view(t: Theatre) -> TheatreView:
    return TheatreView(t.theatre_id, t.name, t.city, t.address, t.time_zone)


def screen_view(s: Screen) -> ScreenView:
    return ScreenView(s.theatre_id, s.screen_id, s.name, s.layout_version,
                      [SeatView(**seat) for seat in s.seats], len(s.seats_on_sale()))


def show_view(s: Show) -> ShowView:
    return ShowView(
        show_id=s.show_id, theatre_id=s.theatre_id, screen_id=s.screen_id,
        layout_version=s.layout_version, film=FilmView(**s.film), status=s.status,
        starts_at=utc(s.starts_at), ends_at=utc(s.ends_at), local_start=s.local_start,
        seats=dict(s.seats), withdrawn=dict(s.withdrawn), prices=dict(s.prices),
        currency=s.currency, cancellation_reason=s.cancellation_reason,
    )


def catalogue_page(items: list[dict[str, Any]], offset: int, limit: int) -> CataloguePage:
    return CataloguePage(items, offset, limit, offset + limit if len(items) == limit else None)

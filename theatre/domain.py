"""Theatres, their screens with versioned seat layouts, and the shows on them: no I/O.

Four aggregates, each the unit of one decision:

- ``Theatre``: its name, city, address and time zone. Registered once; registering it
  again with other details is refused, since its shows' local times depend on its zone.
- ``Screen``: one screen of a theatre and its seat layout, each change a new version.
  Its own aggregate rather than part of the theatre: no rule spans two screens, and a
  layout is large (up to 2,000 seats), so a theatre holding every version of every
  screen would load all of them to change one.
- ``Show``: a film on a screen from a start, with its prices; scheduled, rescheduled,
  cancelled (final); broken seats withdrawn from it. It keeps the seats of the layout
  version it was scheduled with: a later layout change is for later shows.
- ``ScreenSchedule``: when one screen is busy, show by show. Two shows never overlap on
  a screen, a rule about many shows, so it needs one writer: every show taking,
  moving or freeing a slot is written together with its screen's schedule, in one
  version-checked write. A show occupies [start, end of film + cleaning gap).

Times. An operator gives a show's start as a local date-time in the theatre's time
zone; it is kept in UTC. A local time skipped when the clocks go forward (01:30 on
2026-03-29 in Europe/London) does not exist and is refused. A local time that happens
twice when they go back (01:30 on 2026-10-25 in Europe/London) means its first
occurrence (``fold=0``: still on summer time, 00:30 UTC).

State is plain dicts and lists so that events and snapshots serialize as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from eventsourcing.domain import event

from shared import ids
from shared.aggregate import Aggregate

# Theatre, screen and show ids are chosen by the operator: short, readable, in URLs.
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
CATEGORIES = ("Regular", "Premium", "Recliner")
FORMATS = ("2D", "3D", "IMAX")
ROW_PATTERN = r"^[A-Z]{1,3}$"  # a seat id is its row and number: "C7", "AA12"
MAX_SEATS = 2_000  # in one screen (what inventory opens in one request)
MAX_RUNTIME_MINUTES = 600
# A show's status, in capitals like a booking's and the catalogue's.
SCHEDULED, RESCHEDULED, CANCELLED = "SCHEDULED", "RESCHEDULED", "CANCELLED"
_SLUG, _ROW = re.compile(SLUG_PATTERN), re.compile(ROW_PATTERN)
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class TheatreRuleViolation(Exception):
    """An operator's command that breaks a rule of the theatre's domain."""


class InvalidTheatre(TheatreRuleViolation):
    """A theatre that cannot be registered as given (an unknown time zone): HTTP 422."""


class InvalidLayout(TheatreRuleViolation):
    """A seat layout that cannot be laid out (HTTP 422)."""


class InvalidShow(TheatreRuleViolation):
    """A show that cannot be scheduled as given (HTTP 422)."""


class NoSuchLocalTime(InvalidShow):
    """A local start the clocks skip in the theatre's time zone (HTTP 422)."""


class ShowsClash(TheatreRuleViolation):
    """A show that would overlap another on its screen, cleaning gap included (HTTP 409)."""


class ShowIsCancelled(TheatreRuleViolation):
    """A change to a cancelled show: cancellation is final (HTTP 409)."""


class ShowHasStarted(TheatreRuleViolation):
    """A show moved after it started (HTTP 409)."""


class ConflictingRepeat(TheatreRuleViolation):
    """A command that would create what exists already, differently (HTTP 409)."""


class InvalidId(TheatreRuleViolation):
    """An id an operator chose that is not a slug (HTTP 422)."""


def check_slug(kind: str, slug: str) -> None:
    if not _SLUG.match(slug):
        raise InvalidId(
            f"{kind} id {slug!r}: lower-case letters, digits and '-', 1 to 63 characters")


def time_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidTheatre(
            f"unknown time zone {name!r}: give an IANA name such as Europe/London") from None


class ShowTime(NamedTuple):
    starts_at: datetime  # UTC
    local_start: str  # ISO 8601 in the theatre's time zone, with its offset


def show_time(show_id: str, local: str, zone: str) -> ShowTime:
    """A local start in a time zone, as an instant: a skipped local time is refused, a
    repeated one is its first occurrence (``fold=0``)."""
    try:
        naive = datetime.fromisoformat(local)
    except ValueError:
        raise InvalidShow(
            f"show {show_id}: start {local!r} is not a date-time like 2026-03-29T19:30") from None
    if naive.tzinfo is not None:
        raise InvalidShow(f"show {show_id}: give the start in the theatre's local time "
                          f"({zone}) without an offset, not {local!r}")
    tz = time_zone(zone)
    starts_at = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    local_start = starts_at.astimezone(tz)
    if local_start.replace(tzinfo=None) != naive:  # in the gap: it converts to another time
        raise NoSuchLocalTime(
            f"show {show_id}: {naive:%Y-%m-%dT%H:%M} does not exist in {zone}: the clocks go "
            f"forward past it that night; choose a start before or after the change")
    return ShowTime(starts_at, local_start.isoformat())


# --- theatres --------------------------------------------------------------------


class Theatre(Aggregate):
    TOPIC = "cinema.theatre:Theatre"

    class Created(Aggregate.Created):
        TOPIC = "cinema.theatre:Theatre.Created"

    @staticmethod
    def create_id(theatre_id: str) -> UUID:
        return ids.theatre_id(theatre_id)

    @classmethod
    def register(cls, theatre_id: str, name: str, city: str, address: str, time_zone_name: str,
                 at: datetime) -> Theatre:
        check_slug("theatre", theatre_id)
        time_zone(time_zone_name)
        if not all(s.strip() for s in (name, city, address)):
            raise InvalidTheatre("a theatre needs a name, a city and an address")
        return cls(theatre_id=theatre_id, name=name, city=city, address=address,
                   time_zone=time_zone_name, at=at)

    @event("Registered", topic="cinema.theatre:Theatre.Registered")
    def __init__(self, theatre_id: str, name: str, city: str, address: str, time_zone: str,
                 at: datetime) -> None:
        self.theatre_id = theatre_id
        self.name, self.city, self.address = name, city, address
        self.time_zone = time_zone

    def check_same(self, name: str, city: str, address: str, time_zone_name: str) -> None:
        """A repeated registration must say what the first said."""
        if (self.name, self.city, self.address, self.time_zone) != (
                name, city, address, time_zone_name):
            raise ConflictingRepeat(
                f"theatre {self.theatre_id} is registered as {self.name!r} in {self.city} "
                f"({self.time_zone}); its details are not changed by registering it again")


# --- screens and their layouts -----------------------------------------------------


def seat_layout(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A layout's seats, checked, front row first and each row by column.

    ``rows``: ``{"row": "A", "seats": [{"number": 1, "column": 1, "category":
    "Regular", "wheelchair": False, "companion": False, "in_service": True}, ...]}``. A
    column is a position across the row; columns without a seat are gaps and aisles."""
    seats: list[dict[str, Any]] = []
    seen_rows: set[str] = set()
    for r in rows:
        row = r["row"]
        if not _ROW.match(row):
            raise InvalidLayout(f"row {row!r}: a row is named by 1 to 3 capital letters")
        if row in seen_rows:
            raise InvalidLayout(f"row {row} appears twice")
        seen_rows.add(row)
        seats.extend(_row_seats(row, r["seats"]))
    if not seats:
        raise InvalidLayout("a layout needs at least one seat")
    if len(seats) > MAX_SEATS:
        raise InvalidLayout(f"a screen has at most {MAX_SEATS} seats, not {len(seats)}")
    if not any(s["in_service"] for s in seats):
        raise InvalidLayout("every seat is out of service: a screen needs one it can sell")
    return seats


def _row_seats(row: str, given: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    by_id: dict[str, dict[str, Any]] = {}
    by_column: dict[int, str] = {}
    for g in given:
        seat = {
            "seat_id": f"{row}{g['number']}", "row": row, "number": g["number"],
            "column": g["column"], "category": g["category"],
            "wheelchair": bool(g.get("wheelchair", False)),
            "companion": bool(g.get("companion", False)),
            "in_service": bool(g.get("in_service", True)),
        }
        seat_id, column = seat["seat_id"], seat["column"]
        if seat["number"] < 1 or column < 1:
            raise InvalidLayout(f"seat {seat_id}: numbers and columns start at 1")
        if seat["category"] not in CATEGORIES:
            raise InvalidLayout(f"seat {seat_id}: category {seat['category']!r} is not one of "
                                f"{', '.join(CATEGORIES)}")
        if seat["wheelchair"] and seat["companion"]:
            raise InvalidLayout(f"seat {seat_id} is a wheelchair space or a companion seat, "
                                f"not both")
        if seat_id in by_id:
            raise InvalidLayout(f"seat {seat_id} appears twice")
        if column in by_column:
            raise InvalidLayout(f"seats {by_column[column]} and {seat_id} are both at column "
                                f"{column} of row {row}")
        by_id[seat_id], by_column[column] = seat, seat_id
    for seat in by_id.values():
        beside = [by_id[by_column[c]] for c in (seat["column"] - 1, seat["column"] + 1)
                  if c in by_column]
        if seat["companion"] and not any(s["wheelchair"] for s in beside):
            raise InvalidLayout(f"companion seat {seat['seat_id']} has no wheelchair space "
                                f"beside it in row {row}")
    return sorted(by_id.values(), key=lambda s: s["column"])


class Screen(Aggregate):
    TOPIC = "cinema.theatre:Screen"

    class Created(Aggregate.Created):
        TOPIC = "cinema.theatre:Screen.Created"

    @staticmethod
    def create_id(theatre_id: str, screen_id: str) -> UUID:
        return ids.screen_id(theatre_id, screen_id)

    @classmethod
    def add(cls, theatre_id: str, screen_id: str, name: str, seats: list[dict[str, Any]],
            at: datetime) -> Screen:
        """A new screen with its first layout (``seats`` as seat_layout() returns them)."""
        check_slug("screen", screen_id)
        _check_name(name)
        return cls(theatre_id=theatre_id, screen_id=screen_id, name=name, seats=seats, at=at)

    @event("LaidOut", topic="cinema.theatre:Screen.LaidOut")
    def __init__(self, theatre_id: str, screen_id: str, name: str, seats: list[dict[str, Any]],
                 at: datetime) -> None:
        self.theatre_id, self.screen_id = theatre_id, screen_id
        self.name = name
        self.seats = seats  # as seat_layout() returns them
        self.layout_version = 1

    def lay_out(self, name: str, seats: list[dict[str, Any]], at: datetime) -> bool:
        """A new layout version, unless it is the current one again (False)."""
        if (name, seats) == (self.name, self.seats):
            return False
        _check_name(name)
        self._change_layout(theatre_id=self.theatre_id, screen_id=self.screen_id, name=name,
                            seats=seats, layout_version=self.layout_version + 1, at=at)
        return True

    @event("LayoutChanged", topic="cinema.theatre:Screen.LayoutChanged")
    def _change_layout(self, theatre_id: str, screen_id: str, name: str,
                       seats: list[dict[str, Any]], layout_version: int, at: datetime) -> None:
        self.name, self.seats, self.layout_version = name, seats, layout_version

    def seats_on_sale(self) -> dict[str, str]:
        """Seat id -> category of the seats in service."""
        return {s["seat_id"]: s["category"] for s in self.seats if s["in_service"]}


def _check_name(name: str) -> None:
    if not name.strip():
        raise InvalidLayout("a screen needs a name")


# --- shows -------------------------------------------------------------------------


@dataclass(frozen=True)
class ShowPlan:
    """What an operator asks for to schedule a show. Its prices are the theatre's list
    prices: pricing prices the show from them where the chain's rules give no base."""

    show_id: str
    theatre_id: str
    screen_id: str
    film: Mapping[str, Any]  # title, runtime_minutes, rating, language, format
    start: str  # a local date-time in the theatre's time zone: "2026-03-29T19:30"
    prices: Mapping[str, int] = field(default_factory=dict)  # category -> minor units
    currency: str = "EUR"

    def checked_film(self) -> dict[str, Any]:
        film = {k: self.film[k] for k in ("title", "runtime_minutes", "rating", "language",
                                          "format")}
        if not 0 < film["runtime_minutes"] <= MAX_RUNTIME_MINUTES:
            raise InvalidShow(f"show {self.show_id}: a film runs 1 to {MAX_RUNTIME_MINUTES} "
                              f"minutes, not {film['runtime_minutes']}")
        if film["format"] not in FORMATS:
            raise InvalidShow(f"show {self.show_id}: format {film['format']!r} is not one of "
                              f"{', '.join(FORMATS)}")
        if not all(str(film[k]).strip() for k in ("title", "rating", "language")):
            raise InvalidShow(f"show {self.show_id}: a film needs a title, a rating and a "
                              f"language")
        return film

    def checked_prices(self, seats: Mapping[str, str]) -> dict[str, int]:
        """Every category on sale priced, in one currency."""
        unknown = sorted(set(self.prices) - set(CATEGORIES))
        if unknown:
            raise InvalidShow(f"show {self.show_id}: no seat category {', '.join(unknown)}")
        missing = sorted(set(seats.values()) - set(self.prices))
        if missing:
            raise InvalidShow(f"show {self.show_id}: no price for its {', '.join(missing)} "
                              f"seats")
        if any(p < 0 for p in self.prices.values()) or not _CURRENCY.match(self.currency):
            raise InvalidShow(f"show {self.show_id}: prices are minor units of a currency "
                              f"such as EUR, never negative")
        return dict(self.prices)


class Show(Aggregate):
    TOPIC = "cinema.theatre:Show"

    class Created(Aggregate.Created):
        TOPIC = "cinema.theatre:Show.Created"

    @staticmethod
    def create_id(show_id: str) -> UUID:
        return ids.show_id(show_id)

    @classmethod
    def schedule(cls, plan: ShowPlan, screen: Screen, time: ShowTime, now: datetime) -> Show:
        """A show on sale with the seats in service of the screen's current layout."""
        check_slug("show", plan.show_id)
        film = plan.checked_film()
        seats = screen.seats_on_sale()
        prices = plan.checked_prices(seats)
        if time.starts_at <= now:
            raise InvalidShow(f"show {plan.show_id}: its start {time.local_start} has passed")
        return cls(
            show_id=plan.show_id, theatre_id=plan.theatre_id, screen_id=plan.screen_id,
            layout_version=screen.layout_version, film=film, starts_at=time.starts_at,
            ends_at=time.starts_at + timedelta(minutes=film["runtime_minutes"]),
            local_start=time.local_start, seats=seats, prices=prices, currency=plan.currency,
            at=now,
        )

    @event("Scheduled", topic="cinema.theatre:Show.Scheduled")
    def __init__(self, show_id: str, theatre_id: str, screen_id: str, layout_version: int,
                 film: dict[str, Any], starts_at: datetime, ends_at: datetime, local_start: str,
                 seats: dict[str, str], prices: dict[str, int], currency: str,
                 at: datetime) -> None:
        self.show_id, self.theatre_id, self.screen_id = show_id, theatre_id, screen_id
        self.layout_version = layout_version
        self.film = film
        self.starts_at, self.ends_at, self.local_start = starts_at, ends_at, local_start
        self.seats = seats  # seat id -> category: what was put on sale
        self.prices, self.currency = prices, currency
        self.status = SCHEDULED
        self.withdrawn: dict[str, str] = {}  # seat id -> why it was taken out of sale
        self.cancellation_reason: str | None = None

    def is_plan(self, plan: ShowPlan, time: ShowTime) -> bool:
        """Whether scheduling ``plan`` again would schedule this show as it is."""
        return ((plan.theatre_id, plan.screen_id, plan.checked_film(), time.starts_at,
                 dict(plan.prices), plan.currency)
                == (self.theatre_id, self.screen_id, self.film, self.starts_at, self.prices,
                    self.currency))

    def reschedule(self, time: ShowTime, now: datetime) -> bool:
        """Move the show to a new start; False if it starts then already."""
        self._check_not_cancelled("rescheduled")
        if time.starts_at == self.starts_at:
            return False
        if self.starts_at <= now:
            raise ShowHasStarted(f"show {self.show_id} started at {self.local_start}: "
                                 f"it can no longer be moved")
        if time.starts_at <= now:
            raise InvalidShow(f"show {self.show_id}: the new start {time.local_start} has passed")
        runtime = self.ends_at - self.starts_at
        self._reschedule(show_id=self.show_id, theatre_id=self.theatre_id,
                         starts_at=time.starts_at, ends_at=time.starts_at + runtime,
                         local_start=time.local_start, at=now)
        return True

    @event("Rescheduled", topic="cinema.theatre:Show.Rescheduled")
    def _reschedule(self, show_id: str, theatre_id: str, starts_at: datetime, ends_at: datetime,
                    local_start: str, at: datetime) -> None:
        self.starts_at, self.ends_at, self.local_start = starts_at, ends_at, local_start
        self.status = RESCHEDULED

    def cancel(self, reason: str, now: datetime) -> bool:
        """Cancel the show for good; False if it was cancelled already."""
        if self.status == CANCELLED:
            return False
        if not reason.strip():
            raise InvalidShow(f"show {self.show_id}: say why it is cancelled")
        self._cancel(show_id=self.show_id, theatre_id=self.theatre_id, reason=reason, at=now)
        return True

    @event("Cancelled", topic="cinema.theatre:Show.Cancelled")
    def _cancel(self, show_id: str, theatre_id: str, reason: str, at: datetime) -> None:
        self.status = CANCELLED
        self.cancellation_reason = reason

    def withdraw_seats(self, seat_ids: list[str], reason: str, now: datetime) -> list[str]:
        """Take seats out of sale (broken): those not withdrawn already, which it returns."""
        self._check_not_cancelled("changed")
        if not seat_ids or not reason.strip():
            raise InvalidShow(f"show {self.show_id}: name the seats to withdraw, and why")
        unknown = [s for s in seat_ids if s not in self.seats]
        if unknown:
            raise InvalidShow(f"show {self.show_id} has no seat {', '.join(unknown)} on sale")
        new = [s for s in dict.fromkeys(seat_ids) if s not in self.withdrawn]
        if new:
            self._withdraw(show_id=self.show_id, theatre_id=self.theatre_id, seat_ids=new,
                           reason=reason, at=now)
        return new

    @event("SeatsWithdrawn", topic="cinema.theatre:Show.SeatsWithdrawn")
    def _withdraw(self, show_id: str, theatre_id: str, seat_ids: list[str], reason: str,
                  at: datetime) -> None:
        for seat in seat_ids:
            self.withdrawn[seat] = reason

    def _check_not_cancelled(self, change: str) -> None:
        if self.status == CANCELLED:
            raise ShowIsCancelled(f"show {self.show_id} was cancelled ({self.cancellation_reason})"
                                  f" and cannot be {change}")


# --- one writer per screen: its schedule --------------------------------------------


class ScreenSchedule(Aggregate):
    """The slots of one screen's shows: show id -> {starts_at, ends_at, film,
    local_start}. A cancelled show's slot is freed. The cleaning gap is the service's
    setting at the time of each decision, so a changed setting applies to every show
    scheduled or moved after it."""

    TOPIC = "cinema.theatre:ScreenSchedule"

    class Created(Aggregate.Created):
        TOPIC = "cinema.theatre:ScreenSchedule.Created"

    @staticmethod
    def create_id(theatre_id: str, screen_id: str) -> UUID:
        return ids.screen_schedule_id(theatre_id, screen_id)

    @event("Started", topic="cinema.theatre:ScreenSchedule.Started")
    def __init__(self, theatre_id: str, screen_id: str) -> None:
        self.theatre_id, self.screen_id = theatre_id, screen_id
        self.slots: dict[str, dict[str, Any]] = {}

    def take(self, show: Show, gap: timedelta) -> None:
        """Give a new show its slot, unless another show's overlaps it."""
        assert show.show_id not in self.slots, f"show {show.show_id} has a slot already"
        self._check_free(show, gap)
        self._take(show_id=show.show_id, starts_at=show.starts_at, ends_at=show.ends_at,
                   film=show.film["title"], local_start=show.local_start)

    def move(self, show: Show, gap: timedelta) -> None:
        """Move a show's slot to its new times, unless another show's overlaps them (its
        own old slot does not)."""
        self._check_free(show, gap)
        self._move(show_id=show.show_id, starts_at=show.starts_at, ends_at=show.ends_at,
                   local_start=show.local_start)

    def free(self, show_id: str) -> None:
        if show_id in self.slots:
            self._free(show_id=show_id)

    def _check_free(self, show: Show, gap: timedelta) -> None:
        for other_id, slot in self.slots.items():
            if (other_id != show.show_id and show.starts_at < slot["ends_at"] + gap
                    and slot["starts_at"] < show.ends_at + gap):
                raise ShowsClash(
                    f"show {show.show_id} starting {show.local_start} clashes on screen "
                    f"{self.screen_id} with show {other_id} ({slot['film']!r}, starting "
                    f"{slot['local_start']}): a screen has one show at a time, and "
                    f"{_minutes(gap)} for cleaning after each")

    @event("SlotTaken", topic="cinema.theatre:ScreenSchedule.SlotTaken")
    def _take(self, show_id: str, starts_at: datetime, ends_at: datetime, film: str,
              local_start: str) -> None:
        self.slots[show_id] = {"starts_at": starts_at, "ends_at": ends_at, "film": film,
                               "local_start": local_start}

    @event("SlotMoved", topic="cinema.theatre:ScreenSchedule.SlotMoved")
    def _move(self, show_id: str, starts_at: datetime, ends_at: datetime,
              local_start: str) -> None:
        self.slots[show_id].update(starts_at=starts_at, ends_at=ends_at, local_start=local_start)

    @event("SlotFreed", topic="cinema.theatre:ScreenSchedule.SlotFreed")
    def _free(self, show_id: str) -> None:
        del self.slots[show_id]


def _minutes(gap: timedelta) -> str:
    minutes = int(gap.total_seconds() // 60)
    return f"{minutes} minute{'s' * (minutes != 1)}"

"""The catalogue's events as the theatre service, inventory and pricing publish them, built
by hand: two theatres in two cities, their screens, shows on them and their price
versions, numbered as the streams' positions."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID, uuid5

from projections.projector import Event
from shared import contracts as c

DAY = datetime(2026, 5, 1, tzinfo=UTC)
PRICES = {"Regular": 900, "Premium": 1400, "Recliner": 2000}
_ids = itertools.count(1)
_NS = UUID("5b2d2a4e-59d1-4f5e-9d53-2d6c86f0d1a7")


def _common(source: str) -> dict:
    return {"event_id": f"{source}/test/{next(_ids)}", "occurred_at": DAY}


def booking(name: str) -> UUID:
    return uuid5(_NS, name)


def registered(theatre_id: str, name: str, city: str, time_zone: str = "Europe/London",
               ) -> c.TheatreRegistered:
    return c.TheatreRegistered(**_common("theatre"), theatre_id=theatre_id, name=name,
                               city=city, address=f"1 {name} Street", time_zone=time_zone)


def laid_out(theatre_id: str, screen_id: str, name: str, version: int = 1, rows: str = "AB",
             per_row: int = 4, out_of_service: Iterable[str] = ()) -> c.ScreenLaidOut:
    """Rows of seats, A1.. left to right with an aisle after the second; row A's first
    seat a wheelchair space with A2 its companion; the last row Premium."""
    off = set(out_of_service)
    seats = [
        c.Seat(seat_id=f"{row}{n}", row=row, number=n, column=n if n <= 2 else n + 1,
               category="Premium" if row == rows[-1] else "Regular",
               wheelchair=(row, n) == (rows[0], 1), companion=(row, n) == (rows[0], 2),
               in_service=f"{row}{n}" not in off)
        for row in rows for n in range(1, per_row + 1)
    ]
    return c.ScreenLaidOut(**_common("theatre"), theatre_id=theatre_id, screen_id=screen_id,
                           name=name, layout_version=version, seats=seats)


def on_sale(screen: c.ScreenLaidOut) -> dict[str, str]:
    return {s.seat_id: s.category for s in screen.seats if s.in_service}


def _local(starts_at: datetime, offset_hours: int) -> str:
    return starts_at.astimezone(timezone(timedelta(hours=offset_hours))).isoformat()


def scheduled(show_id: str, screen: c.ScreenLaidOut, title: str, starts_at: datetime,
              offset_hours: int = 1) -> c.ShowScheduled:
    film = c.Film(title=title, runtime_minutes=120, rating="12A", language="en", format="2D")
    return c.ShowScheduled(
        **_common("theatre"), show_id=show_id, theatre_id=screen.theatre_id,
        screen_id=screen.screen_id, layout_version=screen.layout_version, film=film,
        starts_at=starts_at, ends_at=starts_at + timedelta(minutes=120),
        local_start=_local(starts_at, offset_hours), seats=on_sale(screen),
        prices={k: v for k, v in PRICES.items() if k in on_sale(screen).values()}, currency="GBP")


def rescheduled(show: c.ShowScheduled, starts_at: datetime, offset_hours: int = 1,
                ) -> c.ShowRescheduled:
    return c.ShowRescheduled(**_common("theatre"), show_id=show.show_id,
                             theatre_id=show.theatre_id, starts_at=starts_at,
                             ends_at=starts_at + timedelta(minutes=120),
                             local_start=_local(starts_at, offset_hours))


def cancelled(show: c.ShowScheduled, reason: str = "projector broken") -> c.ShowCancelled:
    return c.ShowCancelled(**_common("theatre"), show_id=show.show_id,
                           theatre_id=show.theatre_id, reason=reason)


def withdrawn(show: c.ShowScheduled, *seat_ids: str) -> c.SeatsWithdrawn:
    return c.SeatsWithdrawn(**_common("theatre"), show_id=show.show_id,
                            theatre_id=show.theatre_id, seat_ids=list(seat_ids), reason="broken")


def opened(show: c.ShowScheduled) -> c.ShowInventoryOpened:
    return c.ShowInventoryOpened(**_common("inventory"), show_id=show.show_id,
                                 seats=dict(show.seats), prices=dict(show.prices),
                                 currency=show.currency)


def reserved(show_id: str, who: str, *seat_ids: str) -> c.SeatsReserved:
    return c.SeatsReserved(**_common("inventory"), show_id=show_id, booking_id=booking(who),
                           seat_ids=list(seat_ids), amount=900 * len(seat_ids), currency="GBP",
                           reserved_until=DAY + timedelta(minutes=10))


def booked(show_id: str, who: str, *seat_ids: str) -> c.SeatsBooked:
    return c.SeatsBooked(**_common("inventory"), show_id=show_id, booking_id=booking(who),
                         seat_ids=list(seat_ids))


def released(show_id: str, who: str, *seat_ids: str,
             reason: str = "hold_expired") -> c.SeatsReleased:
    return c.SeatsReleased(**_common("inventory"), show_id=show_id, booking_id=booking(who),
                           seat_ids=list(seat_ids), reason=reason)


def priced(show: c.ShowScheduled, version: int, prices: dict[str, int] | None = None,
           rounding: int = 1, caps: dict[str, int] | None = None,
           demand: c.DemandRule | None = None) -> c.ShowPriced:
    """A price version of the show (its list prices if not given)."""
    return c.ShowPriced(**_common("pricing"), show_id=show.show_id, theatre_id=show.theatre_id,
                        price_version=version, rules_version=version - 1,
                        prices=dict(show.prices if prices is None else prices),
                        currency=show.currency, rounding=rounding, caps=dict(caps or {}),
                        demand=demand)


def demand_changed(show_id: str, version: int, uplifts: dict[str, int]) -> c.ShowDemandChanged:
    return c.ShowDemandChanged(**_common("inventory"), show_id=show_id, price_version=version,
                               uplifts=dict(uplifts), booked={}, capacity={})


# Once a quarter of a category is booked, +10 %; +20 % from half.
DEMAND = c.DemandRule(threshold_percent=25, uplift_percent=10, every_percent=25,
                      max_uplift_percent=20)


def numbered(stream: str, events: Iterable[c.PublicEvent], start: int = 1) -> list[Event]:
    """Events as a stream's reader gives them: (stream, position, event)."""
    return [(stream, start + i, e) for i, e in enumerate(events)]


def theatre_stream() -> list[c.PublicEvent]:
    """Two theatres in London and one in Leeds; shows on two days, one cancelled, one
    rescheduled to the next day, one with a withdrawn seat; a screen laid out again
    after a show was scheduled on its first layout."""
    odeon, vue, leeds = (registered("t-odeon", "Odeon Leicester Square", "London"),
                         registered("t-vue", "Vue West End", "london"),
                         registered("t-leeds", "Everyman Leeds", "Leeds"))
    o1 = laid_out("t-odeon", "o1", "Screen 1", out_of_service=["B4"])
    v1 = laid_out("t-vue", "v1", "Screen 1", rows="ABC")
    l1 = laid_out("t-leeds", "l1", "Screen One")
    morning, evening = DAY + timedelta(hours=9), DAY + timedelta(hours=18)
    shows = {
        "dune-odeon-eve": scheduled("dune-odeon-eve", o1, "Dune: Part Two", evening),
        "dune-vue-morning": scheduled("dune-vue-morning", v1, "DUNE: PART TWO", morning),
        "heat-vue-eve": scheduled("heat-vue-eve", v1, "Heat", evening),
        "heat-leeds-eve": scheduled("heat-leeds-eve", l1, "Heat", evening),
        "alien-odeon-late": scheduled("alien-odeon-late", o1, "Alien",  # 00:30 local, May 2
                                      DAY + timedelta(hours=23, minutes=30)),
        "alien-odeon-moved": scheduled("alien-odeon-moved", o1, "Alien", morning),
    }
    o1_again = laid_out("t-odeon", "o1", "Screen 1 (IMAX)", version=2, rows="ABC")
    return [
        odeon, vue, leeds, o1, v1, l1, *shows.values(), o1_again,
        cancelled(shows["heat-leeds-eve"]),
        rescheduled(shows["alien-odeon-moved"], DAY + timedelta(days=1, hours=9)),
        withdrawn(shows["dune-odeon-eve"], "A3"),
    ]


def show_of(stream: list[c.PublicEvent], show_id: str) -> c.ShowScheduled:
    return next(e for e in stream if isinstance(e, c.ShowScheduled) and e.show_id == show_id)


def inventory_stream(theatre: list[c.PublicEvent]) -> list[c.PublicEvent]:
    """Inventory opening every scheduled show, then holds on dune-odeon-eve: ann books
    A1 A2, bob's hold on B1 expires, cat holds B2, dan held A3 (withdrawn: released).
    Half its Regular seats booked, inventory applies +20 % to Regular under the demand
    rule of price version 2, then of version 3 (``pricing_stream``)."""
    shows = [e for e in theatre if isinstance(e, c.ShowScheduled)]
    s = "dune-odeon-eve"
    last = ("heat-vue-eve", s)  # opened last: pricing's versions of them often come first
    return [
        *(opened(show) for show in shows if show.show_id not in last),
        *(opened(show) for show in shows if show.show_id in last),
        reserved(s, "ann", "A1", "A2"), reserved(s, "bob", "B1"), reserved(s, "dan", "A3"),
        booked(s, "ann", "A1", "A2"),
        demand_changed(s, 2, {"Regular": 20, "Premium": 0}),
        released(s, "bob", "B1"), reserved(s, "cat", "B2"),
        released(s, "dan", "A3", reason="seat_withdrawn"),
        demand_changed(s, 3, {"Regular": 20, "Premium": 0}),
        reserved("heat-vue-eve", "eve", "C1"),
    ]


def pricing_stream(theatre: list[c.PublicEvent]) -> list[c.PublicEvent]:
    """Pricing's versions: every show's first at its list prices. dune-odeon-eve's second
    has the demand rule, prices rounded to 50 and a cap on Regular (with +20 %: 950 ->
    1140 -> 1150, capped at 1100); its third new bases (1010 -> 1212 -> 1200); then its
    second again, as a redelivery would bring it, which changes nothing. heat-vue-eve's
    second lowers Premium."""
    shows = {e.show_id: e for e in theatre if isinstance(e, c.ShowScheduled)}
    dune, heat = shows["dune-odeon-eve"], shows["heat-vue-eve"]
    second = priced(dune, 2, {"Regular": 950, "Premium": 1450}, rounding=50,
                    caps={"Regular": 1100}, demand=DEMAND)
    return [  # these two first, so that they often come before inventory opens the shows
        priced(dune, 1), second,
        priced(dune, 3, {"Regular": 1010, "Premium": 1500}, rounding=50, demand=DEMAND),
        second,
        priced(heat, 1), priced(heat, 2, {"Regular": 900, "Premium": 1200}),
        *(priced(show, 1) for show in shows.values() if show not in (dune, heat)),
    ]

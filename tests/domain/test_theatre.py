"""Theatres, screen layouts, show times and the one-show-at-a-time rule of a screen."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest

from shared import contracts as c
from shared.clock import FakeClock
from shared.config import Settings
from theatre import wiring
from theatre.application import ScreenNotFound, TheatreService
from theatre.domain import (
    CANCELLED,
    CATEGORIES,
    RESCHEDULED,
    ConflictingRepeat,
    InvalidId,
    InvalidLayout,
    InvalidShow,
    InvalidTheatre,
    NoSuchLocalTime,
    Screen,
    ScreenSchedule,
    Show,
    ShowHasStarted,
    ShowIsCancelled,
    ShowPlan,
    ShowsClash,
    Theatre,
    seat_layout,
    show_time,
)
from theatre.publishing import to_public

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
GAP = timedelta(minutes=20)
LONDON = "Europe/London"
FILM = {"title": "Dune", "runtime_minutes": 100, "rating": "12A", "language": "en",
        "format": "IMAX"}


def seat(number, column, category="Regular", **flags):
    return {"number": number, "column": column, "category": category, **flags}


ROWS = [
    {"row": "A", "seats": [seat(1, 1, wheelchair=True), seat(2, 2, companion=True),
                           seat(3, 4), seat(4, 5, in_service=False)]},
    {"row": "B", "seats": [seat(1, 1, "Premium"), seat(2, 2, "Recliner")]},
]
PRICES = {"Regular": 900, "Premium": 1300, "Recliner": 1800}


def screen(rows=ROWS) -> Screen:
    return Screen.add("odeon", "one", "Screen 1", seat_layout(rows), NOW)


def plan(show_id="s1", start="2026-02-01T18:00", film=FILM, prices=PRICES, **more) -> ShowPlan:
    return ShowPlan(show_id=show_id, theatre_id="odeon", screen_id="one", film=film,
                    start=start, prices=prices, currency="GBP", **more)


def scheduled(show_id="s1", start="2026-02-01T18:00", on: Screen | None = None, **film) -> Show:
    return Show.schedule(plan(show_id, start, {**FILM, **film}), on or screen(),
                         show_time(show_id, start, LONDON), NOW)


def publics(*aggregates):
    return [to_public(e) for a in aggregates for e in a.collect_events()]


# --- theatres ----------------------------------------------------------------------


def test_a_theatre_has_an_iana_time_zone():
    theatre = Theatre.register("odeon", "Odeon", "London", "Leicester Sq", LONDON, NOW)
    assert publics(theatre) == [c.TheatreRegistered(
        event_id=f"theatre/{theatre.id}/1", occurred_at=NOW, theatre_id="odeon", name="Odeon",
        city="London", address="Leicester Sq", time_zone=LONDON)]
    with pytest.raises(InvalidTheatre, match="Mars/Olympus"):
        Theatre.register("odeon", "Odeon", "London", "Leicester Sq", "Mars/Olympus", NOW)
    theatre.check_same("Odeon", "London", "Leicester Sq", LONDON)  # a repeat
    with pytest.raises(ConflictingRepeat, match="odeon is registered"):
        theatre.check_same("Odeon", "London", "Leicester Sq", "Europe/Paris")


# --- layouts -----------------------------------------------------------------------


def test_a_layout_knows_its_seats_wheelchair_spaces_companions_and_broken_seats():
    s = screen()
    assert [x["seat_id"] for x in s.seats] == ["A1", "A2", "A3", "A4", "B1", "B2"]
    a1, a2 = s.seats[0], s.seats[1]
    assert a1["wheelchair"] and a2["companion"] and not s.seats[3]["in_service"]
    assert s.seats_on_sale() == {"A1": "Regular", "A2": "Regular", "A3": "Regular",
                                 "B1": "Premium", "B2": "Recliner"}
    [laid_out] = publics(s)
    assert laid_out.layout_version == 1 and laid_out.seats[1] == c.Seat(
        seat_id="A2", row="A", number=2, column=2, category="Regular", companion=True)


def test_seats_are_ordered_by_column_whatever_order_they_were_given_in():
    rows = [{"row": "A", "seats": [seat(3, 5), seat(1, 1), seat(2, 2)]}]
    assert [s["seat_id"] for s in seat_layout(rows)] == ["A1", "A2", "A3"]


@pytest.mark.parametrize("rows, says", [
    ([], "at least one seat"),
    ([{"row": "A", "seats": []}], "at least one seat"),
    ([{"row": "A", "seats": [seat(1, 1, in_service=False)]}], "out of service"),
    ([{"row": "A", "seats": [seat(1, 1), seat(1, 2)]}], "seat A1 appears twice"),
    ([{"row": "A", "seats": [seat(1, 1)]}, {"row": "A", "seats": [seat(2, 1)]}],
     "row A appears twice"),
    ([{"row": "A", "seats": [seat(1, 3), seat(2, 3)]}], "A1 and A2 are both at column 3"),
    ([{"row": "a1", "seats": [seat(1, 1)]}], "capital letters"),
    ([{"row": "A", "seats": [seat(0, 1)]}], "start at 1"),
    ([{"row": "A", "seats": [seat(1, 0)]}], "start at 1"),
    ([{"row": "A", "seats": [seat(1, 1, "Gold")]}], "'Gold' is not one of"),
    ([{"row": "A", "seats": [seat(1, 1, wheelchair=True, companion=True)]}], "not both"),
    # Beside means the next column: not across an aisle, not in another row.
    ([{"row": "A", "seats": [seat(1, 1, wheelchair=True), seat(2, 3, companion=True)]}],
     "companion seat A2 has no wheelchair space beside it"),
    ([{"row": "A", "seats": [seat(1, 1, wheelchair=True)]},
      {"row": "B", "seats": [seat(1, 1, companion=True)]}], "companion seat B1"),
    ([{"row": "A", "seats": [seat(n, n) for n in range(1, 2002)]}], "at most 2000 seats"),
])
def test_an_invalid_layout_is_refused_with_its_reason(rows, says):
    with pytest.raises(InvalidLayout, match=says):
        seat_layout(rows)


def test_a_companion_seat_may_sit_on_either_side_of_a_wheelchair_space():
    rows = [{"row": "A", "seats": [seat(1, 1, companion=True), seat(2, 2, wheelchair=True),
                                   seat(3, 3, companion=True)]}]
    assert [s["companion"] for s in seat_layout(rows)] == [True, False, True]


def test_a_changed_layout_is_a_new_version_and_the_same_one_changes_nothing():
    s = screen()
    s.collect_events()
    assert not s.lay_out("Screen 1", seat_layout(ROWS), NOW)
    rows = [*ROWS, {"row": "C", "seats": [seat(1, 1, "Recliner")]}]
    assert s.lay_out("Screen 1", seat_layout(rows), NOW)
    assert s.lay_out("The big one", seat_layout(rows), NOW)
    assert [e.layout_version for e in publics(s)] == [2, 3]
    assert s.layout_version == 3 and "C1" in s.seats_on_sale()


def test_a_show_keeps_the_layout_version_it_was_scheduled_with():
    s = screen()
    show = scheduled(on=s)
    s.lay_out("Screen 1", seat_layout([{"row": "Z", "seats": [seat(1, 1)]}]), NOW)
    assert show.layout_version == 1 and "A1" in show.seats and "Z1" not in show.seats
    assert scheduled("s2", on=s).seats == {"Z1": "Regular"}


# --- time zones ----------------------------------------------------------------------


def test_a_local_start_is_converted_to_utc_with_the_zone_offset_of_that_day():
    assert show_time("s", "2026-01-15T19:30", LONDON) == (
        datetime(2026, 1, 15, 19, 30, tzinfo=UTC), "2026-01-15T19:30:00+00:00")
    assert show_time("s", "2026-07-15T19:30", LONDON) == (
        datetime(2026, 7, 15, 18, 30, tzinfo=UTC), "2026-07-15T19:30:00+01:00")
    assert show_time("s", "2026-07-15T19:30", "America/New_York").starts_at == datetime(
        2026, 7, 15, 23, 30, tzinfo=UTC)


def test_a_start_skipped_when_the_clocks_go_forward_is_refused():
    # 2026-03-29 in London: 01:00 GMT becomes 02:00 BST; 01:30 never happens.
    with pytest.raises(NoSuchLocalTime, match="2026-03-29T01:30 does not exist in Europe/London"):
        show_time("late", "2026-03-29T01:30", LONDON)
    assert show_time("late", "2026-03-29T00:59", LONDON).local_start.endswith("+00:00")
    assert show_time("late", "2026-03-29T02:00", LONDON) == (
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "2026-03-29T02:00:00+01:00")


def test_a_start_that_happens_twice_when_the_clocks_go_back_is_the_first():
    # 2026-10-25 in London: 02:00 BST becomes 01:00 GMT; 01:30 happens twice.
    assert show_time("late", "2026-10-25T01:30", LONDON) == (
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "2026-10-25T01:30:00+01:00")


@pytest.mark.parametrize("start, says", [
    ("tomorrow", "not a date-time"),
    ("2026-02-01T18:00+01:00", "without an offset"),
])
def test_a_start_is_a_local_date_time(start, says):
    with pytest.raises(InvalidShow, match=says):
        show_time("s", start, LONDON)


# --- shows -------------------------------------------------------------------------


def test_a_scheduled_show_sells_the_seats_in_service_at_its_prices():
    show = scheduled()
    [public] = publics(show)
    assert public == c.ShowScheduled(
        event_id=f"theatre/{show.id}/1", occurred_at=NOW, show_id="s1", theatre_id="odeon",
        screen_id="one", layout_version=1, film=c.Film(**FILM),
        starts_at=datetime(2026, 2, 1, 18, 0, tzinfo=UTC),
        ends_at=datetime(2026, 2, 1, 19, 40, tzinfo=UTC),
        local_start="2026-02-01T18:00:00+00:00",
        seats={"A1": "Regular", "A2": "Regular", "A3": "Regular", "B1": "Premium",
               "B2": "Recliner"},
        prices=PRICES, currency="GBP")


@pytest.mark.parametrize("change, error, says", [
    ({"prices": {"Regular": 900}}, InvalidShow, "no price for its Premium, Recliner seats"),
    ({"prices": {**PRICES, "Gold": 1}}, InvalidShow, "no seat category Gold"),
    ({"prices": {**PRICES, "Regular": -1}}, InvalidShow, "never negative"),
    ({"currency": "gbp"}, InvalidShow, "currency"),
    ({"film": {**FILM, "runtime_minutes": 0}}, InvalidShow, "1 to 600 minutes"),
    ({"film": {**FILM, "format": "4DX"}}, InvalidShow, "'4DX' is not one of"),
    ({"film": {**FILM, "title": " "}}, InvalidShow, "needs a title"),
    ({"start": "2025-12-31T18:00"}, InvalidShow, "has passed"),
    ({"show_id": "Big Show"}, InvalidId, "lower-case"),
])
def test_an_invalid_show_is_refused_with_its_reason(change, error, says):
    p = replace(plan(), **change)
    with pytest.raises(error, match=says):
        Show.schedule(p, screen(), show_time(p.show_id, p.start, LONDON), NOW)


def test_a_show_is_rescheduled_cancelled_for_good_and_loses_withdrawn_seats():
    show = scheduled()
    show.collect_events()
    moved = show_time("s1", "2026-02-01T20:00", LONDON)
    assert show.reschedule(moved, NOW) and show.status == RESCHEDULED
    assert not show.reschedule(moved, NOW)  # there already
    assert show.ends_at == datetime(2026, 2, 1, 21, 40, tzinfo=UTC)
    assert show.withdraw_seats(["A3", "A3"], "broken", NOW) == ["A3"]
    assert show.withdraw_seats(["A3", "B1"], "broken too", NOW) == ["B1"]
    with pytest.raises(InvalidShow, match="no seat A4 on sale"):  # out of service
        show.withdraw_seats(["A4"], "broken", NOW)
    assert show.cancel("projector fire", NOW) and not show.cancel("again", NOW)
    assert show.status == CANCELLED and show.cancellation_reason == "projector fire"
    with pytest.raises(ShowIsCancelled, match="cannot be rescheduled"):
        show.reschedule(show_time("s1", "2026-02-02T20:00", LONDON), NOW)
    with pytest.raises(ShowIsCancelled):
        show.withdraw_seats(["A1"], "broken", NOW)
    assert [type(e).__name__ for e in publics(show)] == [
        "ShowRescheduled", "SeatsWithdrawn", "SeatsWithdrawn", "ShowCancelled"]


def test_a_show_that_started_is_not_moved_nor_moved_into_the_past():
    show = scheduled()
    later = datetime(2026, 2, 1, 18, 5, tzinfo=UTC)
    with pytest.raises(ShowHasStarted):
        show.reschedule(show_time("s1", "2026-02-01T21:00", LONDON), later)
    with pytest.raises(InvalidShow, match="has passed"):
        show.reschedule(show_time("s1", "2025-12-01T21:00", LONDON), NOW)


# --- one show at a time on a screen ----------------------------------------------------


def schedule_of(*shows: Show, gap: timedelta = GAP) -> ScreenSchedule:
    schedule = ScreenSchedule(theatre_id="odeon", screen_id="one")
    for show in shows:
        schedule.take(show, gap)
    return schedule


@pytest.mark.parametrize("start, clashes", [
    ("2026-02-01T19:59", True),  # during the film (18:00 to 19:40)
    ("2026-02-01T19:45", True),  # during the cleaning gap (19:40 to 20:00)
    ("2026-02-01T20:00", False),  # back to back: the gap is over
    ("2026-02-01T16:01", True),  # its own film ends at 17:41, its gap at 18:01
    ("2026-02-01T16:00", False),  # back to back before it: clean by 18:00
    ("2026-02-01T18:00", True),  # at the same time
])
def test_a_show_overlapping_another_or_its_cleaning_gap_clashes(start, clashes):
    schedule = schedule_of(scheduled("first"))
    second = scheduled("second", start)
    if clashes:
        with pytest.raises(ShowsClash, match="clashes on screen one with show first "
                                             r"\('Dune', starting 2026-02-01T18:00:00\+00:00\)"):
            schedule.take(second, GAP)
    else:
        schedule.take(second, GAP)


def test_shows_fit_back_to_back_around_a_show():
    # 16:00 + 100 minutes = 17:40, + 20 minutes cleaning = 18:00: the next may start then.
    schedule = schedule_of(scheduled("first"), scheduled("before", "2026-02-01T16:00"),
                           scheduled("after", "2026-02-01T20:00"))
    assert list(schedule.slots) == ["first", "before", "after"]


def test_the_cleaning_gap_is_a_setting():
    schedule_of(scheduled("first"), scheduled("second", "2026-02-01T19:45"),
                gap=timedelta(minutes=5))
    with pytest.raises(ShowsClash, match="45 minutes for cleaning"):
        schedule_of(scheduled("first"), scheduled("second", "2026-02-01T20:00"),
                    gap=timedelta(minutes=45))


def test_a_rescheduled_show_does_not_clash_with_its_own_old_slot_but_with_others():
    first, second = scheduled("first"), scheduled("second", "2026-02-01T21:00")
    schedule = schedule_of(first, second)
    first.reschedule(show_time("first", "2026-02-01T18:30", LONDON), NOW)
    schedule.move(first, GAP)  # overlaps where it was: its own
    second.reschedule(show_time("second", "2026-02-01T20:00", LONDON), NOW)
    with pytest.raises(ShowsClash, match="with show first"):
        schedule.move(second, GAP)


def test_a_cancelled_show_frees_its_slot():
    schedule = schedule_of(scheduled("first"))
    schedule.free("first")
    schedule.take(scheduled("instead", "2026-02-01T18:30"), GAP)
    assert list(schedule.slots) == ["instead"]


def test_the_theatres_categories_are_the_contracts():
    assert set(CATEGORIES) == set(get_args(c.SeatCategory))


# --- the service: a programme is scheduled all or nothing -----------------------------


@pytest.fixture
def service():
    app = TheatreService(clock=FakeClock(NOW))
    app.register_theatre("odeon", "Odeon", "London", "Leicester Sq", LONDON)
    app.lay_out_screen("odeon", "one", "Screen 1", ROWS)
    app.lay_out_screen("odeon", "two", "Screen 2", ROWS)
    yield app
    app.close()


def events_in(app: TheatreService) -> int:
    return app.recorder.max_notification_id() or 0


def test_a_programme_is_scheduled_in_one_write(service):
    before = events_in(service)
    week = [plan(f"d{day}", f"2026-02-0{day}T18:00") for day in range(1, 8)]
    week.append(plan("d1-late", "2026-02-01T20:00"))  # back to back with d1
    done = service.schedule_shows("odeon", week)
    assert done.created and len(done.result.shows) == 8 and len(done.result.new) == 8
    # Eight shows, their screen's schedule started and eight slots taken.
    assert done.position == events_in(service) == before + 17
    again = service.schedule_shows("odeon", week)
    assert not again.created and again.position is None and events_in(service) == before + 17


@pytest.mark.parametrize("bad, error, says", [
    (plan("late", "2026-02-01T19:00"), ShowsClash, "show late starting .* with show early"),
    (plan("late", "2026-03-29T01:30"), NoSuchLocalTime, "show late: 2026-03-29T01:30"),
    (plan("late", prices={"Regular": 1}), InvalidShow, "show late: no price"),
    (ShowPlan("late", "odeon", "nine", FILM, "2026-02-02T18:00", PRICES, "GBP"),
     ScreenNotFound, "show late: theatre odeon has no screen nine"),
    (plan("early", "2026-02-03T18:00"), InvalidShow, "early appear more than once"),
])
def test_a_programme_with_one_bad_show_schedules_nothing(service, bad, error, says):
    before = events_in(service)
    good = [plan("early", "2026-02-01T18:00"), plan("other", "2026-02-05T18:00")]
    with pytest.raises(error, match=says):
        service.schedule_shows("odeon", [*good, bad])
    assert events_in(service) == before
    assert service.schedule_shows("odeon", good).created  # nothing of the first was kept


def test_a_programme_clashing_with_a_show_on_record_schedules_nothing(service):
    service.schedule_show(plan("booked", "2026-02-04T18:00"))
    before = events_in(service)
    with pytest.raises(ShowsClash, match="show d4 .* with show booked"):
        service.schedule_shows("odeon", [plan(f"d{d}", f"2026-02-0{d}T18:30") for d in (3, 4)])
    assert events_in(service) == before
    other_screen = ShowPlan("d4", "odeon", "two", FILM, "2026-02-04T18:30", PRICES, "GBP")
    assert service.schedule_shows("odeon", [other_screen]).created


def test_repeating_a_show_differently_is_a_conflict(service):
    service.schedule_show(plan("s1"))
    assert not service.schedule_show(plan("s1")).created
    with pytest.raises(ConflictingRepeat, match="s1 is scheduled otherwise"):
        service.schedule_show(plan("s1", "2026-02-01T19:00"))


def test_rescheduling_and_cancelling_write_the_show_with_its_screens_schedule(service):
    service.schedule_show(plan("a", "2026-02-01T18:00"))
    service.schedule_show(plan("b", "2026-02-01T21:00"))
    with pytest.raises(ShowsClash, match="show b .* with show a"):
        service.reschedule_show("b", "2026-02-01T19:50")
    assert service.reschedule_show("a", "2026-02-01T18:30").position is not None
    assert service.get_show("a").status == RESCHEDULED
    service.cancel_show("a", "no projectionist")
    assert service.reschedule_show("b", "2026-02-01T18:00").result.local_start == (
        "2026-02-01T18:00:00+00:00")  # a's slot is free
    assert service.cancel_show("a", "twice").position is None


def test_the_cleaning_gap_is_read_from_the_settings():
    settings = Settings.from_env({"CINEMA_CLEANING_GAP_MINUTES": "35"})
    assert settings.cleaning_gap == timedelta(minutes=35) and Settings().cleaning_gap == GAP
    app = wiring.application(settings, {"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        assert app.cleaning_gap == timedelta(minutes=35)
    finally:
        app.close()


def test_a_busy_screens_schedule_is_read_back_from_its_snapshot(service):
    days = [NOW + timedelta(days=d) for d in range(1, 131)]  # past the snapshot interval
    service.schedule_shows("odeon", [plan(f"d{n}", f"{day:%Y-%m-%d}T18:00")
                                     for n, day in enumerate(days)])
    schedule_id = ScreenSchedule.create_id("odeon", "one")
    assert service.snapshots is not None and list(service.snapshots.get(schedule_id))
    service.partitions_assigned()  # the cached schedule is dropped: read from the store
    with pytest.raises(ShowsClash, match="with show d120"):
        service.schedule_show(plan("late", f"{days[120]:%Y-%m-%d}T19:00"))
    assert service.schedule_show(plan("late", f"{days[120]:%Y-%m-%d}T20:00")).created


def test_two_instances_on_one_store_never_put_two_shows_in_one_slot(service):
    other = TheatreService(clock=FakeClock(NOW), recorder=service.recorder)
    try:
        service.schedule_show(plan("warm", "2026-02-02T18:00"))  # each caches the schedule
        other.schedule_show(plan("warm", "2026-02-02T18:00"))
        other.schedule_show(plan("here", "2026-02-01T18:00"))
        with pytest.raises(ShowsClash, match="with show here"):
            service.schedule_show(plan("there", "2026-02-01T18:30"))
    finally:
        other.close()

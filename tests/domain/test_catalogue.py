"""The catalogue's views folded from theatre's and inventory's public events, and the
catalogue's queries over them (in memory; the same over MongoDB in tests/projections)."""

from __future__ import annotations

import msgspec
import pytest

from projections.projector import InMemoryViewStore, project
from projections.queries import InMemoryQueries
from shared import contracts as c
from shared.views import CatalogueQueries
from tests.support import catalogue as cat


def folded(theatre=None, inventory=None) -> InMemoryQueries:
    theatre = cat.theatre_stream() if theatre is None else theatre
    inventory = cat.inventory_stream(theatre) if inventory is None else inventory
    views = InMemoryViewStore()
    project(views, cat.numbered("theatre", theatre) + cat.numbered("inventory", inventory))
    return InMemoryQueries(views)


@pytest.fixture(scope="module")
def queries() -> InMemoryQueries:
    return folded()


def ids(shows: list[dict]) -> list[str]:
    return [s["show_id"] for s in shows]


def test_both_readers_answer_the_catalogue_queries(queries):
    assert isinstance(queries, CatalogueQueries)


def test_shows_in_a_city_on_a_local_day_in_start_order(queries):
    london = ["dune-vue-morning", "dune-odeon-eve", "heat-vue-eve"]
    assert ids(queries.shows(city="London", day="2026-05-01")) == london
    assert ids(queries.shows(city=" LONDON ", day="2026-05-01")) == london  # any case
    # 23:30 UTC on May 1 is 00:30 in London on May 2; the show moved to May 2 is there too
    assert ids(queries.shows(day="2026-05-02")) == ["alien-odeon-late", "alien-odeon-moved"]
    assert ids(queries.shows(city="Leeds")) == []  # its only show is cancelled
    assert ids(queries.shows(city="Paris")) == []


def test_shows_at_a_theatre_and_of_a_film(queries):
    assert ids(queries.shows(theatre_id="t-vue")) == ["dune-vue-morning", "heat-vue-eve"]
    assert ids(queries.shows(film="dune: part TWO")) == ["dune-vue-morning", "dune-odeon-eve"]
    assert ids(queries.shows(film="Dune")) == []  # the whole title
    assert ids(queries.shows(film="heat", city="london")) == ["heat-vue-eve"]


def test_cancelled_shows_are_listed_only_when_asked(queries):
    assert "heat-leeds-eve" not in ids(queries.shows(limit=100))
    [show] = queries.shows(city="Leeds", include_cancelled=True)
    assert (show["show_id"], show["status"], show["cancellation_reason"]) == (
        "heat-leeds-eve", "CANCELLED", "projector broken")
    assert queries.show("heat-leeds-eve")["status"] == "CANCELLED"  # and shown when asked for


def test_paging_cuts_the_sorted_list(queries):
    everything = ids(queries.shows(include_cancelled=True))
    assert len(everything) == 6
    pages = [ids(queries.shows(include_cancelled=True, offset=o, limit=4)) for o in (0, 4, 8)]
    assert pages[0] + pages[1] == everything and pages[2] == []
    assert ids(queries.shows(include_cancelled=True, offset=2, limit=1)) == everything[2:3]
    for bad in ({"limit": 0}, {"offset": -1}):
        with pytest.raises(ValueError):
            queries.shows(**bad)
        with pytest.raises(ValueError):
            queries.theatres(**bad)


def test_a_show_as_listed(queries):
    [show] = [s for s in queries.shows(theatre_id="t-odeon", day="2026-05-01")]
    assert show == {
        "show_id": "dune-odeon-eve",
        "status": "SCHEDULED",
        "cancellation_reason": None,
        "film": {"title": "Dune: Part Two", "runtime_minutes": 120, "rating": "12A",
                 "language": "en", "format": "2D"},
        "theatre": {"theatre_id": "t-odeon", "name": "Odeon Leicester Square", "city": "London",
                    "time_zone": "Europe/London"},
        "screen": {"screen_id": "o1", "name": "Screen 1", "layout_version": 1},
        "starts_at": "2026-05-01T18:00:00Z",
        "ends_at": "2026-05-01T20:00:00Z",
        "local_start": "2026-05-01T19:00:00+01:00",
        "day": "2026-05-01",
        "prices": {"Regular": 900, "Premium": 1400},  # the list prices: pricing said nothing
        "price_version": 0,
        "currency": "GBP",
        "seats_open": True,
        # B4 out of service (not on sale); A1 A2 booked, B2 reserved, A3 withdrawn
        "seat_counts": {"total": 7, "available": 3, "reserved": 1, "booked": 2, "withdrawn": 1},
    }


def test_a_show_in_detail_has_every_seat_of_its_layout_version(queries):
    show = queries.show("dune-odeon-eve")
    # o1 was laid out again (v2, three rows, renamed) after the show: it keeps v1
    assert show["screen"] == {"screen_id": "o1", "name": "Screen 1", "layout_version": 1}
    seats = {s["seat_id"]: s for s in show["seats"]}
    assert list(seats) == ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4"]
    assert seats["A1"] == {"seat_id": "A1", "row": "A", "number": 1, "column": 1,
                           "category": "Regular", "wheelchair": True, "companion": False,
                           "price": 900, "state": "BOOKED"}
    assert seats["A2"]["companion"] and seats["A4"]["column"] == 5  # after the aisle
    assert {k: s["state"] for k, s in seats.items()} == {
        "A1": "BOOKED", "A2": "BOOKED", "A3": "WITHDRAWN", "A4": "AVAILABLE",
        "B1": "AVAILABLE", "B2": "RESERVED", "B3": "AVAILABLE", "B4": "NOT_ON_SALE"}
    assert (seats["B3"]["price"], seats["B4"]["price"]) == (1400, None)
    assert {k: v for k, v in show.items() if k != "seats"} == queries.shows(
        theatre_id="t-odeon", day="2026-05-01")[0]


def test_counts_follow_each_reserve_release_book_and_withdrawal():
    theatre = cat.theatre_stream()
    show = cat.show_of(theatre, "dune-odeon-eve")
    s = show.show_id
    views = InMemoryViewStore()
    project(views, cat.numbered("theatre", [e for e in theatre
                                            if not isinstance(e, c.SeatsWithdrawn)]))
    steps = [
        (cat.opened(show), (7, 0, 0, 0)),
        (cat.reserved(s, "ann", "A1", "A2"), (5, 2, 0, 0)),
        (cat.reserved(s, "bob", "B1"), (4, 3, 0, 0)),
        (cat.booked(s, "ann", "A1", "A2"), (4, 1, 2, 0)),
        (cat.released(s, "cat", "B1"), (4, 1, 2, 0)),  # not cat's: nothing
        (cat.released(s, "bob", "B1"), (5, 0, 2, 0)),
        (cat.reserved(s, "dan", "A3", "A4"), (3, 2, 2, 0)),
        (cat.withdrawn(show, "A3", "B4"), (3, 1, 2, 1)),  # B4 is not on sale: not counted
        (cat.released(s, "dan", "A3", "A4", reason="seat_withdrawn"), (4, 0, 2, 1)),
        (cat.released(s, "ann", "A1", "A2", reason="show_cancelled"), (6, 0, 0, 1)),
    ]
    assert InMemoryQueries(views).show(s)["seats_open"] is False  # counts as scheduled
    for position, (event, (available, reserved, booked, withdrawn)) in enumerate(steps, 100):
        stream = "theatre" if isinstance(event, c.SeatsWithdrawn) else "inventory"
        project(views, [(stream, position, event)])
        assert InMemoryQueries(views).show(s)["seat_counts"] == {
            "total": 7, "available": available, "reserved": reserved, "booked": booked,
            "withdrawn": withdrawn}, type(event).__name__


def test_a_rescheduled_show_moves_to_its_new_day(queries):
    moved = queries.show("alien-odeon-moved")
    assert (moved["starts_at"], moved["local_start"], moved["day"]) == (
        "2026-05-02T09:00:00Z", "2026-05-02T10:00:00+01:00", "2026-05-02")
    assert "alien-odeon-moved" not in ids(queries.shows(day="2026-05-01"))
    assert ids(queries.shows(theatre_id="t-odeon")) == [
        "dune-odeon-eve", "alien-odeon-late", "alien-odeon-moved"]


def test_theatres_by_city_then_name_with_their_current_screens(queries):
    assert [t["theatre_id"] for t in queries.theatres()] == ["t-leeds", "t-odeon", "t-vue"]
    assert [t["theatre_id"] for t in queries.theatres(city="LONDON")] == ["t-odeon", "t-vue"]
    assert [t["theatre_id"] for t in queries.theatres(offset=1, limit=1)] == ["t-odeon"]
    assert queries.theatre("t-odeon") == {
        "theatre_id": "t-odeon", "name": "Odeon Leicester Square", "city": "London",
        "address": "1 Odeon Leicester Square Street", "time_zone": "Europe/London",
        "screens": [{"screen_id": "o1", "name": "Screen 1 (IMAX)", "layout_version": 2,
                     "seats": 12, "in_service": 12, "wheelchair_spaces": 1,
                     "categories": {"Premium": 4, "Regular": 8}}],
    }
    assert queries.theatres(city="Leeds") == [queries.theatre("t-leeds")]


def test_what_the_theatre_did_not_schedule_is_not_in_the_catalogue():
    theatre = cat.theatre_stream()
    show = cat.show_of(theatre, "dune-odeon-eve")
    # a show opened in inventory by an operator's PUT only
    other = msgspec.structs.replace(cat.opened(show), show_id="put-only")
    queries = folded(theatre, [other, cat.reserved("put-only", "ann", "A1")])
    assert queries.show("put-only") is None
    assert "put-only" not in ids(queries.shows(include_cancelled=True))
    assert queries.show("nowhere") is None and queries.theatre("nowhere") is None


def test_a_layout_laid_out_late_does_not_replace_a_newer_one():
    theatre = cat.theatre_stream()
    late = [e for e in theatre if isinstance(e, c.ScreenLaidOut)
            and (e.screen_id, e.layout_version) == ("o1", 1)]
    queries = folded(theatre + late, [])
    assert queries.theatre("t-odeon")["screens"][0]["layout_version"] == 2


def test_a_theatre_lists_its_screens_by_name():
    theatre = [cat.registered("t-x", "X", "York"), cat.laid_out("t-x", "hall.2", "B hall"),
               cat.laid_out("t-x", "hall.1", "C hall"), cat.laid_out("t-x", "hall.3", "A hall")]
    screens = folded(theatre, []).theatre("t-x")["screens"]
    assert [s["screen_id"] for s in screens] == ["hall.3", "hall.2", "hall.1"]

"""Operators register theatres, lay out screens and schedule shows over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from litestar.testing import TestClient

from shared.clock import FakeClock
from shared.config import Settings
from tests.support.api import Api, serve
from tests.support.embedded import embedded_system
from tests.support.tokens import ALICE, OPERATOR
from theatre.http import create_app as theatre_app

ODEON = {"name": "Odeon", "city": "London", "address": "Leicester Square",
         "time_zone": "Europe/London"}
ROWS = [
    {"row": "A", "seats": [
        {"number": 1, "column": 1, "category": "Regular", "wheelchair": True},
        {"number": 2, "column": 2, "category": "Regular", "companion": True},
        {"number": 3, "column": 4, "category": "Premium"},  # column 3 is the aisle
        {"number": 4, "column": 5, "category": "Premium", "in_service": False},
    ]},
    {"row": "B", "seats": [{"number": 1, "column": 1, "category": "Recliner"}]},
]
FILM = {"title": "Dune", "runtime_minutes": 100, "rating": "12A", "language": "en",
        "format": "IMAX"}
PRICES = {"Regular": 900, "Premium": 1300, "Recliner": 1800}


def show(start="2026-02-01T18:00", screen="one", **more) -> dict:
    return {"screen_id": screen, "film": FILM, "start": start, "prices": PRICES,
            "currency": "GBP", **more}


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    """The apps on 1 January 2026, a registered theatre with one screen laid out."""
    with serve(embedded_system(clock=FakeClock(datetime(2026, 1, 1, tzinfo=UTC))),
               settings) as api:
        assert api.theatre.put("/theatres/odeon", json=ODEON, headers=OPERATOR).status_code == 201
        r = api.theatre.put("/theatres/odeon/screens/one", json={"name": "Screen 1", "rows": ROWS},
                            headers=OPERATOR)
        assert r.status_code == 201, r.text
        yield api


def schedule(api: Api, show_id: str, **body):
    return api.theatre.put(f"/shows/{show_id}", json={"theatre_id": "odeon", **show(**body)},
                           headers=OPERATOR)


def problem(r, status: int, error: str, *says: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"] == error, r.text
    for words in says:
        assert words in r.json()["message"], r.text


def position(r) -> int:
    stream, _, at = r.headers["X-Consistency-Token"].partition(":")
    assert stream == "theatre"
    return int(at)


# --- who may ---------------------------------------------------------------------------


@pytest.mark.parametrize("method, path", [
    ("put", "/theatres/odeon"), ("put", "/theatres/odeon/screens/one"), ("put", "/shows/s1"),
    ("post", "/theatres/odeon/programme"), ("post", "/shows/s1/reschedule"),
    ("post", "/shows/s1/cancel"), ("post", "/shows/s1/withdrawn-seats"), ("get", "/shows/s1"),
])
def test_only_operators_change_theatres_and_shows(api, method, path):
    kwargs = {} if method == "get" else {"json": {}}
    problem(getattr(api.theatre, method)(path, headers=ALICE, **kwargs), 403, "forbidden",
            "only operators")
    assert getattr(api.theatre, method)(path, **kwargs).status_code == 401


# --- theatres and screens -----------------------------------------------------------------


def test_registering_again_is_harmless_and_otherwise_a_conflict(api):
    again = api.theatre.put("/theatres/odeon", json=ODEON, headers=OPERATOR)
    assert again.status_code == 200 and again.json() == {"theatre_id": "odeon", **ODEON}
    problem(api.theatre.put("/theatres/odeon", json={**ODEON, "time_zone": "Europe/Paris"},
                            headers=OPERATOR), 409, "already_exists", "odeon is registered")


def test_a_theatre_needs_a_known_time_zone_and_a_slug(api):
    problem(api.theatre.put("/theatres/rex", json={**ODEON, "time_zone": "Europe/Gotham"},
                            headers=OPERATOR), 422, "invalid_theatre", "Europe/Gotham")
    problem(api.theatre.put("/theatres/Rex_1", json=ODEON, headers=OPERATOR),
            400, "invalid_request", "theatre_id")


def test_a_layout_change_is_a_new_version_and_the_same_layout_changes_nothing(api):
    before = api.theatre.put("/theatres/odeon/screens/one", json={"name": "Screen 1",
                                                                   "rows": ROWS},
                             headers=OPERATOR)
    assert before.status_code == 200 and before.json()["layout_version"] == 1
    rows = [*ROWS, {"row": "C", "seats": [{"number": 1, "column": 1, "category": "Regular"}]}]
    changed = api.theatre.put("/theatres/odeon/screens/one",
                              json={"name": "Screen 1", "rows": rows}, headers=OPERATOR)
    assert changed.status_code == 200 and changed.json()["layout_version"] == 2
    assert changed.json()["seats_on_sale"] == 5 and position(changed) > position(before)
    a2 = changed.json()["seats"][1]
    assert a2 == {"seat_id": "A2", "row": "A", "number": 2, "column": 2, "category": "Regular",
                  "wheelchair": False, "companion": True, "in_service": True}


@pytest.mark.parametrize("rows, says", [
    ([{"row": "A", "seats": [{"number": 1, "column": 1, "category": "Regular",
                              "companion": True}]}], "companion seat A1 has no wheelchair"),
    ([{"row": "A", "seats": [{"number": 1, "column": 2, "category": "Regular"},
                             {"number": 2, "column": 2, "category": "Regular"}]}],
     "A1 and A2 are both at column 2 of row A"),
    ([{"row": "A", "seats": [{"number": 1, "column": 1, "category": "Regular"},
                             {"number": 1, "column": 2, "category": "Regular"}]}],
     "seat A1 appears twice"),
    ([{"row": "A", "seats": [{"number": 1, "column": 1, "category": "Regular",
                              "in_service": False}]}], "out of service"),
    ([{"row": "A", "seats": []}], "at least one seat"),
])
def test_an_invalid_layout_is_422_with_its_reason_and_changes_nothing(api, rows, says):
    r = api.theatre.put("/theatres/odeon/screens/two", json={"name": "Two", "rows": rows},
                        headers=OPERATOR)
    problem(r, 422, "invalid_layout", says)
    problem(schedule(api, "s1", screen="two"), 404, "screen_not_found", "no screen two")


@pytest.mark.parametrize("body, field", [
    ({"name": "Two", "rows": [{"row": "A", "seats": [
        {"number": 1, "column": 1, "category": "Gold"}]}]}, "category"),
    ({"name": "Two", "rows": [{"row": "a", "seats": []}]}, "row"),
    ({"name": "Two", "rows": []}, "rows"),
    # Found by the fuzzer: 0 was taken for false, "7" for 7 (litestar converts leniently).
    ({"name": "Two", "rows": [{"row": "A", "seats": [
        {"number": 1, "column": 1, "category": "Premium", "wheelchair": 0}]}]},
     "rows[0].seats[0].wheelchair"),
    ({"name": "Two", "rows": [{"row": "A", "seats": [
        {"number": "7", "column": 1, "category": "Premium"}]}]}, "rows[0].seats[0].number"),
])
def test_a_malformed_layout_is_400_naming_the_field(api, body, field):
    r = api.theatre.put("/theatres/odeon/screens/two", json=body, headers=OPERATOR)
    problem(r, 400, "invalid_request", field)


def test_a_number_without_a_fraction_is_an_integer(api):
    """Found by the fuzzer: JSON Schema takes 7.0 for an integer, and so does the API."""
    rows = [{"row": "A", "seats": [{"number": 1.0, "column": 283.0, "category": "Premium"}]}]
    r = api.theatre.put("/theatres/odeon/screens/two", json={"name": "Two", "rows": rows},
                        headers=OPERATOR)
    assert r.status_code == 201 and r.json()["seats"][0]["number"] == 1


def test_a_screen_of_an_unknown_theatre_is_404(api):
    problem(api.theatre.put("/theatres/rex/screens/one", json={"name": "One", "rows": ROWS},
                            headers=OPERATOR), 404, "theatre_not_found", "no theatre rex")


# --- shows -------------------------------------------------------------------------------


def test_a_show_is_scheduled_in_local_time_and_kept_in_utc(api):
    r = schedule(api, "s1", start="2026-07-01T19:30")
    assert r.status_code == 201 and r.headers["Location"] == "/shows/s1"
    body = r.json()
    assert (body["starts_at"], body["ends_at"], body["local_start"]) == (
        "2026-07-01T18:30:00Z", "2026-07-01T20:10:00Z", "2026-07-01T19:30:00+01:00")
    assert body["seats"] == {"A1": "Regular", "A2": "Regular", "A3": "Premium",
                             "B1": "Recliner"}  # A4 is out of service
    assert body["status"] == "SCHEDULED" and body["layout_version"] == 1
    written = position(r)
    again = schedule(api, "s1", start="2026-07-01T19:30")
    assert again.status_code == 200 and position(again) == written  # nothing new
    assert api.theatre.get("/shows/s1", headers=OPERATOR).json() == body


def test_the_night_the_clocks_go_forward_has_no_0130_and_going_back_has_two(api):
    problem(schedule(api, "late", start="2026-03-29T01:30"), 422, "nonexistent_local_time",
            "2026-03-29T01:30 does not exist in Europe/London")
    r = schedule(api, "late", start="2026-10-25T01:30")
    assert r.json()["starts_at"] == "2026-10-25T00:30:00Z"  # the first 01:30, still BST
    assert r.json()["local_start"] == "2026-10-25T01:30:00+01:00"


def test_a_clash_is_409_naming_the_show_it_clashes_with(api):
    assert schedule(api, "early").status_code == 201  # 18:00 to 19:40, cleaned by 20:00
    problem(schedule(api, "late", start="2026-02-01T19:50"), 409, "show_clash",
            "show late", "with show early ('Dune', starting 2026-02-01T18:00:00+00:00)",
            "20 minutes for cleaning")
    assert schedule(api, "late", start="2026-02-01T20:00").status_code == 201  # back to back
    problem(api.theatre.get("/shows/nope", headers=OPERATOR), 404, "show_not_found", "nope")


@pytest.mark.parametrize("change, status, error, says", [
    ({"prices": {"Regular": 900}}, 422, "invalid_show", "no price for its Premium, Recliner"),
    ({"start": "2025-12-31T20:00"}, 422, "invalid_show", "has passed"),
    ({"theatre_id": "rex"}, 404, "theatre_not_found", "no theatre rex"),
    ({"screen_id": "nine"}, 404, "screen_not_found", "theatre odeon has no screen nine"),
    ({"start": "2026-02-01 18:00"}, 400, "invalid_request", "start"),
    ({"film": {**FILM, "runtime_minutes": 0}}, 400, "invalid_request", "runtime_minutes"),
])
def test_a_show_that_cannot_be_scheduled_is_refused_with_its_reason(api, change, status, error,
                                                                    says):
    r = api.theatre.put("/shows/s1", json={"theatre_id": "odeon", **show(), **change},
                        headers=OPERATOR)
    problem(r, status, error, says)
    problem(api.theatre.get("/shows/s1", headers=OPERATOR), 404, "show_not_found")


def test_scheduling_a_show_again_differently_is_a_conflict(api):
    schedule(api, "s1")
    problem(schedule(api, "s1", start="2026-02-02T18:00"), 409, "already_exists",
            "s1 is scheduled otherwise", "reschedule or cancel it")


def test_a_show_is_rescheduled_around_others_and_cancelled_for_good(api):
    schedule(api, "a")
    schedule(api, "b", start="2026-02-01T21:00")
    problem(api.theatre.post("/shows/b/reschedule", json={"start": "2026-02-01T19:30"},
                             headers=OPERATOR), 409, "show_clash", "show b", "with show a")
    moved = api.theatre.post("/shows/a/reschedule", json={"start": "2026-02-01T18:30"},
                             headers=OPERATOR)  # overlaps its own old slot only
    assert moved.status_code == 200 and moved.json()["status"] == "RESCHEDULED"
    cancelled = api.theatre.post("/shows/a/cancel", json={"reason": "print damaged"},
                                 headers=OPERATOR)
    assert cancelled.json()["status"] == "CANCELLED"
    again = api.theatre.post("/shows/a/cancel", json={"reason": "again"}, headers=OPERATOR)
    assert again.status_code == 200 and again.json()["cancellation_reason"] == "print damaged"
    problem(api.theatre.post("/shows/a/reschedule", json={"start": "2026-02-02T18:30"},
                             headers=OPERATOR), 409, "show_cancelled", "print damaged")
    assert schedule(api, "instead", start="2026-02-01T18:30").status_code == 201  # freed
    problem(api.theatre.post("/shows/zz/cancel", json={"reason": "x"}, headers=OPERATOR),
            404, "show_not_found")


def test_broken_seats_are_withdrawn_from_a_show(api):
    schedule(api, "s1")
    r = api.theatre.post("/shows/s1/withdrawn-seats",
                         json={"seat_ids": ["A3"], "reason": "broken recliner"},
                         headers=OPERATOR)
    assert r.status_code == 200 and r.json()["withdrawn"] == {"A3": "broken recliner"}
    again = api.theatre.post("/shows/s1/withdrawn-seats",
                             json={"seat_ids": ["A3"], "reason": "broken recliner"},
                             headers=OPERATOR)
    assert again.status_code == 200 and position(again) == position(r)
    problem(api.theatre.post("/shows/s1/withdrawn-seats",
                             json={"seat_ids": ["A4", "Z9"], "reason": "x"}, headers=OPERATOR),
            422, "invalid_show", "no seat A4, Z9 on sale")


# --- a programme: all or nothing --------------------------------------------------------


def programme(api: Api, *shows: dict):
    return api.theatre.post("/theatres/odeon/programme", json={"shows": list(shows)},
                            headers=OPERATOR)


WEEK = [show(f"2026-02-0{day}T18:00", show_id=f"dune-{day}") for day in range(1, 8)]


def test_a_weeks_programme_is_scheduled_in_one_request_and_repeating_it_is_harmless(api):
    r = programme(api, *WEEK)
    assert r.status_code == 201, r.text
    assert (r.json()["scheduled"], r.json()["unchanged"]) == (7, 0)
    more = programme(api, *WEEK, show("2026-02-01T20:00", show_id="dune-1-late"))
    assert more.status_code == 201 and (more.json()["scheduled"], more.json()["unchanged"]) == (
        1, 7)
    again = programme(api, *WEEK)
    assert again.status_code == 200 and again.json()["scheduled"] == 0
    assert position(again) == position(more)


@pytest.mark.parametrize("bad, status, error, says", [
    (show("2026-02-03T19:00", show_id="clash"), 409, "show_clash",
     "show clash starting 2026-02-03T19:00:00+00:00 clashes on screen one with show dune-3"),
    (show("2026-03-29T01:30", show_id="gap"), 422, "nonexistent_local_time", "show gap"),
    (show(screen="nine", show_id="nowhere"), 404, "screen_not_found", "show nowhere"),
    (show("2026-02-09T18:00", show_id="dune-1"), 422, "invalid_show",
     "dune-1 appear more than once"),
])
def test_a_programme_with_one_bad_show_schedules_none(api, bad, status, error, says):
    problem(programme(api, *WEEK, bad), status, error, says)
    for day in range(1, 8):
        assert api.theatre.get(f"/shows/dune-{day}", headers=OPERATOR).status_code == 404
    problem(programme(api, show(show_id="x", currency="gbp")), 400, "invalid_request",
            "currency")


def test_a_programme_clashing_with_a_show_on_record_schedules_none(api):
    schedule(api, "premiere", start="2026-02-04T17:00")
    problem(programme(api, *WEEK), 409, "show_clash", "show dune-4", "with show premiere")
    assert api.theatre.get("/shows/dune-1", headers=OPERATOR).status_code == 404


# --- the catalogue ------------------------------------------------------------------------


def test_the_catalogue_is_503_while_the_read_side_answers_no_catalogue_queries(api, settings):
    with TestClient(theatre_app(api.system.theatre, settings)) as no_views:
        problem(no_views.get("/catalogue/shows", headers=ALICE), 503, "catalogue_unavailable",
                "not available")
        problem(no_views.get("/catalogue/theatres/odeon", headers=ALICE), 503,
                "catalogue_unavailable")


class Catalogue:
    """A read side that answers catalogue queries from fixed documents, and says what it
    was asked."""

    def __init__(self) -> None:
        self.asked: list[dict] = []

    def shows(self, **filters):
        self.asked.append(filters)
        return [{"show_id": "s1"}, {"show_id": "s2"}][:filters["limit"]]

    def show(self, show_id):
        return {"show_id": show_id} if show_id == "s1" else None

    def theatres(self, **filters):
        self.asked.append(filters)
        return [{"theatre_id": "odeon"}]

    def theatre(self, theatre_id):
        return None

    def position(self, stream):
        return 7


def test_the_catalogue_passes_its_filters_and_pages_to_the_views(api, settings):
    views = Catalogue()
    with TestClient(theatre_app(api.system.theatre, settings, views=views)) as customers:
        r = customers.get("/catalogue/shows", headers=ALICE, params={
            "city": "London", "day": "2026-02-01", "film": "dune", "offset": 4, "limit": 2,
            "consistency_token": "theatre:7"})
        assert r.status_code == 200 and "X-View-Stale" not in r.headers
        assert r.json() == {"items": [{"show_id": "s1"}, {"show_id": "s2"}], "offset": 4,
                            "limit": 2, "next_offset": 6}
        assert views.asked[-1] == {"city": "London", "day": "2026-02-01", "theatre_id": None,
                                   "film": "dune", "offset": 4, "limit": 2}
        assert customers.get("/catalogue/shows/s1", headers=ALICE).json() == {"show_id": "s1"}
        problem(customers.get("/catalogue/shows/s2", headers=ALICE), 404, "show_not_found")
        problem(customers.get("/catalogue/theatres/rex", headers=ALICE), 404,
                "theatre_not_found")
        page = customers.get("/catalogue/theatres", headers=ALICE, params={"city": "London"})
        assert page.json()["next_offset"] is None and views.asked[-1]["city"] == "London"
        problem(customers.get("/catalogue/shows", headers=ALICE, params={"day": "1 Feb"}),
                400, "invalid_request", "day")


def test_a_customer_finds_a_scheduled_show_in_the_catalogue_after_its_write(api):
    token = schedule(api, "late", start="2026-10-25T01:30").headers["X-Consistency-Token"]
    r = api.theatre.get("/catalogue/shows", headers=ALICE, params={
        "city": "London", "day": "2026-10-25", "consistency_token": token})
    assert r.status_code == 200 and "X-View-Stale" not in r.headers
    [found] = r.json()["items"]
    assert (found["show_id"], found["local_start"]) == ("late", "2026-10-25T01:30:00+01:00")
    assert api.theatre.get("/catalogue/shows", headers=ALICE,
                           params={"city": "Paris"}).json()["items"] == []
    assert api.theatre.get("/catalogue/shows/late", headers=ALICE).json()["film"] == FILM
    theatres = api.theatre.get("/catalogue/theatres", headers=ALICE, params={"city": "London"})
    assert [t["theatre_id"] for t in theatres.json()["items"]] == ["odeon"]
    problem(api.theatre.get("/catalogue/theatres/rex", headers=ALICE), 404, "theatre_not_found")

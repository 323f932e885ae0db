"""The catalogue's views, the seat maps and their queries on the real MongoDB-wire server
(FerretDB in dev and CI): the same documents and answers as in memory, stored as the
store packs them, with their indexes. Fed with the catalogue's events built by hand
(tests/support/catalogue.py): theatre's, inventory's and pricing's."""

from __future__ import annotations

import random

import pytest

from projections.mongo_store import MongoViewStore, switch_generation
from projections.projector import InMemoryViewStore, project
from projections.queries import InMemoryQueries, MongoQueries
from projections.rebuild import _as_stored
from projections.worker import Projector
from shared import contracts as c
from tests.support import catalogue as cat

pytestmark = pytest.mark.infra

CATALOGUE = ("catalogue_theatres", "catalogue_layouts", "catalogue_shows")
FOLDED = (*CATALOGUE, "seat_maps")


def streams() -> list:
    theatre = cat.theatre_stream()
    return (cat.numbered("theatre", theatre)
            + cat.numbered("inventory", cat.inventory_stream(theatre))
            + cat.numbered("pricing", cat.pricing_stream(theatre)))


def interleaved(events: list, rng: random.Random) -> list:
    """The streams merged at random, each kept in its order."""
    streams = [[e for e in events if e[0] == s] for s in ("theatre", "inventory", "pricing")]
    out = []
    while any(streams):
        out.append(rng.choice([s for s in streams if s]).pop(0))
    return out


def projected(views_db, events: list) -> tuple[MongoViewStore, InMemoryViewStore]:
    """The events in small batches into a generation the way the live projector keeps it
    (documents cached, keys tracked), and all at once in memory."""
    store = MongoViewStore(views_db, "g0001", cache_size=100, track_keys=True)
    store.prepare()
    switch_generation(views_db, "g0001")
    for i in range(0, len(events), 3):
        project(store, events[i : i + 3])
    mem = InMemoryViewStore()
    project(mem, events)
    return store, mem


def test_catalogue_in_mongo_is_the_fold_in_memory(views_db):
    events = streams()
    store, mem = projected(views_db, interleaved(events, random.Random(1)))
    project(store, events[::-1][:12])  # late copies of what is done: nothing changes
    fresh = MongoViewStore(views_db, "g0001")  # no cache: as read back
    for view in FOLDED:
        assert {k: {f: v for f, v in d.items() if f != "_rev"}
                for k, d in fresh.documents(view).items()} == {
            k: _as_stored(d) for k, d in mem.docs[view].items()}, view


QUERIES = [
    {}, {"include_cancelled": True}, {"city": "london", "day": "2026-05-01"},
    {"day": "2026-05-02"}, {"theatre_id": "t-vue"}, {"film": "DUNE: part two"},
    {"city": "Leeds", "include_cancelled": True}, {"include_cancelled": True, "offset": 2, "limit": 3},
    {"film": "heat", "city": "London"}, {"city": "Paris"},
]


def test_mongo_and_memory_answer_every_catalogue_query_alike(views_db):
    _store, mem = projected(views_db, streams())
    mongo, memory = MongoQueries(views_db), InMemoryQueries(mem)
    for query in QUERIES:
        assert mongo.shows(**query) == memory.shows(**query), query
    listed = memory.shows(include_cancelled=True)
    assert len(listed) == 6
    for show in listed:
        assert mongo.show(show["show_id"]) == memory.show(show["show_id"])
    for query in ({}, {"city": "LONDON"}, {"offset": 1, "limit": 1}):
        assert mongo.theatres(**query) == memory.theatres(**query), query
    for theatre in memory.theatres():
        assert mongo.theatre(theatre["theatre_id"]) == theatre
    assert mongo.show("nowhere") is None and mongo.theatre("nowhere") is None
    strip = lambda d: {k: v for k, v in d.items() if k != "_rev"}
    for show in listed:
        assert strip(mongo.seat_map(show["show_id"])) == strip(memory.seat_map(show["show_id"]))
    assert mongo.show("dune-odeon-eve")["prices"] == {"Regular": 1200, "Premium": 1500}
    assert mongo.seat_map("dune-odeon-eve")["prices"]["Regular"] == {
        "price": 1200, "base": 1010, "uplift_percent": 20}


def test_a_version_folded_before_the_show_opens_waits_unseen_in_mongo(views_db):
    theatre = cat.theatre_stream()
    dune = cat.show_of(theatre, "dune-odeon-eve")
    store, _mem = projected(views_db, [("pricing", 1, cat.priced(dune, 2, {"Regular": 950,
                                                                          "Premium": 1450}))])
    assert store.collection("seat_maps").find_one({"_id": "dune-odeon-eve"})["opened"] is False
    assert MongoQueries(views_db).seat_map("dune-odeon-eve") is None
    project(store, [("inventory", 1, cat.opened(dune))])
    seat_map = MongoQueries(views_db).seat_map("dune-odeon-eve")
    assert seat_map["price_version"] == 2 and seat_map["seats"]["A1"]["price"] == 950


def test_seat_map_prices_keyed_by_any_category_are_stored(views_db):
    """An operator's PUT to inventory may name a category with a ".", which a field name
    may not hold: a seat map's prices per category and their inputs are stored as
    strings. (Pricing prices only the theatre's shows, whose categories are its own.)"""
    opened = c.ShowInventoryOpened(event_id="inventory/x/1", occurred_at=cat.DAY, show_id="x",
                                   seats={"A1": "a.b", "A2": "$c"},
                                   prices={"a.b": 500, "$c": 700}, currency="GBP")
    store, mem = projected(views_db, [("inventory", 1, opened),
                                      ("inventory", 2, cat.reserved("x", "ann", "A1"))])
    raw = store.collection("seat_maps").find_one({"_id": "x"})
    assert isinstance(raw["prices_json"], str) and isinstance(raw["pricing_json"], str)
    seat_map = MongoQueries(views_db).seat_map("x")
    assert {s: (v["price"], v["state"]) for s, v in seat_map["seats"].items()} == {
        "A1": (500, "RESERVED"), "A2": (700, "AVAILABLE")}
    assert {k: v for k, v in seat_map.items() if k != "_rev"} == {
        k: v for k, v in mem.docs["seat_maps"]["x"].items() if k != "_rev"}


def test_catalogue_documents_keep_their_seat_lists_as_strings(views_db):
    store, _mem = projected(views_db, streams())
    raw = store.collection("catalogue_shows").find_one({"_id": "dune-odeon-eve"})
    assert "seats" not in raw and "held" not in raw
    assert isinstance(raw["seats_json"], str) and isinstance(raw["held_json"], str)
    assert raw["seat_counts"]["booked"] == 2 and raw["city_key"] == "london"
    layout = store.collection("catalogue_layouts").find_one({"_id": "t-odeon/o1/v1"})
    assert isinstance(layout["seats_json"], str)


def test_the_catalogue_queries_have_their_indexes(views_db):
    store, _mem = projected(views_db, [])
    keys = {view: [list(ix["key"].items()) for ix in store.collection(view).list_indexes()]
            for view in ("catalogue_shows", "catalogue_theatres")}
    assert [("city_key", 1), ("day", 1), ("starts_at", 1)] in keys["catalogue_shows"]
    assert [("theatre_id", 1), ("starts_at", 1)] in keys["catalogue_shows"]
    assert [("title_key", 1), ("starts_at", 1)] in keys["catalogue_shows"]
    assert [("city_key", 1), ("name_key", 1)] in keys["catalogue_theatres"]


def test_the_projector_adds_new_views_to_the_generation_it_follows(views_db):
    """A generation made before the catalogue gets its collections and indexes when the
    projector starts following it, not from racing first writes."""
    views_db.create_collection("bookings__g0001")
    switch_generation(views_db, "g0001")
    Projector(views_db, readers={}).follow_registry()
    names = set(views_db.list_collection_names())
    assert {f"{view}__g0001" for view in CATALOGUE} <= names
    indexes = list(views_db["catalogue_shows__g0001"].list_indexes())
    assert len(indexes) == 4  # _id and the three of the queries

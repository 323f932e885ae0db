"""The catalogue's views and queries on the real MongoDB-wire server (FerretDB in dev and
CI): the same documents and answers as in memory, stored as the store packs them, with
their indexes. Fed with the catalogue's events built by hand (tests/support/catalogue.py)
until the theatre service records them."""

from __future__ import annotations

import random

import pytest

from projections.mongo_store import MongoViewStore, switch_generation
from projections.projector import InMemoryViewStore, project
from projections.queries import InMemoryQueries, MongoQueries
from projections.rebuild import _as_stored
from projections.worker import Projector
from tests.support import catalogue as cat

pytestmark = pytest.mark.infra

CATALOGUE = ("catalogue_theatres", "catalogue_layouts", "catalogue_shows")


def streams() -> list:
    theatre = cat.theatre_stream()
    return cat.numbered("theatre", theatre) + cat.numbered("inventory", cat.inventory_stream(theatre))


def interleaved(events: list, rng: random.Random) -> list:
    theatre = [e for e in events if e[0] == "theatre"]
    inventory = [e for e in events if e[0] == "inventory"]
    out = []
    while theatre or inventory:
        source = theatre if (theatre and (not inventory or rng.random() < 0.5)) else inventory
        out.append(source.pop(0))
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
    for view in CATALOGUE:
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

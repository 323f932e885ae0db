"""The MongoDB views on the real MongoDB-wire server, fed from real PostgreSQL stores."""

from __future__ import annotations

import contextlib
import random
import threading
import time

import pytest

from booking.application import SeatsTaken
from embedded.system import EmbeddedSystem
from projections.mongo_store import MongoViewStore, current_generation
from projections.projector import InMemoryViewStore, project
from projections.rebuild import fresh_fold, rebuild, verify
from projections.sources import StreamReader, read_public
from projections.worker import Projector
from shared.clock import FakeClock
from shared.services import NAMES, PROJECTED
from tests.support.embedded import embedded_system
from tests.support.servers import create_database, drop_database, unique_name
from tests.support.workload import workload

pytestmark = pytest.mark.infra


@pytest.fixture
def stores(postgres_server, request):
    """A database on PostgreSQL per registered service, dropped afterwards."""
    databases = {}
    try:
        for s in NAMES:
            databases[s] = create_database(postgres_server, unique_name(request, s[:3], 40))

        def env(service: str) -> dict[str, str]:
            return databases[service].eventsourcing_env()

        yield env
    finally:
        for database in databases.values():
            drop_database(postgres_server, database.dbname)


def saga_with_bookings(stores, seed: int, bookings: int) -> tuple[EmbeddedSystem, FakeClock]:
    """The embedded saga on the test's PostgreSQL stores, after a seeded workload."""
    clock = FakeClock()
    system = embedded_system(clock=clock, env_for=stores)
    workload(system, clock, random.Random(seed), bookings=bookings)
    return system, clock


def caught_up(projector: Projector) -> Projector:
    while projector.run_once():
        pass
    return projector


def readers_for(env) -> dict[str, StreamReader]:
    return {s: StreamReader(s, env(s)) for s in PROJECTED}


def projected_and_folded(stores, views_db, seed: int, bookings: int):
    """A seeded workload's stores, projected into MongoDB, and folded afresh in memory."""
    saga_with_bookings(stores, seed=seed, bookings=bookings)
    readers = readers_for(stores)
    projector = caught_up(Projector(views_db, readers))
    mem = InMemoryViewStore()
    for reader in readers.values():
        project(mem, read_public(reader, 1, 100_000).events)
    return projector, mem


def test_views_equal_a_fresh_fold_after_duplicated_and_replayed_events(stores, views_db):
    system, _clock = saga_with_bookings(stores, seed=1, bookings=40)
    readers = readers_for(stores)
    projector = Projector(views_db, readers, batch_size=17)
    caught_up(projector)
    store = projector.store
    # Duplicate and replay: every stream again from the start, in odd batch sizes.
    for reader in readers.values():
        events = read_public(reader, 1, 100_000).events
        for i in range(0, len(events), 7):
            project(store, events[i : i + 7])
        project(store, events[::-1][:10])  # and some late, out-of-order copies
    assert verify(views_db, readers) == []
    heads = {s: r.recorder.max_notification_id() for s, r in readers.items()}
    fresh = fresh_fold(readers, heads)
    assert {k: d["status"] for k, d in store.documents("bookings").items()} == {
        k: d["status"] for k, d in fresh.docs["bookings"].items()
    }
    statuses = {str(b.id): b.status.value for b in
                (system.booking.get_booking(b) for b in _booking_ids(readers))}
    assert {k: d["status"] for k, d in store.documents("bookings").items()} == statuses
    priced_as_pricing_says(system, store)


def priced_as_pricing_says(system: EmbeddedSystem, store: MongoViewStore) -> None:
    """The workload's priced show (tests/support/workload.py) in the views at the prices
    pricing quotes now: its third version, with inventory's uplifts for it."""
    sheet = system.pricing.price_sheet("p1")
    assert sheet.price_version == 3 and any(sheet.uplifts.values())
    now = {cat: {f: p[f] for f in ("price", "base", "uplift_percent")}
           for cat, p in sheet.categories().items()}
    seat_map = store.get("seat_maps", "p1")
    assert (seat_map["price_version"], seat_map["prices"]) == (3, now)
    show = store.get("catalogue_shows", "p1")
    assert (show["price_version"], show["prices"]) == (3, {c: p["price"] for c, p in now.items()})


def _booking_ids(readers):
    events = read_public(readers["booking"], 1, 100_000).events
    return {e.booking_id for _, _, e in events}


def test_verify_reports_a_wrong_document(stores, views_db):
    saga_with_bookings(stores, seed=2, bookings=6)
    readers = readers_for(stores)
    projector = Projector(views_db, readers)
    caught_up(projector)
    key = next(iter(projector.store.documents("bookings")))
    projector.store.collection("bookings").update_one({"_id": key}, {"$set": {"status": "CONFIRMED", "amount": 1}})
    problems = verify(views_db, readers)
    assert len(problems) == 1 and key in problems[0]


def test_verify_folds_pricing_and_reports_a_wrong_price(stores, views_db):
    saga_with_bookings(stores, seed=2, bookings=6)
    readers = readers_for(stores)
    projector = caught_up(Projector(views_db, readers))
    assert projector.store.position("pricing") > 0
    projector.store.collection("catalogue_shows").update_one(
        {"_id": "p1"}, {"$set": {"prices.Regular": 1}})
    problems = verify(views_db, readers)
    assert len(problems) == 1 and problems[0].startswith("catalogue_shows/p1:")


def test_rebuild_during_live_writes_ends_identical_to_a_fresh_fold(stores, views_db):
    system, clock = saga_with_bookings(stores, seed=3, bookings=30)
    readers = readers_for(stores)
    live = Projector(views_db, readers, batch_size=50)
    caught_up(live)
    first = live.store.generation
    stop = threading.Event()
    writer = threading.Thread(target=lambda: workload_more(system, clock, stop))
    writer.start()
    try:
        rebuilt = rebuild(views_db, readers_for(stores), batch_size=25, progress=lambda _: None)
    finally:
        stop.set()
        writer.join()
    assert current_generation(views_db) == rebuilt != first
    while live.run_once():  # the live projector follows the switch and catches up
        pass
    assert live.store.generation == rebuilt
    assert verify(views_db, readers) == []
    heads = {s: r.recorder.max_notification_id() for s, r in readers.items()}
    fresh = fresh_fold(readers, heads)
    assert set(live.store.documents("bookings")) == set(fresh.docs["bookings"])
    priced_as_pricing_says(system, MongoViewStore(views_db, rebuilt))


def workload_more(system, clock, stop) -> None:
    for i in range(200):
        if stop.is_set():
            return
        with contextlib.suppress(SeatsTaken):  # refused at once: nothing recorded
            system.booking.request_booking(f"late{i}", "k", "s1", [f"A{1 + i % 8}"], "pm_card_visa")
        system.run_until_quiet()


def test_in_memory_and_mongo_views_are_the_same_fold(stores, views_db):
    projector, mem = projected_and_folded(stores, views_db, seed=4, bookings=20)
    mongo = MongoViewStore(views_db, projector.store.generation)
    strip = lambda d: {k: v for k, v in d.items() if k != "_rev"}
    from projections.rebuild import _as_stored
    for view in mem.docs:
        assert {k: strip(v) for k, v in mongo.documents(view).items()} == {
            k: _as_stored(v) for k, v in mem.docs[view].items()
        }


def test_fast_reader_reads_what_the_library_mapper_reads(stores):
    from projections.sources import read_public_fast

    saga_with_bookings(stores, seed=5, bookings=25)
    for reader in readers_for(stores).values():
        for start, limit in ((1, 100_000), (1, 7), (5, 3), (10_000, 10)):
            slow, fast = read_public(reader, start, limit), read_public_fast(reader, start, limit)
            assert (fast.events, fast.last, fast.oldest_timestamp) == (
                slow.events, slow.last, slow.oldest_timestamp)
            assert len(fast.recorded_at) == len(fast.events)


def test_cached_documents_yield_to_a_write_from_elsewhere(stores, views_db):
    """The live projector keeps the documents it wrote; one changed behind its back fails
    the compare-and-set, and the fold is redone from MongoDB, not from the stale copy."""
    saga_with_bookings(stores, seed=6, bookings=8)
    readers = readers_for(stores)
    projector = Projector(views_db, readers, batch_size=5)
    caught_up(projector)
    store = projector.store
    key = next(iter(store.documents("bookings")))
    assert key in store._cache["bookings"]
    # another writer moves the document on (a new revision, a marker field)
    store.collection("bookings").update_one({"_id": key}, {"$inc": {"_rev": 1}, "$set": {"x": 1}})
    event = next(e for e in read_public(readers["booking"], 1, 1000).events
                 if str(e[2].booking_id) == key)
    bumped = (event[0], 10**9, event[2])  # beyond the document's position: it must be written
    trips = store.round_trips
    assert project(store, [bumped]) == 1
    assert store.round_trips > trips
    doc = store.get("bookings", key)
    assert doc["x"] == 1 and doc["_positions"]["booking"] == 10**9  # folded on the fresh copy


def test_projector_records_commit_to_view_lag(stores, views_db):
    clock = FakeClock()
    system = embedded_system(clock=clock, env_for=stores)
    readers = readers_for(stores)
    projector = Projector(views_db, readers)
    projector.run_once()
    workload(system, clock, random.Random(7), bookings=5)  # recorded after the projector started
    caught_up(projector)
    summary = projector.lags.summary()
    assert summary["n"] > 5 and 0 <= summary["p50"] <= summary["p99"] <= summary["max"]
    assert projector.lags.summary(since=time.time() + 60) == {"n": 0}


def test_seat_maps_are_stored_as_one_string_and_read_back_as_the_fold(stores, views_db):
    from projections.mongo_store import _SEAT_COLUMNS
    from projections.queries import MongoQueries

    projector, mem = projected_and_folded(stores, views_db, seed=8, bookings=6)
    seat_maps = projector.store.collection("seat_maps")
    raw = seat_maps.find_one({"_id": "s1"})
    assert "seats" not in raw and isinstance(raw["seats_json"], str)
    assert raw["counts"]["AVAILABLE"] + raw["counts"]["RESERVED"] + raw["counts"]["BOOKED"] == 8
    expected = {k: v for k, v in mem.docs["seat_maps"]["s1"].items() if k != "_rev"}
    got = {k: v for k, v in MongoQueries(views_db).seat_map("s1").items() if k != "_rev"}
    assert got == expected and list(got["seats"]) == list(expected["seats"])
    assert any(seat["state"] != "AVAILABLE" for seat in got["seats"].values())

    # A seat map stored as parallel arrays (the form before) still reads as the fold.
    seats = expected["seats"]
    older = {k: v for k, v in raw.items() if k != "seats_json"}
    older["seat_ids"] = list(seats)
    for col in _SEAT_COLUMNS:
        older[f"seat_{col}"] = [seat[col] for seat in seats.values()]
    seat_maps.replace_one({"_id": "s1"}, older)
    projector.store.forget("seat_maps")
    got = {k: v for k, v in MongoQueries(views_db).seat_map("s1").items() if k != "_rev"}
    assert got == expected and list(got["seats"]) == list(expected["seats"])


def test_bookings_and_payments_keep_their_lists_as_strings_and_read_back_as_the_fold(
    stores, views_db,
):
    from projections.queries import MongoQueries

    projector, mem = projected_and_folded(stores, views_db, seed=9, bookings=12)
    folded = mem.docs["bookings"]
    # One with a declined attempt (a "reason") and a long timeline, to read back.
    key = next(k for k, d in folded.items()
               if any(a["outcome"] == "failed" for a in d["attempts"].values()))
    bookings = projector.store.collection("bookings")
    raw = bookings.find_one({"_id": key})
    assert "timeline" not in raw and "attempts" not in raw
    assert isinstance(raw["timeline_json"], str) and isinstance(raw["attempts_json"], str)

    queries = MongoQueries(views_db)
    expected = {k: v for k, v in folded[key].items() if k != "_rev"}
    assert {k: v for k, v in queries.booking(key).items() if k != "_rev"} == expected
    listed = {d["_id"]: d for d in queries.customer_bookings(expected["customer_id"], 100)}
    assert {k: v for k, v in listed[key].items() if k != "_rev"} == expected
    raw_payment = projector.store.collection("payments").find_one({"_id": key})
    assert "attempts" not in raw_payment and isinstance(raw_payment["attempts_json"], str)
    payment = {k: v for k, v in mem.docs["payments"][key].items() if k != "_rev"}
    assert any("reason" in a for a in payment["attempts"])
    assert {k: v for k, v in queries.payment(key).items() if k != "_rev"} == payment

    # A booking stored with sub-documents (the form before) still reads as the fold.
    older = {k: v for k, v in raw.items() if not k.endswith("_json")}
    older.update(timeline=expected["timeline"], attempts=expected["attempts"])
    bookings.replace_one({"_id": key}, older)
    assert {k: v for k, v in queries.booking(key).items() if k != "_rev"} == expected


def test_queries_read_the_registry_at_most_once_per_ttl_and_follow_a_switch(views_db, endpoints):
    """A query costs one round trip, not two (the registry is not read per query), and a
    rebuild's switch reaches the readers once the name they keep has lapsed."""
    from pymongo import MongoClient, monitoring

    from projections.mongo_store import POSITIONS, switch_generation
    from projections.queries import MongoQueries, wait_for

    for generation, status in (("g0001", "OLD"), ("g0002", "NEW")):
        MongoViewStore(views_db, generation).collection("bookings").insert_one(
            {"_id": "b1", "status": status})
        views_db[POSITIONS].insert_one({"_id": f"{generation}/booking", "position": 5})
    switch_generation(views_db, "g0001")

    class Commands(monitoring.CommandListener):
        def __init__(self) -> None:
            self.sent: list[str] = []

        def started(self, event):
            self.sent.append(event.command_name)

        def succeeded(self, event):
            pass

        def failed(self, event):
            pass

    listener = Commands()
    client = MongoClient(endpoints.mongo_url, tz_aware=True, event_listeners=[listener])
    try:
        queries = MongoQueries(client[views_db.name], generation_ttl=0.3)
        assert queries.booking("b1")["status"] == "OLD"
        listener.sent.clear()
        for _ in range(5):
            assert queries.booking("b1")["status"] == "OLD"
        assert listener.sent == ["find"] * 5  # the booking alone, no registry read

        switch_generation(views_db, "g0002")
        assert queries.booking("b1")["status"] == "OLD"  # the name kept has not lapsed
        time.sleep(0.35)
        assert queries.booking("b1")["status"] == "NEW"

        # A token for a write the kept generation has not reached waits for the switch.
        switch_generation(views_db, "g0001")
        views_db[POSITIONS].update_one({"_id": "g0001/booking"}, {"$set": {"position": 9}})
        started = time.monotonic()
        assert wait_for(queries, "booking:9")
        assert 0 < time.monotonic() - started < 1.0
        assert queries.booking("b1")["status"] == "OLD"
    finally:
        client.close()


def test_readers_move_to_a_new_generation_only_once_it_has_caught_up(views_db):
    """At a switch the new generation may be a few events behind the old one (the live
    projector wrote the old one until it saw the switch): readers wait for it."""
    from projections.mongo_store import POSITIONS, switch_generation
    from projections.queries import MongoQueries

    for generation, status, position in (("g0001", "PAYMENT_PENDING", 7), ("g0002", "PENDING", 5)):
        MongoViewStore(views_db, generation).collection("bookings").insert_one(
            {"_id": "b1", "status": status})
        for stream in ("booking", "inventory", "payment"):
            views_db[POSITIONS].insert_one({"_id": f"{generation}/{stream}", "position": position})
    switch_generation(views_db, "g0001")
    queries = MongoQueries(views_db, generation_ttl=0.05)
    assert queries.booking("b1")["status"] == "PAYMENT_PENDING"

    switch_generation(views_db, "g0002")  # behind in every stream
    time.sleep(0.1)
    assert queries.booking("b1")["status"] == "PAYMENT_PENDING"  # still the old one
    for stream in ("booking", "inventory"):  # caught up in two streams of three: not yet
        views_db[POSITIONS].update_one({"_id": f"g0002/{stream}"}, {"$set": {"position": 8}})
    time.sleep(0.1)
    assert queries.booking("b1")["status"] == "PAYMENT_PENDING"
    MongoViewStore(views_db, "g0002").collection("bookings").update_one(
        {"_id": "b1"}, {"$set": {"status": "CONFIRMED"}})
    views_db[POSITIONS].update_one({"_id": "g0002/payment"}, {"$set": {"position": 7}})
    time.sleep(0.1)
    assert queries.booking("b1")["status"] == "CONFIRMED"  # at or past the old one: moved

"""Views in MongoDB: one set of collections per generation, switched atomically.

A generation is a complete set of view collections (``bookings__g0003`` ...) with
its own stream positions. Readers and the live projector follow the one named in
the registry document; a rebuild fills a new generation and then flips the registry
in a single-document write, so no reader ever sees a half-built view.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import Any, overload

import msgspec
from pymongo import ASCENDING, DESCENDING, MongoClient, ReplaceOne, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from projections.projector import VIEWS, Write

REGISTRY = "view_registry"
REPLACES_PER_COMMAND = 10
POSITIONS = "projector_positions"
STATUS = "projector_status"

# Indexes each view needs for its queries, declared here and created with the generation.
INDEXES: dict[str, list[list[tuple[str, int]]]] = {
    "bookings": [[("customer_id", ASCENDING), ("requested_at", DESCENDING)],
                 # the stuck-saga detector's: the bookings in flight, by age
                 [("status", ASCENDING), ("requested_at", ASCENDING)]],
    "payments": [[("show_id", ASCENDING)]],
    "seat_maps": [],
    "show_sales": [],
    # What's on in a city on a day, at a theatre, of a film; each in start order.
    "catalogue_shows": [
        [("city_key", ASCENDING), ("day", ASCENDING), ("starts_at", ASCENDING)],
        [("theatre_id", ASCENDING), ("starts_at", ASCENDING)],
        [("title_key", ASCENDING), ("starts_at", ASCENDING)],
    ],
    "catalogue_theatres": [[("city_key", ASCENDING), ("name_key", ASCENDING)]],
    "catalogue_layouts": [],
}


_SEAT_COLUMNS = ("category", "price", "state", "booking_id")  # the parallel arrays, still read


class _TimelineEntry(msgspec.Struct):
    at: datetime
    event: str
    event_id: str


class _BookingAttempt(msgspec.Struct):
    outcome: str
    at: datetime
    reason: str | msgspec.UnsetType = msgspec.UNSET  # failed attempts only


class _PaymentAttempt(msgspec.Struct):
    attempt: int
    outcome: str
    at: datetime
    reason: str | msgspec.UnsetType = msgspec.UNSET


# Per view, the fields kept as one JSON string each (``<field>_json``), and their types,
# so that times come back as datetimes. Only what readers show, never what a query
# filters or sorts on (customer, status, times, show, currency, counts stay fields).
_PACKED: dict[str, dict[str, Any]] = {
    "seat_maps": {"seats": dict[str, dict[str, Any]], "prices": dict[str, dict[str, int]],
                  "pricing": dict[str, Any]},
    "bookings": {"timeline": list[_TimelineEntry], "attempts": dict[str, _BookingAttempt]},
    "payments": {"attempts": list[_PaymentAttempt]},
    "catalogue_layouts": {"seats": list[dict[str, Any]]},
    "catalogue_shows": {"seats": dict[str, str], "held": dict[str, dict[str, str]],
                        "pricing": dict[str, Any]},
}
_DECODERS = {view: {field: msgspec.json.Decoder(kind) for field, kind in fields.items()}
             for view, fields in _PACKED.items()}


def to_stored(view: str, doc: dict[str, Any]) -> dict[str, Any]:
    """A view document as stored. FerretDB v1 converts a document value by value, so
    what no query looks into is kept as one JSON string per field:
    - a seat map's seats (``seats_json``): a 100-seat map is hundreds of values as
      sub-documents, one as a string;
    - a booking's timeline and attempts, a payment's attempts: about half of those
      documents' values;
    - a layout's seats, a catalogue show's seats and the seats inventory holds;
    - a seat map's prices per category and both shows' price inputs (``pricing``):
      keyed by category, and inventory's categories may hold what a field name may not
      (a ".").
    ``from_stored`` gives readers the fold's shape back, and still reads documents stored
    the old ways. On MongoDB itself these could stay sub-documents."""
    packed = [f for f in _PACKED.get(view, ()) if f in doc]
    if not packed:
        return doc
    out = {k: v for k, v in doc.items() if k not in packed}
    for field in packed:
        out[f"{field}_json"] = msgspec.json.encode(doc[field]).decode()
    return out


@overload
def from_stored(view: str, doc: dict[str, Any]) -> dict[str, Any]: ...
@overload
def from_stored(view: str, doc: None) -> None: ...
def from_stored(view: str, doc: dict[str, Any] | None) -> dict[str, Any] | None:
    if doc is None:
        return doc
    for field, decoder in _DECODERS.get(view, {}).items():
        packed = doc.pop(f"{field}_json", None)
        if packed is not None:  # else stored with sub-documents, the fold's own shape
            doc[field] = _plain(decoder.decode(packed))
    if view == "seat_maps":
        return _seat_map_in_fold_order(doc)
    return doc


def _plain(value: Any) -> Any:
    """Decoded structs as the fold's dicts (a field left unset is absent)."""
    if isinstance(value, msgspec.Struct):
        return {f: _plain(v) for f in value.__struct_fields__
                if (v := getattr(value, f)) is not msgspec.UNSET}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _seat_map_in_fold_order(doc: dict[str, Any]) -> dict[str, Any]:
    if "seats" in doc:
        seats = doc.pop("seats")
    elif "seat_ids" in doc:  # stored as parallel arrays, before seats_json
        columns = [doc.pop(f"seat_{col}") for col in _SEAT_COLUMNS]
        seats = {sid: dict(zip(_SEAT_COLUMNS, values, strict=True))
                 for sid, *values in zip(doc.pop("seat_ids"), *columns, strict=True)}
    else:
        return doc
    out: dict[str, Any] = {}
    for k, v in doc.items():  # "seats" where the fold puts it, after the currency
        out[k] = v
        if k == "currency":
            out["seats"] = seats
    out.setdefault("seats", seats)
    return out


def connect(url: str) -> MongoClient:
    # tz_aware: datetimes come back as UTC-aware, like the events they came from.
    # A socket timeout turns a wedged server into an error the projector retries.
    return MongoClient(url, tz_aware=True, serverSelectionTimeoutMS=5000, socketTimeoutMS=15000)


def current_generation(db: Database) -> str | None:
    doc = db[REGISTRY].find_one({"_id": "views"})
    return doc["generation"] if doc else None


def switch_generation(db: Database, generation: str) -> None:
    db[REGISTRY].replace_one(
        {"_id": "views"},
        {"_id": "views", "generation": generation, "switched_at": datetime.now(UTC)},
        upsert=True,
    )


def next_generation(db: Database) -> str:
    names = [n for n in db.list_collection_names() if n.startswith("bookings__g")]
    numbers = [int(n.rsplit("__g", 1)[1]) for n in names] or [0]
    return f"g{max(numbers) + 1:04d}"


class MongoViewStore:
    """One generation's views. With ``cache_size`` (the live projector), it keeps the
    documents it last wrote, so a round reads from MongoDB only the documents it has not
    seen yet. The cache is safe because every write is compare-and-set on ``_rev``: a
    document changed by someone else fails its write, the view's cache is dropped and the
    round is folded again from MongoDB. Any failure (``forget``) drops the cache too,
    since the fold changes the documents it is given in place."""

    def __init__(self, db: Database, generation: str, cache_size: int = 0,
                 track_keys: bool = False, pool: Executor | None = None) -> None:
        self.db = db
        self.pool = pool  # for sending groups of replaces concurrently
        self.generation = generation
        self.cache_size = cache_size
        self._cache: dict[str, OrderedDict[str, dict[str, Any]]] = {v: OrderedDict() for v in VIEWS}
        # With track_keys (the live projector, the only writer of its generation): the keys
        # of every document of each view, loaded once and kept up to date, so a key it does
        # not hold is known to be new without asking. FerretDB v1 answers {"_id": {"$in":
        # [...]}} by scanning the whole collection (only _id equality is pushed down to
        # PostgreSQL), so asking costs more the bigger the view. A write that finds the key
        # taken after all (another writer) reloads the keys.
        self.track_keys = track_keys
        self._keys: dict[str, set[str] | None] = dict.fromkeys(VIEWS)
        self.round_trips = 0  # commands sent by get_many/put_many/set_positions (for tests, benches)
        self.timings: dict[str, list[float]] = {}  # "<view> <kind>" -> [commands, seconds]
        self._timings_lock = threading.Lock()

    def _timed(self, what: str, started: float) -> None:
        elapsed = time.perf_counter() - started
        with self._timings_lock:
            t = self.timings.setdefault(what, [0, 0.0])
            t[0] += 1
            t[1] += elapsed

    def _known(self, view: str) -> set[str]:
        keys = self._keys[view]
        if keys is None:
            self.round_trips += 1
            keys = self._keys[view] = {d["_id"] for d in self.collection(view).find({}, {"_id": 1})}
        return keys

    def collection(self, view: str) -> Collection[dict[str, Any]]:
        return self.db[f"{view}__{self.generation}"]

    def prepare(self) -> None:
        """Create the generation's collections and indexes, one after the other, before
        anything writes to them. FerretDB v1 can deadlock when collections are created
        concurrently (implicitly, by parallel first writes); MongoDB does not mind."""
        existing = set(self.db.list_collection_names())
        for view, indexes in INDEXES.items():
            if self.collection(view).name not in existing:
                self.db.create_collection(self.collection(view).name)
            for keys in indexes:
                self.collection(view).create_index(keys)

    def drop(self) -> None:
        for view in VIEWS:
            self.collection(view).drop()
        self.db[POSITIONS].delete_many({"generation": self.generation})

    def get(self, view: str, key: str) -> dict[str, Any] | None:
        return from_stored(view, self.collection(view).find_one({"_id": key}))

    def get_many(self, view: str, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        keys = list(keys)
        cache = self._cache[view]
        found = {k: cache[k] for k in keys if k in cache} if self.cache_size else {}
        missing = [k for k in keys if k not in found]
        if not missing:
            return found
        if self.track_keys:
            known = self._known(view)
            for k in missing:
                if k in known:  # exists, not cached: by _id alone, which is an index lookup
                    self.round_trips += 1
                    t = time.perf_counter()
                    d = from_stored(view, self.collection(view).find_one({"_id": k}))
                    self._timed(f"{view} find_one", t)
                    if d is not None:
                        found[k] = d
            return found
        self.round_trips += 1
        t = time.perf_counter()
        for d in self.collection(view).find({"_id": {"$in": missing}}):
            found[d["_id"]] = from_stored(view, d)
        self._timed(f"{view} find_in", t)
        return found

    def put_many(self, view: str, writes: Sequence[Write]) -> bool:
        """New documents as one insert command, changed ones as replaces (compare-and-set on
        ``_rev``) in groups of ten; True if every write applied."""
        inserts = [to_stored(view, w.doc) for w in writes if w.previous_rev is None]
        replaces = [
            ReplaceOne({"_id": w.key, "_rev": w.previous_rev}, to_stored(view, w.doc))
            for w in writes if w.previous_rev is not None
        ]
        matched = 0
        try:
            if inserts:
                self.round_trips += 1
                t = time.perf_counter()
                self.collection(view).insert_many(inserts, ordered=False)
                self._timed(f"{view} insert", t)
            # FerretDB v1 hangs on an update command carrying more than a few dozen
            # updates (seen with 100; 10 is fine): send them in small groups, several
            # groups at a time when the store has a pool (each takes FerretDB tens of ms
            # of waiting, not of CPU).
            groups = [replaces[i : i + REPLACES_PER_COMMAND]
                      for i in range(0, len(replaces), REPLACES_PER_COMMAND)]
            self.round_trips += len(groups)
            if self.pool is not None and len(groups) > 1:
                matched += sum(self.pool.map(lambda g: self._replace(view, g), groups))
            else:
                matched += sum(self._replace(view, g) for g in groups)
        except BulkWriteError:
            self.forget(view, keys=True)
            return False  # a document was created meanwhile: fold again
        except BaseException:
            self.forget(view, keys=True)  # inserted or not: ask again
            raise
        keys = self._keys[view]
        if keys is not None:
            keys.update(w.key for w in writes)
        if matched != len(replaces):
            self.forget(view)
            return False  # a document was changed meanwhile: fold again
        if self.cache_size:
            cache = self._cache[view]
            for w in writes:
                cache[w.key] = w.doc
                cache.move_to_end(w.key)
            while len(cache) > self.cache_size:
                cache.popitem(last=False)
        return True

    def _replace(self, view: str, group: list[ReplaceOne]) -> int:
        t = time.perf_counter()
        matched = self.collection(view).bulk_write(group, ordered=False).matched_count
        self._timed(f"{view} replace", t)
        return matched

    def forget(self, view: str | None = None, keys: bool = False) -> None:
        """Drop the cached documents (of one view, or all), and with ``keys`` the known keys."""
        for name in [view] if view else list(self._cache):
            self._cache[name].clear()
            if keys:
                self._keys[name] = None

    def insert_all(self, view: str, docs: Iterable[dict[str, Any]], chunk: int = 1000) -> int:
        """Write a rebuilt view's documents: inserts only, fast on any MongoDB-wire server."""
        batch, written = [], 0
        for doc in docs:
            batch.append(to_stored(view, doc))
            if len(batch) == chunk:
                self.collection(view).insert_many(batch, ordered=False)
                written, batch = written + len(batch), []
        if batch:
            self.collection(view).insert_many(batch, ordered=False)
            written += len(batch)
        return written

    def position(self, stream: str) -> int:
        doc = self.db[POSITIONS].find_one({"_id": f"{self.generation}/{stream}"})
        return doc["position"] if doc else 0

    def positions(self, streams: Iterable[str]) -> dict[str, int]:
        ids = {f"{self.generation}/{s}": s for s in streams}
        found = {ids[d["_id"]]: d["position"]
                 for d in self.db[POSITIONS].find({"_id": {"$in": list(ids)}})}
        return {s: found.get(s, 0) for s in ids.values()}

    def set_position(self, stream: str, position: int) -> None:
        self.set_positions({stream: position})

    def set_positions(self, positions: dict[str, int]) -> None:
        """Record several streams' positions in one command (never moving one back)."""
        if not positions:
            return
        self.round_trips += 1
        t = time.perf_counter()
        self.db[POSITIONS].bulk_write([
            UpdateOne({"_id": f"{self.generation}/{stream}"},
                      {"$max": {"position": position}, "$set": {"generation": self.generation}},
                      upsert=True)
            for stream, position in positions.items()
        ], ordered=False)
        self._timed("positions", t)

    def documents(self, view: str) -> dict[str, dict[str, Any]]:
        return {d["_id"]: from_stored(view, d) for d in self.collection(view).find()}

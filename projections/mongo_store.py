"""Views in MongoDB: one set of collections per generation, switched atomically.

A generation is a complete set of view collections (``bookings__g0003`` ...) with
its own stream positions. Readers and the live projector follow the one named in
the registry document; a rebuild fills a new generation and then flips the registry
in a single-document write, so no reader ever sees a half-built view.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, InsertOne, MongoClient, ReplaceOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from projections.projector import VIEWS, Write

REGISTRY = "view_registry"
REPLACES_PER_COMMAND = 10
POSITIONS = "projector_positions"
STATUS = "projector_status"

# Indexes each view needs for its queries, declared here and created with the generation.
INDEXES: dict[str, list[list[tuple[str, int]]]] = {
    "bookings": [[("customer_id", ASCENDING), ("requested_at", DESCENDING)]],
    "payments": [[("show_id", ASCENDING)]],
    "seat_maps": [],
    "show_sales": [],
}


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
    def __init__(self, db: Database, generation: str) -> None:
        self.db = db
        self.generation = generation

    def collection(self, view: str):
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
        return self.collection(view).find_one({"_id": key})

    def get_many(self, view: str, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {d["_id"]: d for d in self.collection(view).find({"_id": {"$in": list(keys)}})}

    def put_many(self, view: str, writes: Sequence[Write]) -> bool:
        inserts = [InsertOne(w.doc) for w in writes if w.previous_rev is None]
        replaces = [
            ReplaceOne({"_id": w.key, "_rev": w.previous_rev}, w.doc)
            for w in writes if w.previous_rev is not None
        ]
        matched = 0
        try:
            if inserts:
                self.collection(view).bulk_write(inserts, ordered=False)
            # FerretDB v1 hangs on an update command carrying more than a few dozen
            # updates (seen with 100; 10 is fine): send them in small groups.
            for i in range(0, len(replaces), REPLACES_PER_COMMAND):
                group = replaces[i : i + REPLACES_PER_COMMAND]
                matched += self.collection(view).bulk_write(group, ordered=False).matched_count
        except BulkWriteError:
            return False  # a document was created meanwhile: fold again
        return matched == len(replaces)

    def insert_all(self, view: str, docs: Iterable[dict[str, Any]], chunk: int = 1000) -> int:
        """Write a rebuilt view's documents: inserts only, fast on any MongoDB-wire server."""
        batch, written = [], 0
        for doc in docs:
            batch.append(doc)
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

    def set_position(self, stream: str, position: int) -> None:
        self.db[POSITIONS].update_one(
            {"_id": f"{self.generation}/{stream}"},
            {"$max": {"position": position}, "$set": {"generation": self.generation}},
            upsert=True,
        )

    def documents(self, view: str) -> dict[str, dict[str, Any]]:
        return {d["_id"]: d for d in self.collection(view).find()}

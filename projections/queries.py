"""The query endpoints' read side (shared.views.ViewQueries, and CatalogueQueries through
projections/catalogue_queries.py) over MongoDB or over the embedded runtime's in-memory
views."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.database import Database

from projections import seat_map
from projections.catalogue_queries import CatalogueReads, Filter, Order, page
from projections.mongo_store import MongoViewStore, current_generation, from_stored
from projections.projector import InMemoryViewStore
from projections.stuck import IN_FLIGHT
from shared.services import PROJECTED
from shared.views import BadToken, ViewQueries, parse_token, wait_for

__all__ = ["BadToken", "InMemoryQueries", "MongoQueries", "ViewQueries", "parse_token", "wait_for"]


class MongoQueries(CatalogueReads):
    """Queries of the generation the registry names. The name is read again at most
    every ``generation_ttl`` seconds, not per query: reading it was a second round trip
    per query (half of a poll's cost in booking, more in FerretDB). So a rebuild's
    switch reaches readers within that time; until then they read the generation before,
    which is complete and stays in place (a token that waits for a later write re-reads
    the name when it lapses, within its 2 s wait).

    A reader moves to a newly named generation only once that one has projected every
    stream at least as far as the generation it reads: at a switch the live projector may
    still be writing the old one for a moment, and the new one, a few events behind, would
    otherwise show this reader's customers an older state than it just showed them."""

    def __init__(self, db: Database, generation_ttl: float = 1.0) -> None:
        self.db = db
        self.generation_ttl = generation_ttl
        # (read at, its store), replaced in one assignment: the handler threads share it,
        # and a store used only to read keeps no state.
        self._current: tuple[float, MongoViewStore] | None = None

    def _store(self) -> MongoViewStore:
        known, now = self._current, time.monotonic()
        if known is None or now - known[0] >= self.generation_ttl:
            named = current_generation(self.db) or "g0001"
            if known is not None and named != known[1].generation:
                named = self._caught_up(named, known[1])
            known = self._current = (now, MongoViewStore(self.db, named))
        return known[1]

    def _caught_up(self, named: str, reading: MongoViewStore) -> str:
        """``named`` if it is at or past ``reading`` in every stream, else ``reading``'s."""
        ahead = MongoViewStore(self.db, named).positions(PROJECTED)
        behind = [s for s, p in reading.positions(PROJECTED).items() if ahead[s] < p]
        return reading.generation if behind else named

    def booking(self, booking_id: str) -> dict[str, Any] | None:
        return self._store().get("bookings", booking_id)

    def customer_bookings(self, customer_id: str, limit: int) -> list[dict[str, Any]]:
        cursor = self._store().collection("bookings").find({"customer_id": customer_id})
        cursor = cursor.sort([("requested_at", DESCENDING), ("_id", DESCENDING)]).limit(limit)
        return [from_stored("bookings", d) for d in cursor]

    def seat_map(self, show_id: str) -> dict[str, Any] | None:
        return seat_map.shown(self._store().get("seat_maps", show_id))

    def in_flight_bookings(self, requested_before: datetime) -> list[dict[str, Any]]:
        """Bookings neither confirmed nor cancelled, requested before then (an index on
        status and requested_at: only the bookings in flight are read)."""
        cursor = self._store().collection("bookings").find(
            {"status": {"$in": list(IN_FLIGHT)}, "requested_at": {"$lt": requested_before}})
        return [from_stored("bookings", d) for d in cursor]

    def payment(self, booking_id: str) -> dict[str, Any] | None:
        return self._store().get("payments", booking_id)

    def position(self, stream: str) -> int:
        return self._store().position(stream)

    def _get(self, view: str, key: str) -> dict[str, Any] | None:
        return self._store().get(view, key)

    def _find(self, view: str, where: Filter, order: Order, offset: int,
              limit: int) -> list[dict[str, Any]]:
        cursor = self._store().collection(view).find(where).sort(order)
        return [from_stored(view, d) for d in cursor.skip(offset).limit(limit)]


class InMemoryQueries(CatalogueReads):
    """The same queries over the embedded runtime's views."""

    def __init__(
        self, views: InMemoryViewStore, refresh: Callable[[], object] = lambda: None
    ) -> None:
        self.views = views
        self.refresh = refresh  # e.g. project what is new before answering

    def booking(self, booking_id: str) -> dict[str, Any] | None:
        self.refresh()
        return self.views.get("bookings", booking_id)

    def customer_bookings(self, customer_id: str, limit: int) -> list[dict[str, Any]]:
        self.refresh()
        mine = [d for d in self.views.docs["bookings"].values() if d["customer_id"] == customer_id]
        return sorted(mine, key=lambda d: (d["requested_at"], d["_id"]), reverse=True)[:limit]

    def seat_map(self, show_id: str) -> dict[str, Any] | None:
        self.refresh()
        return seat_map.shown(self.views.get("seat_maps", show_id))

    def in_flight_bookings(self, requested_before: datetime) -> list[dict[str, Any]]:
        self.refresh()
        return [d for d in self.views.docs["bookings"].values()
                if d["status"] in IN_FLIGHT and d["requested_at"] is not None
                and d["requested_at"] < requested_before]

    def payment(self, booking_id: str) -> dict[str, Any] | None:
        self.refresh()
        return self.views.get("payments", booking_id)

    def position(self, stream: str) -> int:
        self.refresh()
        return self.views.position(stream)

    def _get(self, view: str, key: str) -> dict[str, Any] | None:
        self.refresh()
        return self.views.get(view, key)

    def _find(self, view: str, where: Filter, order: Order, offset: int,
              limit: int) -> list[dict[str, Any]]:
        self.refresh()
        return page(list(self.views.docs[view].values()), where, order, offset, limit)

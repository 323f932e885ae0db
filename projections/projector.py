"""Folds the services' event streams into views, idempotently.

Every view document carries the position, per stream, of the last event it
reflects (``_positions``); an event at or below that position changes nothing,
so a replayed or duplicated event is harmless and the projector may crash
anywhere. Writes are compare-and-set on those positions, so two projectors
racing on one document cannot lose an update.
"""

from __future__ import annotations

import copy
from types import ModuleType
from typing import Any, Protocol

from projections import booking_view, payment_view, seat_map, show_sales
from shared.contracts import PublicEvent

VIEWS: dict[str, ModuleType] = {
    "bookings": booking_view,
    "seat_maps": seat_map,
    "payments": payment_view,
    "show_sales": show_sales,
}


class ViewStore(Protocol):
    def get(self, view: str, key: str) -> dict[str, Any] | None: ...

    def put(self, view: str, key: str, doc: dict[str, Any], previous: dict[str, Any] | None) -> bool:
        """Write doc if the stored document is still ``previous``; False if it changed."""

    def position(self, stream: str) -> int: ...

    def set_position(self, stream: str, position: int) -> None: ...


class InMemoryViewStore:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in VIEWS}
        self.positions: dict[str, int] = {}

    def get(self, view: str, key: str) -> dict[str, Any] | None:
        return self.docs[view].get(key)

    def put(self, view: str, key: str, doc: dict[str, Any], previous: dict[str, Any] | None) -> bool:
        if self.docs[view].get(key) is not previous:
            return False
        self.docs[view][key] = doc
        return True

    def position(self, stream: str) -> int:
        return self.positions.get(stream, 0)

    def set_position(self, stream: str, position: int) -> None:
        self.positions[stream] = max(position, self.positions.get(stream, 0))


def project(store: ViewStore, stream: str, position: int, event: PublicEvent) -> int:
    """Apply one event of a stream to every view it concerns; return docs changed."""
    changed = 0
    for name, view in VIEWS.items():
        key = view.key(event)
        if key is None:
            continue
        while True:
            doc = store.get(name, key)
            positions = (doc or {}).get("_positions", {})
            if positions.get(stream, 0) >= position:
                break  # already reflected
            new = view.apply(copy.deepcopy(doc), event)
            if new is None:
                break
            new["_positions"] = {**positions, stream: position}
            if store.put(name, key, new, doc):
                changed += 1
                break
    return changed

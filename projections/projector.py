"""Folds the services' event streams into views, idempotently, in batches.

Every view document carries, per stream, the position of the last event it reflects
(``_positions``); an event at or below it changes nothing, so a replayed or
duplicated event is harmless and a projector may crash anywhere. Writes are
compare-and-set on a revision (``_rev``): if another projector changed a document
meanwhile, the batch is simply folded again, and the positions skip what is done.

A view may read other views' documents while it folds (``JOINS``: a show's catalogue
entry copies its theatre's name and city): it is folded after the views it reads, in
the same batch, so it sees what the batch's earlier events made of them. It should copy
only facts that never change once recorded (a theatre's registration, one version of a
screen's layout), so that where batches begin and end cannot change what it copies.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from projections import (
    booking_view,
    catalogue_layouts,
    catalogue_shows,
    catalogue_theatres,
    payment_view,
    seat_map,
    show_sales,
)
from shared.contracts import PublicEvent

VIEWS: dict[str, ModuleType] = {
    "bookings": booking_view,
    "seat_maps": seat_map,
    "payments": payment_view,
    "show_sales": show_sales,
    "catalogue_theatres": catalogue_theatres,
    "catalogue_layouts": catalogue_layouts,
    "catalogue_shows": catalogue_shows,
}
MAX_CONFLICT_RETRIES = 20


@dataclass(frozen=True)
class Write:
    key: str
    doc: dict[str, Any]
    previous_rev: int | None  # None: the document must not exist yet


class ViewStore(Protocol):
    def get_many(self, view: str, keys: Iterable[str]) -> dict[str, dict[str, Any]]: ...

    def put_many(self, view: str, writes: Sequence[Write]) -> bool:
        """Apply the writes whose revision still matches; False if any did not."""

    def position(self, stream: str) -> int: ...

    def set_position(self, stream: str, position: int) -> None:
        """Record that the stream is projected up to here (never moves back)."""


class InMemoryViewStore:
    """Views in memory. ``private=True``: nothing else reads or writes them while they are
    folded (a rebuild's fold), so documents are handed out and changed in place instead
    of copied, which is most of a fold's cost otherwise."""

    def __init__(self, private: bool = False) -> None:
        self.docs: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in VIEWS}
        self.positions: dict[str, int] = {}
        self.private = private

    def get(self, view: str, key: str) -> dict[str, Any] | None:
        return self.docs[view].get(key)

    def get_many(self, view: str, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        docs = self.docs[view]
        if self.private:
            return {k: docs[k] for k in keys if k in docs}
        return {k: copy.deepcopy(docs[k]) for k in keys if k in docs}

    def put_many(self, view: str, writes: Sequence[Write]) -> bool:
        docs, ok = self.docs[view], True
        for w in writes:
            if (docs[w.key]["_rev"] if w.key in docs else None) == w.previous_rev:
                docs[w.key] = w.doc
            else:
                ok = False
        return ok

    def position(self, stream: str) -> int:
        return self.positions.get(stream, 0)

    def set_position(self, stream: str, position: int) -> None:
        self.positions[stream] = max(position, self.positions.get(stream, 0))


Event = tuple[str, int, PublicEvent]  # (stream, position in it, event)


# Whether a view folds events of a type at all: a view's key() is None for the types it
# ignores and only for those (true of every view here), so it is asked once per type.
_FOLDS: dict[tuple[str, type], bool] = {}


def folded_by(name: str, view: ModuleType, events: Sequence[Event]) -> list[Event]:
    out = []
    for ev in events:
        t = type(ev[2])
        folds = _FOLDS.get((name, t))
        if folds is None:
            folds = _FOLDS[(name, t)] = view.key(ev[2]) is not None
        if folds:
            out.append(ev)
    return out


def project(store: ViewStore, events: Sequence[Event], pool: Executor | None = None) -> int:
    """Fold a batch of events into every view they concern; return documents written.
    With ``pool``, the views of a wave are folded and written concurrently (each view's
    documents are its own, so a slow view does not hold up the others' writes)."""
    for _ in range(MAX_CONFLICT_RETRIES):
        written, clean = 0, True
        for jobs in _waves(events):
            if pool is not None and len(jobs) > 1:
                results = list(pool.map(lambda j: _project_view(store, *j), jobs))
            else:
                results = [_project_view(store, *j) for j in jobs]
            written += sum(w for w, _ in results)
            clean = all(c for _, c in results)
            if not clean:
                break  # the next wave would read what is being folded again
        if clean:
            return written
    raise RuntimeError("views keep changing under this projector: is another one running?")


Job = tuple[str, ModuleType, list[Event]]


def _waves(events: Sequence[Event]) -> list[list[Job]]:
    """The views a batch concerns, with their events, in the order they are folded: first
    every view that reads no other view for this batch, then those that do (``JOINS``:
    they see what the first wave made of the batch). A view reads another only for some
    events (a show's scheduling), so most batches are one wave."""
    first: list[Job] = []
    second: list[Job] = []
    for name, view in VIEWS.items():
        mine = folded_by(name, view, events)
        if not mine:
            continue
        joins = getattr(view, "JOINS", {}).values()
        reads = any(other_key(e) is not None for _, _, e in mine for _, other_key in joins)
        (second if reads else first).append((name, view, mine))
    return [first, second] if second else [first]


def _project_view(store: ViewStore, name: str, view: ModuleType,
                  events: Sequence[Event]) -> tuple[int, bool]:
    keyed = [(view.key(e), s, p, e) for s, p, e in events]
    docs = store.get_many(name, {k for k, *_ in keyed})
    revs = {k: d["_rev"] for k, d in docs.items()}
    joins = getattr(view, "JOINS", None)
    joined = _joined(store, joins, events) if joins else {}
    dirty: set[str] = set()
    for key, stream, position, event in keyed:
        doc = docs.get(key)
        positions = doc["_positions"] if doc else {}
        if positions.get(stream, 0) >= position:
            continue  # already reflected
        if joins:
            new = view.apply(doc, event, {j: joined[j].get(other_key(event))
                                          for j, (_, other_key) in joins.items()})
        else:
            new = view.apply(doc, event)
        if new is None:
            continue
        new["_positions"] = {**positions, stream: position}
        docs[key] = new
        dirty.add(key)
    writes = [Write(k, {**docs[k], "_rev": revs.get(k, 0) + 1}, revs.get(k)) for k in sorted(dirty)]
    clean = store.put_many(name, writes) if writes else True
    return len(writes), clean


Join = tuple[str, Callable[[PublicEvent], "str | None"]]  # (the view read, its key for an event)


def _joined(store: ViewStore, joins: dict[str, Join],
            events: Sequence[Event]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per join, the documents the events name in the view it reads (read, never written)."""
    out = {}
    for join, (other, other_key) in joins.items():
        keys = {k for _, _, e in events if (k := other_key(e)) is not None}
        out[join] = store.get_many(other, keys) if keys else {}
    return out

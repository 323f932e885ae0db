"""Rebuild the views from the start of every stream, then switch readers over; verify.

The rebuild fills a new generation while the live projector keeps serving the old
one, shows its progress, and flips the registry only once it has caught up with the
streams' heads. Killed half-way, the next rebuild takes over the unfinished
generation and starts it afresh: no half-written document survives, none is served.

It reads the stores with plain SQL and msgspec (``read_public_fast``), folds in
memory without copying documents (memory grows with the number of documents, not of
events) and writes with inserts only, the views in parallel; past millions of
documents, fold per key range. ``verify`` folds through the library's own mapper
(``read_public``), so it checks the fast reader too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import bson
from bson.codec_options import CodecOptions
from pymongo.database import Database

from projections.mongo_store import (
    MongoViewStore,
    current_generation,
    next_generation,
    switch_generation,
)
from projections.projector import VIEWS, InMemoryViewStore, folded_by, project
from projections.sources import StreamReader, read_public, read_public_fast, stream_holes

UNFINISHED = "view_rebuilds"


def rebuild(
    db: Database,
    readers: dict[str, StreamReader],
    batch_size: int = 5000,
    progress: Callable[[str], None] = print,
    fresh: bool = False,
) -> str:
    """Fold every stream in memory, write the documents as inserts, catch up with what
    was recorded meanwhile, then switch. Inserts only, because updates are what a
    MongoDB-wire server does slowest (FerretDB v1: a few hundred a second)."""
    generation = _generation_to_build(db, fresh)
    store = MongoViewStore(db, generation)
    store.drop()  # whatever a killed attempt left: this attempt starts from nothing
    store.prepare()
    folded, positions = InMemoryViewStore(private=True), {s: 0 for s in readers}
    started, last_print, done = time.monotonic(), 0.0, 0
    heads = sum(r.recorder.max_notification_id() or 0 for r in readers.values())
    # Phase 1, the fold, one stream after another; phase 2, the documents as inserts of
    # 500, four commands in flight (the collections exist already, so FerretDB creates
    # none concurrently). A view is written as soon as every stream it folds has been
    # read (seat maps after pricing and inventory, payments after payment), while the fold
    # goes on with the next stream: the writes and the fold share the machine instead of
    # taking turns. Later events reach them in phase 3, as compare-and-set updates.
    writes, read_streams = [], set()
    written: set[str] = set()  # the views inserted
    with ThreadPoolExecutor(4) as pool:
        for stream in sorted(readers, key=_fold_order):
            reader = readers[stream]
            while True:
                batch = read_public_fast(reader, positions[stream] + 1, batch_size)
                if batch.last is None:
                    break
                _check_sources(written, stream, batch.events)
                project(folded, batch.events)
                done += batch.last - positions[stream]
                positions[stream] = batch.last
                if time.monotonic() - last_print > 1.0:
                    last_print = _progress(progress, generation, done, heads, started)
            last_print = _progress(progress, generation, done, heads, started)  # a stream read
            read_streams.add(stream)
            last = len(read_streams) == len(readers)  # then every view is complete
            for view in VIEWS:
                if view not in written and (last or set(VIEWS[view].SOURCES) <= read_streams):
                    written.add(view)
                    docs = list(folded.docs[view].values())
                    writes += [pool.submit(store.insert_all, view, docs[i : i + 500])
                               for i in range(0, len(docs), 500)]
        folded_s = time.monotonic() - started
        for w in writes:
            w.result()
    store.set_positions(positions)
    progress(f"{generation}: {done} events read, {sum(len(d) for d in folded.docs.values())} "
             f"documents written (read and folded in {folded_s:.1f} s, all written "
             f"{time.monotonic() - started - folded_s:.1f} s after)")
    while True:  # phase 3: what was recorded meanwhile, incrementally
        read = 0
        for stream, reader in readers.items():
            batch = read_public_fast(reader, store.position(stream) + 1, batch_size)
            if batch.last is not None:
                project(store, batch.events)
                store.set_position(stream, batch.last)
                read += 1
        if not read:
            break
    switch_generation(db, generation)
    db[UNFINISHED].delete_one({"_id": generation})
    progress(f"switched readers to {generation}")
    return generation


def _progress(progress: Callable[[str], None], generation: str, done: int, heads: int,
              started: float) -> float:
    now = time.monotonic()
    rate = done / max(now - started, 1e-9)
    eta = (heads - done) / rate if rate else 0.0
    progress(f"{generation}: {done}/{heads} events, {rate:,.0f} events/s, ETA {eta:,.0f} s")
    return now


# Streams whose views are complete on their own come first, so that their documents are
# written while the rest is folded: theatre (theatres, layouts), pricing (a few events a
# show: read before inventory, so that with it the seat maps and the catalogue's shows are
# complete), inventory, payment (payments), booking. A stream not named here comes last.
_ORDER = ("theatre", "pricing", "inventory", "payment", "booking")


def _fold_order(stream: str) -> int:
    return _ORDER.index(stream) if stream in _ORDER else len(_ORDER)


def _check_sources(written: set[str], stream: str, events: list) -> None:
    """A view already written must not fold this stream: its SOURCES would be wrong."""
    for view in written:
        if stream not in VIEWS[view].SOURCES and folded_by(view, VIEWS[view], events):
            raise RuntimeError(f"view {view} folds {stream} events: add it to its SOURCES")


def _generation_to_build(db: Database, fresh: bool) -> str:
    unfinished = db[UNFINISHED].find_one(sort=[("_id", -1)])
    if unfinished and not fresh and unfinished["_id"] != current_generation(db):
        return unfinished["_id"]  # take over the name a killed rebuild left, and its mess
    generation = next_generation(db)
    db[UNFINISHED].replace_one({"_id": generation}, {"_id": generation}, upsert=True)
    return generation


def fresh_fold(readers: dict[str, StreamReader], upto: Mapping[str, int | None]) -> InMemoryViewStore:
    views = InMemoryViewStore()
    for stream, reader in readers.items():
        start, end = 1, upto.get(stream) or 0  # None: a stream with nothing yet
        while start <= end:
            batch = read_public(reader, start, 5000)
            if batch.last is None:
                break
            project(views, [e for e in batch.events if e[1] <= end])
            start = batch.last + 1
    return views


_CODEC: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True)


def _as_stored(doc: dict[str, Any]) -> dict[str, Any]:
    """A document as MongoDB gives it back, without the projector's bookkeeping."""
    out = bson.decode(bson.encode(doc), codec_options=_CODEC)
    out.pop("_rev", None)
    return out


def verify(db: Database, readers: dict[str, StreamReader]) -> list[str]:
    """Differences between the readers' views and a fresh fold of the streams, up to the
    positions the views have reached (documents moved on meanwhile are skipped); first,
    every aggregate whose stream has a hole (a version missing from its store)."""
    holes = [f"hole: {h}" for reader in readers.values() for h in stream_holes(reader)]
    store = MongoViewStore(db, current_generation(db) or "g0001")
    upto = {s: store.position(s) for s in readers}
    fresh = fresh_fold(readers, upto)
    problems = []
    for view in VIEWS:
        live = store.documents(view)
        expected = {k: _as_stored(d) for k, d in fresh.docs[view].items()}
        for key in sorted(set(live) | set(expected)):
            got = live.get(key)
            if got is not None:
                if any(p > upto.get(s, 0) for s, p in got["_positions"].items()):
                    continue  # written after we read the positions: in flight
                got = {k: v for k, v in got.items() if k != "_rev"}
            if got != expected.get(key):
                problems.append(f"{view}/{key}: view {got!r} != fold {expected.get(key)!r}")
    return holes + problems

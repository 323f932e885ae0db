"""The projector: follows the services' event stores and keeps the MongoDB views.

It catches up from its recorded positions, then follows live; between batches it
checks the registry, so after a rebuild it moves to the new generation at the
positions that generation reached (replaying anything newer is harmless). It projects
when a store notifies (projections.waker). A round folds everything new in every stream
at once, so under load events are batched by themselves (what arrives during a round is
the next round).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo.database import Database

from projections.lag import LagRecorder
from projections.metrics import delayed, projected_spans
from projections.mongo_store import (
    POSITIONS,
    REGISTRY,
    STATUS,
    MongoViewStore,
    current_generation,
    switch_generation,
)
from projections.projector import project
from projections.sources import StreamReader, read_public_fast
from projections.waker import Waker

log = logging.getLogger(__name__)


HOLES_KEPT = 100


@dataclass
class Projector:
    db: Database
    readers: dict[str, StreamReader]
    batch_size: int = 1000
    store: MongoViewStore | None = None
    lag: dict[str, dict[str, Any]] = field(default_factory=dict)
    cache_size: int = 20_000  # documents kept between rounds (see MongoViewStore)
    lags: LagRecorder = field(default_factory=LagRecorder)  # recorded -> view, per event
    commit_lags: LagRecorder = field(default_factory=LagRecorder)  # commit -> view, per transaction
    rounds: int = 0
    registry_every: float = 0.2
    _registry_checked: float = 0.0
    write_threads: int = 1  # groups of replaces in flight at once per view (more did not help FerretDB v1)
    _pool_pair: tuple[ThreadPoolExecutor, ThreadPoolExecutor | None] | None = None
    stats: dict[str, float] = field(default_factory=lambda: dict.fromkeys(
        ("busy_rounds", "events", "documents_written", "mongodb_commands", "read_s",
         "fold_and_write_s"), 0))
    _positions: dict[str, int] = field(default_factory=dict)
    # Events folded although their aggregate's previous version is missing from the
    # store, per stream (the latest HOLES_KEPT): reported in /lag and the status document.
    holes: dict[str, list[str]] = field(default_factory=dict)

    def _pools(self) -> tuple[ThreadPoolExecutor, ThreadPoolExecutor | None]:
        """Threads for the views of a round, and (separate, so that neither waits on
        the other) for a view's groups of replaces; both mostly wait on MongoDB."""
        if self._pool_pair is None:
            writes = (ThreadPoolExecutor(self.write_threads, thread_name_prefix="writes")
                      if self.write_threads > 1 else None)
            self._pool_pair = (ThreadPoolExecutor(4, thread_name_prefix="views"), writes)
        return self._pool_pair

    def follow_registry(self) -> MongoViewStore:
        generation = current_generation(self.db)
        if generation is None:  # first start ever: the first generation, empty
            generation = "g0001"
            for name in (POSITIONS, STATUS, REGISTRY):  # created here, not by racing writes
                if name not in self.db.list_collection_names():
                    self.db.create_collection(name)
            MongoViewStore(self.db, generation).prepare()
            switch_generation(self.db, generation)
        if self.store is None or self.store.generation != generation:
            log.info("projecting into generation %s", generation)
            self.store = MongoViewStore(self.db, generation, cache_size=self.cache_size,
                                        track_keys=True, pool=self._pools()[1])
            # A view added since the generation was made gets its collection and indexes
            # here, not from racing first writes (creating what exists is a no-op).
            self.store.prepare()
            self._positions = self.store.positions(self.readers)
        return self.store

    def projected(self, stream: str) -> int | None:
        """How far the views reflect a stream; None while no generation is followed."""
        return None if self.store is None else self._positions.get(stream, 0)

    def run_once(self, streams: set[str] | None = None) -> int:
        """Project the next batch of every stream in one fold, so a document touched by
        several streams (a booking) is written once per round, not once per stream.
        Positions are read from MongoDB when the projector starts following a generation
        and kept in memory afterwards: this projector is their only writer.

        ``streams``: only these (the ones notified, or not finished last round); then
        the registry is read at most every ``registry_every`` seconds. None: every
        stream, and the registry now."""
        t0 = time.perf_counter()
        started_ns = time.time_ns()
        if (self.store is None or streams is None
                or time.monotonic() - self._registry_checked >= self.registry_every):
            self._registry_checked = time.monotonic()
            self.follow_registry()
        store = self.store
        assert store is not None  # set by follow_registry()
        batches = {}
        for stream, reader in self.readers.items():
            if streams is not None and stream not in streams:
                continue
            position = self._positions.get(stream, 0)
            batches[stream] = (position, read_public_fast(reader, position + 1, self.batch_size))
        t1 = time.perf_counter()
        trips = store.round_trips
        try:
            events = [e for _, batch in batches.values() for e in batch.events]
            written = project(store, events, pool=self._pools()[0]) if events else 0
            advanced = {s: b.last for s, (_, b) in batches.items() if b.last is not None}
            store.set_positions(advanced)
        except BaseException:
            store.forget(keys=True)  # documents may have been folded but not written
            self._positions = {}
            self.store = None  # re-read the positions next round
            raise
        projected_at = datetime.now(UTC)
        self.rounds += 1
        if events:
            st = self.stats
            st["busy_rounds"] += 1
            st["events"] += len(events)
            st["documents_written"] += written
            st["mongodb_commands"] += store.round_trips - trips
            st["read_s"] += t1 - t0
            st["fold_and_write_s"] += time.perf_counter() - t1
        read = 0
        for stream, (position, batch) in batches.items():
            if batch.last is None:
                self.lag[stream] = {**self.lag.get(stream, {}), "events": 0, "position": position}
                continue
            self._positions[stream] = batch.last
            read += batch.last - position
            if batch.holes:
                log.error("stream %s has a hole: no previous version in its store for %s",
                          stream, ", ".join(batch.holes[:10]))
                self.holes[stream] = [*self.holes.get(stream, []), *batch.holes][-HOLES_KEPT:]
            self.lags.record(batch.recorded_at or [], projected_at)
            delayed(stream, batch.recorded_at or [], projected_at)
            if batch.traces:
                projected_spans(stream, batch, started_ns)
            full = batch.last - position >= self.batch_size
            self.lag[stream] = self._lag(self.readers[stream], batch.last, batch.oldest_timestamp,
                                         projected_at, at_head=not full)
        return read

    @staticmethod
    def _lag(reader: StreamReader, position: int, oldest: datetime | None,
             now: datetime, at_head: bool) -> dict[str, Any]:
        """Events still behind, and the age of the oldest event just projected: how
        long an event waited between being recorded and showing in the views. A batch
        shorter than asked for reached the head: no need to ask for it."""
        head = position if at_head else (reader.recorder.max_notification_id() or 0)
        age = (now - oldest).total_seconds() if oldest else 0.0
        return {"events": max(0, head - position), "seconds": round(age, 3),
                "position": position, "head": head}

    def report(self) -> None:
        self.db[STATUS].replace_one(
            {"_id": "live"},
            {"_id": "live", "generation": self.store.generation if self.store else None,
             "streams": self.lag, "holes": self.holes, "updated_at": datetime.now(UTC)},
            upsert=True,
        )

    def run_forever(self, stop: threading.Event, report_every: float = 1.0,
                    safety_poll: float = 2.0, waker: Waker | None = None,
                    min_round: float = 0.0) -> None:
        """Project whenever a store notifies; otherwise sleep. ``safety_poll``: the
        longest sleep while notifications work (a missed one costs at most this);
        without them, polls start at 20 ms and back off to 1 s while idle. While idle
        it also looks at the registry every ``registry_every`` (one small read), so a
        rebuild's switch is followed at once, not at the next event. ``min_round``: the
        shortest time from one busy round's start to the next's, so that under load a
        round gathers more events per MongoDB command (the first event after a quiet spell
        is projected at once)."""
        waker = waker or Waker(self.readers, stop).start()
        last_report, reported, idle_polls = 0.0, None, 0
        unfinished: set[str] = set()  # streams whose last batch was full
        last_full_round = 0.0
        commits: dict[str, list[float]] = {s: [] for s in self.readers}  # not yet in the views
        while not stop.is_set():
            dirty, times = waker.take_dirty()
            for stream, ts in times.items():
                commits[stream].extend(ts)
            streams: set[str] | None = dirty | unfinished
            if time.monotonic() - last_full_round >= safety_poll:
                streams, last_full_round = None, time.monotonic()  # every stream, now and then
            started = time.monotonic()
            try:
                busy = self.run_once(streams)
                unfinished = {s for s, lag in self.lag.items() if lag.get("events")}
                done = time.time()
                for stream, ts in commits.items():
                    # committed before this round read the stream (notified before it
                    # started), so in the views now, unless the stream is still behind
                    if ts and stream not in unfinished and (streams is None or stream in streams):
                        self.commit_lags.record_times(ts, done)
                        commits[stream] = []
            except Exception:
                log.exception("projection failed; resuming from the recorded positions")
                stop.wait(1.0)
                continue
            now = time.monotonic()
            if now - last_report > report_every and (reported != self.lag or now - last_report > 30):
                try:
                    self.report()
                except Exception:
                    log.exception("could not record the projector's status")
                reported, last_report = {k: dict(v) for k, v in self.lag.items()}, now
            if busy:
                idle_polls = 0
                stop.wait(max(0.0, min_round - (time.monotonic() - started)))
                continue  # what arrived during this round is the next round
            idle_polls += 1
            if waker.listening:
                self._idle(stop, waker, safety_poll)
            else:
                waker.wait(min(1.0, 0.02 * 1.5 ** min(idle_polls, 20)))

    def _idle(self, stop: threading.Event, waker: Waker, longest: float) -> None:
        deadline = time.monotonic() + longest
        while not stop.is_set() and time.monotonic() < deadline:
            if waker.wait(self.registry_every):
                return
            try:
                if self.store is None or current_generation(self.db) != self.store.generation:
                    return
            except Exception:  # noqa: BLE001 - the round that follows reports it
                return

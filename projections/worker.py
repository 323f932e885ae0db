"""The projector: follows the services' event stores and keeps the MongoDB views.

It catches up from its recorded positions, then follows live; between batches it
checks the registry, so after a rebuild it moves to the new generation at the
positions that generation reached (replaying anything newer is harmless).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo.database import Database

from projections.mongo_store import (
    POSITIONS, REGISTRY, STATUS, MongoViewStore, current_generation, switch_generation,
)
from projections.projector import project
from projections.sources import STREAMS, StreamReader, read_public
from shared.config import Settings

log = logging.getLogger(__name__)


def stream_readers(settings: Settings) -> dict[str, StreamReader]:
    # Readers never create the services' tables: racing a starting service to create
    # them can fail, and until a service has started there is nothing to read anyway.
    return {
        stream: StreamReader(
            stream,
            {**settings.postgres_env(settings.service_db(stream)), "CREATE_TABLE": "no",
             "POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "2"},
        )
        for stream in STREAMS
    }


@dataclass
class Projector:
    db: Database
    readers: dict[str, StreamReader]
    batch_size: int = 1000
    store: MongoViewStore | None = None
    lag: dict[str, dict[str, Any]] = field(default_factory=dict)

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
            self.store = MongoViewStore(self.db, generation)
        return self.store

    def run_once(self) -> int:
        """Project the next batch of every stream in one fold, so a document touched by
        several streams (a booking) is written once per round, not once per stream."""
        store = self.follow_registry()
        batches = {}
        for stream, reader in self.readers.items():
            position = store.position(stream)
            batches[stream] = (position, read_public(reader, position + 1, self.batch_size))
        project(store, [e for _, batch in batches.values() for e in batch.events])
        read = 0
        for stream, (position, batch) in batches.items():
            if batch.last is None:
                self.lag[stream] = {**self.lag.get(stream, {}), "events": 0, "position": position}
                continue
            store.set_position(stream, batch.last)
            read += batch.last - position
            self.lag[stream] = self._lag(self.readers[stream], batch.last, batch.oldest_timestamp)
        return read

    @staticmethod
    def _lag(reader: StreamReader, position: int, oldest: datetime | None) -> dict[str, Any]:
        """Events still behind, and the age of the oldest event just projected: how
        long an event waited between being recorded and showing in the views."""
        head = reader.recorder.max_notification_id() or 0
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        return {"events": max(0, head - position), "seconds": round(age, 3),
                "position": position, "head": head}

    def report(self) -> None:
        self.db[STATUS].replace_one(
            {"_id": "live"},
            {"_id": "live", "generation": self.store.generation if self.store else None,
             "streams": self.lag, "updated_at": datetime.now(UTC)},
            upsert=True,
        )

    def run_forever(self, stop, idle_sleep: float = 0.02, report_every: float = 1.0) -> None:
        last_report = 0.0
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:
                log.exception("projection failed; resuming from the recorded positions")
                stop.wait(1.0)
                continue
            if time.monotonic() - last_report > report_every:
                self.report()
                last_report = time.monotonic()
            if not busy:
                stop.wait(idle_sleep)

"""A service whose store lost what it had cached reloads from the store instead of
writing over the hole; so does one whose database connection failed mid-write."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import OperationalError

from shared.recorder import TOPIC, MissingPredecessor
from shared.service import ServiceApplication

pytestmark = pytest.mark.infra


class Counter(Aggregate):
    @event("Started")
    def __init__(self) -> None:
        self.n = 0

    @event("Counted")
    def count(self) -> None:
        self.n += 1


class CounterService(ServiceApplication):
    service = "counter"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hooks: list[str] = []

    def to_public(self, domain_event: Any) -> None:
        return None  # a counter has no public events

    def start(self) -> uuid.UUID:
        counter = Counter()
        with self.writing():
            self.save_all(counter)
        return counter.id

    def count(self, counter_id: uuid.UUID) -> Counter:
        with self.writing():
            counter = self.find(counter_id)
            counter.count()
            self.save_all(counter)
            return counter

    def partitions_assigned(self) -> None:
        super().partitions_assigned()
        self.hooks.append("assigned")

    def partitions_revoked(self) -> None:
        self.hooks.append("revoked")


@pytest.fixture
def counters(pg_database):
    app = CounterService(env={**pg_database.eventsourcing_env(), "PROCESS_RECORDER_TOPIC": TOPIC})
    yield app, pg_database
    app.close()


def cached(app: ServiceApplication, aggregate_id: uuid.UUID) -> bool:
    try:
        app.repository.cache.get(aggregate_id)
        return True
    except KeyError:
        return False


def test_a_lost_version_is_not_written_over_and_the_store_is_reloaded(counters) -> None:
    app, db = counters
    counter_id = app.start()
    app.count(counter_id)
    assert app.count(counter_id).version == 3 and cached(app, counter_id)
    # The store loses version 3, as a crash of a database that acknowledged commits it had
    # not flushed does; this process still has version 3 in memory.
    with psycopg.connect(host=db.host, port=db.port, user=db.user, password=db.password,
                         dbname=db.dbname, autocommit=True) as conn:
        conn.execute("DELETE FROM counterservice_events WHERE originator_version = 3")
    with pytest.raises(MissingPredecessor):
        app.count(counter_id)
    assert app.store_epoch >= 1 and not cached(app, counter_id)
    assert app.hooks[-2:] == ["revoked", "assigned"]  # what was learned is forgotten too
    again = app.count(counter_id)  # decided on the stored version 2
    assert (again.version, again.n) == (3, 2)
    assert [e.originator_version for e in app.recorder.select_events(counter_id)] == [1, 2, 3]


def test_a_write_whose_connection_failed_drops_every_cached_aggregate(counters) -> None:
    app, _ = counters
    first, second = app.start(), app.start()
    app.count(first)
    assert cached(app, first) and cached(app, second)
    with pytest.raises(OperationalError), app.writing():
        app.find(second)
        raise OperationalError("server closed the connection unexpectedly")
    # The outcome of the write is unknown: nothing cached is trusted, not only what it touched.
    assert app.store_epoch == 1 and not cached(app, first) and not cached(app, second)
    assert app.count(first).version == 3

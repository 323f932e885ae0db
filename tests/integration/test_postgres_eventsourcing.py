"""eventsourcing on the real PostgreSQL: save, reload, and read the notification log."""

from __future__ import annotations

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

pytestmark = pytest.mark.infra


class Tally(Aggregate):
    """A tiny aggregate for the smoke test only."""

    @event("Opened")
    def __init__(self, label: str) -> None:
        self.label = label
        self.count = 0

    @event("Added")
    def add(self, amount: int) -> None:
        self.count += amount


class Tallies(Application):
    def open(self, label: str) -> Tally:
        tally = Tally(label)
        self.save(tally)
        return tally


def test_aggregate_round_trip_and_notification_log(pg_database) -> None:
    app = Tallies(env=pg_database.eventsourcing_env())
    try:
        tally = app.open("seats")
        tally.add(2)
        tally.add(3)
        app.save(tally)
        other = app.open("other")

        loaded = app.repository.get(tally.id)
        assert (loaded.label, loaded.count, loaded.version) == ("seats", 5, 3)
        assert app.repository.get(tally.id, version=2).count == 2

        notifications = app.notification_log.select(start=1, limit=10)
        assert [n.id for n in notifications] == [1, 2, 3, 4]
        assert [n.originator_id for n in notifications] == [tally.id] * 3 + [other.id]
        assert notifications[1].topic.endswith("Tally.Added")

        # Selection by topic and from a later position, as an outbox relay would read it.
        added = app.notification_log.select(start=1, limit=10, topics=[notifications[1].topic])
        assert [n.id for n in added] == [2, 3]
        assert [n.id for n in app.notification_log.select(start=3, limit=1)] == [3]
    finally:
        app.close()

    # A new Application instance (a restarted service) sees the same state.
    again = Tallies(env=pg_database.eventsourcing_env())
    try:
        assert again.repository.get(tally.id).count == 5
        assert again.recorder.max_notification_id() == 4
    finally:
        again.close()


def test_prefixed_environment_is_honoured(pg_database) -> None:
    """Per-application variables (TALLIES_POSTGRES_DBNAME...) as the services will use them."""
    app = Tallies(env=pg_database.eventsourcing_env(prefix="TALLIES_") | {
        "PERSISTENCE_MODULE": "eventsourcing.postgres"})
    try:
        tally = app.open("prefixed")
        assert app.repository.get(tally.id).label == "prefixed"
    finally:
        app.close()

"""Snapshots on the real PostgreSQL: only each aggregate's latest is kept, and a show loads
the same from it as from its events."""

from __future__ import annotations

import pytest

from inventory.application import InventoryService
from shared.clock import FakeClock
from tests.support.embedded import embedded_system

pytestmark = pytest.mark.infra


def test_older_snapshots_are_deleted_and_the_show_loads_the_same(pg_database) -> None:
    clock = FakeClock()
    system = embedded_system(clock=clock, env_for=lambda _: pg_database.eventsourcing_env())
    seats = {f"A{i}": "std" for i in range(1, 201)}
    system.inventory.open_show("s1", seats, {"std": 900}, "EUR")
    for i in range(1, 181):  # each request a hold: more than three snapshot intervals
        system.booking.request_booking(f"c{i}", f"k{i}", "s1", [f"A{i}"], "pm_card_visa")
        if i % 20 == 0:
            system.run_until_quiet()
    system.run_until_quiet()
    show = system.inventory.get_show("s1")
    assert show.version > 3 * InventoryService.snapshotting_intervals[type(show)]

    snapshots = system.inventory.snapshots.recorder.select_events(show.id)
    assert len(snapshots) == 1  # the latest only
    assert snapshots[0].originator_version % 50 == 0 and snapshots[0].originator_version > 100

    # From that snapshot (a restarted service, no cache) as from the events alone.
    again = InventoryService(env=pg_database.eventsourcing_env())
    try:
        from_snapshot = again.repository.get(show.id)
        replayed = again.repository.get(show.id, version=show.version)  # snapshots <= version
        events_only = again.repository._reconstruct_aggregate(show.id, None, _events_only(again))
        for loaded in (from_snapshot, replayed, events_only):
            assert loaded.version == show.version
            assert loaded.__dict__ == show.__dict__
    finally:
        again.close()


def _events_only(app: InventoryService):
    from eventsourcing.application import project_aggregate

    def project(aggregate, events):
        events = list(events)
        if events and type(events[0]).__name__ == "Snapshot":
            events = list(app.events.get(events[0].originator_id))  # ignore the snapshot
        return project_aggregate(aggregate, events)

    return project

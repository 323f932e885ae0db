"""Instances of a service started at the same moment, as a scaled-out deployment starts
them, on a database whose tables do not exist yet: every one of them comes up."""

from __future__ import annotations

import threading

import pytest

from inventory.application import InventoryService

pytestmark = pytest.mark.infra


@pytest.mark.parametrize("round_", range(5))
def test_instances_racing_to_create_the_tables_all_start(pg_database, round_) -> None:
    started, failed = [], []
    gate = threading.Barrier(4)

    def start() -> None:
        gate.wait()
        try:
            started.append(InventoryService(env=pg_database.eventsourcing_env()))
        except Exception as e:  # noqa: BLE001 - the test reports whatever stopped one
            failed.append(e)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for app in started:
        app.close()
    assert not failed, failed
    assert len(started) == 4

"""The services' write path (shared/recorder.py) on the real PostgreSQL: the same
guarantees as the library's process recorder, checked side by side with it."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking
from eventsourcing.postgres import PostgresFactory, PostgresProcessRecorder
from eventsourcing.utils import Environment

from shared.recorder import (
    TOPIC,
    MissingPredecessor,
    SingleStatementProcessRecorder,
    StoreRestarted,
)

pytestmark = pytest.mark.infra


def recorder(pg_database, name: str, topic: str | None = TOPIC):
    env = dict(pg_database.eventsourcing_env())
    if topic:
        env["PROCESS_RECORDER_TOPIC"] = topic
    return PostgresFactory(Environment(name, env)).process_recorder()


def event(originator: uuid.UUID, version: int, topic: str = "t:Seat.Held") -> StoredEvent:
    return StoredEvent(originator, version, topic, b'{"seat": "A1"}')


def test_configured_by_topic(pg_database) -> None:
    r = recorder(pg_database, "svc")
    try:
        assert type(r) is SingleStatementProcessRecorder
    finally:
        r.datastore.close()


def test_events_and_tracking_commit_together_or_not_at_all(pg_database) -> None:
    r = recorder(pg_database, "svc")
    try:
        a, b = uuid.uuid4(), uuid.uuid4()
        ids = r.insert_events([event(a, 1), event(a, 2), event(b, 1)], tracking=Tracking("t:0", 5))
        assert ids == [1, 2, 3]
        assert r.max_tracking_id("t:0") == 5
        assert [(e.originator_version, e.topic) for e in r.select_events(a)] == [
            (1, "t:Seat.Held"), (2, "t:Seat.Held"),
        ]

        # A position not ahead of the recorded one: nothing is written.
        with pytest.raises(IntegrityError):
            r.insert_events([event(b, 2)], tracking=Tracking("t:0", 5))
        assert len(r.select_events(b)) == 1

        # A version taken: the tracking record does not move either.
        with pytest.raises(IntegrityError):
            r.insert_events([event(b, 1)], tracking=Tracking("t:0", 9))
        assert r.max_tracking_id("t:0") == 5

        # Tracking alone (a run of messages that caused nothing), and events alone.
        assert r.insert_events([], tracking=Tracking("t:1", 3)) is None
        assert r.max_tracking_id("t:1") == 3
        (last,) = r.insert_events([event(b, 2)])
        # Rolled-back writes leave gaps in the ids (a sequence is not transactional, with
        # either recorder); the log itself holds only what committed, in order.
        assert [n.id for n in r.select_notifications(start=1, limit=10)] == [1, 2, 3, last]
        assert r.max_notification_id() == last
        # The relay's read (composed once) and the library's agree.
        fast = r.select_notifications(start=2, limit=2)
        assert fast == PostgresProcessRecorder.select_notifications(r, start=2, limit=2)
        assert [(n.id, n.originator_id, n.topic) for n in fast] == [(2, a, "t:Seat.Held"), (3, b, "t:Seat.Held")]
    finally:
        r.datastore.close()


def test_the_positions_of_several_partitions_move_together_with_the_events(pg_database) -> None:
    """A service that decides several partitions' messages in one write records each
    partition's position in it; one position not ahead of its recorded one, and nothing
    of the write is kept."""
    r = recorder(pg_database, "svc")
    try:
        assert r.records_several_positions
        a, b = uuid.uuid4(), uuid.uuid4()
        r.insert_events([event(a, 1)], tracking=Tracking("t:0", 4),
                        trackings=[Tracking("t:1", 7), Tracking("u:3", 2)])
        assert [r.max_tracking_id(n) for n in ("t:0", "t:1", "u:3")] == [4, 7, 2]

        with pytest.raises(IntegrityError):  # t:1 does not move forward: a redelivery
            r.insert_events([event(b, 1)], tracking=Tracking("t:0", 9),
                            trackings=[Tracking("t:1", 7)])
        assert r.select_events(b) == [] and r.max_tracking_id("t:0") == 4

        # Positions alone (messages that caused nothing), in one transaction.
        assert r.insert_events([], tracking=Tracking("t:0", 10),
                               trackings=[Tracking("t:2", 1)]) is None
        assert [r.max_tracking_id(n) for n in ("t:0", "t:2")] == [10, 1]
    finally:
        r.datastore.close()


def test_same_tables_as_the_library_recorder(pg_database) -> None:
    """Either recorder can read what the other wrote (a rollback to the library's is safe)."""
    fast = recorder(pg_database, "svc")
    library = recorder(pg_database, "svc", topic=None)
    try:
        assert type(library) is PostgresProcessRecorder
        a = uuid.uuid4()
        fast.insert_events([event(a, 1)], tracking=Tracking("t:0", 1))
        library.insert_events([event(a, 2)], tracking=Tracking("t:0", 2))
        fast.insert_events([event(a, 3)], tracking=Tracking("t:0", 3))
        assert [e.originator_version for e in library.select_events(a)] == [1, 2, 3]
        assert fast.max_tracking_id("t:0") == library.max_tracking_id("t:0") == 3
    finally:
        fast.datastore.close()
        library.datastore.close()


def test_concurrent_writers_commit_in_notification_order(pg_database) -> None:
    """The table lock is kept: notification ids are handed out in commit order, so a
    reader that tails the log never passes a gap that fills later."""
    r = recorder(pg_database, "svc")
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(50):
                r.insert_events([event(uuid.uuid4(), 1), event(uuid.uuid4(), 1)],
                                tracking=Tracking(f"w{n}", i + 1))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        ids = [n.id for n in r.select_notifications(start=1, limit=1000)]
        assert ids == list(range(1, 401))
        conninfo = psycopg.conninfo.make_conninfo(
            host=pg_database.host, port=pg_database.port, user=pg_database.user,
            password=pg_database.password, dbname=pg_database.dbname,
        )
        with psycopg.connect(conninfo) as conn:
            # Each transaction's two events got consecutive ids (no interleaving).
            xmins = conn.execute(
                "SELECT xmin::text FROM svc_events ORDER BY notification_id"
            ).fetchall()
        assert all(xmins[i] == xmins[i + 1] for i in range(0, 400, 2))
        assert {r.max_tracking_id(f"w{n}") for n in range(4)} == {50}
    finally:
        r.datastore.close()


def test_an_event_whose_predecessor_the_store_lacks_is_refused(pg_database) -> None:
    """A process that cached version 2 of an aggregate the store lost (a crash of a
    database that acknowledged unflushed commits) must not write version 3 over the hole."""
    r = recorder(pg_database, "svc")
    diverged: list[bool] = []
    r.on_diverged = lambda: diverged.append(True)
    try:
        a, b = uuid.uuid4(), uuid.uuid4()
        r.insert_events([event(a, 1), event(a, 2), event(b, 1)], tracking=Tracking("t:0", 1))
        with pytest.raises(MissingPredecessor):
            r.insert_events([event(a, 4), event(b, 2)], tracking=Tracking("t:0", 2))
        assert diverged == [True]
        assert [e.originator_version for e in r.select_events(a)] == [1, 2]
        assert len(r.select_events(b)) == 1 and r.max_tracking_id("t:0") == 1
        with pytest.raises(MissingPredecessor):  # a new aggregate starts at version 1
            r.insert_events([event(uuid.uuid4(), 2)])
        # Predecessors stored, or written in the same write: accepted.
        r.insert_events([event(a, 3), event(a, 4), event(b, 2)], tracking=Tracking("t:0", 2))
        assert [e.originator_version for e in r.select_events(a)] == [1, 2, 3, 4]
    finally:
        r.datastore.close()


def test_no_write_goes_through_after_the_server_restarted_unnoticed(pg_database) -> None:
    """The first write after a restart is refused (rolled back) and the owner told, so it
    reloads what it keeps in memory before writing again. A restart is what the recorder
    sees as a new server start time (a real one: tests/e2e/test_database_crash.py)."""
    r = recorder(pg_database, "svc")
    diverged: list[bool] = []
    r.on_diverged = lambda: diverged.append(True)
    try:
        a = uuid.uuid4()
        r.insert_events([event(a, 1)], tracking=Tracking("t:0", 1))
        real_start = r.server_started
        assert real_start is not None
        for write in (lambda: r.insert_events([event(a, 2)], tracking=Tracking("t:0", 2)),
                      lambda: r.insert_events([], tracking=Tracking("t:0", 2)),
                      lambda: r.insert_tracking(Tracking("t:0", 2))):
            r.server_started = real_start - timedelta(seconds=1)  # as if it restarted since
            with pytest.raises(StoreRestarted):
                write()
            assert r.server_started == real_start
            assert len(r.select_events(a)) == 1 and r.max_tracking_id("t:0") == 1
        assert diverged == [True, True, True]
        r.insert_events([event(a, 2)], tracking=Tracking("t:0", 2))  # then writes go on
        assert len(r.select_events(a)) == 2 and r.max_tracking_id("t:0") == 2
    finally:
        r.datastore.close()

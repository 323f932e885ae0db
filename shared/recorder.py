"""The services' PostgreSQL write path: eventsourcing's process recorder, in one statement.

Every message a service processes ends in one such write: new events plus the
tracking record of the message's position, atomically. The library's recorder sends
them through psycopg's pipeline machinery (BEGIN, lock, NOTIFY, tracking, INSERT,
COMMIT) and composes its SQL on every call; this one sends BEGIN with the lock as one
simple query, then one statement that inserts the events, upserts the tracking record
and notifies listeners, then COMMIT, for less client CPU per transaction
(`python -m bench limits` measures both, side by side).

Same table layout, same guarantees: the EXCLUSIVE table lock that makes commit order
equal notification order, the unique (originator, version) constraint, and a
tracking record that must move forward, or nothing is written (IntegrityError). A write
may record several positions (``trackings``: the messages of several partitions, decided
together), each of which must move forward.

Two more checks, in the same statement, keep a service from writing over state the
store lost (a crash of a database that acknowledged commits it had not flushed):
an event whose predecessor is not stored is refused (``MissingPredecessor``), and so
is any write after the server restarted since this recorder's last one
(``StoreRestarted``): the service reloads what it keeps in memory first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    Notification,
    OperationalError,
    PersistenceError,
    StoredEvent,
    Tracking,
)
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresProcessRecorder
from eventsourcing.utils import retry
from psycopg.pq import TransactionStatus
from psycopg.sql import SQL, Identifier, Literal

TOPIC = "shared.recorder:SingleStatementProcessRecorder"  # PROCESS_RECORDER_TOPIC


class StoreDiverged(PersistenceError):
    """The store may no longer have what this process last saw it write: what the
    process keeps in memory must be reloaded before it writes again. Not retried."""


class StoreRestarted(StoreDiverged):
    """The database server restarted since this recorder's last write."""


class MissingPredecessor(StoreDiverged):
    """A new event would follow a version of its aggregate that the store lacks."""


class SingleStatementProcessRecorder(PostgresProcessRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rendered_cache: dict[str, bytes] = {}
        schema = Identifier(self.datastore.schema)
        events = Identifier(self.events_table_name)
        tracking = Identifier(self.tracking_table_name)
        id_type = SQL("uuid" if self.datastore.originator_id_type == "uuid" else "text")
        # The new events as rows (id, v, topic, state).
        written = SQL(
            "unnest(%(ids)s::{id_type}[], %(versions)s::int[], %(topics)s::text[],"
            " %(states)s::bytea[])"
        ).format(id_type=id_type)
        insert = SQL(
            "INSERT INTO {schema}.{events} (originator_id, originator_version, topic, state)"
            " SELECT * FROM {written} RETURNING notification_id"
        ).format(schema=schema, events=events, written=written)
        # New events whose predecessor is neither stored nor in this write: one primary
        # key lookup per event (the CTE's snapshot is taken before the insert).
        gaps = SQL(
            "SELECT count(*) AS n FROM {written} AS w(id, v, t, s) WHERE v > 1"
            " AND NOT EXISTS (SELECT 1 FROM {schema}.{events} e"
            "  WHERE e.originator_id = w.id AND e.originator_version = w.v - 1)"
            " AND NOT (w.v - 1 = ANY (SELECT u.v FROM {written} AS u(id, v, t, s)"
            "  WHERE u.id = w.id))"
        ).format(schema=schema, events=events, written=written)
        upsert = SQL(
            "INSERT INTO {schema}.{tracking}"
            " SELECT * FROM unnest(%(names)s::text[], %(positions)s::bigint[])"
            " ON CONFLICT (application_name) DO UPDATE"
            " SET notification_id = excluded.notification_id"
            " WHERE {schema}.{tracking}.notification_id < excluded.notification_id RETURNING 1"
        ).format(schema=schema, tracking=tracking)
        notify = SQL("SELECT pg_notify({channel}, '')").format(
            channel=Literal(self.channel_name)
        )
        # BEGIN and the lock in one simple query: one round trip instead of two or three.
        self._begin = SQL("BEGIN; SET LOCAL lock_timeout = {timeout}; {lock}").format(
            timeout=Literal(f"{self.datastore.lock_timeout}s"),
            lock=self.lock_table_statements[-1],
        )
        checks = SQL(
            "(SELECT n FROM g) AS gaps, pg_postmaster_start_time() AS server_started"
        )
        self._write_events = SQL(
            "WITH g AS ({gaps}), e AS ({insert}), n AS ({notify})"
            " SELECT notification_id, 1 AS tracked, {checks} FROM e, n ORDER BY notification_id"
        ).format(gaps=gaps, insert=insert, notify=notify, checks=checks)
        self._write_events_tracked = SQL(
            "WITH g AS ({gaps}), e AS ({insert}), t AS ({upsert}), n AS ({notify})"
            " SELECT notification_id, (SELECT count(*) FROM t) AS tracked, {checks}"
            " FROM e, n ORDER BY notification_id"
        ).format(gaps=gaps, insert=insert, upsert=upsert, notify=notify, checks=checks)
        self._server_started_query = SQL("SELECT pg_postmaster_start_time() AS server_started")
        # When the server this recorder last wrote to started; None before the first write.
        self.server_started: Any = None
        # Called before a StoreDiverged is raised, whichever caller gets it.
        self.on_diverged: Callable[[], None] | None = None

        # Whether cached copies of some aggregates are still the latest: their versions.
        self._max_versions = SQL(
            "SELECT originator_id, max(originator_version) AS version FROM {schema}.{events}"
            " WHERE originator_id = ANY(%s) GROUP BY originator_id"
        ).format(schema=schema, events=events)

        # The relay's read, composed once (the library composes it on every call).
        self._next_notifications = SQL(
            "SELECT * FROM {schema}.{events} WHERE notification_id >= %s"
            " ORDER BY notification_id LIMIT %s"
        ).format(schema=schema, events=events)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def max_notification_id(self) -> int | None:
        # Asked on every booking request (its consistency token): composed once too.
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._rendered(conn, "max_notification_id_statement"), prepare=True)
            row = curs.fetchone()
            return None if row is None else row["max"]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def max_versions(self, originator_ids: Sequence[Any]) -> dict[Any, int]:
        """The latest stored version of each of these aggregates (those stored)."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._rendered(conn, "_max_versions"), (list(originator_ids),),
                         prepare=True)
            return {row["originator_id"]: row["version"] for row in curs.fetchall()}

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_notifications(
        self, start: int | None, limit: int, stop: int | None = None,
        topics: Sequence[str] = (), *, inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        if start is None or stop is not None or topics or not inclusive_of_start:
            return super().select_notifications(
                start, limit, stop, topics, inclusive_of_start=inclusive_of_start
            )
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._rendered(conn, "_next_notifications"), (start, limit), prepare=True)
            return [
                Notification(
                    id=row["notification_id"], originator_id=row["originator_id"],
                    originator_version=row["originator_version"], topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]

    @property
    def records_several_positions(self) -> bool:
        """Whether a write may record several positions (``trackings``): not in the legacy
        layout, which the library's own recorder writes."""
        return bool(self.datastore.single_row_tracking)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """``tracking``: the position recorded with the events; ``trackings``: more."""
        tracking: Tracking | None = kwargs.get("tracking")
        more: Sequence[Tracking] = kwargs.pop("trackings", ())
        if not self.datastore.single_row_tracking:  # the legacy layout: the library's way
            assert not more, "several positions in one write need the single-row layout"
            return super().insert_events(stored_events, **kwargs)
        positions = [*more, *([tracking] if tracking is not None else [])]
        with self.datastore.get_connection() as conn:
            if not stored_events:
                if positions:
                    self._write_tracking(conn, *positions)
                return None
            params = {
                "ids": [e.originator_id for e in stored_events],
                "versions": [e.originator_version for e in stored_events],
                "topics": [e.topic for e in stored_events],
                "states": [e.state for e in stored_events],
            }
            if not positions:
                query = self._rendered(conn, "_write_events")
            else:
                query = self._rendered(conn, "_write_events_tracked")
                params |= {"names": [t.application_name for t in positions],
                           "positions": [t.notification_id for t in positions]}
            assert conn.autocommit  # the pool's connections: transactions are explicit
            try:
                conn.execute(self._rendered(conn, "_begin"))
                rows = conn.execute(query, params, prepare=True).fetchall()
                if rows and positions and rows[0]["tracked"] != len(positions):
                    msg = f"Failed to record tracking for {positions}"
                    raise IntegrityError(msg)
                if rows and rows[0]["gaps"]:
                    self._diverged()
                    raise MissingPredecessor(
                        f"{rows[0]['gaps']} of {len(rows)} new events follow a version the"
                        f" store does not have (first: {stored_events[0].originator_id})"
                    )
                self._check_server(rows[0]["server_started"] if rows else None)
                conn.execute(b"COMMIT")
            except BaseException:
                if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
                    conn.execute(b"ROLLBACK")
                raise
            return [row["notification_id"] for row in rows]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_tracking(self, tracking: Tracking) -> None:
        with self.datastore.get_connection() as conn:
            self._write_tracking(conn, tracking)

    def _write_tracking(self, conn: Any, *positions: Tracking) -> None:
        """Positions alone: refused after a restart too, since the store may have lost
        what the messages before them caused."""
        with conn.transaction(), conn.cursor() as curs:
            for tracking in positions:
                self._insert_tracking(curs, tracking)
            self.check_server(curs)

    def check_server(self, curs: Any) -> None:
        """In a transaction of the caller's (a dead letter recorded with its position):
        refuse it, as this recorder's own writes, if the server restarted since the last."""
        row = curs.execute(self._rendered(curs.connection, "_server_started_query")).fetchone()
        self._check_server(row["server_started"])

    def _check_server(self, started: Any) -> None:
        """Inside the write's transaction, before COMMIT: refuse the write if the server
        restarted since the last one (a write that raises is rolled back)."""
        if started is None:
            return
        known, self.server_started = self.server_started, started
        if known is not None and known != started:
            self._diverged()
            raise StoreRestarted(f"the database server restarted at {started}")

    def _diverged(self) -> None:
        if self.on_diverged is not None:
            self.on_diverged()

    def _rendered(self, conn: Any, name: str) -> bytes:
        """A statement as bytes, composed once (composing is costly, and the same each call)."""
        if name not in self._rendered_cache:
            self._rendered_cache[name] = getattr(self, name).as_bytes(conn)
        return self._rendered_cache[name]


def prune_older_snapshots(recorder: Any, aggregate_id: Any) -> None:
    """Delete an aggregate's snapshots but the latest (the only one ever read; a load at
    an older version replays events instead). A crash in between leaves one extra,
    deleted with the next. Only PostgreSQL's snapshots are pruned."""
    if not isinstance(recorder, PostgresAggregateRecorder):
        return
    table = Identifier(recorder.datastore.schema, recorder.events_table_name)
    with recorder.datastore.transaction(commit=True) as curs:
        curs.execute(SQL(
            "DELETE FROM {t} WHERE originator_id = %(id)s AND originator_version < "
            "(SELECT max(originator_version) FROM {t} WHERE originator_id = %(id)s)"
        ).format(t=table), {"id": aggregate_id})

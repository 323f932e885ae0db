"""The event streams the views are folded from: each service's own event store.

The stores are the source of truth (Kafka topics may expire), so projectors read
the services' notification logs directly and map them through each service's
public contracts: views depend only on ``shared.contracts``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import msgspec
from eventsourcing.application import Application
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import EnvType, resolve_topic
from psycopg import sql
from psycopg.rows import tuple_row

from projections.projector import Event
from shared.config import Settings
from shared.contracts import PublicEvent
from shared.observability.tracing import TRACEPARENT
from shared.private_topics import PrivateTopics
from shared.services import BY_NAME, PROJECTED


def _mapping(stream: str) -> tuple[str, Callable[[Any], PublicEvent | None]]:
    """The service application's name, which names its tables, and its public mapping
    (``<service>.publishing.to_public``): the read side depends on each service's
    published contracts, never the other way round."""
    publishing = importlib.import_module(f"{stream}.publishing")
    return BY_NAME[stream].application, publishing.to_public


# The streams the views are folded from: every service the registry says is projected.
STREAMS: tuple[str, ...] = PROJECTED


class StreamReader(Application):
    """Read access to one service's store, under that service's application name."""

    def __init__(self, stream: str, env: EnvType | None = None) -> None:
        self.stream = stream
        self.name, self._to_public = _mapping(stream)
        super().__init__(env)

    def to_public(self, domain_event: Any) -> PublicEvent | None:
        return self._to_public(domain_event)


@dataclass(frozen=True)
class Batch:
    events: list[Event]
    last: int | None  # last notification id read (public or not)
    oldest_timestamp: Any = None  # when the first event of the batch was recorded
    # When each public event was recorded (its domain event's timestamp), same order as events.
    recorded_at: list[datetime] | None = None
    # Events read whose aggregate's previous version is not in the store, as
    # "<originator> v<version>": a store that lost commits (a hole) is reported, not folded past silently.
    holes: list[str] = field(default_factory=list)
    # The traces the events' stores name (shared.observability.tracing), by index in events.
    traces: dict[int, str] = field(default_factory=dict)


def read_public(app: Any, start: int, limit: int = 1000) -> Batch:
    """The next notifications from ``start`` as (stream, position, public event), through
    the application's own recorder and mapper: the reference way, for any recorder.
    ``verify`` folds with this one, so it checks the fast path below independently."""
    stream = getattr(app, "stream", None) or app.service
    notifications = app.recorder.select_notifications(start=start, limit=limit)
    events: list[Event] = []
    oldest = None
    for n in notifications:
        domain_event = app.mapper.to_domain_event(n)
        oldest = oldest or domain_event.timestamp
        public = app.to_public(domain_event)
        if public is not None:
            events.append((stream, n.id, public))
    return Batch(events, notifications[-1].id if notifications else None, oldest)


def read_public_fast(app: Any, start: int, limit: int = 1000) -> Batch:
    """The same as :func:`read_public`, read with one plain SQL query (rows as tuples)
    and decoded with msgspec instead of the library's json object hook: the same domain
    event objects, built the way the library's mapper builds them, then the same
    ``to_public``. Falls back to :func:`read_public` for anything it does not cover
    (not PostgreSQL, a cipher or compressor, class-version upcasts)."""
    recorder = app.recorder
    mapper = app.mapper
    if not isinstance(recorder, PostgresApplicationRecorder) or mapper.cipher or mapper.compressor:
        return read_public(app, start, limit)
    stream = getattr(app, "stream", None) or app.service
    query = _select(recorder.datastore.schema, recorder.events_table_name)
    with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
        rows = cur.execute(query, (start, limit), prepare=True).fetchall()
    decode_named = mapper.transcoder.names
    events: list[Event] = []
    recorded: list[datetime] = []
    holes: list[str] = []
    traces: dict[int, str] = {}
    oldest = None
    to_public = app.to_public
    private = _PRIVATE_TOPICS.setdefault(stream, PrivateTopics())
    for notification_id, originator_id, originator_version, topic, state, gap in rows:
        if gap:
            holes.append(f"{originator_id} v{originator_version}")
        if topic in private and oldest is not None:
            continue  # about half of a store: never decoded, since never public
        cls = _event_class(topic)
        if cls is None:  # upcasting needed: the library's way
            domain_event = mapper.to_domain_event(_stored(originator_id, originator_version,
                                                          topic, state))
        else:
            fields = _decode_state(state, decode_named)
            fields["originator_id"] = originator_id
            fields["originator_version"] = originator_version
            domain_event = object.__new__(cls)
            object.__setattr__(domain_event, "__dict__", fields)
        timestamp = domain_event.timestamp
        oldest = oldest or timestamp
        public = to_public(domain_event)
        if public is not None:
            traceparent = getattr(domain_event, TRACEPARENT, None)
            if traceparent is not None:
                traces[len(events)] = traceparent
            events.append((stream, notification_id, public))
            recorded.append(timestamp)
        private.learn(topic, public)
    return Batch(events, rows[-1][0] if rows else None, oldest, recorded, holes, traces)


_PRIVATE_TOPICS: dict[str, PrivateTopics] = {}  # per stream; skipped before decoding


@lru_cache(maxsize=64)
def _select(schema: str, table: str) -> sql.Composed:
    # gap: the event's previous version is missing (one primary key lookup per event)
    return sql.SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state,"
        " originator_version > 1 AND NOT EXISTS (SELECT 1 FROM {t} p"
        "  WHERE p.originator_id = e.originator_id"
        "  AND p.originator_version = e.originator_version - 1) AS gap"
        " FROM {t} e WHERE notification_id >= %s ORDER BY notification_id LIMIT %s"
    ).format(t=sql.Identifier(schema, table))


def stream_holes(app: Any) -> list[str]:
    """Every aggregate of a stream whose versions are not 1..n without a gap, as
    "<stream>/<originator>: versions <missing>": a whole scan, for ``verify``."""
    recorder = app.recorder
    if not isinstance(recorder, PostgresApplicationRecorder):
        return []  # the other stores are in memory or SQLite, written by one process
    table = sql.Identifier(recorder.datastore.schema, recorder.events_table_name)
    query = sql.SQL(
        "SELECT originator_id, array_agg(originator_version ORDER BY originator_version)"
        " FROM {t} GROUP BY originator_id HAVING count(*) <> max(originator_version)"
    ).format(t=table)
    with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
        rows = cur.execute(query).fetchall()
    stream = getattr(app, "stream", None) or app.service
    out = []
    for originator_id, versions in rows:
        missing = sorted(set(range(1, max(versions) + 1)) - set(versions))
        out.append(f"{stream}/{originator_id}: versions {missing} missing (has {len(versions)})")
    return out


@lru_cache(maxsize=256)
def _event_class(topic: str) -> type | None:
    cls = resolve_topic(topic)
    return None if getattr(cls, "class_version", 1) != 1 else cls


def _stored(originator_id: Any, version: int, topic: str, state: bytes) -> Any:
    from eventsourcing.persistence import StoredEvent

    return StoredEvent(originator_id, version, topic, state)


def _decode_state(state: bytes, named: dict[str, Any]) -> dict[str, Any]:
    """An event's stored state as the library's transcoder would decode it. Transcoded
    values are nearly always top-level fields (times, ids), so those are decoded first;
    the whole structure is walked only if the state holds more of them than that."""
    fields = msgspec.json.decode(state)
    expected = state.count(b'"_type_"')
    if not expected:
        return fields
    for k, v in fields.items():
        if type(v) is dict and len(v) == 2 and "_type_" in v and "_data_" in v:
            data = v["_data_"]
            if type(data) in (dict, list):
                return _decode(fields, named)  # nested transcodings: the general way
            fields[k] = named[v["_type_"]].decode(data)
            expected -= 1
    return fields if expected == 0 else _decode(fields, named)


def _decode(value: Any, named: dict[str, Any]) -> Any:
    """Undo the library's JSON transcoding: ``{"_type_": name, "_data_": data}`` objects
    become the registered type's values, everywhere in the structure."""
    if isinstance(value, dict):
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            return named[value["_type_"]].decode(_decode(value["_data_"], named))
        for k, v in value.items():
            if isinstance(v, (dict, list)):
                value[k] = _decode(v, named)
        return value
    if isinstance(value, list):
        return [_decode(v, named) if isinstance(v, (dict, list)) else v for v in value]
    return value


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

"""Dead letters: the messages a service's inbox could not take, kept in its own database.

A message that cannot be decoded, is of a contract version this code does not know, or
makes its handler fail every time (shared/messaging/faults.py) is recorded here with the
position past it, in one transaction: the consumer moves on, and a crash between the
two can neither lose the message nor record it twice. An operator lists them and
replays them (launcher/dead_letters.py) once their cause is fixed.

One table per service, ``<app>_dead_letters`` beside its events and tracking records
(``dead_letters`` in an embedded SQLite file; a list beside the store's own in memory):

    id, topic, "partition", "offset", key, value   where the message was, as it was
    reason        undecodable | unknown_contract | invalid_contract | handler_failed
    error         what the decoder or the handler said
    recorded_at   when it was dead-lettered (the service's clock)
    replayed_at   when an operator replayed it last; NULL: never
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from eventsourcing.persistence import ProcessRecorder, Tracking
from eventsourcing.popo import POPOProcessRecorder
from eventsourcing.postgres import PostgresProcessRecorder
from eventsourcing.sqlite import SQLiteProcessRecorder

# Why a message was dead-lettered.
UNDECODABLE = "undecodable"  # no value, or not a JSON object
UNKNOWN_CONTRACT = "unknown_contract"  # a type (name and version) this code does not know
INVALID_CONTRACT = "invalid_contract"  # a known type whose fields do not match it
HANDLER_FAILED = "handler_failed"  # the handler raised every time it was tried

COLUMNS = ('id, topic, "partition", "offset", key, value, reason, error, recorded_at,'
           ' replayed_at')


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str
    error: str
    recorded_at: datetime
    id: int = 0  # given by the store
    replayed_at: datetime | None = None

    def value_text(self, limit: int | None = None) -> str:
        """The value for people to read: UTF-8, other bytes escaped (``\\xff``)."""
        text = "" if self.value is None else self.value.decode("utf-8", "backslashreplace")
        return text if limit is None or len(text) <= limit else text[:limit] + "…"


class DeadLetters(Protocol):
    def record(self, letter: DeadLetter, passed: Tracking) -> None:
        """The letter and the position past it, in one transaction. IntegrityError when
        the position is there already: the message was passed before (a redelivery)."""

    def listed(self, pending_only: bool = True, limit: int = 100) -> list[DeadLetter]:
        """Newest first; ``pending_only``: those never replayed."""

    def get(self, letter_id: int) -> DeadLetter | None: ...

    def mark_replayed(self, letter_id: int, at: datetime) -> None: ...


def dead_letters_of(recorder: ProcessRecorder) -> DeadLetters:
    """The dead letters kept beside this store's tracking records (created if missing)."""
    if isinstance(recorder, PostgresProcessRecorder):
        return SqlDeadLetters(recorder, POSTGRES)
    if isinstance(recorder, SQLiteProcessRecorder):
        return SqlDeadLetters(recorder, SQLITE)
    if isinstance(recorder, POPOProcessRecorder):
        return MemoryDeadLetters(recorder)
    raise TypeError(f"no dead letters for a {type(recorder).__name__}")


@dataclass(frozen=True)
class Dialect:
    create: str
    insert: str
    placeholder: str
    times_as_text: bool = False  # SQLite has no time type: ISO 8601 text

    def time(self, at: datetime) -> Any:
        return at.isoformat() if self.times_as_text else at

    def table(self, recorder: Any) -> str:
        if self is POSTGRES:  # named as the library names the service's other tables
            prefix = recorder.events_table_name.removesuffix("events")
            return f'"{recorder.datastore.schema}"."{prefix}dead_letters"'
        return "dead_letters"  # a service's own SQLite file


POSTGRES = Dialect(
    create=('CREATE TABLE IF NOT EXISTS {t} (id bigserial PRIMARY KEY, topic text NOT NULL,'
            ' "partition" int NOT NULL, "offset" bigint NOT NULL, key bytea, value bytea,'
            ' reason text NOT NULL, error text NOT NULL, recorded_at timestamptz NOT NULL,'
            ' replayed_at timestamptz, UNIQUE (topic, "partition", "offset"))'),
    # A message dead-lettered again (its position lost with a database that went back)
    # is there already: only the position is written.
    insert=('INSERT INTO {t} (topic, "partition", "offset", key, value, reason, error,'
            ' recorded_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING'),
    placeholder="%s",
)
SQLITE = Dialect(
    create=('CREATE TABLE IF NOT EXISTS {t} (id INTEGER PRIMARY KEY AUTOINCREMENT,'
            ' topic TEXT NOT NULL, "partition" INTEGER NOT NULL, "offset" INTEGER NOT NULL,'
            ' key BLOB, value BLOB, reason TEXT NOT NULL, error TEXT NOT NULL,'
            ' recorded_at TEXT NOT NULL, replayed_at TEXT,'
            ' UNIQUE (topic, "partition", "offset"))'),
    insert=('INSERT OR IGNORE INTO {t} (topic, "partition", "offset", key, value, reason,'
            ' error, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    placeholder="?",
    times_as_text=True,
)


class SqlDeadLetters:
    """In the service's PostgreSQL database, or its SQLite file (the embedded runtime)."""

    def __init__(self, recorder: Any, dialect: Dialect) -> None:
        self.recorder, self.dialect = recorder, dialect
        self.table = dialect.table(recorder)
        with recorder.datastore.transaction(commit=True) as curs:
            curs.execute(dialect.create.format(t=self.table))

    def record(self, letter: DeadLetter, passed: Tracking) -> None:
        with self.recorder.datastore.transaction(commit=True) as curs:
            curs.execute(self.dialect.insert.format(t=self.table), (
                letter.topic, letter.partition, letter.offset, letter.key, letter.value,
                letter.reason, letter.error, self.dialect.time(letter.recorded_at)))
            self.recorder._insert_tracking(curs, passed)  # in the same transaction
            check_server = getattr(self.recorder, "check_server", None)
            if check_server is not None:  # shared/recorder.py: not after a lost write
                check_server(curs)

    def listed(self, pending_only: bool = True, limit: int = 100) -> list[DeadLetter]:
        where = " WHERE replayed_at IS NULL" if pending_only else ""
        return self._select(f"{where} ORDER BY id DESC LIMIT {int(limit)}", ())

    def get(self, letter_id: int) -> DeadLetter | None:
        found = self._select(f" WHERE id = {self.dialect.placeholder}", (letter_id,))
        return found[0] if found else None

    def mark_replayed(self, letter_id: int, at: datetime) -> None:
        p = self.dialect.placeholder
        with self.recorder.datastore.transaction(commit=True) as curs:
            curs.execute(f"UPDATE {self.table} SET replayed_at = {p} WHERE id = {p}",
                         (self.dialect.time(at), letter_id))

    def _select(self, rest: str, params: Sequence[Any]) -> list[DeadLetter]:
        with self.recorder.datastore.transaction(commit=False) as curs:
            curs.execute(f"SELECT {COLUMNS} FROM {self.table}{rest}", params)
            return [_letter(row) for row in curs.fetchall()]


def _letter(row: Any) -> DeadLetter:
    """From a row (a dict from psycopg, a sqlite3.Row): SQLite gives bytes and times back
    as it was given them, so only the key's and value's types are made certain."""
    get = row.__getitem__
    recorded, replayed = get("recorded_at"), get("replayed_at")
    return DeadLetter(
        id=int(get("id")), topic=get("topic"), partition=int(get("partition")),
        offset=int(get("offset")), key=_bytes(get("key")), value=_bytes(get("value")),
        reason=get("reason"), error=get("error"),
        recorded_at=_time(recorded), replayed_at=None if replayed is None else _time(replayed),
    )


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


class MemoryDeadLetters:
    """Beside an in-memory store: kept on the recorder, so a service restarted on the
    same store (the embedded runtime's crashes) finds them, as it finds its events."""

    def __init__(self, recorder: POPOProcessRecorder) -> None:
        self.recorder = recorder
        if not hasattr(recorder, "dead_letters"):
            recorder.dead_letters = []  # type: ignore[attr-defined]
        self.rows: list[DeadLetter] = recorder.dead_letters  # type: ignore[attr-defined]
        self._lock: threading.RLock = recorder._database_lock  # its transaction

    def record(self, letter: DeadLetter, passed: Tracking) -> None:
        with self._lock:
            self.recorder._assert_tracking_uniqueness(passed)
            if not any((r.topic, r.partition, r.offset) == (letter.topic, letter.partition,
                                                            letter.offset) for r in self.rows):
                self.rows.append(replace(letter, id=len(self.rows) + 1))
            self.recorder._insert_tracking(passed)

    def listed(self, pending_only: bool = True, limit: int = 100) -> list[DeadLetter]:
        with self._lock:
            rows = [r for r in reversed(self.rows) if not (pending_only and r.replayed_at)]
        return rows[:limit]

    def get(self, letter_id: int) -> DeadLetter | None:
        with self._lock:
            return next((r for r in self.rows if r.id == letter_id), None)

    def mark_replayed(self, letter_id: int, at: datetime) -> None:
        with self._lock:
            self.rows[:] = [replace(r, replayed_at=at) if r.id == letter_id else r
                            for r in self.rows]


"""The base of each service's application: commands plus a policy for others' events.

Processing public events and recording their tracking position happen in one
transaction (the inbox), so a redelivered message is recognised by its position
and has no second effect. Republished copies (new positions) are absorbed by the
domain, whose reactions are idempotent. A run of messages from one partition is
processed in one transaction (``handle_batch``): under load, one commit serves many
messages instead of one each.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import singledispatchmethod
from typing import Any, ClassVar

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    Cache,
    LRUCache,
    ProcessingEvent,
)
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    InternalError,
    OperationalError,
    ProcessRecorder,
    ProgrammingError,
    Tracking,
)
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.utils import EnvType
from psycopg import sql

from shared.clock import Clock, SystemClock
from shared.config import Tuning
from shared.contracts import PublicEvent
from shared.recorder import StoreDiverged
from shared.services import spec

# Errors after which the store may not hold what this process believes it wrote (or
# holds what it believes failed): a lost connection leaves a commit's outcome unknown.
STORE_IN_DOUBT = (StoreDiverged, OperationalError, InterfaceError)

CREATE_TABLE_TRIES = 5  # see ServiceApplication.__init__


class PrivateTopics:
    """Topics of stored events that have no public contract. The services' to_public
    decide by an event's class alone (a class is public or it is not), so one event of a
    topic tells for all, and readers skip the rest without decoding them: about half of
    what a service stores (payment: three events in four). A mapping that looked at an
    event's content would have to stop this; the views' ``verify``, which reads through
    the library's own mapper without it, would show the difference."""

    def __init__(self) -> None:
        self._topics: set[str] = set()

    def __contains__(self, topic: str) -> bool:
        return topic in self._topics

    def learn(self, topic: str, public: PublicEvent | None) -> None:
        if public is None:
            self._topics.add(topic)


class ServiceApplication(Application):
    service: ClassVar[str]  # its name in the registry (shared.services)
    # Consecutive write conflicts tolerated before giving up (another writer won).
    MAX_CONFLICT_RETRIES: ClassVar[int] = 5
    # Aggregates stay in memory between messages instead of being loaded from the store
    # for each one (a hot show has thousands of events). The cache is updated by this
    # process's own writes, not fast-forwarded from the store: a copy made stale by
    # another writer can only lose the version check on save, and is then dropped.
    env: ClassVar[dict[str, str]] = {
        "AGGREGATE_CACHE_MAXSIZE": str(Tuning.aggregate_cache),
        "AGGREGATE_CACHE_FASTFORWARD": "n",
    }

    def __init__(
        self,
        env: EnvType | None = None,
        clock: Clock | None = None,
        recorder: ProcessRecorder | None = None,
    ) -> None:
        # A given recorder lets a restarted in-memory service find its old store.
        self._given_recorder = recorder
        for attempt in range(1, CREATE_TABLE_TRIES + 1):
            try:
                super().__init__(env)
                break
            except (IntegrityError, ProgrammingError, InternalError):
                # Instances of a service started together race to create its tables, and
                # PostgreSQL's CREATE TABLE IF NOT EXISTS does not wait for a concurrent
                # one: the loser fails ("already exists", a unique violation on pg_type,
                # "tuple concurrently updated"). A later try finds the tables made.
                if attempt == CREATE_TABLE_TRIES:
                    raise
                time.sleep(random.uniform(0.05, 0.3) * attempt)
        self.recorder: ProcessRecorder
        self.clock = clock or SystemClock()
        # One writer at a time inside a process: commands and reactions never race.
        # Take it with writing(), not directly.
        self.write_lock = threading.RLock()
        # The batch being decided by this thread: later messages of a batch must see
        # the aggregates earlier ones changed (not yet saved), not the stored versions.
        self._deciding = threading.local()
        self._private_topics = PrivateTopics()
        # Moves on whenever what this process kept in memory was dropped because the store
        # may have gone back; the consumer then rewinds to the positions recorded there.
        self.store_epoch = 0
        if hasattr(self.recorder, "on_diverged"):
            self.recorder.on_diverged = self.reload_from_store

    @property
    def subscribes_to(self) -> tuple[str, ...]:
        """The services whose events it reacts to, as the registry declares."""
        return spec(self.service).subscribes_to

    def construct_recorder(self) -> ProcessRecorder:
        return self._given_recorder or self.factory.process_recorder()

    def to_public(self, domain_event: Any) -> PublicEvent | None:
        """The public contract of one of this service's domain events, if it has one."""
        raise NotImplementedError

    def public_of(self, notification: Any) -> PublicEvent | None:
        """The public contract of a stored event, if it has one (a topic found to have
        none is not decoded again: PrivateTopics)."""
        if notification.topic in self._private_topics:
            return None
        public = self.to_public(self.mapper.to_domain_event(notification))
        self._private_topics.learn(notification.topic, public)
        return public

    @singledispatchmethod
    def policy(self, message: PublicEvent, processing: ProcessingEvent) -> None:
        """Reactions to other services' events; events a service does not need are ignored."""

    def aggregate_of(self, message: Any) -> Aggregate | None:
        """The aggregate a message is about, for ``_react``; None when there is none to
        react with (booking: a booking not ours; inventory: a show not open). Payment
        makes a new one for a booking's first message."""
        raise NotImplementedError

    def reacted(self, aggregate: Any) -> None:
        """Hook after each reaction of ``_react``, before its events are collected."""

    def _react(self, message: PublicEvent, processing: ProcessingEvent,
               react: Callable[[Any], object]) -> None:
        """The usual policy handler: the aggregate the message is about reacts, and its
        new events are collected to be recorded with the message's position."""
        aggregate = self.aggregate_of(message)
        if aggregate is not None:
            react(aggregate)
            self.reacted(aggregate)
            processing.collect_events(aggregate)

    def handle(self, message: PublicEvent, tracking: Tracking | None = None) -> bool:
        """Process one message and record its position atomically.
        Returns False when the position was recorded before (a redelivery)."""
        return self.handle_batch([(message, tracking)], record=True) is not False

    def handle_batch(
        self, messages: Sequence[tuple[PublicEvent | None, Tracking | None]], record: bool = True
    ) -> bool | None:
        """Process consecutive messages of one partition in one transaction, recorded at
        the last one's position. ``None`` stands for an unreadable message (skipped).

        When the messages cause no events and ``record`` is False, nothing is written and
        None is returned: the position is left for a later batch to record (replaying
        messages a service ignores is harmless). True: processed and recorded. False: the
        position had been recorded before (a redelivery)."""
        tracking = messages[-1][1]
        for attempt in range(self.MAX_CONFLICT_RETRIES):
            with self.writing():
                processing: ProcessingEvent[Any] = ProcessingEvent(tracking)
                self._deciding.processing = processing
                try:
                    for message, _ in messages:
                        if message is not None:
                            self.policy(message, processing)
                finally:
                    self._deciding.processing = None
                if not processing.events and not record:
                    return None
                try:
                    recordings = self._record(processing)
                except IntegrityError:
                    self._forget(processing.aggregates)
                    if tracking is not None and self.already_processed(tracking):
                        return False
                    if len(messages) > 1:  # part of it was done before: one at a time
                        for message, position in messages:
                            if message is not None:
                                self.handle(message, position)
                        return True
                    if attempt + 1 == self.MAX_CONFLICT_RETRIES:
                        raise
                    continue  # another process wrote the aggregate: decide again
                self._take_snapshots(processing)
                self._notify(recordings)
                self.recorded(processing.aggregates.values())
                return True
        raise AssertionError("unreachable")

    @contextmanager
    def writing(self) -> Iterator[None]:
        """The write lock. Inside it, find() hands out the cached aggregates themselves,
        not copies (a deep copy per message cost more than deciding it): one writer at a
        time uses them. A write that fails drops whatever it read from the cache, since
        those objects may hold changes that were never stored."""
        with self.write_lock:
            if getattr(self._deciding, "touched", None) is not None:  # re-entered
                yield
                return
            touched: set[Any] = set()
            self._deciding.touched = touched
            try:
                yield
            except STORE_IN_DOUBT:
                self.reload_from_store()
                raise
            except BaseException:
                self._forget(touched)
                raise
            finally:
                self._deciding.touched = None

    def _record(self, processing_event: ProcessingEvent) -> list[Any]:
        """Inside writing(), as the library does: store, then update the cache. Outside it
        (a new booking, written without the lock), store only. The cache is changed by
        the lock's holder alone: an unlocked put after the commit could land after a
        writer had loaded and moved the aggregate on, and replace its newer copy with
        this older one; a reaction decided on that copy can be a silent no-op, and its
        message is lost (seen once: a booking left PAYMENT_PENDING, paid and booked)."""
        if getattr(self._deciding, "touched", None) is not None:
            return super()._record(processing_event)
        return self.events.put(processing_event.events, tracking=processing_event.tracking,
                               **processing_event.saved_kwargs)

    def find_current(self, aggregate_id: Any) -> Any | None:
        """For a customer's command, inside writing(): the aggregate as stored now. Any
        instance takes commands, but only the one that follows the aggregate's partition
        keeps its cached copy current; another's copy, cached by an earlier command of its
        own, may be behind, and a command refused on it is refused wrongly (a retry while
        "an attempt is still in progress" that failed meanwhile). Commands are rare next
        to messages: one read of the store each."""
        self._forget([aggregate_id])
        return self.find(aggregate_id)

    def _forget(self, aggregates: Iterable[Any]) -> None:
        """Drop cached copies that lost a write conflict: the store has a newer version."""
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate_id in aggregates:
            try:
                cache.get(aggregate_id, evict=True)
            except KeyError:
                pass

    def take_snapshot(self, aggregate_id: Any, version: int | None = None, *args: Any,
                      **kwargs: Any) -> None:
        """As the library does, then delete the aggregate's older snapshots. Only the
        latest is read (a load at an older version replays events instead), and a hot
        show takes one every 50 events, which would otherwise pile up. A crash in
        between leaves one extra, deleted with the next."""
        super().take_snapshot(aggregate_id, version, *args, **kwargs)
        recorder = self.snapshots.recorder if self.snapshots is not None else None
        if isinstance(recorder, PostgresAggregateRecorder):
            table = sql.Identifier(recorder.datastore.schema, recorder.events_table_name)
            with recorder.datastore.transaction(commit=True) as curs:
                curs.execute(sql.SQL(
                    "DELETE FROM {t} WHERE originator_id = %(id)s AND originator_version < "
                    "(SELECT max(originator_version) FROM {t} WHERE originator_id = %(id)s)"
                ).format(t=table), {"id": aggregate_id})

    def already_processed(self, tracking: Tracking) -> bool:
        last = self.recorder.max_tracking_id(tracking.application_name)
        return last is not None and last >= tracking.notification_id

    def save_all(self, *aggregates: Aggregate) -> int:
        """Store the aggregates' new events; returns the position of the last one in
        this service's event sequence (0 when there were none): a reader of the views
        that waits for it sees this write."""
        recordings = self.save(*aggregates)
        self.recorded(aggregates)
        return max((r.notification.id for r in recordings), default=0)

    def recorded(self, aggregates: Iterable[Any]) -> None:
        """Hook after a successful write, e.g. to index deadlines."""

    def reload_from_store(self) -> None:
        """After a lost connection, a commit whose outcome is unknown, or a database
        server that restarted: whatever this process keeps in memory may be ahead of the
        store, or behind it. It is handled as if this instance had just been given its
        partitions: cached aggregates dropped, what was learned from messages forgotten,
        and the consumer rewinds to the positions the store recorded (``store_epoch``)."""
        self.store_epoch += 1
        self.partitions_revoked()
        self.partitions_assigned()

    def partitions_assigned(self) -> None:
        """This instance now follows partitions another may have followed until now, and
        that one may have moved their aggregates on: the cached copies are dropped (a
        reaction decided on an older copy can be a silent no-op, as in ``_record``)."""
        cache = self.repository.cache
        if cache is not None:
            with self.write_lock:  # a new, empty one: LRUCache.clear() keeps the entries
                self.repository.cache = (LRUCache(cache.maxsize) if isinstance(cache, LRUCache)
                                         else Cache())

    def partitions_revoked(self) -> None:
        """Hook: this instance no longer follows some partitions, so what it learned from
        their messages (not from its own store) will no longer be kept up to date."""

    def find_as_created(self, aggregate_id: Any) -> Any | None:
        """The aggregate as its first event made it, read from the store: what a query
        answers before the views have the aggregate. Never ahead of any view (a view
        starts from that event and only moves on), so a client that reads here first and
        from a view next never sees the aggregate go back, as it could if this answered
        the latest version while the views lag (a projector catching up, say)."""
        try:
            return self.repository.get(aggregate_id, version=1)
        except AggregateNotFoundError:
            return None

    def find(self, aggregate_id: Any) -> Any | None:
        deciding = getattr(self._deciding, "processing", None)
        if deciding is not None and aggregate_id in deciding.aggregates:
            return deciding.aggregates[aggregate_id]
        touched = getattr(self._deciding, "touched", None)
        try:
            if touched is None:
                # A reader, outside writing(): a copy of its own, taken while no writer
                # is changing the cached object (a copy made mid-change could fail or be
                # torn). Such reads are rare: queries are served by the views.
                with self.write_lock:
                    return self.repository.get(aggregate_id)
            touched.add(aggregate_id)
            return self.repository.get(aggregate_id, deepcopy_from_cache=False)
        except AggregateNotFoundError:
            return None

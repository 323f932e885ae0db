"""The base of each service's application: its store, its public events, its commands'
writes, and (through its bases) its cached aggregates and its reactions to others."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from copy import deepcopy
from typing import Any, ClassVar, Generic, NamedTuple, TypeVar

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Notification, ProcessRecorder
from eventsourcing.utils import EnvType

from shared.clock import Clock, SystemClock
from shared.config import Tuning
from shared.contracts import PublicEvent
from shared.messaging.dead_letters import DeadLetters, dead_letters_of
from shared.observability import decisions, tracing
from shared.private_topics import PrivateTopics
from shared.reactions import ReactingApplication
from shared.recorder import prune_older_snapshots
from shared.services import spec
from shared.tables import racing_to_create_tables

T = TypeVar("T")
_LATEST = 2**62  # a version past any: Repository.get reads the store, not the cache


class Written(NamedTuple, Generic[T]):
    """What a command decided (a copy: the cached objects stay with the writers)."""
    result: T
    position: int | None  # its write's place in the service's event sequence; None: no write


class ServiceApplication(ReactingApplication):
    service: ClassVar[str]  # its name in the registry (shared.services)
    # The cache's size; never fast-forwarded from the store (shared.aggregate_cache: why).
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
        racing_to_create_tables(lambda: self._construct(env))
        self.recorder: ProcessRecorder
        self.dead_letters: DeadLetters
        self.clock = clock or SystemClock()
        self.start_caching()
        self._private_topics = PrivateTopics()
        self.recent_traces = tracing.RecentTraces()  # for work outside requests and messages
        if hasattr(self.recorder, "on_diverged"):
            self.recorder.on_diverged = self.reload_from_store

    def _construct(self, env: EnvType | None) -> None:
        super().__init__(env)
        # The messages its inbox could not take, beside its tracking records.
        self.dead_letters = dead_letters_of(self.recorder)

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
        return self.published(notification)[0]

    def published(self, notification: Any) -> tuple[PublicEvent | None, str | None]:
        """``public_of``, and the trace the stored event names (tracing.stamp)."""
        if notification.topic in self._private_topics:
            return None, None
        event = self.mapper.to_domain_event(notification)
        return self.public_of_event(notification.topic, event), tracing.stamped(event)

    def _record(self, processing_event: ProcessingEvent) -> list[Any]:
        """Events decided within a sampled request or follow-up (not a message's: those
        are stamped as each message is handled) name its trace."""
        if tracing.enabled():
            tracing.stamp(processing_event.events, tracing.current_traceparent())
        return super()._record(processing_event)

    def _notify(self, recordings: list[Any]) -> None:
        """After every committed write: its public events are the decisions observed."""
        super()._notify(recordings)
        for recording in recordings:
            event = recording.domain_event
            traceparent = tracing.stamped(event)
            if traceparent is not None:
                for key in self.traced_as(event):
                    self.recent_traces.remember(key, traceparent)
            public = self.public_of_event(recording.notification.topic, event)
            if public is not None:
                decisions.decided(self.service, public, tracing.trace_id_of(traceparent))

    def traced_as(self, domain_event: Any) -> tuple[Any, ...]:
        """What a stamped event's trace is remembered under: its aggregate, which here is
        one booking's (a service whose aggregates serve many bookings names the booking)."""
        return (domain_event.originator_id,)

    def trace_of(self, aggregate_id: Any) -> str | None:
        """The trace an aggregate's latest sampled event named, for work on it outside
        any request or message: as remembered, else as its latest stored event says (it
        was written by another instance, or before a restart)."""
        if not tracing.enabled():
            return None
        found = self.recent_traces.of(aggregate_id)
        if found is None:
            latest = self.recorder.select_events(aggregate_id, desc=True, limit=1)
            if latest:
                found = tracing.stamped(self.mapper.to_domain_event(latest[0]))
        return found

    def public_of_event(self, topic: str, domain_event: Any) -> PublicEvent | None:
        """``public_of`` for an event at hand (nothing to decode)."""
        if topic in self._private_topics:
            return None
        public = self.to_public(domain_event)
        self._private_topics.learn(topic, public)
        return public

    def save_all(self, *aggregates: Aggregate) -> int:
        """Store the aggregates' new events; returns the position of the last one in
        this service's event sequence (0 when there were none): a reader of the views
        that waits for it sees this write."""
        recordings = self.save(*aggregates)
        self.recorded(aggregates)
        return max((r.notification.id for r in recordings), default=0)

    def write(self, decide: Callable[[], tuple[T, Sequence[Aggregate]]]) -> Written[T]:
        """A command: decide on the aggregates as stored now and save what changed in one
        write; decide again if another writer changed one of them meanwhile."""
        for attempt in range(1, self.MAX_CONFLICT_RETRIES + 1):
            try:
                with self.writing():
                    result, changed = decide()
                    position = self.save_all(*changed) if changed else 0
                    return Written(deepcopy(result), position or None)
            except IntegrityError:
                if attempt == self.MAX_CONFLICT_RETRIES:
                    raise
        raise AssertionError("unreachable")

    def take_snapshot(self, aggregate_id: Any, version: int | None = None, *args: Any,
                      **kwargs: Any) -> None:
        """As the library does, then delete the aggregate's older snapshots: only the
        latest is read, and a hot show takes one every 50 events."""
        super().take_snapshot(aggregate_id, version, *args, **kwargs)
        if self.snapshots is not None:
            prune_older_snapshots(self.snapshots.recorder, aggregate_id)

    def notifications(self, *topics: str, after: int = 0) -> Iterator[Notification]:
        """Every stored event of these topics after a position, in order, read page by page."""
        while True:
            page = self.recorder.select_notifications(start=after + 1, limit=500,
                                                      topics=topics)
            yield from page
            if len(page) < 500:
                return
            after = page[-1].id

    def find_stored(self, aggregate_id: Any) -> Any | None:
        """The aggregate as stored now, read past this process's cache: that follows only
        the aggregates of this instance's partitions, and a query may be about any."""
        try:
            return self.repository.get(aggregate_id, version=_LATEST)
        except AggregateNotFoundError:
            return None

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

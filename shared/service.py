"""The base of each service's application: commands plus a policy for others' events.

Processing a public event and recording its tracking position happen in one
transaction (the inbox), so a redelivered message is recognised by its position
and has no second effect. Republished copies (new positions) are absorbed by the
domain, whose reactions are idempotent.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from functools import singledispatchmethod
from typing import Any, ClassVar

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, ProcessRecorder, Tracking
from eventsourcing.utils import EnvType

from shared.clock import Clock, SystemClock
from shared.contracts import PublicEvent


class ServiceApplication(Application):
    service: ClassVar[str]
    subscribes_to: ClassVar[tuple[str, ...]] = ()  # services whose events it reacts to
    # Consecutive write conflicts tolerated before giving up (another writer won).
    MAX_CONFLICT_RETRIES: ClassVar[int] = 5

    def __init__(
        self,
        env: EnvType | None = None,
        clock: Clock | None = None,
        recorder: ProcessRecorder | None = None,
    ) -> None:
        # A given recorder lets a restarted in-memory service find its old store.
        self._given_recorder = recorder
        super().__init__(env)
        self.recorder: ProcessRecorder
        self.clock = clock or SystemClock()
        # One writer at a time inside a process: commands and reactions never race.
        self.write_lock = threading.RLock()
        # Set after every write, so that the outbox relay wakes at once instead of polling.
        self.new_events = threading.Event()

    def construct_recorder(self) -> ProcessRecorder:
        return self._given_recorder or self.factory.process_recorder()

    def to_public(self, domain_event: Any) -> PublicEvent | None:
        """The public contract of one of this service's domain events, if it has one."""
        raise NotImplementedError

    @singledispatchmethod
    def policy(self, message: PublicEvent, processing: ProcessingEvent) -> None:
        """Reactions to other services' events; events a service does not need are ignored."""

    def handle(self, message: PublicEvent, tracking: Tracking | None = None) -> bool:
        """Process one message and record its position atomically.
        Returns False when the position was recorded before (a redelivery)."""
        for attempt in range(self.MAX_CONFLICT_RETRIES):
            with self.write_lock:
                processing = ProcessingEvent(tracking)
                self.policy(message, processing)
                try:
                    recordings = self._record(processing)
                except IntegrityError:
                    if tracking is not None and self.already_processed(tracking):
                        return False
                    if attempt + 1 == self.MAX_CONFLICT_RETRIES:
                        raise
                    continue  # another process wrote the aggregate: decide again
                self._take_snapshots(processing)
                self._notify(recordings)
                self.recorded(processing.aggregates.values())
                if recordings:
                    self.new_events.set()
                return True
        raise AssertionError("unreachable")

    def already_processed(self, tracking: Tracking) -> bool:
        last = self.recorder.max_tracking_id(tracking.application_name)
        return last is not None and last >= tracking.notification_id

    def save_all(self, *aggregates: Aggregate) -> None:
        self.save(*aggregates)
        self.recorded(aggregates)
        self.new_events.set()

    def recorded(self, aggregates: Iterable[Any]) -> None:
        """Hook after a successful write, e.g. to index deadlines."""

    def find(self, aggregate_id: Any) -> Any | None:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

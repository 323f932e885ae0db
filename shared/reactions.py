"""How a service reacts to other services' public events: its policy, run over runs of
messages of one partition, each run in one transaction with its position (or, for a
service that gathers them, the runs of several partitions in one transaction with their
positions).

Processing public events and recording their tracking position happen in one
transaction (the inbox), so a redelivered message is recognised by its position and has
no second effect. Republished copies (new positions) are absorbed by the domain, whose
reactions are idempotent. Under load one commit serves many messages instead of one each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import singledispatchmethod
from typing import Any, ClassVar

from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, ProcessRecorder, Tracking

from shared.aggregate_cache import CachedAggregates
from shared.contracts import PublicEvent
from shared.observability.messaging import handling


class ReactingApplication(CachedAggregates):
    recorder: ProcessRecorder  # its inbox's positions are stored with its events
    service: ClassVar[str]  # its name in the registry (shared.services)
    # Consecutive write conflicts tolerated before giving up (another writer won).
    MAX_CONFLICT_RETRIES: ClassVar[int] = 5
    # None: each partition's messages are decided as soon as they come, in a transaction
    # of their own (the saga waits on every hop). A number: what nothing waits for may
    # gather messages this many seconds, and decide all those of a poll, whatever their
    # partitions, in one transaction (shared/messaging/kafka.py).
    gather_s: float | None = None

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
        """Process consecutive messages of one partition (or of several: each partition's
        in its order) in one transaction, recorded at the last one's position of each
        partition. ``None`` stands for an unreadable message (skipped).

        When the messages cause no events and ``record`` is False, nothing is written and
        None is returned: the position is left for a later batch to record (replaying
        messages a service ignores is harmless). True: processed and recorded. False: the
        position had been recorded before (a redelivery)."""
        # The last position of each partition, the batch's last one last.
        last = {t.application_name: t for _, t in messages if t is not None}
        tracking = messages[-1][1]
        more = [t for t in last.values() if t is not tracking]
        for attempt in range(self.MAX_CONFLICT_RETRIES):
            with self.writing():
                processing: ProcessingEvent[Any] = ProcessingEvent(tracking)
                if more:
                    processing.saved_kwargs["trackings"] = more
                self._deciding.processing = processing
                try:
                    for message, position in messages:
                        if message is not None:
                            with handling(self.service, message, processing, position):
                                self.policy(message, processing)
                finally:
                    self._deciding.processing = None
                if not processing.events and not record:
                    return None
                try:
                    recordings = self._record(processing)
                except IntegrityError:
                    self._forget(processing.aggregates)
                    if not more and tracking is not None and self.already_processed(tracking):
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

    def already_processed(self, tracking: Tracking) -> bool:
        last = self.recorder.max_tracking_id(tracking.application_name)
        return last is not None and last >= tracking.notification_id

    def recorded(self, aggregates: Iterable[Any]) -> None:
        """Hook after a successful write, e.g. to index deadlines."""

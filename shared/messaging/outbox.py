"""The outbox relay: a service's notification log, published in order.

The event store is the outbox: events are recorded once, in one transaction with
whatever caused them; the relay then publishes the public ones and records how
far it got. A crash between publishing and recording publishes a range twice
(consumers absorb that); nothing is ever lost or reordered.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from eventsourcing.persistence import IntegrityError, Tracking

from shared.contracts import encode
from shared.observability import messaging, tracing
from shared.service import ServiceApplication

log = logging.getLogger(__name__)


class Publisher(Protocol):
    def publish(self, topic: str, key: str, value: bytes, *,
                headers: tracing.Headers | None = None) -> None: ...

    def flush(self) -> None:
        """Block until everything published so far is acknowledged, or raise."""


class OutboxRelay:
    POSITION = "outbox"  # tracking name under which the relay records its position

    def __init__(
        self, app: ServiceApplication, publisher: Publisher, topic: str, batch_size: int = 500,
        record_every: float = 0.0,
    ) -> None:
        self.app = app
        self.publisher = publisher
        self.topic = topic
        self.batch_size = batch_size
        # The position is written at most this often (seconds): under load one write
        # serves many batches. A crash republishes what was published since (absorbed).
        self.record_every = record_every
        self._position: int | None = None
        # Whether the last read returned less than a full batch: nothing more was stored
        # when it ran, so the loop can wait for a write instead of reading again at once.
        self.caught_up = False
        self._recorded = 0
        self._recorded_at = float("-inf")

    @property
    def position(self) -> int:
        """The last notification id known to be published."""
        if self._position is None:
            self._position = self._recorded = self.app.recorder.max_tracking_id(self.POSITION) or 0
        return self._position

    def forget_position(self) -> None:
        """After a failure: read the position from the store again before going on."""
        self._position = None

    def publish_next(self) -> int | None:
        """Publish the next batch; return the last notification id it covered."""
        notifications = self.app.recorder.select_notifications(
            start=self.position + 1, limit=self.batch_size
        )
        self.caught_up = len(notifications) < self.batch_size
        if not notifications:
            return None
        published = 0
        for n in notifications:
            public, traceparent = self.app.published(n)
            if public is not None:
                headers = (tracing.produced(self.topic, traceparent, type(public).__name__)
                           if traceparent else None)
                self.publisher.publish(self.topic, public.key, encode(public), headers=headers)
                published += 1
        self.publisher.flush()
        messaging.produced(self.app.service, self.topic, published)
        return notifications[-1].id

    def record(self, last_id: int) -> None:
        try:
            self.app.recorder.insert_tracking(Tracking(self.POSITION, last_id))
        except IntegrityError:
            # Someone (an earlier life of this relay) recorded as far or further: keep theirs.
            last_id = max(last_id, self.app.recorder.max_tracking_id(self.POSITION) or 0)
        self._position = self._recorded = last_id
        self._recorded_at = time.monotonic()

    def relay_once(self) -> int:
        """Publish one batch, and record how far it got when that is due; return how
        many notifications it covered."""
        before = self.position
        last = self.publish_next()
        if last is not None:
            self._position = last
        if self.position > self._recorded and (
            time.monotonic() - self._recorded_at >= self.record_every
        ):
            self.record(self.position)
        return 0 if last is None else last - before

    def record_position(self) -> None:
        """Record what was published (before a planned stop)."""
        if self._position is not None and self._position > self._recorded:
            self.record(self._position)

"""The inbox: delivers public events to a service with their positions.

Positions are ``(topic, partition)`` offsets recorded as tracking records in the
service's own database, in the same transaction as the events the message caused.
A consumer resumes from there, never from the broker's committed offsets.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from eventsourcing.persistence import IntegrityError, Tracking

from shared.contracts import ContractError, PublicEvent, decode
from shared.service import ServiceApplication

log = logging.getLogger(__name__)


def tracking_name(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


class Inbox:
    def __init__(self, app: ServiceApplication, unrecorded_limit: int = 1000) -> None:
        self.app = app
        self.poison_count = 0
        # Positions passed but not yet written, per partition: a batch that causes no
        # events is not worth a transaction of its own. Written with the next batch that
        # does, when the consumer runs dry (record_positions), or after this many messages,
        # which bounds what a restart reads again (harmlessly: those messages were ignored).
        self.unrecorded_limit = unrecorded_limit
        self._unrecorded: dict[str, tuple[int, Tracking]] = {}

    def next_offset(self, topic: str, partition: int) -> int:
        """Where to resume reading: one past the last offset processed."""
        # Offsets are recorded plus one, so that offset 0 is a position above "none".
        return self.app.recorder.max_tracking_id(tracking_name(topic, partition)) or 0

    def receive(self, topic: str, partition: int, offset: int, value: bytes) -> bool:
        """Process one message; False if it had been processed before or is unreadable."""
        return self.receive_batch(topic, partition, [(offset, value)], record=True) == 1

    def receive_batch(
        self, topic: str, partition: int, records: Sequence[tuple[int, bytes | None]],
        record: bool = False,
    ) -> int:
        """Process consecutive messages of one partition in one transaction; returns how
        many were processed now (0 for a redelivered batch)."""
        return self.receive_runs({(topic, partition): records}, record)

    def receive_runs(
        self, runs: Mapping[tuple[str, int], Sequence[tuple[int, bytes | None]]],
        record: bool = False,
    ) -> int:
        """Process consecutive messages of one or more partitions in one transaction,
        each partition's in its order; returns how many were processed now (0 for a
        redelivered batch)."""
        batch: list[tuple[PublicEvent | None, Tracking]] = []
        passed: dict[str, tuple[int, Tracking]] = {}
        for (topic, partition), records in runs.items():
            name = tracking_name(topic, partition)
            for offset, value in records:
                batch.append((self._decode(topic, offset, value), Tracking(name, offset + 1)))
            passed[name] = (self._unrecorded.pop(name, (0, None))[0] + len(records), batch[-1][1])
        full = any(n >= self.unrecorded_limit for n, _ in passed.values())
        outcome = self.app.handle_batch(batch, record=record or full)
        if outcome is None:
            self._unrecorded.update(passed)
        readable = sum(m is not None for m, _ in batch)
        return readable if outcome is not False else 0

    def _decode(self, topic: str, offset: int, value: bytes | None) -> PublicEvent | None:
        try:
            return decode(value)
        except ContractError as e:
            # A message no version of the contracts can read: park it, move on.
            self.poison_count += 1
            log.error("%s: unreadable message %s@%s: %s", self.app.name, topic, offset, e)
            return None

    def record_positions(self) -> None:
        """Write the positions passed without a transaction (when the consumer is idle)."""
        for name, (_, tracking) in list(self._unrecorded.items()):
            if not self.app.already_processed(tracking):
                try:
                    self.app.recorder.insert_tracking(tracking)
                except IntegrityError:
                    pass  # recorded meanwhile, as far or further
            self._unrecorded.pop(name, None)

    def forget_positions(self) -> None:
        """After a rewind: what was passed will be read again."""
        self._unrecorded.clear()

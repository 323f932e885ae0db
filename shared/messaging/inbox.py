"""The inbox: delivers public events to a service with their positions.

Positions are ``(topic, partition)`` offsets recorded as tracking records in the
service's own database, in the same transaction as the events the message caused.
A consumer resumes from there, never from the broker's committed offsets.

A message the service cannot take becomes a dead letter (dead_letters.py), recorded
with the position past it in one transaction, and the messages after it go on: at once
if it cannot be decoded or is of a contract version this code does not know; if its
handler fails, only once it failed ``attempts`` times alone, each time decided afresh
from the store, and only for a fault of the message (faults.py). A fault of the world
(the database gone, a conflict, a provider that does not answer) is raised: the
consumer goes back to its recorded position and tries again after a pause, for as
long as it takes, and no good message is dead-lettered for it.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from eventsourcing.persistence import IntegrityError, Tracking

from shared.contracts import AnyPublicEvent, ContractError, decode
from shared.messaging.dead_letters import HANDLER_FAILED, DeadLetter
from shared.messaging.faults import is_message_fault
from shared.observability import metrics
from shared.observability.messaging import topic_label
from shared.service import ServiceApplication

log = logging.getLogger(__name__)

ERROR_CHARS = 4000  # of a handler's traceback kept with its dead letter (the end of it)


def tracking_name(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


class Record(NamedTuple):
    """A message as the broker delivered it."""

    offset: int
    value: bytes | None
    key: bytes | None = None


class Inbox:
    def __init__(self, app: ServiceApplication, unrecorded_limit: int = 1000,
                 attempts: int = 3) -> None:
        self.app = app
        self.dead_lettered = 0  # by this inbox, since it started
        # How often a message whose handler fails is tried alone before it is dead-lettered.
        self.attempts = attempts
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

    def receive(self, topic: str, partition: int, offset: int, value: bytes | None,
                key: bytes | None = None) -> bool:
        """Process one message; False if it had been processed before or is a dead letter."""
        return self.receive_batch(topic, partition, [Record(offset, value, key)], record=True) == 1

    def receive_batch(
        self, topic: str, partition: int, records: Sequence[Record], record: bool = False,
    ) -> int:
        """Process consecutive messages of one partition, in one transaction unless one
        of them is a dead letter; returns how many were processed now (0 for a
        redelivered batch; dead letters do not count)."""
        processed = 0
        run: list[tuple[Record, AnyPublicEvent]] = []
        for r in records:
            try:
                run.append((r, decode(r.value)))
            except ContractError as e:  # those before it first: their positions come first
                processed += self._process(topic, partition, run, record)
                run = []
                self._dead_letter(topic, partition, r, e.reason, str(e))
        return processed + self._process(topic, partition, run, record)

    def receive_runs(self, runs: Mapping[tuple[str, int], Sequence[Record]],
                     record: bool = False) -> int:
        """Process the consecutive messages of several partitions, each partition's in its
        order, in one transaction (a service that gathers its messages); returns how many
        were processed now. If one of them cannot be decoded or its handler fails, they
        are processed partition by partition instead (receive_batch: its dead letters):
        nothing was written yet."""
        if len(runs) == 1:
            [((topic, partition), records)] = runs.items()
            return self.receive_batch(topic, partition, records, record)
        batch: list[tuple[AnyPublicEvent, Tracking]] = []
        passed: dict[str, tuple[int, Tracking]] = {}
        try:
            for (topic, partition), records in runs.items():
                name = tracking_name(topic, partition)
                batch.extend((decode(r.value), Tracking(name, r.offset + 1)) for r in records)
                passed[name] = (self._unrecorded.get(name, (0, None))[0] + len(records),
                                batch[-1][1])
            full = any(n >= self.unrecorded_limit for n, _ in passed.values())
            outcome = self.app.handle_batch(batch, record=record or full)
        except Exception as error:
            if not isinstance(error, ContractError) and not is_message_fault(error):
                raise
            return sum(self.receive_batch(topic, partition, records, record)
                       for (topic, partition), records in runs.items())
        for name in passed:
            self._unrecorded.pop(name, None)
        if outcome is None:
            self._unrecorded.update(passed)
        return len(batch) if outcome is not False else 0

    def _process(self, topic: str, partition: int,
                 run: list[tuple[Record, AnyPublicEvent]], record: bool) -> int:
        if not run:
            return 0
        name = tracking_name(topic, partition)
        batch = [(message, Tracking(name, r.offset + 1)) for r, message in run]
        passed = self._unrecorded.pop(name, (0, None))[0] + len(batch)
        try:
            outcome = self.app.handle_batch(
                batch, record=record or passed >= self.unrecorded_limit)
        except Exception as error:
            if not is_message_fault(error):
                raise
            # Some message of the batch fails: which, and whether every time, one by one
            # (a message alone has had its first try).
            first = error if len(run) == 1 else None
            return sum(self._process_alone(topic, partition, r, m, first) for r, m in run)
        if outcome is None:
            self._unrecorded[name] = (passed, batch[-1][1])
        return len(batch) if outcome is not False else 0

    def _process_alone(self, topic: str, partition: int, r: Record,
                       message: AnyPublicEvent, failure: Exception | None) -> int:
        """``failure``: how its first try failed, if it had one."""
        tracking = Tracking(tracking_name(topic, partition), r.offset + 1)
        for attempt in range(2 if failure else 1, self.attempts + 1):
            try:
                return int(self.app.handle(message, tracking))
            except Exception as error:
                if not is_message_fault(error):
                    raise
                failure = error
                log.warning("%s: handling %s@%s:%s failed (try %d of %d): %r", self.app.name,
                            topic, partition, r.offset, attempt, self.attempts, error)
        assert failure is not None
        error_text = "".join(traceback.format_exception(failure))[-ERROR_CHARS:]
        self._dead_letter(topic, partition, r, HANDLER_FAILED, error_text)
        return 0

    def _dead_letter(self, topic: str, partition: int, r: Record, reason: str,
                     error: str) -> None:
        name = tracking_name(topic, partition)
        self._unrecorded.pop(name, None)  # the position written with it passes those too
        # PostgreSQL's text takes no NUL, which an error may quote from the message.
        error = error.replace("\x00", "\\x00")
        letter = DeadLetter(topic=topic, partition=partition, offset=r.offset, key=r.key,
                            value=r.value, reason=reason, error=error,
                            recorded_at=self.app.clock.now())
        try:
            self.app.dead_letters.record(letter, Tracking(name, r.offset + 1))
        except IntegrityError:
            return  # passed before: a redelivery, dead-lettered the first time
        self.dead_lettered += 1
        metrics.dead_lettered(self.app.service, topic_label(topic))
        log.error("%s: dead letter %s@%s:%s (%s): %s", self.app.name, topic, partition,
                  r.offset, reason, error.strip().splitlines()[-1] if error.strip() else "")

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

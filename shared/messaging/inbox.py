"""The inbox: delivers public events to a service with their positions.

Positions are ``(topic, partition)`` offsets recorded as tracking records in the
service's own database, in the same transaction as the events the message caused.
A consumer resumes from there, never from the broker's committed offsets.
"""

from __future__ import annotations

import logging

from eventsourcing.persistence import Tracking

from shared.contracts import ContractError, decode
from shared.service import ServiceApplication

log = logging.getLogger(__name__)


def tracking_name(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


class Inbox:
    def __init__(self, app: ServiceApplication) -> None:
        self.app = app
        self.poison_count = 0

    def next_offset(self, topic: str, partition: int) -> int:
        """Where to resume reading: one past the last offset processed."""
        # Offsets are recorded plus one, so that offset 0 is a position above "none".
        return self.app.recorder.max_tracking_id(tracking_name(topic, partition)) or 0

    def receive(self, topic: str, partition: int, offset: int, value: bytes) -> bool:
        """Process one message; False if it had been processed before or is unreadable."""
        tracking = Tracking(tracking_name(topic, partition), offset + 1)
        try:
            message = decode(value)
        except ContractError as e:
            # A message no version of the contracts can read: park it, move on.
            self.poison_count += 1
            log.error("%s: unreadable message %s@%s: %s", self.app.name, topic, offset, e)
            if not self.app.already_processed(tracking):
                self.app.recorder.insert_tracking(tracking)
            return False
        return self.app.handle(message, tracking)

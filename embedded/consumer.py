"""A service's consumer on the in-memory broker, resuming from its own tracking."""

from __future__ import annotations

from embedded.broker import InMemoryBroker
from shared.messaging.inbox import Inbox, Record


class InMemoryConsumer:
    def __init__(self, inbox: Inbox, broker: InMemoryBroker, topics: list[str]) -> None:
        self.inbox = inbox
        self.broker = broker
        self.topics = topics
        self.offsets: dict[tuple[str, int], int] = {}
        self.restart()

    def restart(self) -> None:
        """What a crashed consumer does on start: positions come from the service's store."""
        self.inbox.forget_positions()
        self.offsets = {
            (t, p): self.inbox.next_offset(t, p)
            for t in self.topics
            for p in range(self.broker.partitions)
        }

    def ready(self) -> list[tuple[str, int]]:
        return [tp for tp, off in self.offsets.items() if off < self.broker.end_offset(*tp)]

    def deliver(self, topic: str, partition: int) -> bool:
        """Deliver the next message of one partition; False if none was waiting."""
        offset = self.offsets[(topic, partition)]
        if offset >= self.broker.end_offset(topic, partition):
            return False
        self.inbox.receive(topic, partition, offset, self.broker.read(topic, partition, offset),
                           self.broker.key(topic, partition, offset))
        self.offsets[(topic, partition)] = offset + 1
        return True

    def deliver_batch(self, topic: str, partition: int, most: int) -> int:
        """Deliver up to ``most`` waiting messages of a partition as one batch, as the
        Kafka consumer does under load; returns how many."""
        offset = self.offsets[(topic, partition)]
        end = min(self.broker.end_offset(topic, partition), offset + most)
        if offset >= end:
            return 0
        records = [Record(o, self.broker.read(topic, partition, o), self.broker.key(topic, partition, o))
                   for o in range(offset, end)]
        self.inbox.receive_batch(topic, partition, records)
        self.offsets[(topic, partition)] = end
        return end - offset

    def idle(self) -> None:
        """Nothing waiting: write the positions passed without a transaction."""
        self.inbox.record_positions()

    def rewind(self, topic: str, partition: int, by: int) -> None:
        """Redeliver: move the position back, as a broker may after a rebalance."""
        key = (topic, partition)
        self.offsets[key] = max(0, self.offsets[key] - by)

"""An in-memory, partitioned, append-only log with Kafka's ordering guarantees:
order within a partition, none across partitions or topics."""

from __future__ import annotations

import zlib
from collections import defaultdict


class InMemoryBroker:
    def __init__(self, partitions: int = 3) -> None:
        self.partitions = partitions
        self.logs: dict[str, list[list[tuple[str, bytes]]]] = defaultdict(
            lambda: [[] for _ in range(self.partitions)]
        )

    def partition_for(self, key: str) -> int:
        return zlib.crc32(key.encode()) % self.partitions  # stable across runs

    # Publisher protocol (shared.messaging.outbox.Publisher)
    def publish(self, topic: str, key: str, value: bytes, headers: list[tuple[str, str | bytes | None]] | None = None) -> None:
        # The in-process runtime carries no trace from one service to the next.
        self.logs[topic][self.partition_for(key)].append((key, value))

    def flush(self) -> None:
        pass

    def end_offset(self, topic: str, partition: int) -> int:
        return len(self.logs[topic][partition])

    def read(self, topic: str, partition: int, offset: int) -> bytes:
        return self.logs[topic][partition][offset][1]

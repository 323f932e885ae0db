"""An in-memory, partitioned, append-only log with Kafka's ordering guarantees:
order within a partition, none across partitions or topics."""

from __future__ import annotations

import zlib
from collections import defaultdict

from shared.observability.tracing import Headers


class InMemoryBroker:
    def __init__(self, partitions: int = 3) -> None:
        self.partitions = partitions
        self.logs: dict[str, list[list[tuple[str, bytes | None]]]] = defaultdict(
            lambda: [[] for _ in range(self.partitions)]
        )

    def partition_for(self, key: str) -> int:
        return zlib.crc32(key.encode()) % self.partitions  # stable across runs

    # Publisher protocol (shared.messaging.outbox.Publisher)
    def publish(self, topic: str, key: str | bytes | None, value: bytes | None,
                partition: int | None = None, headers: Headers | None = None) -> None:
        """``partition``: that one, not the key's (a dead letter replayed where it was).
        ``headers`` are dropped: the in-process runtime carries no trace between services."""
        text = key.decode() if isinstance(key, bytes) else key or ""
        where = self.partition_for(text) if partition is None else partition
        self.logs[topic][where].append((text, value))

    def flush(self) -> None:
        pass

    def end_offset(self, topic: str, partition: int) -> int:
        return len(self.logs[topic][partition])

    def read(self, topic: str, partition: int, offset: int) -> bytes | None:
        return self.logs[topic][partition][offset][1]

    def key(self, topic: str, partition: int, offset: int) -> bytes:
        return self.logs[topic][partition][offset][0].encode()

"""Kafka adapters for the outbox relay and the inbox.

Producer: idempotent (no duplicates from the producer's own retries, order kept per
partition), acks from all replicas, murmur2 partitioning like Java clients, so every
client agrees which partition a show's messages go to.

Consumer: positions come from the service's database (the inbox's tracking records)
and are applied in ``on_assign``; Kafka's committed offsets are written only so that
standard lag tools can see the group, never read back.
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from shared.messaging.inbox import Inbox, Record, tracking_name
from shared.observability import messaging, tracing

log = logging.getLogger(__name__)

# Both clients. librdkafka leaves Nagle's algorithm on by default: a small request written
# while an earlier one on the same connection is unacknowledged (a fetch the broker holds
# until data comes is acknowledged only by the kernel's delayed ACK, 40 ms on Linux) waits
# for that ACK. Every message of the saga is such a request, so both clients turn it off.
CLIENT = {"socket.nagle.disable": True}


class KafkaPublisher:
    def __init__(self, bootstrap: str, client_id: str) -> None:
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "client.id": client_id,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 2,
                "partitioner": "murmur2_random",
                **CLIENT,
            }
        )
        self._errors: list[KafkaError] = []

    def _delivered(self, err: KafkaError | None, _msg: object) -> None:
        if err is not None:
            self._errors.append(err)

    def publish(self, topic: str, key: str | bytes | None, value: bytes | None,
                partition: int | None = None, headers: tracing.Headers | None = None) -> None:
        """``partition``: that one, not the key's (a dead letter replayed where it was);
        ``headers``: the trace's context (shared/observability/tracing.py)."""
        while True:
            try:
                if partition is None:
                    self._producer.produce(topic, value=value, key=key,
                                           on_delivery=self._delivered, headers=headers)
                else:
                    self._producer.produce(topic, value=value, key=key, partition=partition,
                                           on_delivery=self._delivered, headers=headers)
                return
            except BufferError:  # local queue full: let deliveries drain
                self._producer.poll(0.1)

    def flush(self, timeout: float = 30.0) -> None:
        remaining = self._producer.flush(timeout)
        if self._errors or remaining:
            errors, self._errors = self._errors, []
            raise KafkaException(f"publish failed: {errors or f'{remaining} undelivered'}")


class KafkaInboxConsumer:
    COMMIT_EVERY = 1.0  # seconds between offset commits (which only lag tools read)
    NOTE_ENDS_EVERY = 5.0  # seconds between readings of the partitions' end offsets

    def __init__(
        self, inbox: Inbox, bootstrap: str, topics: list[str], group_id: str, instance_id: str
    ) -> None:
        self.inbox = inbox
        self.topics = topics
        self._config = {
                "bootstrap.servers": bootstrap,
                "group.id": group_id,
                # Static membership: a restarted instance (same id) takes its partitions
                # back at once instead of waiting a session timeout for a rebalance.
                "group.instance.id": instance_id,
                "session.timeout.ms": 10_000,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                # Co-partitioned: a show's messages are keyed by its id in every topic, and
                # the range assignor gives partition n of every subscribed topic (all have
                # the same count: ensure_topics) to the same instance. So one instance
                # follows everything about a show, and its cached copy of the show (of a
                # booking, a payment) is never stale: a reaction decided on a stale copy
                # can be a silent no-op. cooperative-sticky spreads each topic on its own:
                # with two instances, a show's payment reached the one that had not held
                # its seats, and most bookings expired paid (tests/e2e/test_instances.py).
                "partition.assignment.strategy": "range",
                # A subscribed topic that did not exist yet (its service not started) is
                # found at the next metadata refresh: every 10 s, not librdkafka's 5 min.
                "topic.metadata.refresh.interval.ms": 10_000,
                **CLIENT,
            }
        gather = self._gather_s()
        if gather:
            # A service that gathers: the broker holds a fetch until it has much to give
            # or the gathering time has passed, rather than answering each message as it
            # comes (a fetch each, for the broker and for this consumer to serve).
            self._config |= {"fetch.wait.max.ms": max(int(gather * 1000), 1),
                             "fetch.min.bytes": 1 << 20}
        self.assigned: set[tuple[str, int]] = set()
        # (topic, partition) -> (next offset, end offset): for offsets()
        self.progress: dict[tuple[str, int], tuple[int, int]] = {}
        self._ends_noted_at = float("-inf")
        self._committed_at = float("-inf")
        self._uncommitted = False
        self._consumer = self._subscribed()

    def _subscribed(self) -> Consumer:
        consumer = Consumer(self._config)
        consumer.subscribe(self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke)
        return consumer

    def _renew(self, error: KafkaError) -> None:
        """After a fatal error the consumer takes nothing more (librdkafka's rule): a
        static member fenced once the broker came back (its old session's commit arrived
        after its new join). A new consumer with the same instance id takes over, from the
        positions the database recorded; the batch in hand is dropped, to be read again."""
        log.warning("consumer error: %s; a new consumer takes over", error)
        try:
            self._consumer.close()
        except KafkaException:  # closing a fenced member fails: it is gone anyway
            pass
        if self.assigned:
            self.assigned = set()
            self.inbox.app.partitions_revoked()
        self.progress = {}  # the new consumer's assignment sets it again
        self.inbox.forget_positions()
        self._uncommitted = False
        self._consumer = self._subscribed()

    def _on_assign(self, consumer: Consumer, partitions: list) -> None:
        """The whole new assignment (the range assignor rebalances eagerly: everything is
        revoked first, then handed out again)."""
        for p in partitions:
            p.offset = self.inbox.next_offset(p.topic, p.partition)
        consumer.assign(partitions)
        self.assigned = {(p.topic, p.partition) for p in partitions}
        self.progress = {(p.topic, p.partition): (p.offset, p.offset) for p in partitions}
        self._ends_noted_at = float("-inf")
        if partitions:
            self.inbox.app.partitions_assigned()
        log.info("assigned %s", sorted(self.assigned))

    def _on_revoke(self, consumer: Consumer, partitions: list) -> None:
        try:  # the next owner starts where this one got to, not at its last write
            self.inbox.record_positions()
        except Exception:  # it then re-reads a few ignored messages, harmlessly
            log.warning("could not record positions on revoke", exc_info=True)
        consumer.unassign()
        self.assigned = set()
        self.progress = {}
        self.inbox.app.partitions_revoked()

    def poll(self, timeout: float = 0.2, max_messages: int = 500) -> int:
        """Wait up to ``timeout`` for a message, then take what else is already fetched
        (never waiting to fill a batch: that wait would be added to every hop of the
        saga), and process it partition by partition, one transaction each. A service
        that gathers (``gather_s``: nothing waits for it) waits that long for more, and
        processes all of them, whatever their partitions, in one transaction."""
        first = self._consumer.poll(timeout)
        self._note_ends()
        if first is None:
            self.inbox.record_positions()  # idle: write the positions passed silently
            self._commit(due=self._uncommitted)
            return 0
        gather = self._gather_s()
        messages = [first, *self._consumer.consume(num_messages=max_messages - 1,
                                                   timeout=gather or 0)]
        runs: dict[tuple[str, int], list[Record]] = {}
        traced = tracing.deliveries()  # messages sent within a sampled trace
        traced.clear()
        for m in messages:
            error = m.error()
            if error is not None and (error.fatal() or error.code() == KafkaError._FATAL):
                self._renew(error)
                return 0
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", error)
                continue
            topic, partition, offset = m.topic(), m.partition(), m.offset()
            # Every message that is not an error has them (the library types them optional).
            assert topic is not None and partition is not None and offset is not None
            runs.setdefault((topic, partition), []).append(Record(offset, m.value(), m.key()))
            headers = m.headers()  # a list of (name, bytes) from the consumer
            if headers:
                for name, header in headers:  # type: ignore[str-unpack]  # a dict only to produce()
                    if name == tracing.TRACEPARENT and isinstance(header, bytes):
                        traced[(tracking_name(topic, partition), offset + 1)] = header.decode()
        processed = 0
        batches = [runs] if gather is not None else [{run: r} for run, r in runs.items()]
        for batch in filter(None, batches):
            processed += self.inbox.receive_runs(batch)
            for (topic, partition), records in batch.items():
                messaging.consumed(self.inbox.app.service, topic, len(records))
                next_offset = records[-1].offset + 1
                self.progress[(topic, partition)] = (
                    next_offset, max(next_offset, self.progress.get((topic, partition), (0, 0))[1]))
            self._consumer.store_offsets(offsets=[
                TopicPartition(topic, partition, records[-1].offset + 1)
                for (topic, partition), records in batch.items()])
        self._uncommitted = self._uncommitted or bool(runs)
        self._commit(due=time.monotonic() - self._committed_at >= self.COMMIT_EVERY)
        return processed

    def _gather_s(self) -> float | None:
        """How long the service gathers messages, if it does and its store can record the
        positions of several partitions in one write."""
        app = self.inbox.app
        several = getattr(app.recorder, "records_several_positions", False)
        return app.gather_s if several else None

    def _commit(self, due: bool) -> None:
        # Offsets in Kafka are for lag tools only, so not per batch: each commit is a
        # write on the broker. Positions that count are in the service's database.
        if due and self._uncommitted:
            try:
                self._consumer.commit(asynchronous=True)
            except KafkaException as e:  # e.g. nothing stored since a rebalance
                log.debug("offset commit skipped: %s", e)
            self._committed_at = time.monotonic()
            self._uncommitted = False

    def offsets(self) -> list[tuple[str, int, int, int]]:
        """Each partition's (topic, partition, next offset, end offset) as the consumer's
        thread last saw them, for the scrape-time gauges: another thread calling the
        client while it polls can wait on it indefinitely."""
        return [(t, p, position, max(end, position))
                for (t, p), (position, end) in list(self.progress.items())]

    def _note_ends(self) -> None:
        """The partitions' end offsets as the client last heard them (no request), at
        most every NOTE_ENDS_EVERY seconds."""
        if time.monotonic() - self._ends_noted_at < self.NOTE_ENDS_EVERY:
            return
        self._ends_noted_at = time.monotonic()
        for (t, p), (position, _) in list(self.progress.items()):
            try:
                _, end = self._consumer.get_watermark_offsets(TopicPartition(t, p), cached=True)
            except KafkaException:
                continue
            self.progress[(t, p)] = (position, end)

    def rewind_to_tracking(self) -> None:
        """After a failed batch: go back to what the database says was processed."""
        self.inbox.forget_positions()
        for topic, partition in self.assigned:
            offset = self.inbox.next_offset(topic, partition)
            self._consumer.seek(TopicPartition(topic, partition, offset))

    def close(self) -> None:
        self._consumer.close()


def ensure_topics(bootstrap: str, topics: list[str], partitions: int = 6) -> None:
    """Create the topics if missing (one broker: replication factor 1), and check that
    they have one partition count: the consumers rely on it (co-partitioning, above)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=10).topics)
    new = [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in topics if t not in existing]
    for topic, future in admin.create_topics(new).items() if new else []:
        try:
            future.result()
        except KafkaException as e:
            if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    # A new topic reaches the broker's metadata a moment after it is created; a consumer
    # that subscribes before then is not given its partitions until its next metadata
    # refresh. So wait until every topic is listed.
    deadline = time.monotonic() + 15
    while (missing := set(topics) - set(found := admin.list_topics(timeout=10).topics)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"topics not listed after creation: {sorted(missing)}")
        time.sleep(0.2)
    counts = {t: len(found[t].partitions) for t in topics}
    if len(set(counts.values())) > 1:
        raise RuntimeError(f"the topics must have one partition count, so that a show's"
                           f" messages reach one instance of a service: {counts}")

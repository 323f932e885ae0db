"""confluent-kafka on the real broker: idempotent producer, manually assigned consumer."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

pytestmark = pytest.mark.infra


def _consume(consumer: Consumer, count: int, timeout: float = 20.0) -> list:
    messages, deadline = [], time.monotonic() + timeout
    while len(messages) < count and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is None:
            continue
        assert message.error() is None, message.error()
        messages.append(message)
    return messages


def test_idempotent_producer_and_assigned_consumer(kafka_topics) -> None:
    topic = kafka_topics.create("seats", partitions=3)
    producer = Producer({
        "bootstrap.servers": kafka_topics.bootstrap,
        "enable.idempotence": True,  # off by default in librdkafka
        "linger.ms": 5,
    })
    delivered = []

    def on_delivery(error, message) -> None:
        assert error is None, error
        delivered.append((message.partition(), message.offset(), message.key()))

    # Two keys, explicitly on partitions 0 and 1; order matters within each partition.
    for n in range(5):
        producer.produce(topic, key=b"show-1", value=f"hold-{n}".encode(), partition=0,
                         on_delivery=on_delivery)
        producer.produce(topic, key=b"show-2", value=f"other-{n}".encode(), partition=1,
                         on_delivery=on_delivery)
    assert producer.flush(15) == 0
    assert sorted(offset for part, offset, _ in delivered if part == 0) == [0, 1, 2, 3, 4]

    consumer = Consumer({
        "bootstrap.servers": kafka_topics.bootstrap,
        "group.id": f"{kafka_topics.prefix}.reader",
        "enable.auto.commit": False,
        "auto.offset.reset": "error",  # positions always come from us here
    })
    try:
        # Resume partition 0 from offset 2, as a service restoring its inbox position would.
        consumer.assign([TopicPartition(topic, 0, 2)])
        messages = _consume(consumer, 3)
    finally:
        consumer.close()

    assert [m.offset() for m in messages] == [2, 3, 4]
    assert {m.key() for m in messages} == {b"show-1"}
    assert [m.value() for m in messages] == [b"hold-2", b"hold-3", b"hold-4"]
    assert {m.partition() for m in messages} == {0}


def test_auto_created_topic_uses_prefix(kafka_topics) -> None:
    """Topics the services create implicitly also get the per-test prefix and are cleaned up."""
    topic = kafka_topics.name("implicit")
    producer = Producer({"bootstrap.servers": kafka_topics.bootstrap, "enable.idempotence": True})
    producer.produce(topic, key=b"k", value=b"v")
    assert producer.flush(15) == 0
    consumer = Consumer({"bootstrap.servers": kafka_topics.bootstrap, "group.id": topic,
                         "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(6)])
        [message] = _consume(consumer, 1)
    finally:
        consumer.close()
    assert (message.key(), message.value(), message.offset()) == (b"k", b"v", 0)


def test_a_local_system_deletes_its_topics_and_only_its_own(kafka_bootstrap, tmp_path, request) -> None:
    """What a finished test system leaves on the broker: nothing (a broker keeps every
    topic it was given), and another system's topics are not touched."""
    from confluent_kafka.admin import AdminClient

    from launcher.processes import LocalSystem
    from shared.contracts import TOPICS
    from shared.messaging.kafka import ensure_topics
    from tests.support.servers import unique_name

    mine, other = (LocalSystem({"CINEMA_KAFKA_BOOTSTRAP": kafka_bootstrap,
                                "CINEMA_TOPIC_PREFIX": unique_name(request, p, 40) + "."},
                               tmp_path / p) for p in ("mine", "other"))
    my_topics, other_topics = ({s.settings.topic_prefix + t for t in TOPICS.values()}
                               for s in (mine, other))
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    try:
        ensure_topics(kafka_bootstrap, sorted(my_topics | other_topics))
        mine.delete_topics()
        deadline = time.monotonic() + 15
        while my_topics & set(admin.list_topics(timeout=10).topics):
            assert time.monotonic() < deadline, "the topics are still there"
            time.sleep(0.2)
        assert other_topics <= set(admin.list_topics(timeout=10).topics)
        mine.delete_topics()  # again: nothing left to delete is not an error
    finally:
        other.delete_topics()

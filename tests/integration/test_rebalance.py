"""A rebalance on the real broker: what an instance learned from partitions it loses is
forgotten (booking's taken seats would otherwise go stale and refuse freed seats), and an
instance that gains partitions drops the aggregates it kept in memory (another instance
may have moved them on)."""

from __future__ import annotations

import time

import pytest

from booking.application import BookingService
from shared.messaging.inbox import Inbox
from shared.messaging.kafka import KafkaInboxConsumer

pytestmark = pytest.mark.infra


def test_an_instance_that_loses_partitions_forgets_the_seats_it_knew(kafka_topics) -> None:
    topic = kafka_topics.create("inventory", partitions=2)
    group = f"{kafka_topics.prefix}.booking"
    first_app, second_app = BookingService(), BookingService()  # in-memory stores
    first = KafkaInboxConsumer(Inbox(first_app), kafka_topics.bootstrap, [topic], group, "one")
    second = None
    try:
        deadline = time.monotonic() + 30
        while len(first.assigned) < 2:  # alone in the group: both partitions
            assert time.monotonic() < deadline, f"never assigned: {first.assigned}"
            first.poll(0.2)
        first_app.taken_seats.taken_by("show-1", ["A1"], "booking-1")  # as learned from a message

        booking, _, _ = second_app.request_booking("ann", "k1", "show-1", ["A2"], "pm_card_visa")
        with second_app.writing():
            second_app.find(booking.id)  # kept in memory, as a reaction would
        assert second_app.repository.cache.get(booking.id) is not None

        second = KafkaInboxConsumer(Inbox(second_app), kafka_topics.bootstrap, [topic], group, "two")
        while not second.assigned:  # a second instance joins: one partition moves to it
            assert time.monotonic() < deadline + 30, "the second instance never got a partition"
            first.poll(0.2)
            second.poll(0.2)
        assert len(first.assigned) == 1
        assert first_app.taken_seats.known() == {}
        with pytest.raises(KeyError):
            second_app.repository.cache.get(booking.id)
    finally:
        for consumer in (first, second):
            if consumer is not None:
                consumer.close()


def test_a_fenced_consumer_is_replaced_and_reads_on(kafka_topics) -> None:
    """A static member fenced by another with its instance id (what a restarted broker
    did to booking's consumer under the chaos soak: a commit of the old session after the
    new join) has a fatal error and takes nothing more; a new consumer takes over."""
    from confluent_kafka import Consumer, Producer

    from tests.support.poison import GARBAGE

    topic = kafka_topics.create("inventory", partitions=1)
    group = f"{kafka_topics.prefix}.booking"
    app = BookingService()
    first = KafkaInboxConsumer(Inbox(app), kafka_topics.bootstrap, [topic], group, "one")
    intruder = Consumer({"bootstrap.servers": kafka_topics.bootstrap, "group.id": group,
                         "group.instance.id": "one", "session.timeout.ms": 10_000})
    try:
        deadline = time.monotonic() + 30
        while not first.assigned:
            assert time.monotonic() < deadline, "never assigned"
            first.poll(0.2)
        old = first._consumer
        intruder.subscribe([topic])
        while first._consumer is old:  # the same instance id joins: the first is fenced
            assert time.monotonic() < deadline + 30, "the first consumer was never fenced"
            intruder.poll(0.2)
            first.poll(0.2)
        intruder.close()
        producer = Producer({"bootstrap.servers": kafka_topics.bootstrap})
        producer.produce(topic, GARBAGE, partition=0)
        producer.flush(10)
        while first.inbox.next_offset(topic, 0) < 1:  # the new consumer reads on
            assert time.monotonic() < deadline + 90, "nothing read after the fencing"
            first.poll(0.2)
    finally:
        first.close()

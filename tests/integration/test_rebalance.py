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

"""A service that gathers its messages (the notification service: nothing in the saga
waits for it) on the real broker and PostgreSQL: the messages of several topics and
partitions taken in one poll are decided in one transaction, which records every
partition's position; a batch of several partitions delivered again has no effect; one
with a message no contract reads is taken partition by partition, that message a dead
letter."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Producer
from eventsourcing.persistence import Tracking

from notifications.application import NotificationService
from shared import contracts as c
from shared import ids
from shared.messaging.inbox import Inbox, Record
from shared.messaging.kafka import KafkaInboxConsumer
from shared.recorder import TOPIC

pytestmark = pytest.mark.infra

NOW = datetime(2030, 1, 1, 18, 0, tzinfo=UTC)


def facts(n: int) -> tuple[c.BookingRequested, c.SeatsReserved]:
    """A booking's request and its hold, on show ``show-<n>``."""
    common = {"show_id": f"show-{n}", "booking_id": uuid.UUID(int=n), "occurred_at": NOW}
    return (c.BookingRequested(event_id=f"b/{n}", customer_id=f"c{n}", seat_ids=["A1"],
                               payment_method="pm_card_visa", **common),
            c.SeatsReserved(event_id=f"i/{n}", seat_ids=["A1"], amount=900, currency="EUR",
                            reserved_until=NOW + timedelta(minutes=10), **common))


@pytest.fixture
def app(pg_database):
    service = NotificationService(env={**pg_database.eventsourcing_env(),
                                       "PROCESS_RECORDER_TOPIC": TOPIC},
                                  gather=timedelta(seconds=0.5))
    yield service
    service.close()


def test_one_poll_of_several_partitions_is_decided_in_one_transaction(kafka_topics, app) -> None:
    booking, inventory = kafka_topics.create("booking", 3), kafka_topics.create("inventory", 3)
    producer = Producer({"bootstrap.servers": kafka_topics.bootstrap})
    for n in range(3):  # a show's messages on one partition of each topic
        requested, held = facts(n)
        producer.produce(booking, c.encode(requested), partition=n)
        producer.produce(inventory, c.encode(held), partition=n)
    assert producer.flush(15) == 0
    batches: list[int] = []
    handle = app.handle_batch
    app.handle_batch = lambda messages, record=True: (  # type: ignore[method-assign]
        batches.append(len(messages)) or handle(messages, record))
    consumer = KafkaInboxConsumer(Inbox(app), kafka_topics.bootstrap, [booking, inventory],
                                  f"{kafka_topics.prefix}.notifications", "one")
    try:
        deadline, processed = time.monotonic() + 30, 0
        while processed < 6:
            assert time.monotonic() < deadline, f"{processed} of 6 messages processed"
            processed += consumer.poll(0.5)
    finally:
        consumer.close()
    assert len(batches) < 6 and sum(batches) == 6  # fewer transactions than messages
    for n in range(3):
        notices = app.find_stored(ids.booking_notices_id(uuid.UUID(int=n)))
        assert (notices.customer_id, notices.reserved_until) == (f"c{n}", facts(n)[1].reserved_until)
        for topic in (booking, inventory):
            assert app.recorder.max_tracking_id(f"{topic}:{n}") == 1


def test_a_batch_of_several_partitions_delivered_again_changes_nothing(app) -> None:
    messages = [(m, Tracking(f"{topic}:{n}", 1)) for n in range(3)
                for topic, m in zip(("booking", "inventory"), facts(n), strict=True)]
    assert app.handle_batch(messages) is True
    written = app.recorder.max_notification_id()
    assert written
    assert app.handle_batch(messages) is True  # each partition found done, one by one
    assert app.handle_batch(messages[:2]) is True
    assert app.recorder.max_notification_id() == written
    # A batch of which only some partitions were done: the others' messages are decided.
    later = facts(7)
    fresh = [(later[0], Tracking("booking:7", 1)), (later[1], Tracking("inventory:7", 1))]
    assert app.handle_batch([*messages, *fresh]) is True
    notices = app.find_stored(ids.booking_notices_id(uuid.UUID(int=7)))
    assert notices is not None and notices.reserved_until is not None
    assert app.recorder.max_tracking_id("inventory:7") == 1


def test_a_gathered_batch_with_an_unreadable_message_is_taken_partition_by_partition(app) -> None:
    requested, held = facts(3)
    runs = {("booking", 3): [Record(0, c.encode(requested))],
            ("inventory", 3): [Record(0, b"not a contract"), Record(1, c.encode(held))]}
    assert Inbox(app).receive_runs(runs) == 2
    [letter] = app.dead_letters.listed()
    assert (letter.topic, letter.partition, letter.offset) == ("inventory", 3, 0)
    notices = app.find_stored(ids.booking_notices_id(uuid.UUID(int=3)))
    assert (notices.customer_id, notices.reserved_until) == ("c3", held.reserved_until)
    assert [app.recorder.max_tracking_id(n) for n in ("booking:3", "inventory:3")] == [1, 2]

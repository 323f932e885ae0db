"""Dead letters on the real servers: inventory's consumer on Kafka, its store on
PostgreSQL. Garbage, an unknown contract version and a message whose handler fails sit
between good messages on one partition; the good ones are all handled, the three are in
inventory's dead-letter table with their reasons and the position passed them, and the
operator's command replays the failed one once its handler is fixed."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest

from launcher.dead_letters import main as dead_letters
from shared.config import Settings
from shared.messaging.inbox import Inbox, tracking_name
from shared.messaging.kafka import KafkaInboxConsumer, KafkaPublisher
from shared.service import ServiceApplication
from shared.wiring import wiring_of
from tests.support import poison
from tests.support.poison import GARBAGE, SHOW, UNKNOWN_VERSION, failing_for, requested
from tests.support.servers import KafkaTopics, PgDatabase
from tests.support.waiting import wait_until

pytestmark = pytest.mark.infra


@pytest.fixture
def settings(pg_database: PgDatabase, kafka_topics: KafkaTopics, monkeypatch) -> Settings:
    """Inventory's settings, in the environment too: the operator's command reads them."""
    for name, value in {
        "POSTGRES_HOST": pg_database.host, "POSTGRES_PORT": str(pg_database.port),
        "POSTGRES_USER": pg_database.user, "POSTGRES_PASSWORD": pg_database.password,
        "INVENTORY_DB": pg_database.dbname, "KAFKA_BOOTSTRAP": kafka_topics.bootstrap,
        "TOPIC_PREFIX": f"{kafka_topics.prefix}.",
    }.items():
        monkeypatch.setenv(f"CINEMA_{name}", value)
    return Settings.from_env()


class Running:
    """Inventory's consumer, polling in a thread as the service's runtime does."""

    def __init__(self, app: ServiceApplication, consumer: KafkaInboxConsumer) -> None:
        self.app, self.consumer = app, consumer
        self.stopping = threading.Event()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                self.consumer.poll(0.2)
            except Exception as error:  # noqa: BLE001 - the runtime rewinds; a test wants to know
                self.errors.append(error)
                self.consumer.rewind_to_tracking()

    def position(self, topic: str) -> int:
        return self.app.recorder.max_tracking_id(tracking_name(topic, 0)) or 0

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=15)
        self.consumer.close()


@pytest.fixture
def inventory(settings: Settings, kafka_topics: KafkaTopics) -> Iterator[Running]:
    topics = [kafka_topics.create("booking.events"), kafka_topics.create("inventory.replays")]
    app = wiring_of("inventory").application(
        settings, settings.service_env(settings.service_db("inventory")))
    app.open_show(SHOW, poison.SEATS, poison.PRICES, "EUR")
    consumer = KafkaInboxConsumer(Inbox(app, attempts=3), kafka_topics.bootstrap, topics,
                                  f"{kafka_topics.prefix}.inventory", "inventory-1")
    running = Running(app, consumer)
    try:
        yield running
    finally:
        running.stop()
        app.close()


def test_bad_messages_are_dead_lettered_between_good_ones_and_replayed_once_fixed(
        inventory: Running, settings: Settings, pg_database: PgDatabase, monkeypatch,
        capsys) -> None:
    topic = settings.topic_prefix + "booking.events"
    replays = settings.topic_prefix + "inventory.replays"
    bad, bad_value = requested("A4")
    publisher = KafkaPublisher(settings.kafka_bootstrap, "booking-test")
    # Its error quotes a NUL, which PostgreSQL's text refuses: kept escaped.
    with failing_for(monkeypatch, bad, ValueError("cannot take booking \x00A4")) as tries:
        for value in (requested("A1")[1], GARBAGE, requested("A2")[1], UNKNOWN_VERSION,
                      requested("A3")[1], bad_value, requested("A5")[1]):
            publisher.publish(topic, SHOW, value, partition=0)
        publisher.flush()
        wait_until(lambda: inventory.position(topic) == 7, 60, "the consumer passes all seven")

    assert inventory.errors == []
    assert set(inventory.app.get_show(SHOW).holders) == {"A1", "A2", "A3", "A5"}
    assert len(tries) in (3, 4)  # three alone, after the batch it came in, if any
    with psycopg.connect(pg_database.conninfo) as conn:
        rows = conn.execute(
            'SELECT id, topic, "partition", "offset", key, value, reason, error, replayed_at'
            " FROM inventoryservice_dead_letters ORDER BY id").fetchall()
    assert [(r[1], r[2], r[3], r[4], r[6]) for r in rows] == [
        (topic, 0, 1, SHOW.encode(), "undecodable"),
        (topic, 0, 3, SHOW.encode(), "unknown_contract"),
        (topic, 0, 5, SHOW.encode(), "handler_failed"),
    ]
    assert [r[5] for r in rows] == [GARBAGE, UNKNOWN_VERSION, bad_value]
    assert "ValueError: cannot take booking \\x00A4" in rows[2][7]
    assert all(r[8] is None for r in rows)

    assert dead_letters("inventory", ["list"]) == 0
    listed = capsys.readouterr().out
    assert "3 dead letter(s) not replayed" in listed and "handler_failed" in listed

    # The handler is fixed (the block above ended): the operator replays its dead letter.
    failed = rows[2][0]
    assert dead_letters("inventory", ["replay", "--id", str(failed)]) == 0
    assert "handled: 1, failed again: 0" in capsys.readouterr().out
    assert "A4" in inventory.app.get_show(SHOW).holders
    assert inventory.app.dead_letters.get(failed).replayed_at is not None
    assert inventory.position(replays) == 1

    # Again: handled before, nothing more happens.
    events = inventory.app.recorder.max_notification_id()
    assert dead_letters("inventory", ["replay", "--id", str(failed)]) == 0
    assert inventory.app.recorder.max_notification_id() == events

    # Garbage and the unknown version are what they were: replayed, they fail again.
    assert dead_letters("inventory", ["replay", "--all"]) == 1
    out = capsys.readouterr().out
    assert "handled: 0, failed again: 2" in out
    again = inventory.app.dead_letters.listed()
    assert {(d.topic, d.reason, d.value) for d in again} == {
        (replays, "undecodable", GARBAGE), (replays, "unknown_contract", UNKNOWN_VERSION)}
    assert inventory.errors == []

"""Faults in the real system: kill -9 of each service mid-batch and of the Kafka broker,
redelivery, republishing.

What must hold afterwards: every booking ends CONFIRMED or CANCELLED, no seat is
sold twice, no booking is charged twice, the money balances, and a message seen
again has no second effect.
"""

from __future__ import annotations

import inspect
import itertools
import os
import random
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Consumer, TopicPartition

from shared.contracts import TOPICS
from shared.messaging.kafka import KafkaPublisher
from shared.services import NAMES, SERVICES
from tests.simulation import invariants as inv

pytestmark = pytest.mark.infra

SEED = 20261125
ROOT = Path(__file__).resolve().parents[2]
# How long a relay waits for its messages to be delivered before it gives up and publishes
# them again from its recorded position.
RELAY_PATIENCE = inspect.signature(KafkaPublisher.flush).parameters["timeout"].default


def book_until_accepted(system, customer, show, seats, method, give_up_after=60.0,
                        via=("booking",)):
    """A client that retries through outages with the same Idempotency-Key, turning to the
    next booking instance of ``via`` after a failure, as a load balancer would. None: the
    seats were known to be taken and the request was refused at once (nothing booked)."""
    key = uuid.uuid4().hex
    deadline = time.monotonic() + give_up_after
    for attempt in itertools.count():
        try:
            r = system.book(customer, show, seats, method, key=key, via=via[attempt % len(via)])
            if r.status_code in (200, 202):
                return r.json()["booking_id"]
            if r.status_code == 409 and r.json()["error"] == "seats_taken":
                return None
            assert r.status_code >= 500, r.text
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "booking service never came back"
        time.sleep(0.1)


def wait_final(system, bookings, timeout=90.0):
    deadline = time.monotonic() + timeout
    pending = dict(bookings)
    while pending:
        for booking_id, customer in list(pending.items()):
            if system.booking(customer, booking_id)["status"] in ("CONFIRMED", "CANCELLED"):
                del pending[booking_id]
        assert time.monotonic() < deadline, f"{len(pending)} bookings never settled"
        time.sleep(0.2)


def audit(system):
    stores, ledger = system.stores(), system.ledger()
    try:
        inv.all_final(stores)
        inv.one_holder_per_seat(stores)
        inv.confirmed_iff_paid_and_booked(stores)
        inv.at_most_one_charge(ledger)
        inv.money_balances(stores, ledger)
        inv.holds_honoured(stores, customer_cancelled=set())
        inv.transitions_allowed({}, stores)
    finally:
        ledger.close()


class Customers(threading.Thread):
    """Customers one after another, each booking 1 or 2 random seats (of 12) of a random
    show, one in three with a declined card, retrying through outages. ``bookings``: booking
    id -> customer; ``refused``: how many were refused at once (seats known taken)."""

    def __init__(self, system, rng: random.Random, shows: list[str], count: int, people: int,
                 pause: tuple[float, float], on_booked=lambda booking_id: None,
                 via: tuple[str, ...] = ("booking",)) -> None:
        super().__init__()
        self.system, self.rng, self.shows, self.count, self.people = system, rng, shows, count, people
        self.pause, self.on_booked, self.via = pause, on_booked, via
        self.bookings: dict[str, str] = {}
        self.methods: dict[str, str] = {}  # booking id -> the card it was paid with
        self.refused = 0
        self.done = threading.Event()

    def run(self) -> None:
        rng = self.rng
        for i in range(self.count):
            show, n = rng.choice(self.shows), rng.choice([1, 2])
            seats = rng.sample([f"A{k}" for k in range(1, 13)], n)
            method = rng.choice(["pm_card_visa", "pm_card_visa", "pm_card_chargeDeclined"])
            customer = f"c{i % self.people}"
            # Customers take turns at the booking instances.
            via = self.via[i % len(self.via):] + self.via[:i % len(self.via)]
            booking_id = book_until_accepted(self.system, customer, show, seats, method, via=via)
            if booking_id is None:
                self.refused += 1
            else:
                self.bookings[booking_id] = customer
                self.methods[booking_id] = method
                self.on_booked(booking_id)
            time.sleep(rng.uniform(*self.pause))
        self.done.set()


def test_kill_9_each_service_in_turn_mid_batch(start_system):
    rng = random.Random(SEED)
    system = start_system(hold_seconds="4")
    shows = [f"crash-{i}" for i in range(3)]
    for show in shows:
        system.open_show(show, seats=12)
    kills: list[str] = []
    client = Customers(system, rng, shows, count=60, people=7, pause=(0, 0.08))
    client.start()
    for service in rng.sample(list(NAMES), len(NAMES)) * 2:
        time.sleep(rng.uniform(0.2, 1.2))
        system.local.kill(service)  # kill -9, at a random point of the batch
        kills.append(service)
        time.sleep(rng.uniform(0, 0.5))
        system.local.start(service)
        system.local.wait_ready(service)
    client.join(120)
    assert client.done.is_set()
    wait_final(system, client.bookings)
    settle(system)
    audit(system)
    print(f"\n{len(client.bookings)} bookings, {client.refused} refused at once,"
          f" {len(kills)} kills: {kills}")


def high_watermarks(bootstrap: str, topics: list[str]) -> dict[str, int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4().hex}"})
    try:
        marks = {}
        for topic in topics:
            for p in c.list_topics(topic, timeout=10).topics[topic].partitions:
                marks[f"{topic}:{p}"] = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        return marks
    finally:
        c.close()


def inbox_positions(system, service: str) -> dict[str, int]:
    return dict(system.sql(
        service, "SELECT application_name, notification_id FROM {service}service_tracking"
        " WHERE application_name LIKE %s", f"{system.local.settings.topic_prefix}%",
    ))


# What each service follows, as the registry declares it.
SUBSCRIPTIONS = {s.name: s.subscribes_to for s in SERVICES}


def consumers_caught_up(system) -> dict[str, int] | None:
    """The topics' end offsets if every service has read (and recorded) every partition
    it follows to its end; None if one has not."""
    s = system.local.settings
    marks = high_watermarks(s.kafka_bootstrap, [s.topic_prefix + t for t in TOPICS.values()])
    for service, subs in SUBSCRIPTIONS.items():
        read = inbox_positions(system, service)
        prefixes = tuple(s.topic_prefix + TOPICS[x] for x in subs)
        if any(read.get(tp, 0) < end for tp, end in marks.items() if tp.startswith(prefixes)):
            return None
    return marks


def settle(system, timeout: float = 60.0) -> None:
    """Until the system is quiet: nothing recorded for half a second and every message
    consumed. Bookings can be final while their last effects are still on their way (the
    seats booked, a late charge refunded), and the audit reads every store."""
    deadline, last = time.monotonic() + timeout, None
    while True:
        heads = {s: system.stream_head(s) for s in SUBSCRIPTIONS}
        if heads == last and consumers_caught_up(system):
            return
        assert time.monotonic() < deadline, "the system never went quiet"
        last = heads
        time.sleep(0.5)


def test_rewound_consumers_and_republished_logs_have_no_effect(start_system):
    system = start_system(hold_seconds="3")
    system.open_show("redelivery", seats=10)
    bookings = {}
    for i, method in enumerate(["pm_card_visa"] * 4 + ["pm_card_chargeDeclined"] * 2):
        r = system.book(f"r{i}", "redelivery", [f"A{i + 1}"], method)
        bookings[r.json()["booking_id"]] = f"r{i}"
    wait_final(system, bookings)
    settle(system)
    before = {s: system.stored_events(s) for s in NAMES}
    ledger = system.ledger()
    charges_before = ledger.successful_charges_by_booking()

    # Stop everything, then rewind every inbox to the start and every outbox too.
    system.local.stop_all()
    for service in NAMES:
        system.sql(
            service,
            "UPDATE {service}service_tracking SET notification_id = 0"
            " WHERE application_name <> '__migration__'",  # the library's own row
        )
    system.local.start_all()

    deadline = time.monotonic() + 60
    while not (marks := consumers_caught_up(system)):  # every partition read to its end again
        assert time.monotonic() < deadline, "consumers never caught up"
        time.sleep(0.3)
    redelivered = sum(marks.values())
    assert {s: system.stored_events(s) for s in before} == before
    assert ledger.successful_charges_by_booking() == charges_before
    ledger.close()
    audit(system)
    print(f"\n{redelivered} messages in the topics after republishing, all redelivered")


def test_the_broker_killed_and_restarted_mid_saga_loses_and_duplicates_nothing(
    start_system, kafka_bootstrap,
):
    """kill -9 of the Kafka broker while customers book, down for longer than a relay waits
    for its deliveries, then a restart by scripts/infra. Bookings are taken meanwhile
    (they wait in the outboxes); the relays give up, re-read their positions and publish
    again, so the messages still queued in the producers go out twice; the consumers
    reconnect. Every booking settles once."""
    from scripts.infractl.config import load
    from scripts.infractl.kafka import Kafka

    broker = Kafka(load(ROOT))
    pid = broker.pid()
    assert pid is not None and broker.cfg.kafka_bootstrap == kafka_bootstrap, (
        "this test restarts the broker that scripts/infra started for this checkout")
    rng = random.Random(SEED + 1)
    system = start_system(hold_seconds="8")
    shows = [f"broker-{i}" for i in range(2)]
    for show in shows:
        system.open_show(show, seats=12)
    outage = threading.Event()
    taken_during_outage: list[str] = []

    def booked(booking_id: str) -> None:
        if outage.is_set():
            taken_during_outage.append(booking_id)

    client = Customers(system, rng, shows, count=40, people=5, pause=(0.05, 0.25),
                       on_booked=booked)
    client.start()
    time.sleep(1.5)
    os.kill(pid, signal.SIGKILL)  # no controlled shutdown: what a crash or an OOM kill does
    outage.set()
    time.sleep(RELAY_PATIENCE + 5)
    restart = subprocess.run([str(ROOT / "scripts" / "infra"), "up"], capture_output=True,
                             text=True, timeout=180, check=False)
    assert restart.returncode == 0, restart.stdout + restart.stderr
    outage.clear()
    assert broker.pid() not in (None, pid)
    client.join(120)
    assert client.done.is_set()
    assert taken_during_outage, "no booking was taken while the broker was down"
    wait_final(system, client.bookings)
    settle(system)
    audit(system)
    gave_up = [s for s in NAMES
               if "relay failed" in (system.local.log_dir / f"{s}.log").read_text()]
    assert "booking" in gave_up, "booking's relay never gave up: the outage was too short"
    print(f"\n{len(client.bookings)} bookings, {len(taken_during_outage)} taken while the broker was"
          f" down; relays that gave up and published again: {gave_up}")

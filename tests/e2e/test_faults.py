"""Faults in the real system: kill -9 of each service mid-batch and of the Kafka broker,
redelivery, republishing.

What must hold afterwards: every booking ends CONFIRMED or CANCELLED, no seat is
sold twice, no booking is charged twice, the money balances, and a message seen
again has no second effect.
"""

from __future__ import annotations

import inspect
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from shared.messaging.kafka import KafkaPublisher
from shared.services import NAMES
from tests.support.audit import audit, consumers_caught_up, settle
from tests.support.customers import Customers, wait_final

pytestmark = pytest.mark.infra

SEED = 20261125
ROOT = Path(__file__).resolve().parents[2]
# How long a relay waits for its messages to be delivered before it gives up and publishes
# them again from its recorded position.
RELAY_PATIENCE = inspect.signature(KafkaPublisher.flush).parameters["timeout"].default


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
            "UPDATE {app}_tracking SET notification_id = 0"
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

"""Two instances of each service, as a deployment that scales out runs them: they share
their service's database and Kafka consumer group, one of them relays the outbox, and the
other takes over what a killed one did (its partitions, its relay)."""

from __future__ import annotations

import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from shared import contracts
from shared.messaging.relay_lease import holder_of
from shared.services import NAMES
from shared.services import SERVICES as SPECS
from tests.support.audit import audit, high_watermarks, settle
from tests.support.customers import Customers, wait_final
from tests.support.mailpit import MailpitApi
from tests.support.notified import addresses, all_told, give_contact, received_as_recorded

pytestmark = pytest.mark.infra

SEED = 20261126
SERVICES = NAMES
APP_NAMES = {s.name: s.application for s in SPECS}
FOLLOWERS = [s.name for s in SPECS if s.subscribes_to]  # the services with a consumer group
RELAYING = [s.name for s in SPECS if s.publishes]  # the services with an outbox relay
PARTITIONS = 6  # per topic (shared.messaging.kafka.ensure_topics)


def published(system) -> Counter[str]:
    """How many times each event was published: every message of the system's topics."""
    s = system.local.settings
    marks = high_watermarks(s.kafka_bootstrap,
                            [s.topic_prefix + t for t in contracts.TOPICS.values()])
    ends = {(tp.rsplit(":", 1)[0], int(tp.rsplit(":", 1)[1])): end
            for tp, end in marks.items() if end > 0}
    c = Consumer({"bootstrap.servers": s.kafka_bootstrap, "group.id": "probe",
                  "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in ends])
        seen: Counter[str] = Counter()
        read = dict.fromkeys(ends, 0)
        deadline = time.monotonic() + 30
        while any(read[tp] < end for tp, end in ends.items()):
            assert time.monotonic() < deadline, "the topics could not be read to their end"
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            read[(m.topic(), m.partition())] = m.offset() + 1
            seen[contracts.decode(m.value()).event_id] += 1
        return seen
    finally:
        c.close()


def outcomes_as_paid(system, customers: Customers) -> None:
    """A good card confirms and a declined one expires, unless inventory rejected the seats.
    Nothing is refunded: no payment succeeded too late, as it would if a reaction were
    decided on a stale copy of a show (its payment reaching an instance that had not
    held its seats)."""
    for booking_id, customer in customers.bookings.items():
        doc = system.booking(customer, booking_id)
        outcome = (doc["status"], doc["cancellation_reason"])
        paid = ("CONFIRMED", None) if customers.methods[booking_id] == "pm_card_visa" else (
            "CANCELLED", "hold_expired")
        assert outcome in {paid, ("CANCELLED", "seats_unavailable")}, doc


def partitions_held(system) -> dict[str, list[int]]:
    """Per service, how many partitions each live member of its consumer group holds."""
    s = system.local.settings
    admin = AdminClient({"bootstrap.servers": s.kafka_bootstrap})
    groups = {svc: s.topic_prefix + svc for svc in FOLLOWERS}
    found = admin.describe_consumer_groups(list(groups.values()))
    held = {}
    for svc, group in groups.items():
        members = found[group].result().members
        held[svc] = sorted(len(m.assignment.topic_partitions) for m in members)
    return held


def relay_holders(system) -> dict[str, str | None]:
    s = system.local.settings
    return {svc: holder_of(s.postgres_conninfo(s.service_db(svc)), f"{APP_NAMES[svc]}.outbox")
            for svc in RELAYING}


def mailed_once(system, mailpit: MailpitApi, bookings: dict[str, str], via: str) -> None:
    """Each booking's confirmation or cancellation mailed to its customer, and no message
    mailed twice by the two instances (but once more per interrupted attempt recorded)."""
    records = all_told(system, bookings, via=via)
    received_as_recorded(records, mailpit.summaries(f"to:{addresses(system)('')}"))
    for booking_id, customer in bookings.items():
        kind = {"CONFIRMED": "confirmation", "CANCELLED": "cancellation"}[
            system.booking(customer, booking_id)["status"]]
        [final] = [n for n in records[booking_id] if n["kind"] == kind]
        assert (final["to"], final["status"]) == (addresses(system)(customer), "sent"), final


def test_two_instances_of_each_service_publish_every_event_once_and_survive_a_kill(
        start_system, mailpit: MailpitApi):
    rng = random.Random(SEED)
    system = start_system(instances=2, hold_seconds="8")
    shows = [f"scale-{i}" for i in range(6)]
    for show in shows:
        system.open_show(show, seats=12)
    for i in range(6):  # the customers below, each of whom the two notifiers may mail
        give_contact(system, f"c{i}", email=addresses(system)(f"c{i}"))

    # Both instances of each service take requests and partitions.
    both = ("booking", "booking-2")
    customers = Customers(system, rng, shows, count=30, people=6, pause=(0, 0.05), via=both)
    customers.run()
    wait_final(system, customers.bookings)
    settle(system)
    audit(system)
    outcomes_as_paid(system, customers)
    mailed_once(system, mailpit, customers.bookings, via="notifications")
    copies = published(system)
    assert copies and max(copies.values()) == 1, (
        f"{sum(n > 1 for n in copies.values())} of {len(copies)} events published more than once")

    # kill -9 the instance of each service that relays (of one that publishes nothing, the
    # first): the other takes over its relay and, after Kafka's session timeout, its
    # partitions.
    holders = relay_holders(system)
    killed = {svc: svc for svc in SERVICES}
    for svc, holder in holders.items():
        assert holder in (f"{svc} relay 1", f"{svc} relay 2"), holders
        killed[svc] = svc if holder.endswith(" 1") else f"{svc}-2"
    for process in killed.values():
        system.local.kill(process)
    survivor = "booking-2" if killed["booking"] == "booking" else "booking"
    system.reader = survivor
    # A killed member keeps its partitions for Kafka's session timeout (static membership
    # waits that long for a restart), then the survivor is given them: all of them.
    deadline = time.monotonic() + 40
    every = {s.name: [PARTITIONS * len(s.consumes)] for s in SPECS if s.consumes}
    while (held := partitions_held(system)) != every:
        assert time.monotonic() < deadline, f"the partitions never moved: {held}"
        time.sleep(0.5)
    before = len(customers.bookings)
    more = Customers(system, rng, shows, count=20, people=6, pause=(0, 0.05), via=(survivor,))
    more.run()
    wait_final(system, more.bookings)
    settle(system)
    audit(system)
    outcomes_as_paid(system, more)
    notifier = "notifications-2" if killed["notifications"] == "notifications" else "notifications"
    mailed_once(system, mailpit, {**customers.bookings, **more.bookings}, via=notifier)
    assert relay_holders(system) == {
        svc: f"{svc} relay {2 if killed[svc] == svc else 1}" for svc in RELAYING}
    print(f"\n{before} + {len(more.bookings)} bookings, {customers.refused + more.refused} refused"
          f" at once; killed {sorted(killed.values())}; {len(copies)} events published once each")


class Ask(NamedTuple):
    customer: str
    seat: str
    via: str  # the booking instance asked
    asked: float  # when the request was sent (monotonic)
    answered: float  # when its answer came
    status: int
    body: dict


def test_a_flash_sale_through_two_booking_instances_refuses_each_late_loser_at_once(
    start_system,
):
    """Many customers ask for the same few seats through both booking instances. Each
    instance follows some shows' partitions and claims its own requests' seats, and they
    share both through Redis: whoever asks after a seat's winner was answered is refused
    at once (409) by either instance, instead of going round the saga. No seat is sold
    twice."""
    rng = random.Random(SEED + 2)
    system = start_system(instances=2)
    show, seats, both = "flash", ["A1", "A2", "A3"], ("booking", "booking-2")
    system.open_show(show, seats=len(seats))
    # A burst first (requests for one seat race through both instances), then stragglers.
    plan = [(f"fan{i}", rng.choice(seats), both[i % 2], 0 if i < 16 else rng.uniform(0, 1.5))
            for i in range(60)]

    def ask(customer: str, seat: str, via: str, pause: float) -> Ask:
        time.sleep(pause)
        asked = time.monotonic()
        r = system.book(customer, show, [seat], via=via)
        return Ask(customer, seat, via, asked, time.monotonic(), r.status_code, r.json())

    with ThreadPoolExecutor(8) as pool:
        asks = list(pool.map(lambda p: ask(*p), plan))
    assert {a.status for a in asks} <= {202, 409}, [a for a in asks if a.status not in (202, 409)]
    assert all(a.body["error"] == "seats_taken" for a in asks if a.status == 409)
    taken = [a for a in asks if a.status == 202]
    outcomes = {a.customer: system.wait_for(a.customer, a.body["booking_id"]) for a in taken}
    winners = {a.seat: a for a in taken if outcomes[a.customer]["status"] == "CONFIRMED"}
    assert sorted(winners) == sorted({a.seat for a in asks})
    assert len(winners) == sum(doc["status"] == "CONFIRMED" for doc in outcomes.values())
    won = {a.customer for a in winners.values()}
    for customer, doc in outcomes.items():
        if customer not in won:
            assert (doc["status"], doc["cancellation_detail"]) == ("CANCELLED", "seats_taken")
    late = [a for a in asks if a.customer not in won and a.asked > winners[a.seat].answered]
    assert {a.via for a in late} == set(both), "both instances must have had late losers"
    let_through = [a for a in late if a.status != 409]
    assert not let_through, f"asked after the seat's winner was answered, yet taken: {let_through}"
    settle(system)
    audit(system)  # one holder per seat, among the rest
    print(f"\n{len(asks)} requests for {len(seats)} seats through two booking instances: "
          f"{len(taken)} taken, {len(asks) - len(taken)} refused at once, of which {len(late)} "
          f"asked after their seat's winner (on {Counter(a.via for a in late)})")

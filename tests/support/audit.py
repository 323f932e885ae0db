"""After a load on the distributed system (tests/e2e/harness.py): ``settle`` until it is
quiet, then ``audit`` its stores and its payment provider's records with the invariants
the simulation checks (``invariants.audit_checks``, which bench/audit.py runs too)."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

from confluent_kafka import Consumer, TopicPartition

from shared.contracts import TOPICS
from shared.services import SERVICES
from tests.support import invariants as inv

if TYPE_CHECKING:
    from tests.e2e.harness import Distributed


def audit(system: Distributed, customer_cancelled: set | None = None) -> None:
    """``customer_cancelled``: the bookings whose customers cancelled (their seats may be
    released for that reason). The money is read from the payment provider's own records
    (``system.ledger()``: the simulated provider's, or Stripe's)."""
    stores, ledger = system.stores(), system.ledger()
    try:
        with inv.one_moment(stores):
            for _, check in inv.audit_checks(stores, ledger, customer_cancelled or set()):
                check()
    finally:
        ledger.close()
        for app in stores.apps.values():
            app.close()


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


def inbox_positions(system: Distributed, service: str) -> dict[str, int]:
    return dict(system.sql(
        service, "SELECT application_name, notification_id FROM {app}_tracking"
        " WHERE application_name LIKE %s", f"{system.local.settings.topic_prefix}%",
    ))


# What each service follows, as the registry declares it.
SUBSCRIPTIONS = {s.name: s.subscribes_to for s in SERVICES}


def consumers_caught_up(system: Distributed) -> dict[str, int] | None:
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


def settle(system: Distributed, timeout: float = 60.0) -> None:
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

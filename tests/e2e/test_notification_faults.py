"""The notification service under faults, in the distributed system on its real email
channel (this checkout's Mailpit): killed with kill -9 again and again while customers
book (some with a declined card, whose holds then expire), its inbox rewound to the start
of every topic, and Mailpit stopped for a minute, while the bookings go on.

What must hold afterwards, from the service's own records, the bookings' final states
and what Mailpit received (counted by Message-ID): every confirmed booking of a customer
with an email address has its confirmation, every cancelled one its cancellation; a
customer without contact details got nothing; no message arrived twice unless its record
shows an interrupted attempt (a kill between the send and its record), and then once per
such attempt at most; no reminder was attempted once its hold had ended.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from datetime import datetime

import pytest

from shared.services import BY_NAME
from tests.support import crashing_notifications
from tests.support.audit import audit, high_watermarks, inbox_positions, settle
from tests.support.customers import Customers, wait_final
from tests.support.mailpit import MailpitApi, bare, mailpit_stopped
from tests.support.notified import (
    addresses,
    all_told,
    give_contact,
    received_as_recorded,
)

pytestmark = pytest.mark.infra

SEED = 20261205
OUTAGE_S = 60  # Mailpit stopped this long
HOLD_S = 6
PEOPLE = 8  # customers c0..c7
WITHOUT_CONTACT = {"c6", "c7"}
FRENCH = {"c0", "c3"}
# Short enough to keep the test bounded, long enough to mean something: an attempt
# without an outcome is made again after 3 s (SMTP's own timeout is 2 s); a failed one
# after 1 s, then 2, then every 4 s, so a message keeps being tried through the outage
# (20 attempts span over a minute) and goes within 4 s of Mailpit's return.
SETTINGS = {
    "hold_seconds": str(HOLD_S),
    "notify_reminder_before_s": "3",
    "notify_dispatch_s": "0.2",
    "notify_send_timeout_s": "3",
    "smtp_timeout_s": "2",
    "notify_retry_after_s": "1",
    "notify_retry_max_s": "4",
    "notify_max_attempts": "25",
}


def kill_and_restart(system, rng: random.Random) -> None:
    system.local.kill("notifications")  # kill -9, wherever it was
    time.sleep(rng.uniform(0, 0.5))
    system.local.start("notifications")
    system.local.wait_ready("notifications")


def crash_at(system, point: str, timeout: float = 60) -> None:
    """The service started again to die at ``point`` (send:n), then again without one."""
    local = system.local
    local.env[crashing_notifications.VARIABLE] = point
    local.kill("notifications")
    local.start("notifications")  # not waited for: it may reach its crash point first
    deadline = time.monotonic() + timeout
    while local.procs["notifications"].poll() is None:
        assert time.monotonic() < deadline, f"never reached its crash point {point}"
        time.sleep(0.05)
    local.env[crashing_notifications.VARIABLE] = ""
    local.start("notifications")
    local.wait_ready("notifications")


def rewind_inbox(system) -> int:
    """Stop the service, set its inbox's every position back to the start of its topics,
    start it, and wait until it has read them all again; how many messages it read."""
    s = system.local.settings
    system.local.stop("notifications")
    system.sql("notifications", "UPDATE {app}_tracking SET notification_id = 0"
               " WHERE application_name LIKE %s", f"{s.topic_prefix}%")
    assert set(inbox_positions(system, "notifications").values()) == {0}
    system.local.start("notifications")
    system.local.wait_ready("notifications")
    topics = [s.topic_prefix + BY_NAME[t].topic for t in BY_NAME["notifications"].subscribes_to]
    marks = high_watermarks(s.kafka_bootstrap, topics)
    deadline = time.monotonic() + 60
    while any(inbox_positions(system, "notifications").get(tp, 0) < end
              for tp, end in marks.items()):
        assert time.monotonic() < deadline, "the rewound inbox never read its topics again"
        time.sleep(0.3)
    return sum(marks.values())


def test_kills_a_rewound_inbox_and_mailpit_down_for_a_minute_lose_and_repeat_nothing(
    start_system, mailpit: MailpitApi,
) -> None:
    rng = random.Random(SEED)
    system = start_system(**SETTINGS)
    mail = addresses(system)
    customers = [f"c{i}" for i in range(PEOPLE)]
    for customer in customers:
        if customer not in WITHOUT_CONTACT:
            give_contact(system, customer, email=mail(customer),
                         language="fr" if customer in FRENCH else "en")
    shows = [f"notify-{i}" for i in range(30)]
    for show in shows:
        system.open_show(show, seats=12)
    stop = threading.Event()
    client = Customers(system, rng, shows, count=2000, people=PEOPLE, pause=(0.15, 0.5),
                       stop=stop)
    client.start()
    kills = 0
    log = system.local.log_dir / "notifications.log"
    system.local.modules["notifications"] = crashing_notifications.__name__
    try:
        # kill -9 again and again while the bookings come: at a random moment, or right
        # after Mailpit took the n-th email of the process's life, before it was recorded.
        for point in ["send:2", "", "send:1", "", "send:3", ""]:
            if point:
                crash_at(system, point)
            else:
                time.sleep(rng.uniform(0.5, 2.5))
                kill_and_restart(system, rng)
            kills += 1
        redelivered = rewind_inbox(system)
        # Mailpit gone for a minute, the service killed twice meanwhile.
        outage_from = datetime.now().astimezone()
        with mailpit_stopped(mailpit):
            for _ in range(2):
                time.sleep(rng.uniform(10, 25))
                kill_and_restart(system, rng)
                kills += 1
            time.sleep(max(OUTAGE_S - (datetime.now().astimezone() - outage_from)
                           .total_seconds(), 0))
        outage_to = datetime.now().astimezone()
        time.sleep(3)  # bookings after Mailpit's return too
    finally:
        stop.set()
        client.join(60)
    assert client.done.is_set()
    wait_final(system, client.bookings)
    settle(system)
    audit(system)

    # Every message final: sent, dropped, or given up.
    records = all_told(system, client.bookings)
    by_message = {bare(n["message_id"]): n for notes in records.values() for n in notes}
    received = mailpit.summaries(f"to:{mail('')}")
    copies = received_as_recorded(records, received)

    outcomes = {b: system.booking(c, b) for b, c in client.bookings.items()}
    due = {"CONFIRMED": "confirmation", "CANCELLED": "cancellation"}
    for booking_id, customer in client.bookings.items():
        notes, status = records[booking_id], outcomes[booking_id]["status"]
        if customer in WITHOUT_CONTACT:
            assert {(n["status"], n["reason"]) for n in notes} == {("dropped", "no_contact")}
            continue
        [final] = [n for n in notes if n["kind"] == due[status]]
        assert (final["channel"], final["to"], final["status"]) == (
            "email", mail(customer), "sent"), final
        assert copies[bare(final["message_id"])] >= 1, final
        for n in notes:
            if n["kind"] == "payment_reminder":  # never tried once the hold was over
                until = datetime.fromisoformat(outcomes[booking_id]["reserved_until"])
                assert all(datetime.fromisoformat(a["started_at"]) < until
                           for a in n["attempts"]), (n, until)
    assert not [n for n in by_message.values() if n["status"] == "failed_permanently"]
    assert not [c for c in customers if c in WITHOUT_CONTACT
                and mailpit.summaries(f"to:{mail(c)}")]

    # The messages a crash point interrupted reached Mailpit, and their record says so.
    crashed = [line.split(crashing_notifications.CRASH_LINE, 1)[1].split()[-1]
               for line in log.read_text().splitlines()
               if crashing_notifications.CRASH_LINE in line]
    assert len(crashed) == 3, crashed
    for message_id in map(bare, crashed):
        n = by_message[message_id]
        assert n["interrupted_attempts"] and copies[message_id] >= 1, n
        if n["status"] == "sent":  # sent again once its attempt had timed out
            assert copies[message_id] >= 2, n

    duplicates = sum(n - 1 for n in copies.values() if n > 1)
    interrupted = sum(len(n["interrupted_attempts"]) for n in by_message.values())
    failed_attempts = [a for n in by_message.values() for a in n["attempts"]
                       if a["outcome"] == "failed"]
    assert failed_attempts, "no send failed: Mailpit's outage was not felt"
    assert all(outage_from <= datetime.fromisoformat(a["started_at"]) <= outage_to
               for a in failed_attempts), "a send failed while Mailpit was up"
    sent_after = [n for n in by_message.values() if n["status"] == "sent"
                  and any(a["outcome"] == "failed" for a in n["attempts"])]
    assert sent_after, "no message failed during the outage and was sent after it"
    kinds = Counter((n["kind"], n["status"], n["reason"] if n["status"] == "dropped" else "")
                    for n in by_message.values())
    print(f"\n{len(client.bookings)} bookings ({Counter(o['status'] for o in outcomes.values())}),"
          f" {client.refused} refused at once; {kills} kills; {redelivered} messages read"
          f" again after the rewind; {len(received)} emails in Mailpit for"
          f" {len(copies)} messages, {duplicates} duplicate(s), {interrupted} interrupted"
          f" attempt(s) recorded ({len(crashed)} at crash points); {len(failed_attempts)} attempts failed during the"
          f" outage, {len(sent_after)} of those messages sent after it; {dict(kinds)}")

"""What the notification service of the distributed system (tests/e2e/harness.py) was
told and what it recorded: customers' contact details given over its API, and each
booking's messages as its operators' read shows them (kind, channel, destination,
status, Message-ID, attempts, interrupted ones)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from tests.support.mailpit import bare

FINAL = frozenset({"sent", "failed_permanently", "dropped"})


def addresses(system) -> Callable[[str], str]:
    """A customer's email address, in a domain of this system's own: Mailpit is shared by
    every test of the checkout, and a search by the domain finds this system's mail."""
    domain = f"{system.local.settings.topic_prefix.strip('.')}.example"
    return lambda customer: f"{customer}@{domain}"


def give_contact(system, customer: str, **details) -> dict:
    """``PUT /customers/me/contact`` as the customer: email, language, push_subscriptions..."""
    r = system.clients["notifications"].put("/customers/me/contact", json=details,
                                            headers=system.auth(customer))
    assert r.status_code == 200, r.text
    return r.json()


def notifications(system, booking_id: str, via: str = "notifications") -> list[dict]:
    """The booking's messages as recorded (an operator's read, of the instance ``via``),
    oldest first; [] while the service has not heard of the booking."""
    r = system.clients[via].get(f"/bookings/{booking_id}/notifications",
                                            headers=system.auth("ops", operator=True))
    if r.status_code == 404:
        return []
    assert r.status_code == 200, r.text
    return r.json()["notifications"]


def all_final(notes: list[dict]) -> bool:
    return bool(notes) and all(n["status"] in FINAL for n in notes)


def told(system, booking_id: str, timeout: float = 30,
         until: Callable[[list[dict]], bool] = all_final) -> list[dict]:
    """The booking's messages once ``until`` holds of them (by default: some, all final)."""
    deadline = time.monotonic() + timeout
    while not until(notes := notifications(system, booking_id)):
        assert time.monotonic() < deadline, f"{booking_id}: {notes}"
        time.sleep(0.1)
    return notes


def all_told(system, bookings: Iterable[str], timeout: float = 60,
             via: str = "notifications") -> dict[str, list[dict]]:
    """Every booking's messages, once each is final (sent, dropped or given up)."""
    records: dict[str, list[dict]] = {}
    deadline = time.monotonic() + timeout
    for booking_id in bookings:
        while not all_final(notes := notifications(system, booking_id, via)):
            assert time.monotonic() < deadline, f"{booking_id}: {notes}"
            time.sleep(0.2)
        records[booking_id] = notes
    return records


def received_as_recorded(records: dict[str, list[dict]],
                         received: list[dict[str, Any]]) -> Counter[str]:
    """Mailpit against the records: each copy received is of a message the service
    decided; one recorded as sent arrived, once, or once more for each attempt recorded
    as interrupted (a crash between the send and its record: sent, then found
    unrecorded); one not sent arrived only as often as its interrupted attempts. The
    copies by Message-ID."""
    by_message = {bare(n["message_id"]): n for notes in records.values() for n in notes}
    copies = Counter(m["MessageID"] for m in received)
    assert not [m for m in copies if m not in by_message], "mail the service never decided"
    for message_id, n in by_message.items():
        interrupted = len(n["interrupted_attempts"])
        if n["status"] == "sent":
            assert 1 <= copies[message_id] <= 1 + interrupted, n
        else:
            assert copies[message_id] <= interrupted, n
    return copies

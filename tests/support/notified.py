"""What the notification service of the distributed system (tests/e2e/harness.py) was
told and what it recorded: customers' contact details given over its API, and each
booking's messages as its operators' read shows them (kind, channel, destination,
status, Message-ID, attempts, interrupted ones)."""

from __future__ import annotations

import time
from collections.abc import Callable

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


def notifications(system, booking_id: str) -> list[dict]:
    """The booking's messages as recorded (an operator's read), oldest first; [] while the
    service has not heard of the booking."""
    r = system.clients["notifications"].get(f"/bookings/{booking_id}/notifications",
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

"""The chaos soak's end: wait (bounded) until the system is at rest, then audit it.

Beyond the saga's invariants (bench/audit.py, over every service's store, dead letters
included): the views equal a fresh fold of the streams (``python -m projections
verify``'s check), and every email the notification service recorded as sent is in
Mailpit, counted by Message-ID: once, or once more for each attempt its record shows
interrupted (a crash between the send and its record); none is left unsettled, and
every confirmed booking of a customer who gave an address has its confirmation sent.
"""

from __future__ import annotations

import importlib
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench.audit import audit
from booking.domain import BookingStatus
from notifications.domain import CONFIRMATION, SENT, Notification
from projections.mongo_store import connect
from projections.rebuild import verify
from projections.sources import stream_readers
from shared.services import BY_NAME, NAMES, PROJECTED
from tests.e2e.harness import Distributed, Stores
from tests.support import audit as settling
from tests.support import invariants as inv
from tests.support.mailpit import MailpitApi, bare


def store(system: Distributed, name: str) -> Any:
    """A service's store (its application, reading), to be closed by the caller."""
    s = system.local.settings
    cls = getattr(importlib.import_module(f"{name}.application"), BY_NAME[name].application)
    return cls(env=s.postgres_env(s.service_db(name)))


def all_stores(system: Distributed) -> Stores:
    """Every service's store (the harness's ``stores`` has the saga's three)."""
    return Stores({name: store(system, name) for name in NAMES})


def notifications(system: Distributed) -> list[Notification]:
    stores = Stores({"notifications": store(system, "notifications")})
    try:
        return inv.aggregates(stores, "notifications", Notification)
    finally:
        stores.apps["notifications"].close()


def outcomes(system: Distributed) -> dict[str, int]:
    """The bookings recorded, by status and, for the cancelled, reason."""
    stores = Stores({"booking": store(system, "booking")})
    try:
        return dict(Counter(
            b.status.value + (f" ({b.cancellation_reason.value})" if b.cancellation_reason else "")
            for b in inv.bookings(stores)))
    finally:
        stores.booking.close()


def wait_at_rest(system: Distributed, timeout: float, log: Callable[[str], object]) -> dict:
    """Until nothing moves (every message consumed, no event recorded for half a second)
    and every notification is settled; how long it took, or what was left."""
    start = time.monotonic()
    deadline = start + timeout
    quiet = False
    try:
        settling.settle(system, timeout)
        quiet = True
    except AssertionError as e:
        log(f"not quiet after {timeout:g} s: {e}")
    left = -1
    while quiet and time.monotonic() < deadline:
        left = len([n for n in notifications(system) if not n.final])
        if left == 0:
            settling.settle(system, max(deadline - time.monotonic(), 1))
            break
        time.sleep(2)
    views = system.views_caught_up(PROJECTED, max(deadline - time.monotonic(), 5))
    return {"quiet": quiet, "notifications_unsettled": left, "views_caught_up": views,
            "took_s": round(time.monotonic() - start, 1)}


def views_check(system: Distributed) -> str:
    s = system.local.settings
    with connect(s.mongo_url) as mongo:
        differences = verify(mongo[s.views_db], stream_readers(s))
    return "ok" if not differences else f"FAILED: {len(differences)}: {differences[:5]}"


def mail_check(system: Distributed, mailpit_api: str) -> tuple[str, dict]:
    """Each email recorded sent is in Mailpit once, or once more per interrupted attempt;
    every confirmed booking of a customer with an address has its confirmation sent."""
    api = MailpitApi(mailpit_api)
    try:
        copies = Counter(m["MessageID"] for m in api.summaries())
    finally:
        api.close()
    stores = all_stores(system)
    try:
        found = inv.aggregates(stores, "notifications", Notification)
        confirmed = {b.id for b in inv.bookings(stores) if b.status is BookingStatus.CONFIRMED}
    finally:
        for app in stores.apps.values():
            app.close()
    problems: list[str] = []
    by_status = Counter(n.status for n in found)
    repeats = 0
    for n in found:
        times = copies.get(bare(n.message_id), 0)
        if n.status == SENT and not 1 <= times <= 1 + len(n.interrupted):
            problems.append(f"{n.kind} {n.id}: sent, {times} copies, interrupted {n.interrupted}")
        elif n.status != SENT and times > len(n.interrupted):
            problems.append(f"{n.kind} {n.id}: {n.status}, {times} copies")
        if not n.final:
            problems.append(f"{n.kind} {n.id}: {n.status}")
        repeats += max(times - 1, 0)
    emailed = {n.booking_id for n in found if n.kind == CONFIRMATION and n.status == SENT}
    with_address = {n.booking_id for n in found if n.kind == CONFIRMATION and n.destination}
    missing = (confirmed & with_address) - emailed
    if missing:
        problems.append(f"{len(missing)} confirmed bookings without their confirmation sent")
    totals = {"notifications": len(found), "by_status": dict(by_status),
              "emails_in_mailpit": sum(copies.get(bare(n.message_id), 0) for n in found),
              "repeats_of_interrupted": repeats,
              "interrupted_attempts": sum(len(n.interrupted) for n in found)}
    return ("ok" if not problems else f"FAILED: {len(problems)}: {problems[:5]}"), totals


def full_audit(system: Distributed, customer_cancelled: set, mailpit_api: str) -> dict:
    result = audit(system, False, customer_cancelled, all_stores(system))  # closes them
    result["checks"]["views equal a fresh fold"] = views_check(system)
    result["checks"]["each email sent once (or per interrupted attempt)"], result["mail"] = (
        mail_check(system, mailpit_api))
    result["ok"] = all(v == "ok" for v in result["checks"].values())
    result["bookings_by_outcome"] = outcomes(system)
    return result

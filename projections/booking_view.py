"""A booking as its customer sees it: status, seats, money, attempts, timeline.

Built from three streams (booking, inventory, payment) whose relative order is
not fixed, so every rule here is order-independent: the status only moves
forward along the booking graph, attempts are keyed by number, the timeline is
kept sorted. Rebuilt in any interleaving, the document comes out the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from projections.common import ms
from shared import contracts as c

# Forward-only ranks: a late message can never move a booking back (and no reader may
# ever see one go back: the benchmark's driver and the tests check their polls with it).
# A later status ranks higher: CANCELLED follows CONFIRMED when the theatre cancels.
STATUS_RANK = {"PENDING": 0, "PAYMENT_PENDING": 1, "CONFIRMED": 2, "CANCELLED": 3}


SOURCES = ("booking", "inventory", "payment")  # the streams it folds (rebuild.py relies on it)


def key(event: c.PublicEvent) -> str | None:
    return str(event.booking_id) if isinstance(event, c.BookingEvent) else None


def apply(doc: dict[str, Any] | None, e: c.PublicEvent) -> dict[str, Any] | None:
    if not isinstance(e, c.BookingEvent):
        return doc
    doc = doc or _blank(e)
    _timeline(doc, e)
    fold = _FOLDS.get(type(e))
    if fold is not None:
        fold(doc, e)
        _next_action(doc)
    return doc


def _requested(doc: dict[str, Any], e: c.BookingRequested) -> None:
    doc.update(customer_id=e.customer_id, seat_ids=list(e.seat_ids), requested_at=ms(e.occurred_at))


def _reserved(doc: dict[str, Any], e: c.SeatsReserved) -> None:
    doc.update(amount=e.amount, currency=e.currency, reserved_until=ms(e.reserved_until))
    _advance(doc, "PAYMENT_PENDING")


def _confirmed(doc: dict[str, Any], e: c.BookingConfirmed) -> None:
    _advance(doc, "CONFIRMED")


def _cancelled(doc: dict[str, Any], e: c.BookingCancelled) -> None:
    _advance(doc, "CANCELLED")
    doc.update(cancellation_reason=e.reason, cancellation_detail=e.detail)


def _paid(doc: dict[str, Any], e: c.PaymentSucceeded) -> None:
    doc["attempts"][str(e.attempt)] = {"outcome": "succeeded", "at": ms(e.occurred_at)}


def _failed(doc: dict[str, Any], e: c.PaymentFailed) -> None:
    doc["attempts"][str(e.attempt)] = {"outcome": "failed", "reason": e.reason, "at": ms(e.occurred_at)}


def _refunded(doc: dict[str, Any], e: c.PaymentRefunded) -> None:
    refunds = doc.setdefault("refunds", {})  # by the provider's id: partial ones add up
    refunds[e.refund_id] = e.amount
    doc["refunded_amount"] = sum(refunds.values())


def _retry_requested(doc: dict[str, Any], e: c.PaymentRetryRequested) -> None:
    doc["attempts_requested"] = max(doc.get("attempts_requested", 1), e.attempt)


def _action_required(doc: dict[str, Any], e: c.PaymentActionRequired) -> None:
    doc.setdefault("actions", {})[str(e.attempt)] = e.client_secret


def _next_action(doc: dict[str, Any]) -> None:
    """What the customer must do now: authenticate the latest attempt, while the booking
    is PAYMENT_PENDING and no outcome of that attempt (nor any success) is known. A
    function of what was folded, not of the order it came in."""
    latest = str(doc.get("attempts_requested", 1))
    secret = doc.get("actions", {}).get(latest)
    paid = any(a["outcome"] == "succeeded" for a in doc["attempts"].values())
    waiting = (secret and doc["status"] == "PAYMENT_PENDING" and not paid
               and latest not in doc["attempts"])
    doc["next_action"] = {"type": "authenticate", "client_secret": secret} if waiting else None


# By exact type (contracts are final structs; a new version is a new class, added here).
_FOLDS: dict[type, Callable[[dict[str, Any], Any], None]] = {
    c.BookingRequested: _requested,
    c.SeatsReserved: _reserved,
    c.BookingConfirmed: _confirmed,
    c.BookingCancelled: _cancelled,
    c.PaymentSucceeded: _paid,
    c.PaymentFailed: _failed,
    c.PaymentRefunded: _refunded,
    c.PaymentRetryRequested: _retry_requested,
    c.PaymentActionRequired: _action_required,
}


def _blank(e: c.BookingEvent) -> dict[str, Any]:
    return {
        "_id": str(e.booking_id),
        "show_id": e.show_id,
        "customer_id": None,
        "seat_ids": [],
        "status": "PENDING",
        "requested_at": None,
        "amount": None,
        "currency": None,
        "reserved_until": None,
        "attempts": {},
        "refunded_amount": 0,
        "refunds": {},  # the provider's refund id -> amount
        "cancellation_reason": None,
        "cancellation_detail": "",
        "timeline": [],
        "attempts_requested": 1,
        "actions": {},  # attempt -> client secret (3-D Secure)
        "next_action": None,
    }


def _advance(doc: dict[str, Any], status: str) -> None:
    if STATUS_RANK[status] > STATUS_RANK[doc["status"]]:  # never back
        doc["status"] = status


def _timeline(doc: dict[str, Any], e: c.PublicEvent) -> None:
    entry = {"at": ms(e.occurred_at), "event": type(e).__name__, "event_id": e.event_id}
    if entry not in doc["timeline"]:
        doc["timeline"].append(entry)
        doc["timeline"].sort(key=lambda t: (t["at"], t["event_id"]))

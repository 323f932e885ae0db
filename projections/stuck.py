"""Which bookings are stuck: not moved on for longer than their step should take.

A choreographed saga has no orchestrator to ask where a booking is; its view says what
happened last and when, and these rules say how long each step may take:

- PENDING: inventory answers a hold request at once; longer than ``pending`` means no
  answer (inventory down, its consumer stopped, a message lost).
- PAYMENT_PENDING with an attempt in flight: the provider answers, or payment's
  reconciliation asks it after ``reconcile_after``; longer than that plus ``margin``,
  payment has no outcome.
- PAYMENT_PENDING paid: inventory books the seats and booking confirms at once;
  longer than ``margin`` is stuck.
- PAYMENT_PENDING waiting for the customer (a declined card to replace, 3-D Secure to
  complete): the customer has until the hold ends; a booking still there ``margin``
  after its hold ended was never expired.

Pure: the view's document and the time in, a verdict out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

IN_FLIGHT = ("PENDING", "PAYMENT_PENDING")  # the states a saga can stop in


@dataclass(frozen=True)
class StuckRules:
    pending: timedelta = timedelta(seconds=30)
    reconcile_after: timedelta = timedelta(seconds=30)  # payment's (GatewaySettings)
    margin: timedelta = timedelta(seconds=30)

    @property
    def shortest(self) -> timedelta:
        """No booking requested more recently than this can be stuck."""
        return min(self.pending, self.margin)

    def verdict(self, doc: dict[str, Any], now: datetime) -> tuple[str, str] | None:
        """(what it waits for, why it is stuck), or None for a booking moving in time."""
        status = doc["status"]
        moved = last_moved(doc)
        if status == "PENDING":
            if now - (doc.get("requested_at") or moved) > self.pending:
                return "inventory", f"no answer to the hold request for over {_s(self.pending)}"
            return None
        if status != "PAYMENT_PENDING":
            return None
        reserved_until = doc.get("reserved_until")
        if reserved_until is not None and now - reserved_until > self.margin:
            return "inventory", "the hold ended but the booking was never cancelled"
        attempts = doc.get("attempts") or {}
        if any(a["outcome"] == "succeeded" for a in attempts.values()):
            if now - moved > self.margin:
                return "inventory", f"paid, not confirmed for over {_s(self.margin)}"
            return None
        latest = str(doc.get("attempts_requested", 1))
        if latest in attempts or doc.get("next_action"):
            return None  # the customer's turn (a new card, 3-D Secure) until the hold ends
        if now - moved > self.reconcile_after + self.margin:
            return "payment", ("no outcome of the payment for over "
                               f"{_s(self.reconcile_after + self.margin)}")
        return None


def last_moved(doc: dict[str, Any]) -> datetime:
    """When the booking last moved on: its timeline's latest event."""
    timeline = doc.get("timeline") or []
    moved: datetime = timeline[-1]["at"] if timeline else doc["requested_at"]
    return moved


def _s(span: timedelta) -> str:
    return f"{span.total_seconds():g} s"

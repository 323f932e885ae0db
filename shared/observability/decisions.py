"""The services' decisions, as their public events say them: counted once each, when
the write that records them has committed.

A policy may decide a message more than once (a write conflict decides again; a
redelivered message is absorbed), so decisions are observed after the commit, from
what was recorded, not where they are made. The public events are the decisions'
names across the services (held, rejected with a reason, charged, declined, released,
confirmed, cancelled), so one table here serves every service; a service whose events
mean decisions of a new kind (notifications) adds its rows to ``DECISIONS``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from shared import contracts as c
from shared.observability import metrics

log = logging.getLogger("cinema.decisions")

# contract -> (the decision's name, the counter it counts in, its outcome, its reason)
Decision = tuple[str, Any, str, Callable[[Any], str]]
_NONE: Callable[[Any], str] = lambda e: ""
_REASON: Callable[[Any], str] = lambda e: e.reason

DECISIONS: dict[type, Decision] = {
    c.BookingRequested: ("requested", metrics.BOOKINGS, "requested", _NONE),
    c.BookingConfirmed: ("confirmed", metrics.BOOKINGS, "confirmed", _NONE),
    c.BookingCancelled: ("cancelled", metrics.BOOKINGS, "cancelled", _REASON),
    c.SeatsReserved: ("held", metrics.HOLDS, "placed", _NONE),
    c.SeatsRejected: ("rejected", metrics.HOLDS, "rejected", _REASON),
    c.SeatsReleased: ("released", metrics.HOLDS, "released", _REASON),
    c.SeatsBooked: ("booked", metrics.HOLDS, "booked", _NONE),
    c.PaymentSucceeded: ("charged", metrics.PAYMENTS, "succeeded", _NONE),
    c.PaymentFailed: ("declined", metrics.PAYMENTS, "failed", _REASON),
    c.PaymentActionRequired: ("action_required", metrics.PAYMENTS, "action_required", _NONE),
    c.PaymentRefunded: ("refunded", metrics.PAYMENTS, "refunded", _NONE),
}


def notified(channel: str, kind: str, booking_id: Any,
             failure: tuple[str, bool] | None) -> None:
    """A notification's send and its outcome, recorded: counted by channel and state
    (sent, failed, failed_permanently) and logged as a decision of the notification
    service (notifications publish no public event)."""
    state = "sent" if failure is None else ("failed_permanently" if failure[1] else "failed")
    metrics.notification(channel, state)
    fields: dict[str, Any] = {"decision": f"notification_{state}", "booking_id": str(booking_id),
                              "channel": channel, "kind": kind}
    if failure is not None:
        fields["reason"] = failure[0]
    log.info(f"notification {state}: {kind} by {channel}", extra={"fields": fields})


def decided(service: str, event: c.PublicEvent, trace_id: str | None = None) -> None:
    """Count and log one decision a service recorded (events that decide nothing are
    ignored); ``trace_id``: the trace of the request or message that made it."""
    decision = DECISIONS.get(type(event))
    if decision is None:
        return
    name, counter, outcome, reason_of = decision
    reason = reason_of(event)
    metrics.child(counter, outcome, reason).inc()
    fields: dict[str, Any] = {"decision": name, "show_id": getattr(event, "show_id", None)}
    if reason:
        fields["reason"] = reason
    if isinstance(event, c.BookingEvent):
        fields["booking_id"] = str(event.booking_id)
    if trace_id:
        fields["trace_id"] = trace_id
    log.info(f"{name}: {reason}" if reason else name, extra={"fields": fields})

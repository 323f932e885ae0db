"""The payment API's bodies, and how a Payment is shown to operators."""

from __future__ import annotations

from payment.domain import Payment
from shared.http.schemas import ResponseBody


class AttemptView(ResponseBody, frozen=True):
    number: int
    succeeded: bool
    reason: str  # the gateway's decline code, or "hold_expired"; empty on success


class PaymentView(ResponseBody, frozen=True):
    booking_id: str
    payment_id: str
    status: str  # OPEN, CAPTURED, REFUNDED, CLOSED
    amount: int | None  # minor units; known once inventory priced the hold
    currency: str | None
    attempts: list[AttemptView]
    refunded: bool
    closed_reason: str | None  # why no further attempt will be made


def payment_status(payment: Payment) -> str:
    if payment.refunded:
        return "REFUNDED"
    if payment.succeeded:
        return "CAPTURED"
    return "CLOSED" if payment.closed_reason else "OPEN"


def payment_view(payment: Payment) -> PaymentView:
    return PaymentView(
        booking_id=str(payment.booking_id),
        payment_id=str(payment.id),
        status=payment_status(payment),
        amount=payment.amount,
        currency=payment.currency,
        attempts=[AttemptView(a["attempt"], a["succeeded"], a["reason"]) for a in payment.attempts],
        refunded=payment.refunded,
        closed_reason=payment.closed_reason,
    )

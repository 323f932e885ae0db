"""The payment API's bodies, and how a Payment is shown to operators."""

from __future__ import annotations

from payment.domain import Payment
from shared.http.schemas import ResponseBody


class AttemptView(ResponseBody, frozen=True):
    number: int
    succeeded: bool
    reason: str  # the provider's decline code, "canceled" or "hold_expired"; empty on success


class IntentView(ResponseBody, frozen=True):
    attempt: int
    intent_id: str
    waiting_for_customer: bool  # 3-D Secure: the customer has yet to authenticate


class WebhookReceived(ResponseBody, frozen=True):
    event_id: str
    recorded: bool  # False: delivered before, or about no payment of this service


class PaymentView(ResponseBody, frozen=True):
    booking_id: str
    payment_id: str
    status: str  # OPEN, CAPTURED, REFUNDED, CLOSED
    amount: int | None  # minor units; known once inventory priced the hold
    currency: str | None
    attempts: list[AttemptView]
    pending: list[IntentView]  # attempts whose outcome the provider has yet to give
    refunded: bool
    refunded_outside: int  # refunded at the provider by someone else (an operator)
    charges_not_kept: int  # successes beyond the one kept, refunded (or being refunded)
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
        pending=[IntentView(o.attempt, o.intent_id, bool(o.client_secret))
                 for o in payment.open_intents()],
        refunded=payment.refunded,
        refunded_outside=payment.refunded_outside,
        charges_not_kept=len(payment.not_kept),
        closed_reason=payment.closed_reason,
    )

"""The Payment aggregate: one per booking, at most one successful charge kept, refunds.

A payment learns what to charge from two services, in either order: the method
for each attempt from booking (the first with the request, the others with each
retry) and the amount and deadline from inventory's hold. It makes an attempt
only when both are known, never after the hold is gone, and refunds a charge
that can no longer be honoured.

Each attempt is one of the provider's intents (payment/intents.py): recorded as started,
with the intent's id, before it is confirmed, so the service always knows every intent
that may charge. What the provider says of an intent (the answer to a confirm or a
cancel, a webhook, a retrieve) may come in any order and any number of times; only what
is new is recorded. A success is the booking's payment if it is the first and its
attempt was still open; any other success is a charge not kept, refunded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.domain import event

from payment.intents import Intent, Refund
from shared import ids
from shared.aggregate import Aggregate

# Sorts before any time: work to do at the next reconciliation, whatever its age.
AT_ONCE = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class DueAttempt:
    attempt: int
    payment_method: str
    amount: int
    currency: str

    def idempotency_key(self, payment_id: UUID) -> str:
        return attempt_key(payment_id, self.attempt)


def attempt_key(payment_id: UUID, attempt: int) -> str:
    return f"{payment_id}/attempt/{attempt}"


@dataclass(frozen=True)
class OpenIntent:
    """An attempt's intent whose outcome is not recorded yet."""

    attempt: int
    intent_id: str
    started_at: datetime
    client_secret: str  # set once the customer must authenticate (3-D Secure)


class Payment(Aggregate):
    TOPIC = "cinema.payment:Payment"

    class Created(Aggregate.Created):
        TOPIC = "cinema.payment:Payment.Created"

    @staticmethod
    def create_id(booking_id: UUID) -> UUID:
        return ids.payment_id(booking_id)

    @event("Opened", topic="cinema.payment:Payment.Opened")
    def __init__(self, booking_id: UUID, show_id: str) -> None:
        self.booking_id = booking_id
        self.show_id = show_id
        self.methods: list[str] = []  # methods[n - 1] is the method of attempt n
        self.amount: int | None = None
        self.currency: str | None = None
        self.reserved_until: datetime | None = None
        self.attempts: list[dict] = []  # decided: {attempt, succeeded, reason}
        self.charge_id: str | None = None
        self.charge_intent: str | None = None  # the intent of the charge kept
        self.closed_reason: str | None = None
        self.refund_id: str | None = None  # this service's refund of the charge kept
        self.refunded_outside = 0  # refunded at the provider by someone else (an operator)
        self.started: dict[int, tuple[str, datetime]] = {}  # attempt -> (intent id, at)
        self.secrets: dict[int, str] = {}  # attempt -> client secret (3-D Secure)
        # Successes not kept (a second one, or one on an attempt already decided):
        # intent id -> its refund's id, "" until refunded.
        self.not_kept: dict[str, str] = {}
        self.refund_ids: set[str] = set()  # every refund recorded, whoever made it

    # --- queries -------------------------------------------------------------

    @property
    def succeeded(self) -> bool:
        return self.charge_id is not None

    @property
    def refunded(self) -> bool:
        """Nothing of the charge kept: refunded by this service, or in full by others."""
        return self.refund_id is not None or (
            self.succeeded and self.amount is not None and self.refunded_outside >= self.amount)

    def decided(self, attempt: int) -> bool:
        return any(a["attempt"] == attempt for a in self.attempts)

    def attempt_of(self, intent_id: str) -> int | None:
        return next((n for n, (i, _) in self.started.items() if i == intent_id), None)

    def intent_of(self, attempt: int) -> str | None:
        started = self.started.get(attempt)
        return started[0] if started else None

    def open_intents(self) -> list[OpenIntent]:
        return [OpenIntent(n, i, at, self.secrets.get(n, ""))
                for n, (i, at) in sorted(self.started.items()) if not self.decided(n)]

    def due_attempt(self) -> DueAttempt | None:
        """The attempt to make now, if any: requested, priced, not made, still open. An
        earlier attempt's intent still open must be cancelled before it is made."""
        if self.succeeded or self.closed_reason or self.amount is None or self.currency is None:
            return None
        made = [*self.started, *(a["attempt"] for a in self.attempts)]
        n = max(made, default=0) + 1
        if n > len(self.methods):
            return None
        return DueAttempt(n, self.methods[n - 1], self.amount, self.currency)

    def needs_refund(self) -> bool:
        return self.succeeded and self.closed_reason is not None and not self.refunded

    def refund_due(self) -> int:
        """What is left to refund of the charge kept, once it can no longer be honoured."""
        assert self.amount is not None
        return self.amount - self.refunded_outside if self.needs_refund() else 0

    def not_kept_unrefunded(self) -> list[str]:
        return [i for i, refund in self.not_kept.items() if not refund]

    def unsettled_since(self) -> datetime | None:
        """Since when this payment waits for the provider (its oldest open intent), or
        AT_ONCE when a refund is owed; None when nothing is left to do."""
        if self.needs_refund() or self.not_kept_unrefunded():
            return AT_ONCE
        waiting, due = self.open_intents(), self.due_attempt()
        if waiting and (self.closed_reason or due is not None):
            return AT_ONCE  # an intent that may no longer charge, to cancel
        if due is not None:
            return AT_ONCE  # an attempt to make (a crash may have come before it)
        return min((o.started_at for o in waiting), default=None)

    # --- what booking and inventory tell us ------------------------------------

    def attempt_requested(self, attempt: int, payment_method: str) -> None:
        if attempt == len(self.methods) + 1:  # older or repeated requests change nothing
            self._request(attempt=attempt, payment_method=payment_method)

    @event("AttemptRequested", topic="cinema.payment:Payment.AttemptRequested")
    def _request(self, attempt: int, payment_method: str) -> None:
        self.methods.append(payment_method)

    def seats_reserved(self, amount: int, currency: str, reserved_until: datetime) -> None:
        if self.amount is None:
            self._price(amount=amount, currency=currency, reserved_until=reserved_until)

    @event("AmountDue", topic="cinema.payment:Payment.AmountDue")
    def _price(self, amount: int, currency: str, reserved_until: datetime) -> None:
        self.amount, self.currency, self.reserved_until = amount, currency, reserved_until

    def close(self, reason: str, at: datetime) -> None:
        """No further attempt will be made; a charge already made must be refunded."""
        if self.closed_reason is None:
            self._close(reason=reason, at=at)

    @event("Closed", topic="cinema.payment:Payment.Closed")
    def _close(self, reason: str, at: datetime) -> None:
        self.closed_reason = reason

    # --- attempts and what the provider says of them ------------------------------

    def start_attempt(self, due: DueAttempt, intent_id: str, at: datetime) -> None:
        """The due attempt's intent exists, unconfirmed: recorded before it may charge."""
        assert self.due_attempt() == due, "only the due attempt starts"
        self._start(attempt=due.attempt, intent_id=intent_id, at=at)

    @event("AttemptStarted", topic="cinema.payment:Payment.AttemptStarted")
    def _start(self, attempt: int, intent_id: str, at: datetime) -> None:
        self.started[attempt] = (intent_id, at)

    def intent_outcome(self, intent: Intent, at: datetime, canceled_reason: str = "canceled",
                       ) -> None:
        """What the provider says of one of this payment's intents. succeeded: the
        payment's success, or a charge not kept; failed, canceled: the attempt failed;
        requires_action: the customer must authenticate; otherwise still pending."""
        attempt = self.attempt_of(intent.intent_id)
        if attempt is None:
            return  # not one this payment started: it never confirmed it
        if intent.status == "succeeded":
            self._charged(attempt, intent, at)
        elif self.decided(attempt):
            return  # a failure after the outcome, or a late step before it: nothing new
        elif intent.status in ("failed", "canceled"):
            reason = intent.decline_code or (canceled_reason if intent.status == "canceled"
                                             else "failed")
            self.record_failure(attempt, reason, at)
        elif intent.status == "requires_action" and attempt not in self.secrets:
            self._require_action(booking_id=self.booking_id, show_id=self.show_id,
                                 attempt=attempt, client_secret=intent.client_secret, at=at)

    def _charged(self, attempt: int, intent: Intent, at: datetime) -> None:
        if intent.intent_id == self.charge_intent or intent.intent_id in self.not_kept:
            return  # known
        if not self.succeeded and not self.decided(attempt):
            assert self.amount is not None and self.currency is not None
            self._succeed(
                booking_id=self.booking_id, show_id=self.show_id, attempt=attempt,
                amount=self.amount, currency=self.currency, charge_id=intent.charge_id, at=at,
                intent_id=intent.intent_id,
            )
        else:  # a second success, or one on an attempt given up: at most one charge stands
            self._not_keep(attempt=attempt, intent_id=intent.intent_id,
                           charge_id=intent.charge_id, at=at)

    # Outcome events carry booking, show and money: their public contracts need them.
    @event("AttemptSucceeded", topic="cinema.payment:Payment.AttemptSucceeded")
    def _succeed(
        self, booking_id: UUID, show_id: str, attempt: int, amount: int, currency: str,
        charge_id: str, at: datetime, intent_id: str = "",
    ) -> None:
        assert not self.succeeded, "second successful charge"  # invariant 3
        self.attempts.append({"attempt": attempt, "succeeded": True, "reason": ""})
        self.charge_id = charge_id
        self.charge_intent = intent_id or None

    @event("ChargeNotKept", topic="cinema.payment:Payment.ChargeNotKept")
    def _not_keep(self, attempt: int, intent_id: str, charge_id: str, at: datetime) -> None:
        self.not_kept[intent_id] = ""

    def record_failure(self, attempt: int, reason: str, at: datetime) -> None:
        self._fail(
            booking_id=self.booking_id, show_id=self.show_id, attempt=attempt, reason=reason, at=at
        )

    @event("AttemptFailed", topic="cinema.payment:Payment.AttemptFailed")
    def _fail(self, booking_id: UUID, show_id: str, attempt: int, reason: str, at: datetime) -> None:
        self.attempts.append({"attempt": attempt, "succeeded": False, "reason": reason})

    @event("ActionRequired", topic="cinema.payment:Payment.ActionRequired")
    def _require_action(self, booking_id: UUID, show_id: str, attempt: int, client_secret: str,
                        at: datetime) -> None:
        self.secrets[attempt] = client_secret

    # --- refunds -------------------------------------------------------------------

    def record_refund(self, refund_id: str, amount: int, at: datetime) -> None:
        """This service's refund of the charge kept, which can no longer be honoured."""
        assert self.amount is not None and self.currency is not None and self.closed_reason
        self._refund(
            booking_id=self.booking_id, show_id=self.show_id, amount=amount,
            currency=self.currency, refund_id=refund_id, reason=self.closed_reason, at=at,
        )

    @event("Refunded", topic="cinema.payment:Payment.Refunded")
    def _refund(
        self, booking_id: UUID, show_id: str, amount: int, currency: str, refund_id: str,
        reason: str, at: datetime,
    ) -> None:
        self.refund_id = refund_id
        self.refund_ids.add(refund_id)

    def record_not_kept_refund(self, intent_id: str, refund_id: str, at: datetime) -> None:
        self._refund_not_kept(intent_id=intent_id, refund_id=refund_id, at=at)

    @event("NotKeptRefunded", topic="cinema.payment:Payment.NotKeptRefunded")
    def _refund_not_kept(self, intent_id: str, refund_id: str, at: datetime) -> None:
        self.not_kept[intent_id] = refund_id
        self.refund_ids.add(refund_id)

    def provider_refunded(self, refund: Refund, at: datetime) -> None:
        """A refund the provider reports (charge.refunded): ours, already recorded, is
        absorbed; one made by someone else is recorded, as the refund owed if the charge
        could no longer be honoured anyway."""
        if refund.refund_id in self.refund_ids:
            return
        if refund.intent_id in self.not_kept:
            if not self.not_kept[refund.intent_id]:
                self.record_not_kept_refund(refund.intent_id, refund.refund_id, at)
            return
        if refund.intent_id != self.charge_intent or self.refunded:
            return  # not a charge kept, or nothing of it left: nothing new
        if self.needs_refund() and refund.amount >= self.refund_due():
            self.record_refund(refund.refund_id, refund.amount, at)
        else:
            assert self.currency is not None
            self._refund_outside(booking_id=self.booking_id, show_id=self.show_id,
                                 amount=refund.amount, currency=self.currency,
                                 refund_id=refund.refund_id, at=at)

    @event("RefundedOutside", topic="cinema.payment:Payment.RefundedOutside")
    def _refund_outside(self, booking_id: UUID, show_id: str, amount: int, currency: str,
                        refund_id: str, at: datetime) -> None:
        self.refunded_outside += amount
        self.refund_ids.add(refund_id)

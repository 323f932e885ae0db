"""The Payment aggregate: one per booking, at most one successful charge, refunds.

A payment learns what to charge from two services, in either order: the method
for each attempt from booking (the first with the request, the others with each
retry) and the amount and deadline from inventory's hold. It makes an attempt
only when both are known, never after the hold is gone, and refunds a charge
that can no longer be honoured.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import event

from shared import ids
from shared.aggregate import Aggregate


@dataclass(frozen=True)
class DueAttempt:
    attempt: int
    payment_method: str
    amount: int
    currency: str

    def idempotency_key(self, payment_id: UUID) -> str:
        # Same key for the same attempt, so a redelivered request never charges twice.
        return f"{payment_id}/attempt/{self.attempt}"


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
        self.attempts: list[dict] = []  # {attempt, succeeded, reason, charge_id}
        self.charge_id: str | None = None
        self.closed_reason: str | None = None
        self.refund_id: str | None = None

    # --- queries -------------------------------------------------------------

    @property
    def succeeded(self) -> bool:
        return self.charge_id is not None

    @property
    def refunded(self) -> bool:
        return self.refund_id is not None

    def due_attempt(self) -> DueAttempt | None:
        """The attempt to make now, if any: requested, priced, not made, still open."""
        if self.succeeded or self.closed_reason or self.amount is None or self.currency is None:
            return None
        n = len(self.attempts) + 1
        if n > len(self.methods):
            return None
        return DueAttempt(n, self.methods[n - 1], self.amount, self.currency)

    def needs_refund(self) -> bool:
        return self.succeeded and self.closed_reason is not None and not self.refunded

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

    # --- outcomes from the gateway ----------------------------------------------

    # Outcome events carry booking, show and money: their public contracts need them.
    def record_success(self, due: DueAttempt, charge_id: str, at: datetime) -> None:
        self._succeed(
            booking_id=self.booking_id, show_id=self.show_id, attempt=due.attempt,
            amount=due.amount, currency=due.currency, charge_id=charge_id, at=at,
        )

    @event("AttemptSucceeded", topic="cinema.payment:Payment.AttemptSucceeded")
    def _succeed(
        self, booking_id: UUID, show_id: str, attempt: int, amount: int, currency: str,
        charge_id: str, at: datetime,
    ) -> None:
        assert not self.succeeded, "second successful charge"  # invariant 3
        self.attempts.append({"attempt": attempt, "succeeded": True, "reason": ""})
        self.charge_id = charge_id

    def record_failure(self, attempt: int, reason: str, at: datetime) -> None:
        self._fail(
            booking_id=self.booking_id, show_id=self.show_id, attempt=attempt, reason=reason, at=at
        )

    @event("AttemptFailed", topic="cinema.payment:Payment.AttemptFailed")
    def _fail(self, booking_id: UUID, show_id: str, attempt: int, reason: str, at: datetime) -> None:
        self.attempts.append({"attempt": attempt, "succeeded": False, "reason": reason})

    def record_refund(self, refund_id: str, at: datetime) -> None:
        assert self.amount is not None and self.currency is not None and self.closed_reason
        self._refund(
            booking_id=self.booking_id, show_id=self.show_id, amount=self.amount,
            currency=self.currency, refund_id=refund_id, reason=self.closed_reason, at=at,
        )

    @event("Refunded", topic="cinema.payment:Payment.Refunded")
    def _refund(
        self, booking_id: UUID, show_id: str, amount: int, currency: str, refund_id: str,
        reason: str, at: datetime,
    ) -> None:
        self.refund_id = refund_id

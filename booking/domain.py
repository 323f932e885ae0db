"""The Booking aggregate: a customer's request for seats, from PENDING to a final state.

Pure domain: no I/O, times are passed in. Reactions to other services' facts
(``seats_reserved``, ``payment_failed`` ...) are idempotent and tolerate any
order between the inventory and payment streams, because Kafka orders messages
only within one partition of one topic.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import event

from shared import ids
from shared.aggregate import Aggregate


class BookingStatus(StrEnum):
    PENDING = "PENDING"
    PAYMENT_PENDING = "PAYMENT_PENDING"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"


class CancellationReason(StrEnum):
    SEATS_UNAVAILABLE = "seats_unavailable"
    HOLD_EXPIRED = "hold_expired"
    CANCELLED_BY_CUSTOMER = "cancelled_by_customer"
    PAYMENT_REFUNDED = "payment_refunded"  # a late success was refunded
    SHOW_CANCELLED = "show_cancelled"  # the theatre cancelled the show
    SEAT_WITHDRAWN = "seat_withdrawn"  # the theatre withdrew one of its seats (broken)
    PRICE_CHANGED = "price_changed"  # the seats cost other than the customer's quote


# The theatre's reasons: the only ones that cancel a confirmed booking (and refund it).
BY_THE_THEATRE = frozenset({CancellationReason.SHOW_CANCELLED, CancellationReason.SEAT_WITHDRAWN})

# The only moves a booking may make (invariant 8). CANCELLED is final; CONFIRMED is final
# but for a cancellation by the theatre, whose refund follows.
ALLOWED_TRANSITIONS: dict[BookingStatus, frozenset[BookingStatus]] = {
    BookingStatus.PENDING: frozenset({BookingStatus.PAYMENT_PENDING, BookingStatus.CANCELLED}),
    BookingStatus.PAYMENT_PENDING: frozenset({BookingStatus.CONFIRMED, BookingStatus.CANCELLED}),
    BookingStatus.CONFIRMED: frozenset({BookingStatus.CANCELLED}),
    BookingStatus.CANCELLED: frozenset(),
}
ACTIVE = frozenset({BookingStatus.PENDING, BookingStatus.PAYMENT_PENDING})


class BookingRuleViolation(Exception):
    """A customer's command that the booking's state does not allow (HTTP 409)."""


class Booking(Aggregate):
    TOPIC = "cinema.booking:Booking"

    class Created(Aggregate.Created):
        TOPIC = "cinema.booking:Booking.Created"

    @staticmethod
    def create_id(customer_id: str, idempotency_key: str) -> UUID:
        return ids.booking_id(customer_id, idempotency_key)

    @event("Requested", topic="cinema.booking:Booking.Requested")
    def __init__(
        self,
        customer_id: str,
        idempotency_key: str,
        show_id: str,
        seat_ids: list[str],
        payment_method: str,
        requested_at: datetime,
        quoted_amount: int | None = None,  # absent from bookings made before quotes
    ) -> None:
        self.customer_id = customer_id
        self.quoted_amount = quoted_amount
        self.idempotency_key = idempotency_key
        self.show_id = show_id
        self.seat_ids = list(seat_ids)
        self.payment_method = payment_method
        self.requested_at = requested_at
        self.status = BookingStatus.PENDING
        self.amount: int | None = None
        self.currency: str | None = None
        self.reserved_until: datetime | None = None
        self.attempts_requested = 1  # payment makes the first attempt by itself
        self.failed_attempts: list[int] = []
        # attempt -> client secret: the attempt waits for the customer (3-D Secure)
        self.client_secrets: dict[int, str] = {}
        self.paid = False
        self.paid_attempt: int | None = None
        self.refunded_amount = 0  # the sum of the provider's refunds of its charges
        self.refund_ids: list[str] = []
        self.cancellation_reason: CancellationReason | None = None
        self.cancellation_detail = ""

    # --- queries -------------------------------------------------------------

    def is_same_request(self, show_id: str, seat_ids: list[str], payment_method: str) -> bool:
        """Whether a repeated create with the same idempotency key asks for the same thing."""
        return (show_id, sorted(seat_ids), payment_method) == (
            self.show_id,
            sorted(self.seat_ids),
            self.payment_method,
        )

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    def awaiting_payment_result(self) -> bool:
        return not self.paid and self.attempts_requested not in self.failed_attempts

    @property
    def awaiting_authentication(self) -> bool:
        """The latest attempt waits for the customer to authenticate (3-D Secure)."""
        return (self.status is BookingStatus.PAYMENT_PENDING and self.awaiting_payment_result()
                and self.attempts_requested in self.client_secrets)

    @property
    def next_action(self) -> dict[str, str] | None:
        """What the customer must do for the payment to go on, if anything."""
        if not self.awaiting_authentication:
            return None
        return {"type": "authenticate",
                "client_secret": self.client_secrets[self.attempts_requested]}

    # --- customer commands ---------------------------------------------------

    def retry_payment(self, payment_method: str, now: datetime) -> int:
        if self.status is not BookingStatus.PAYMENT_PENDING:
            raise BookingRuleViolation(f"cannot retry payment of a {self.status} booking")
        if self.paid:
            raise BookingRuleViolation("the booking is already paid")
        # An attempt waiting for the customer's authentication may be abandoned: payment
        # cancels its intent before making the next (a success it answers stands).
        if self.awaiting_payment_result() and not self.awaiting_authentication:
            raise BookingRuleViolation("a payment attempt is still in progress")
        assert self.reserved_until is not None
        if now >= self.reserved_until:
            raise BookingRuleViolation("the seat hold has expired")
        attempt = self.attempts_requested + 1
        self._request_retry(
            show_id=self.show_id, attempt=attempt, payment_method=payment_method, at=now
        )
        return attempt

    # Events carry the show id (the partition key) and whatever their public contract
    # needs, so that the outbox maps them without loading the aggregate.
    @event("PaymentRetryRequested", topic="cinema.booking:Booking.PaymentRetryRequested")
    def _request_retry(self, show_id: str, attempt: int, payment_method: str, at: datetime) -> None:
        self.attempts_requested = attempt
        self.payment_method = payment_method

    def cancel_by_customer(self, now: datetime) -> None:
        if not self.is_active:
            raise BookingRuleViolation(f"cannot cancel a {self.status} booking")
        self._cancel(reason=CancellationReason.CANCELLED_BY_CUSTOMER, detail="", at=now)

    # --- reactions to inventory ---------------------------------------------

    def seats_reserved(
        self, amount: int, currency: str, reserved_until: datetime, at: datetime
    ) -> None:
        if self.status is BookingStatus.PENDING:
            self._record_reservation(
                amount=amount, currency=currency, reserved_until=reserved_until, at=at
            )

    # Named as the public contract; the stored topic keeps its first name.
    @event("SeatsReserved", topic="cinema.booking:Booking.SeatsHeld")
    def _record_reservation(
        self, amount: int, currency: str, reserved_until: datetime, at: datetime
    ) -> None:
        self._move(BookingStatus.PAYMENT_PENDING)
        self.amount, self.currency, self.reserved_until = amount, currency, reserved_until

    def seats_rejected(self, reason: str, at: datetime) -> None:
        if self.is_active:
            if reason in (CancellationReason.SHOW_CANCELLED, CancellationReason.PRICE_CHANGED):
                self._cancel(reason=CancellationReason(reason), detail="", at=at)
            else:
                self._cancel(reason=CancellationReason.SEATS_UNAVAILABLE, detail=reason, at=at)

    def seats_released(self, reason: str, at: datetime) -> None:
        # Released because cancelled: this booking cancelled first. Expired: cancel now.
        # By the theatre: cancel now, confirmed or not (payment refunds what it charged).
        if self.is_active and reason == "hold_expired":
            self._cancel(reason=CancellationReason.HOLD_EXPIRED, detail="", at=at)
        elif reason in BY_THE_THEATRE and self.status is not BookingStatus.CANCELLED:
            self._cancel(reason=CancellationReason(reason), detail="", at=at)

    def seats_booked(self, at: datetime) -> None:
        # Inventory books only for a success within the hold, so this is the confirmation.
        # If the customer cancelled first, inventory releases the seats on our cancel.
        if self.status is BookingStatus.PAYMENT_PENDING:
            assert self.amount is not None  # set with the move to PAYMENT_PENDING
            self._confirm(
                show_id=self.show_id, customer_id=self.customer_id, amount=self.amount, at=at
            )

    @event("Confirmed", topic="cinema.booking:Booking.Confirmed")
    def _confirm(self, show_id: str, customer_id: str, amount: int, at: datetime) -> None:
        self._move(BookingStatus.CONFIRMED)
        self.paid = True

    # --- reactions to payment -------------------------------------------------

    def payment_failed(self, attempt: int, reason: str, at: datetime) -> None:
        if self.is_active and not self.paid and attempt not in self.failed_attempts:
            self._record_failure(attempt=attempt, reason=reason, at=at)

    @event("PaymentFailed", topic="cinema.booking:Booking.PaymentFailed")
    def _record_failure(self, attempt: int, reason: str, at: datetime) -> None:
        self.failed_attempts.append(attempt)

    def payment_action_required(self, attempt: int, client_secret: str, at: datetime) -> None:
        # Only for the attempt the customer is on: an abandoned one's challenge is moot.
        # Before the hold is known too (payment's topic may run ahead of inventory's).
        if (self.is_active and not self.paid
                and attempt == self.attempts_requested and attempt not in self.failed_attempts
                and attempt not in self.client_secrets):
            self._record_action(attempt=attempt, client_secret=client_secret, at=at)

    @event("PaymentActionRequired", topic="cinema.booking:Booking.PaymentActionRequired")
    def _record_action(self, attempt: int, client_secret: str, at: datetime) -> None:
        self.client_secrets[attempt] = client_secret

    def payment_succeeded(self, attempt: int, at: datetime) -> None:
        if self.is_active and not self.paid:
            self._record_payment(attempt=attempt, at=at)

    @event("Paid", topic="cinema.booking:Booking.Paid")
    def _record_payment(self, attempt: int, at: datetime) -> None:
        self.paid = True
        self.paid_attempt = attempt

    def payment_refunded(self, refund_id: str, amount: int, at: datetime) -> None:
        """Each of the provider's refunds once: several partial ones (an operator's, at
        the provider) add up."""
        if refund_id in self.refund_ids:
            return
        self._record_refund(amount=amount, at=at, refund_id=refund_id)
        if self.is_active:
            # Payment refunds once the hold is gone, and the provider's own refund (an
            # operator's) leaves nothing to pay with: the booking cannot go on.
            self._cancel(reason=CancellationReason.PAYMENT_REFUNDED, detail="", at=at)

    @event("Refunded", topic="cinema.booking:Booking.Refunded")
    def _record_refund(self, amount: int, at: datetime, refund_id: str = "") -> None:
        self.refunded_amount += amount
        self.refund_ids.append(refund_id)  # "": recorded before refunds were named

    # --- internals -------------------------------------------------------------

    def _cancel(self, reason: CancellationReason, detail: str, at: datetime) -> None:
        self._record_cancel(
            show_id=self.show_id,
            customer_id=self.customer_id,
            reason=reason,
            detail=detail,
            at=at,
        )

    @event("Cancelled", topic="cinema.booking:Booking.Cancelled")
    def _record_cancel(
        self, show_id: str, customer_id: str, reason: CancellationReason, detail: str, at: datetime
    ) -> None:
        if self.status is BookingStatus.CONFIRMED:
            assert reason in BY_THE_THEATRE, f"a confirmed booking cancelled for {reason}"
        self._move(BookingStatus.CANCELLED)
        self.cancellation_reason = CancellationReason(reason)
        self.cancellation_detail = detail

    def _move(self, to: BookingStatus) -> None:
        if to not in ALLOWED_TRANSITIONS[self.status]:
            raise AssertionError(f"illegal booking transition {self.status} -> {to}")
        self.status = to

"""Payment service: charges when booking and inventory have both said what to charge,
refunds when the seats are gone.

Gateway calls happen inside the processing of a message, before the outcome is
recorded with the message's position. A crash in between redelivers the message,
and the attempt's idempotency key makes the gateway answer as before, without
charging again.
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any
from uuid import UUID

from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import ProcessRecorder
from eventsourcing.utils import EnvType

from payment.domain import Payment
from payment.gateway import PaymentGateway, SimulatedGateway
from payment.publishing import to_public
from shared import contracts as c
from shared import ids
from shared.clock import Clock
from shared.service import ServiceApplication


class PaymentNotFound(LookupError):
    pass


class PaymentService(ServiceApplication):
    service = "payment"

    def __init__(
        self,
        env: EnvType | None = None,
        clock: Clock | None = None,
        gateway: PaymentGateway | None = None,
        recorder: ProcessRecorder | None = None,
    ) -> None:
        super().__init__(env, clock, recorder)
        self.gateway = gateway or SimulatedGateway()

    def to_public(self, domain_event: Any) -> c.PublicEvent | None:
        return to_public(domain_event)

    def get_payment(self, booking_id: UUID) -> Payment:
        payment = self.find(ids.payment_id(booking_id))
        if payment is None:
            raise PaymentNotFound(str(booking_id))
        return payment

    # --- reactions -------------------------------------------------------------

    @singledispatchmethod
    def policy(self, message: c.PublicEvent, processing: ProcessingEvent) -> None:
        pass

    def _react(self, m: c.BookingEvent, p: ProcessingEvent, react) -> None:
        payment = self.find(ids.payment_id(m.booking_id))
        if payment is None:
            payment = Payment(booking_id=m.booking_id, show_id=m.show_id)
        react(payment)
        self._settle(payment)
        p.collect_events(payment)

    def _settle(self, payment: Payment) -> None:
        """Make the attempt that is due, and refund what can no longer be honoured."""
        now = self.clock.now()
        due = payment.due_attempt()
        if due is not None:
            assert payment.reserved_until is not None
            if now >= payment.reserved_until:
                payment.record_failure(due.attempt, "hold_expired", now)  # never charge late
            else:
                result = self.gateway.charge(
                    due.idempotency_key(payment.id), due.payment_method, due.amount,
                    due.currency, str(payment.booking_id),
                )
                if result.succeeded:
                    payment.record_success(due, result.charge_id, self.clock.now())
                else:
                    payment.record_failure(due.attempt, result.decline_code, self.clock.now())
        if payment.needs_refund():
            assert payment.charge_id is not None and payment.amount is not None
            refund = self.gateway.refund(f"{payment.id}/refund", payment.charge_id, payment.amount)
            payment.record_refund(refund.refund_id, self.clock.now())

    @policy.register
    def _(self, m: c.BookingRequested, p: ProcessingEvent) -> None:
        self._react(m, p, lambda pay: pay.attempt_requested(1, m.payment_method))

    @policy.register
    def _(self, m: c.PaymentRetryRequested, p: ProcessingEvent) -> None:
        self._react(m, p, lambda pay: pay.attempt_requested(m.attempt, m.payment_method))

    @policy.register
    def _(self, m: c.SeatsReserved, p: ProcessingEvent) -> None:
        self._react(m, p, lambda pay: pay.hold_placed(m.amount, m.currency, m.reserved_until))

    @policy.register
    def _(self, m: c.SeatsRejected, p: ProcessingEvent) -> None:
        self._react(m, p, lambda pay: pay.close(f"seats_rejected:{m.reason}", m.occurred_at))

    @policy.register
    def _(self, m: c.SeatsReleased, p: ProcessingEvent) -> None:
        self._react(m, p, lambda pay: pay.close(f"seats_released:{m.reason}", m.occurred_at))

    @policy.register
    def _(self, m: c.BookingCancelled, p: ProcessingEvent) -> None:
        self._react(m, p, lambda pay: pay.close(f"booking_cancelled:{m.reason}", m.occurred_at))

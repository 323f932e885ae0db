"""Payment service: charges when booking and inventory have both said what to charge,
refunds when the seats are gone; each attempt an intent of the payment provider.

The crash-safety rule: an intent's id is recorded before it is confirmed. The reaction
that finds an attempt due creates the intent (unconfirmed: it charges nothing) and
records ``AttemptStarted`` with the message's position; the intent is confirmed after
that commit, by the same process, and only while the provider says it awaits
confirmation (the reconciliation confirms one a crash left behind, after retrieving it).
So each attempt's intent is confirmed at most once, and a crash anywhere charges nothing
twice: an intent created but not recorded is never confirmed. The provider may ignore
idempotency keys (the local Stripe server does), so nothing here relies on them for
intents.

An intent's outcome, whether it comes as the answer to a confirm or a cancel, by a
webhook or by the reconciliation's retrieve, goes through one idempotent path on the
Payment (``Payment.intent_outcome``), then whatever it makes due (a refund, the next
attempt) is done.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import singledispatchmethod
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import IntegrityError, ProcessRecorder, Tracking
from eventsourcing.utils import EnvType

from payment.domain import Payment, attempt_key
from payment.gateway import SimulatedProvider
from payment.intents import Intent, PaymentProvider, ProviderEvent
from payment.publishing import to_public
from shared import contracts as c
from shared import ids
from shared.clock import Clock
from shared.observability import tracing
from shared.service import ServiceApplication

log = logging.getLogger(__name__)

# A provider's event is recorded as a tracking record of its own, under this prefix and
# its id, in the transaction of its effect: the same event delivered again is recognised.
WEBHOOK_TRACKING = "provider-event"


class PaymentNotFound(LookupError):
    pass


class PaymentService(ServiceApplication):
    service = "payment"
    RECONCILE_AFTER: ClassVar[timedelta] = timedelta(seconds=30)

    def __init__(
        self,
        env: EnvType | None = None,
        clock: Clock | None = None,
        provider: PaymentProvider | None = None,
        recorder: ProcessRecorder | None = None,
        reconcile_after: timedelta | None = None,
    ) -> None:
        super().__init__(env, clock, recorder)
        self.provider: PaymentProvider = provider or SimulatedProvider()
        # An intent pending longer than this is asked about by the reconciliation.
        self.reconcile_after = reconcile_after or self.RECONCILE_AFTER
        # Payments that wait for the provider, or owe a refund: payment id -> since when.
        self.unsettled: dict[UUID, datetime] = {}
        self.by_intent: dict[str, UUID] = {}  # intent id -> payment id
        self._relearn = threading.Event()  # learn both from the store at the next sweep
        self._relearn.set()
        # Per thread: the intents its write in progress created (``created``), those its
        # committed writes recorded, to confirm (``committed``), and the payment a
        # provider's event was about (``event_payment``).
        self._local = threading.local()

    def to_public(self, domain_event: Any) -> c.PublicEvent | None:
        return to_public(domain_event)

    def get_payment(self, booking_id: UUID) -> Payment:
        payment = self.find(ids.payment_id(booking_id))
        if payment is None:
            raise PaymentNotFound(str(booking_id))
        return payment

    # --- reactions -------------------------------------------------------------

    @singledispatchmethod
    def policy(self, message: Any, processing: ProcessingEvent) -> None:
        pass

    def aggregate_of(self, message: c.BookingEvent) -> Payment:
        """The booking's payment; a new one for its first message, in whatever order
        booking's and inventory's arrive."""
        payment = self.find(ids.payment_id(message.booking_id))
        if payment is None:
            payment = Payment(booking_id=message.booking_id, show_id=message.show_id)
        return payment

    def reacted(self, payment: Payment) -> None:
        self._advance(payment)

    @policy.register
    def on_booking_requested(
        self, message: c.BookingRequested, processing: ProcessingEvent
    ) -> None:
        self._react(message, processing,
                    lambda pay: pay.attempt_requested(1, message.payment_method))

    @policy.register
    def on_payment_retry_requested(
        self, message: c.PaymentRetryRequested, processing: ProcessingEvent
    ) -> None:
        self._react(message, processing,
                    lambda pay: pay.attempt_requested(message.attempt, message.payment_method))

    @policy.register
    def on_seats_reserved(self, message: c.SeatsReserved, processing: ProcessingEvent) -> None:
        self._react(message, processing, lambda pay: pay.seats_reserved(
            message.amount, message.currency, message.reserved_until))

    @policy.register
    def on_seats_rejected(self, message: c.SeatsRejected, processing: ProcessingEvent) -> None:
        self._react(message, processing, lambda pay: pay.close(
            f"seats_rejected:{message.reason}", message.occurred_at))

    @policy.register
    def on_seats_released(self, message: c.SeatsReleased, processing: ProcessingEvent) -> None:
        self._react(message, processing, lambda pay: pay.close(
            f"seats_released:{message.reason}", message.occurred_at))

    @policy.register
    def on_booking_cancelled(
        self, message: c.BookingCancelled, processing: ProcessingEvent
    ) -> None:
        self._react(message, processing, lambda pay: pay.close(
            f"booking_cancelled:{message.reason}", message.occurred_at))

    # --- the provider's events (webhooks) ---------------------------------------------

    def record_provider_event(self, event: ProviderEvent) -> UUID | None:
        """Record what a provider's event says of a payment's intent, in one transaction
        with the event's id, so a repeated event changes nothing. No provider call is
        made here (a webhook is answered at once): the payment whose id is returned may
        have work left, which ``follow_up`` does. None: the event was recorded before,
        or concerns no payment of ours."""
        tracking = Tracking(f"{WEBHOOK_TRACKING}:{event.event_id}", 1)
        self._local.event_payment = None
        payment_id = self._payment_id_of(event.intent)
        traceparent = self.trace_of(payment_id) if payment_id is not None else None
        # What the provider says joins the booking's trace (its request is one of its own).
        with tracing.span("provider event", traceparent,
                          attributes={"cinema.provider_event": event.event_id}):
            if self.handle_batch([(event, tracking)]) is False:
                return None
        found: UUID | None = self._local.event_payment
        return found

    def provider_event(self, event: ProviderEvent) -> bool:
        """Record a provider's event and do what it makes due; False: a repeat."""
        payment_id = self.record_provider_event(event)
        if payment_id is not None:
            self.follow_up(payment_id)
        return payment_id is not None

    @policy.register
    def on_provider_event(self, event: ProviderEvent, processing: ProcessingEvent) -> None:
        payment = self._payment_of(event.intent)
        if payment is None:
            return
        now = self.clock.now()
        payment.intent_outcome(event.intent, now)
        if event.refund is not None:
            payment.provider_refunded(event.refund, now)
        self._local.event_payment = payment.id
        processing.collect_events(payment)

    def _payment_of(self, intent: Intent) -> Payment | None:
        """By the intent's metadata (the booking it charges for), else by its id. As
        stored now: any instance takes webhooks, and a copy cached by one that does not
        follow the payment's partition may be behind (not know the intent yet)."""
        payment_id = self._payment_id_of(intent)
        payment = self.find_current(payment_id) if payment_id is not None else None
        if payment is None or payment.attempt_of(intent.intent_id) is None:
            return None
        return payment

    def _payment_id_of(self, intent: Intent) -> UUID | None:
        try:
            return ids.payment_id(UUID(intent.metadata["booking_id"]))
        except (KeyError, ValueError):
            return self.by_intent.get(intent.intent_id)

    # --- what is due, after every change ---------------------------------------------

    def _advance(self, payment: Payment) -> None:
        """Inside a write: cancel the intents that may no longer charge, make the attempt
        that is due, refund what can no longer be honoured."""
        now = self.clock.now()
        if payment.closed_reason or payment.due_attempt() is not None:
            # The hold is gone, or the customer chose another method while an attempt
            # waited (for 3-D Secure): its intent first, and a success it answers stands.
            for waiting in payment.open_intents():
                self._cancel(payment, waiting.attempt, waiting.intent_id, "canceled")
        due = payment.due_attempt()
        if due is not None and not payment.open_intents():
            assert payment.reserved_until is not None
            if now >= payment.reserved_until:
                payment.record_failure(due.attempt, "hold_expired", now)  # never charge late
            else:
                intent = self.provider.create_intent(
                    due.idempotency_key(payment.id), due.payment_method, due.amount,
                    due.currency, {"booking_id": str(payment.booking_id),
                                   "attempt": str(due.attempt)},
                )
                payment.start_attempt(due, intent.intent_id, now)
                if intent.status == "requires_confirmation":
                    self._list("created").append((payment.id, intent.intent_id))
                else:  # refused at once (an unknown payment method)
                    payment.intent_outcome(intent, now)
        if payment.needs_refund():
            assert payment.charge_intent is not None, "a charge kept names its intent"
            refund = self.provider.refund(f"{payment.id}/refund", payment.charge_intent,
                                          payment.refund_due())
            payment.record_refund(refund.refund_id, refund.amount, self.clock.now())
        for intent_id in payment.not_kept_unrefunded():
            assert payment.amount is not None
            refund = self.provider.refund(f"{payment.id}/refund/{intent_id}", intent_id,
                                          payment.amount)
            payment.record_not_kept_refund(intent_id, refund.refund_id, self.clock.now())

    def _cancel(self, payment: Payment, attempt: int, intent_id: str, reason: str) -> None:
        """Cancel an open intent and record the answer (a success it answers stands). If
        the provider refuses (it cannot cancel a payment in progress), its state is
        recorded and the outcome comes later."""
        key = f"{attempt_key(payment.id, attempt)}/cancel"
        try:
            answer = self.provider.cancel(key, intent_id)
        except Exception:  # whatever the refusal, ask what the intent is
            log.warning("could not cancel %s; retrieving it", intent_id, exc_info=True)
            answer = self.provider.retrieve(intent_id)
        payment.intent_outcome(answer, self.clock.now(), canceled_reason=reason)

    def _confirm(self, payment: Payment, attempt: int, intent_id: str) -> None:
        """Confirm an intent the provider says awaits confirmation, unless it may no
        longer charge: then it is cancelled."""
        now = self.clock.now()
        assert payment.reserved_until is not None
        if payment.closed_reason or payment.succeeded or payment.due_attempt() is not None:
            self._cancel(payment, attempt, intent_id, "canceled")
            return
        if now >= payment.reserved_until:
            self._cancel(payment, attempt, intent_id, "hold_expired")  # never charge late
            return
        key = f"{attempt_key(payment.id, attempt)}/confirm"
        try:
            answer = self.provider.confirm(key, intent_id)
        except Exception:  # it may have charged: ask, never confirm again here
            log.warning("confirming %s failed; retrieving it", intent_id, exc_info=True)
            answer = self.provider.retrieve(intent_id)
        payment.intent_outcome(answer, self.clock.now())

    # --- after a commit: the intents it recorded are confirmed -------------------------

    def _list(self, name: str) -> list[tuple[UUID, str]]:
        found: list[tuple[UUID, str]] | None = getattr(self._local, name, None)
        if found is None:
            found = []
            setattr(self._local, name, found)
        return found

    def handle_batch(self, messages: Sequence[tuple[Any, Tracking | None]],
                     record: bool = True) -> bool | None:
        outcome = super().handle_batch(messages, record)
        # After a failure, intents its writes committed wait for the next batch (or the
        # reconciliation): still recorded, still unconfirmed, still safe.
        self.confirm_created()
        return outcome

    def confirm_created(self) -> None:
        """Confirm the intents this thread's committed writes recorded; those of a write
        that did not commit are forgotten, never confirmed. Inside a write (a batch
        decided again one message at a time) it waits for that write's end."""
        if getattr(self._deciding, "touched", None) is not None:
            return
        self._local.created = []
        while committed := self._list("committed"):
            self._local.committed = []
            for payment_id, intent_id in committed:
                self.follow_up(payment_id, confirm=intent_id)

    def follow_up(self, payment_id: UUID, confirm: str | None = None,
                  ask_before: datetime | None = None) -> None:
        """One write on a payment, outside any message: confirm an intent just recorded
        (``confirm``), ask the provider about the intents started before ``ask_before``
        (the reconciliation), then whatever is due. In the payment's trace, if sampled."""
        with tracing.span("payment follow-up", self.trace_of(payment_id)):
            self._follow_up(payment_id, confirm, ask_before)

    def _follow_up(self, payment_id: UUID, confirm: str | None,
                   ask_before: datetime | None) -> None:
        asked = False  # once a confirm was sent, the intent is only retrieved
        for attempt in range(1, self.MAX_CONFLICT_RETRIES + 1):
            try:
                with self.writing():
                    # The store's copy when reconciling: another instance may have moved it.
                    payment = self.find_current(payment_id) if ask_before else self.find(payment_id)
                    if not isinstance(payment, Payment):
                        return
                    if confirm is not None:
                        attempt_n = payment.attempt_of(confirm)
                        if attempt_n is not None and not payment.decided(attempt_n):
                            if asked:  # a write lost to another writer: its answer too
                                self._retrieve(payment, attempt_n, confirm)
                            else:
                                asked = True
                                self._confirm(payment, attempt_n, confirm)
                    if ask_before is not None:
                        for waiting in payment.open_intents():
                            if waiting.started_at <= ask_before:
                                self._retrieve(payment, waiting.attempt, waiting.intent_id)
                    self._advance(payment)
                    self.save_all(payment)
                break
            except IntegrityError:
                if attempt == self.MAX_CONFLICT_RETRIES:
                    raise
        self.confirm_created()

    def _retrieve(self, payment: Payment, attempt: int, intent_id: str) -> None:
        """What the provider says of an intent now; one still awaiting confirmation (a
        crash came before its confirm) is confirmed."""
        intent = self.provider.retrieve(intent_id)
        if intent.status == "requires_confirmation":
            self._confirm(payment, attempt, intent_id)
        else:
            payment.intent_outcome(intent, self.clock.now())

    # --- the reconciliation --------------------------------------------------------------

    def reconcile(self) -> int:
        """Ask the provider about intents pending longer than ``reconcile_after`` (a
        webhook lost, or never sent), confirm those a crash left unconfirmed, and do
        what a crash left undone (a refund owed); returns how many payments it looked
        at. Safe any time, from any instance: every write is version-checked."""
        if self._relearn.is_set():
            self._relearn.clear()
            try:
                self.learn_unsettled()
            except BaseException:
                self._relearn.set()
                raise
        now = self.clock.now()
        cutoff = now - self.reconcile_after
        looked = 0
        for payment_id, since in list(self.unsettled.items()):
            if since > cutoff:
                continue
            try:
                self.follow_up(payment_id, ask_before=cutoff)
                looked += 1
            except Exception:  # one payment's trouble must not stop the others
                log.exception("reconciling payment %s failed; the next sweep tries again",
                              payment_id)
        return looked

    def learn_unsettled(self) -> None:
        """Rebuild both indexes from the payments on record that started an attempt
        (after a start or crash, or on gaining another instance's partitions)."""
        seen = set()
        for n in self.notifications(Payment.AttemptStarted.TOPIC):
            started: Any = self.mapper.to_domain_event(n)  # Payment.AttemptStarted
            self.by_intent[started.intent_id] = started.originator_id
            seen.add(started.originator_id)
        for payment_id in seen:
            payment = self.find(payment_id)
            if payment is not None:
                self.recorded([payment])

    def partitions_assigned(self) -> None:
        super().partitions_assigned()
        self._relearn.set()  # another instance's payments may wait for the provider now

    def recorded(self, aggregates: Iterable[Any]) -> None:
        created = self._list("created")
        for a in aggregates:
            if isinstance(a, Payment):
                for entry in [e for e in created if e[0] == a.id]:
                    created.remove(entry)
                    if a.attempt_of(entry[1]) is not None:  # recorded now: it may be confirmed
                        self._list("committed").append(entry)
                for intent_id, _ in a.started.values():
                    self.by_intent[intent_id] = a.id
                since = a.unsettled_since()
                if since is None:
                    self.unsettled.pop(a.id, None)
                else:
                    self.unsettled[a.id] = since

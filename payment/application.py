"""Payment service: charges when booking and inventory have both said what to charge,
refunds when the seats are gone; each attempt an intent of the payment provider.

A message only decides: no provider is called while the service's consumer waits. A
payment the message left with a call to make is followed up after the commit, on a pool
of threads (``FollowUps``): each call is decided under the write lock, made outside it,
and its answer recorded under it again (payment/provider_calls.py), so a slow provider
holds up neither the consumer nor the other payments.

The crash-safety rule: an intent's id is recorded before it is confirmed. The follow-up
that finds an attempt due creates the intent (unconfirmed: it charges nothing), records
``AttemptStarted``, and only then confirms it, while the provider says it awaits
confirmation (the reconciliation confirms one a crash left behind, after retrieving it,
and makes an attempt a crash left due). So each attempt's intent is confirmed at most
once, and a crash anywhere charges nothing twice: an intent created but not recorded is
never confirmed. The provider may ignore idempotency keys (the local Stripe server does),
so nothing here relies on them for intents.

An intent's outcome, whether it comes as the answer to a confirm or a cancel, by a
webhook or by the reconciliation's retrieve, goes through one idempotent path on the
Payment (``Payment.intent_outcome``), then whatever it makes due (a refund, the next
attempt) is done.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial, singledispatchmethod
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import IntegrityError, ProcessRecorder, Tracking
from eventsourcing.utils import EnvType

from payment.domain import Payment
from payment.gateway import SimulatedProvider
from payment.intents import Intent, PaymentProvider, ProviderEvent, Refund
from payment.provider_calls import Asked, Call, FollowUps, make, next_call, record
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
        follow_ups: FollowUps | None = None,
    ) -> None:
        super().__init__(env, clock, recorder)
        self.provider: PaymentProvider = provider or SimulatedProvider()
        self.follow_ups = follow_ups or FollowUps()  # by default in the caller's thread
        # One follow-up of a payment at a time (the pool's, a webhook's, the reconciliation's):
        # payment id -> its lock and how many hold or wait for it.
        self._payment_locks: dict[UUID, tuple[threading.RLock, list[int]]] = {}
        self._payment_locks_guard = threading.Lock()
        # An intent pending longer than this is asked about by the reconciliation.
        self.reconcile_after = reconcile_after or self.RECONCILE_AFTER
        # Payments that wait for the provider, or owe a refund: payment id -> since when.
        self.unsettled: dict[UUID, datetime] = {}
        self.by_intent: dict[str, UUID] = {}  # intent id -> payment id
        self._relearn = threading.Event()  # learn both from the store at the next sweep
        self._relearn.set()
        # Per thread: the payments its write in progress left with a call to make
        # (``pending``), those whose write committed, to follow up (``due``), and the
        # payment a provider's event was about (``event_payment``).
        self._local = threading.local()

    def to_public(self, domain_event: Any) -> c.PublicEvent | None:
        return to_public(domain_event)

    def close(self) -> None:
        self.follow_ups.close()
        super().close()

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
        """Decide what needs no provider; a call it needs is made once this commits. A
        message that changed nothing (a duplicate) has no further effect: what a crash
        left due is the reconciliation's."""
        if payment.pending_events and next_call(payment, self.clock.now(), Asked()) is not None:
            self._list("pending").append(payment.id)

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

    # --- after a commit: the payments it left with a call to make -----------------------

    def _list(self, name: str) -> list[UUID]:
        found: list[UUID] | None = getattr(self._local, name, None)
        if found is None:
            found = []
            setattr(self._local, name, found)
        return found

    def handle_batch(self, messages: Sequence[tuple[Any, Tracking | None]],
                     record: bool = True) -> bool | None:
        outcome = super().handle_batch(messages, record)
        # After a failure, what its writes committed waits for the next batch (or the
        # reconciliation): nothing was asked of the provider yet.
        self.follow_up_committed()
        return outcome

    def follow_up_committed(self) -> None:
        """Follow up the payments this thread's committed writes left with a call to
        make; those of a write that did not commit are forgotten. Inside a write (a batch
        decided again one message at a time) it waits for that write's end."""
        if getattr(self._deciding, "touched", None) is not None:
            return
        self._local.pending = []
        due, self._local.due = self._list("due"), []
        for payment_id in dict.fromkeys(due):
            self.follow_ups.submit(payment_id, partial(self.follow_up, payment_id))

    def follow_up(self, payment_id: UUID, confirm: str | None = None,
                  ask_before: datetime | None = None) -> None:
        """Make the payment's calls to the provider until none is left: confirm an intent
        just recorded (``confirm``), ask about the intents started before ``ask_before``
        (the reconciliation), then whatever is due. In the payment's trace, if sampled."""
        with self._alone(payment_id), \
                tracing.span("payment follow-up", self.trace_of(payment_id)):
            self._follow_up(payment_id, Asked(confirm=confirm, retrieve_before=ask_before))

    @contextmanager
    def _alone(self, payment_id: UUID) -> Iterator[None]:
        """This payment's lock (no other payment's: each waits only for its own)."""
        with self._payment_locks_guard:
            lock, users = self._payment_locks.setdefault(payment_id, (threading.RLock(), [0]))
            users[0] += 1
        try:
            with lock:
                yield
        finally:
            with self._payment_locks_guard:
                users[0] -= 1
                if not users[0]:
                    del self._payment_locks[payment_id]

    def _follow_up(self, payment_id: UUID, asked: Asked) -> None:
        # The store's copy when reconciling: another instance may have moved it.
        current = asked.retrieve_before is not None
        while True:
            found = self._decide(payment_id, asked, current)
            if found is None:
                return
            payment, call = found
            answer = make(call, payment, self.provider)  # outside the write lock
            if not self._record_answer(payment_id, call, answer, asked):
                self._orphan(payment, answer)
            current = False

    def _decide(self, payment_id: UUID, asked: Asked,
                current: bool) -> tuple[Payment, Call] | None:
        """Under the write lock: the next call, and what needs no provider, saved."""
        for attempt in range(1, self.MAX_CONFLICT_RETRIES + 1):
            made = set(asked.made)  # the calls made so far: never made again
            try:
                with self.writing():
                    payment = self.find_current(payment_id) if current else self.find(payment_id)
                    if not isinstance(payment, Payment):
                        return None
                    call = next_call(payment, self.clock.now(), asked)
                    self.save_all(payment)
                    return None if call is None else (payment, call)
            except IntegrityError:
                asked.made = made  # decided on a copy behind the store's: decide again
                if attempt == self.MAX_CONFLICT_RETRIES:
                    raise
        raise AssertionError("unreachable")

    def _record_answer(self, payment_id: UUID, call: Call, answer: Intent | Refund,
                       asked: Asked) -> bool:
        """Under the write lock: the answer, on the payment as stored now."""
        for attempt in range(1, self.MAX_CONFLICT_RETRIES + 1):
            try:
                with self.writing():
                    payment = self.find(payment_id)
                    assert isinstance(payment, Payment)
                    kept = record(payment, call, answer, self.clock.now(), asked)
                    self.save_all(payment)
                    return kept
            except IntegrityError:
                self._forget([payment_id])  # another writer moved it: its stored version
                if attempt == self.MAX_CONFLICT_RETRIES:
                    raise
        raise AssertionError("unreachable")

    def _orphan(self, payment: Payment, answer: Intent | Refund) -> None:
        """An intent made for an attempt another writer made or gave up meanwhile: not
        recorded, so never confirmed; cancelled, so that it lingers nowhere."""
        assert isinstance(answer, Intent)
        try:
            self.provider.cancel(f"{payment.id}/orphan/{answer.intent_id}", answer.intent_id)
        except Exception:
            log.warning("could not cancel the unrecorded intent %s", answer.intent_id,
                        exc_info=True)

    # --- the reconciliation --------------------------------------------------------------

    def reconcile(self) -> int:
        """Ask the provider about intents pending longer than ``reconcile_after`` (a
        webhook lost, or never sent), confirm those a crash left unconfirmed, and do
        what a crash left undone (an attempt due, a refund owed); returns how many
        payments it looked at (with a pool: handed to it). Safe any time, from any
        instance: every write is version-checked."""
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
            if since > cutoff or self.follow_ups.queued(payment_id):
                continue  # not yet, or the pool is on it
            try:  # on the pool, with the others' calls (at once, in this thread, embedded)
                self.follow_ups.submit(payment_id, partial(self.follow_up, payment_id,
                                                           ask_before=cutoff))
                looked += 1
            except Exception:  # one payment's trouble must not stop the others
                log.exception("reconciling payment %s failed; the next sweep tries again",
                              payment_id)
        return looked

    def learn_unsettled(self) -> None:
        """Rebuild both indexes from the payments on record that started an attempt, or
        whose hold still runs (a crash may have come before the attempt it made due was
        made): after a start or crash, or on gaining another instance's partitions."""
        seen = set()
        for n in self.notifications(Payment.AttemptStarted.TOPIC):
            started: Any = self.mapper.to_domain_event(n)  # Payment.AttemptStarted
            self.by_intent[started.intent_id] = started.originator_id
            seen.add(started.originator_id)
        now = self.clock.now()
        for n in self.notifications(Payment.AmountDue.TOPIC):
            priced: Any = self.mapper.to_domain_event(n)  # Payment.AmountDue
            if priced.reserved_until > now:
                seen.add(priced.originator_id)
        for payment_id in seen:
            payment = self.find(payment_id)
            if payment is not None:
                self.recorded([payment])

    def partitions_assigned(self) -> None:
        super().partitions_assigned()
        self._relearn.set()  # another instance's payments may wait for the provider now

    def recorded(self, aggregates: Iterable[Any]) -> None:
        pending = self._list("pending")
        for a in aggregates:
            if isinstance(a, Payment):
                if a.id in pending:  # committed: its calls may be made
                    pending[:] = [p for p in pending if p != a.id]
                    self._list("due").append(a.id)
                for intent_id, _ in a.started.values():
                    self.by_intent[intent_id] = a.id
                since = a.unsettled_since()
                if since is None:
                    self.unsettled.pop(a.id, None)
                else:
                    self.unsettled[a.id] = since

"""The calls to the payment provider that a payment needs, one at a time.

What to ask the provider next is decided from the payment's state alone (no I/O here):
the service decides a call under its write lock, makes it outside the lock, then records
the answer under the lock again. A provider that takes a second to answer holds up only
the payment it answers for, never the service's other writes; the service makes the
calls of many payments at once (``FollowUps``).

The crash-safety rule holds as before: an intent is confirmed only once its id is
recorded (``Call.create`` is answered, recorded, and only then confirmed), and a confirm
whose answer is lost is never sent again by the same follow-up (``Asked``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from uuid import UUID

from payment.domain import DueAttempt, Payment, attempt_key
from payment.intents import Intent, PaymentProvider, Refund

log = logging.getLogger(__name__)

Kind = Literal["create", "confirm", "retrieve", "cancel", "refund", "refund_not_kept"]


@dataclass(frozen=True)
class Call:
    kind: Kind
    attempt: int = 0
    intent_id: str = ""
    reason: str = "canceled"  # cancel: the failure it records if the intent is canceled
    due: DueAttempt | None = None  # create: the attempt it makes
    amount: int = 0  # refunds

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.intent_id or str(self.attempt)


@dataclass
class Asked:
    """What one follow-up of a payment has in hand: an intent recorded and awaiting its
    confirm, the reconciliation's cutoff (intents started before it are asked about),
    and the calls made so far, none of which is made twice."""

    confirm: str | None = None
    retrieve_before: datetime | None = None
    made: set[tuple[str, str]] = field(default_factory=set)

    def fresh(self, call: Call) -> bool:
        """Whether the call was not made yet (it is counted made from now on)."""
        if call.key in self.made:
            return False
        self.made.add(call.key)
        return True


def next_call(payment: Payment, now: datetime, asked: Asked) -> Call | None:
    """The next call the payment needs, in the order the provider must see them: the
    intent just recorded is confirmed (or cancelled, if it may no longer charge); the
    reconciliation's intents are retrieved; intents that may no longer charge are
    cancelled; the due attempt is made; what can no longer be honoured is refunded. What
    needs no provider is done here: an attempt due after its hold fails."""
    return next((c for c in _calls(payment, now, asked) if asked.fresh(c)), None)


def _calls(payment: Payment, now: datetime, asked: Asked) -> Iterator[Call]:
    """The calls the payment may need, in order; read lazily, so that an attempt due
    after its hold fails only once every call before it was made."""
    if asked.confirm is not None:
        attempt = payment.attempt_of(asked.confirm)
        if attempt is not None and not payment.decided(attempt):
            yield _confirm_or_cancel(payment, attempt, asked.confirm, now)
    if asked.retrieve_before is not None:
        for waiting in payment.open_intents():
            if waiting.started_at <= asked.retrieve_before:
                yield Call("retrieve", waiting.attempt, waiting.intent_id)
    if payment.closed_reason or payment.due_attempt() is not None:
        # The hold is gone, or the customer chose another method while an attempt
        # waited (for 3-D Secure): its intent first, and a success it answers stands.
        for waiting in payment.open_intents():
            yield Call("cancel", waiting.attempt, waiting.intent_id)
    due = payment.due_attempt()
    if due is not None and not payment.open_intents():
        assert payment.reserved_until is not None
        if now >= payment.reserved_until:
            payment.record_failure(due.attempt, "hold_expired", now)  # never charge late
        else:
            yield Call("create", due.attempt, due=due)
    if payment.needs_refund():
        assert payment.charge_intent is not None, "a charge kept names its intent"
        yield Call("refund", intent_id=payment.charge_intent, amount=payment.refund_due())
    for intent_id in payment.not_kept_unrefunded():
        assert payment.amount is not None
        yield Call("refund_not_kept", intent_id=intent_id, amount=payment.amount)


def _confirm_or_cancel(payment: Payment, attempt: int, intent_id: str, now: datetime) -> Call:
    """An intent awaiting confirmation is confirmed, unless it may no longer charge."""
    assert payment.reserved_until is not None
    if payment.closed_reason or payment.succeeded or payment.due_attempt() is not None:
        return Call("cancel", attempt, intent_id)
    if now >= payment.reserved_until:
        return Call("cancel", attempt, intent_id, "hold_expired")  # never charge late
    return Call("confirm", attempt, intent_id)


def make(call: Call, payment: Payment, provider: PaymentProvider) -> Intent | Refund:
    """The call, made (outside any write). A confirm or cancel the provider refuses is
    answered by what the intent is now: never confirmed again here."""
    pid = payment.id
    if call.kind == "create":
        due = call.due
        assert due is not None
        return provider.create_intent(
            due.idempotency_key(pid), due.payment_method, due.amount, due.currency,
            {"booking_id": str(payment.booking_id), "attempt": str(due.attempt)})
    if call.kind == "retrieve":
        return provider.retrieve(call.intent_id)
    if call.kind in ("confirm", "cancel"):
        key = f"{attempt_key(pid, call.attempt)}/{call.kind}"
        try:
            if call.kind == "confirm":
                return provider.confirm(key, call.intent_id)
            return provider.cancel(key, call.intent_id)
        except Exception:  # it may have charged: ask what the intent is
            log.warning("%s of %s failed; retrieving it", call.kind, call.intent_id,
                        exc_info=True)
            return provider.retrieve(call.intent_id)
    key = f"{pid}/refund" if call.kind == "refund" else f"{pid}/refund/{call.intent_id}"
    return provider.refund(key, call.intent_id, call.amount)


def record(payment: Payment, call: Call, answer: Intent | Refund, now: datetime,
           asked: Asked) -> bool:
    """The answer, recorded on the payment as it is now (it may have moved on while the
    call was made: each outcome goes through the same idempotent path). False: an intent
    created for an attempt no longer due, which nothing will confirm."""
    if isinstance(answer, Refund):
        if call.kind == "refund" and payment.needs_refund():
            payment.record_refund(answer.refund_id, answer.amount, now)
        elif call.kind == "refund_not_kept" and call.intent_id in payment.not_kept_unrefunded():
            payment.record_not_kept_refund(call.intent_id, answer.refund_id, now)
        return True
    if call.kind == "create":
        if payment.due_attempt() != call.due or payment.open_intents():
            return False
        assert call.due is not None
        payment.start_attempt(call.due, answer.intent_id, now)
        if answer.status == "requires_confirmation":
            asked.confirm = answer.intent_id  # recorded: the next call confirms it
        else:  # refused at once (an unknown payment method)
            payment.intent_outcome(answer, now)
        return True
    payment.intent_outcome(answer, now, canceled_reason=call.reason)
    if call.kind == "retrieve" and answer.status == "requires_confirmation":
        asked.confirm = answer.intent_id  # a crash came before its confirm
    return True


class FollowUps:
    """Where a payment's follow-ups run: in the caller's thread, at once (``at_once``
    1: the embedded runtime and the tests, deterministic), or on a pool of threads, so
    that the provider answers many payments at once. One payment's follow-ups never run
    side by side (``PaymentService.follow_up`` takes its lock); the payments queued or
    running are known, for the reconciliation to leave them to the pool."""

    def __init__(self, at_once: int = 1) -> None:
        self.at_once = at_once
        self._pool = (ThreadPoolExecutor(at_once, thread_name_prefix="payment-calls")
                      if at_once > 1 else None)
        self._lock = threading.Lock()
        self._queued: dict[UUID, int] = {}

    def submit(self, payment_id: UUID, work: Callable[[], None]) -> None:
        if self._pool is None:
            work()
            return
        with self._lock:
            self._queued[payment_id] = self._queued.get(payment_id, 0) + 1
        self._pool.submit(self._run, payment_id, work)

    def _run(self, payment_id: UUID, work: Callable[[], None]) -> None:
        try:
            work()
        except Exception:  # the reconciliation does it later
            log.exception("following up payment %s failed; the reconciliation will", payment_id)
        finally:
            with self._lock:
                left = self._queued[payment_id] - 1
                if left:
                    self._queued[payment_id] = left
                else:
                    del self._queued[payment_id]

    def queued(self, payment_id: UUID) -> bool:
        with self._lock:
            return payment_id in self._queued

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

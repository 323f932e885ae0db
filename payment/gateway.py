"""The simulated payment provider: Stripe's PaymentIntents, deterministic, in process.

It implements the provider's port (payment/intents.py) the way the local Stripe server
behaves where that matters to the payment service: a repeated create makes another
intent (idempotency keys are not honoured), a confirmed intent is never confirmed again,
a failed one is done. Payment methods are Stripe's test tokens, so the same tokens work
against Stripe's test mode. Its records (intents and refunds, standing in for Stripe's)
are kept by an ``IntentStore``: in memory, or in PostgreSQL (payment/ledger.py) so that
they outlive a crash of the payment process and the money can be audited after it.

It also produces the events Stripe's webhooks would carry, when asked to queue them
(the embedded runtime delivers them, in any order, repeated or not at all), signs them
as Stripe does, and verifies a webhook's signature in ``read_webhook``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from payment.intents import Intent, IntentStatus, InvalidWebhook, ProviderEvent, Refund
from payment.records import IntentRecord, Ledger, ProviderRecords
from shared.clock import Clock, SystemClock

# Stripe's test payment methods that always answer the same way.
ALWAYS_SUCCEEDS = {"pm_card_visa", "pm_card_mastercard", "pm_card_amex"}
ALWAYS_DECLINES = {
    "pm_card_chargeDeclined": "card_declined",
    "pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds",
    "pm_card_chargeDeclinedExpiredCard": "expired_card",
    "pm_card_chargeDeclinedFraudulent": "fraudulent",
}
# 3-D Secure: a confirmed intent waits for the customer to authenticate (requires_action).
AUTHENTICATION_REQUIRED = "pm_card_authenticationRequired"
# Not a Stripe token: decided by the simulation's decline rate, for load tests.
SIMULATED = "pm_card_simulated"
KNOWN_METHODS = ALWAYS_SUCCEEDS | set(ALWAYS_DECLINES) | {AUTHENTICATION_REQUIRED, SIMULATED}

TOLERANCE_S = 300  # a webhook signed longer ago than this is refused (Stripe's default)


class IntentStateError(RuntimeError):
    """The intent is not in a state that allows this (Stripe: payment_intent_unexpected_state)."""


@dataclass(frozen=True)
class StoredIntent:
    """The provider's record of an intent."""

    intent_id: str
    idempotency_key: str  # of its create: the simulated decline rate draws from it
    payment_method: str
    amount: int
    currency: str
    metadata: dict[str, str]
    status: IntentStatus = "requires_confirmation"
    charge_id: str = ""
    decline_code: str = ""
    client_secret: str = ""

    @property
    def booking_id(self) -> str:
        return self.metadata.get("booking_id", "")

    def as_intent(self) -> Intent:
        return Intent(self.intent_id, self.status, self.charge_id, self.decline_code,
                      self.client_secret, dict(self.metadata))

    def record(self) -> IntentRecord:
        return IntentRecord(self.intent_id, self.booking_id, self.status, self.amount)


class IntentStore(ProviderRecords, Protocol):
    def insert(self, intent: StoredIntent) -> None: ...

    def get(self, intent_id: str) -> StoredIntent | None: ...

    def replace(self, intent: StoredIntent, expected_status: str) -> bool:
        """Store ``intent`` if its stored status is still ``expected_status``."""

    def count_confirmation(self, intent_id: str) -> None: ...

    def refund_of(self, idempotency_key: str) -> Refund | None: ...

    def insert_refund(self, idempotency_key: str, refund: Refund) -> Refund:
        """Store the refund unless the key has one; return the stored one."""

    def refunded(self, intent_id: str) -> int: ...


@dataclass
class InMemoryIntents:
    intents: dict[str, StoredIntent] = field(default_factory=dict)
    refunds: dict[str, Refund] = field(default_factory=dict)  # idempotency key -> refund
    confirmations: Counter[str] = field(default_factory=Counter)

    def insert(self, intent: StoredIntent) -> None:
        self.intents[intent.intent_id] = intent

    def get(self, intent_id: str) -> StoredIntent | None:
        return self.intents.get(intent_id)

    def replace(self, intent: StoredIntent, expected_status: str) -> bool:
        if self.intents[intent.intent_id].status != expected_status:
            return False
        self.intents[intent.intent_id] = intent
        return True

    def count_confirmation(self, intent_id: str) -> None:
        self.confirmations[intent_id] += 1

    def refund_of(self, idempotency_key: str) -> Refund | None:
        return self.refunds.get(idempotency_key)

    def insert_refund(self, idempotency_key: str, refund: Refund) -> Refund:
        return self.refunds.setdefault(idempotency_key, refund)

    def refunded(self, intent_id: str) -> int:
        return sum(r.amount for r in self.refunds.values() if r.intent_id == intent_id)

    def intent_records(self) -> list[IntentRecord]:
        return [i.record() for i in self.intents.values()]

    def refund_records(self) -> list[Refund]:
        return list(self.refunds.values())

    def confirmations_by_intent(self) -> dict[str, int]:
        return dict(self.confirmations)


class SimulatedProvider:
    """Deterministic under a seed: an intent's outcome depends only on its payment
    method, the idempotency key it was created with and the seed, never on timing."""

    def __init__(
        self,
        decline_rate: float = 0.0,
        latency_s: float = 0.0,
        seed: int = 0,
        store: IntentStore | None = None,
        *,
        webhook_secret: str = "whsec_simulated",
        clock: Clock | None = None,
        queue_events: bool = False,
        ids_from: str | None = None,
    ) -> None:
        self.decline_rate = decline_rate
        self.latency_s = latency_s
        self.seed = seed
        self.store: IntentStore = store or InMemoryIntents()
        self.webhook_secret = webhook_secret
        self.clock = clock or SystemClock()
        # The events a webhook would carry, oldest first, for whoever delivers them (the
        # embedded runtime, tests); None: not kept (nothing would deliver them).
        self.events: list[ProviderEvent] | None = [] if queue_events else None
        self._lock = threading.Lock()
        # Ids of intents and events are drawn from this and a counter: given, the same
        # calls make the same ids (a simulation replays); by default, unique to this
        # object, as several instances share one store.
        self._ids_from = secrets.token_hex(8) if ids_from is None else ids_from
        self._made = itertools.count(1)

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.store)

    # --- the port ----------------------------------------------------------------

    def create_intent(self, idempotency_key: str, payment_method: str, amount: int,
                      currency: str, metadata: dict[str, str]) -> Intent:
        self._wait()
        intent = StoredIntent(self._new_id("pi"), idempotency_key, payment_method,
                              amount, currency, dict(metadata))
        if payment_method not in KNOWN_METHODS:  # Stripe refuses an unknown method at once
            intent = replace(intent, status="failed", decline_code="invalid_payment_method")
        with self._lock:
            self.store.insert(intent)
        return intent.as_intent()

    def confirm(self, idempotency_key: str, intent_id: str) -> Intent:
        self._wait()
        with self._lock:
            self.store.count_confirmation(intent_id)
            intent = self._get(intent_id)
            if intent.status != "requires_confirmation":
                raise IntentStateError(f"{intent_id} is {intent.status}: it cannot be confirmed")
            decided = self._decide(intent)
            if not self.store.replace(decided, "requires_confirmation"):
                raise IntentStateError(f"{intent_id} was confirmed meanwhile")
            self._emit(decided)
        return decided.as_intent()

    def retrieve(self, intent_id: str) -> Intent:
        self._wait()
        with self._lock:
            return self._get(intent_id).as_intent()

    def cancel(self, idempotency_key: str, intent_id: str) -> Intent:
        self._wait()
        with self._lock:
            intent = self._get(intent_id)
            if intent.status in ("requires_confirmation", "requires_action", "processing"):
                canceled = replace(intent, status="canceled", client_secret="")
                if self.store.replace(canceled, intent.status):
                    self._emit(canceled)
                    return canceled.as_intent()
                intent = self._get(intent_id)
            return intent.as_intent()  # already done: as it is

    def refund(self, idempotency_key: str, intent_id: str, amount: int) -> Refund:
        self._wait()
        with self._lock:
            done = self.store.refund_of(idempotency_key)
            if done is not None:  # refunds do honour their key: a repeat refunds nothing more
                return done
            intent = self._get(intent_id)
            if intent.status != "succeeded":
                raise IntentStateError(f"{intent_id} is {intent.status}: nothing to refund")
            if self.store.refunded(intent_id) + amount > intent.amount:
                raise IntentStateError(f"{intent_id}: refund beyond the charge")
            made = Refund(f"re_{_digest(idempotency_key)}", intent_id, amount)
            refund = self.store.insert_refund(idempotency_key, made)
            if refund == made:
                self._emit(intent, refund)
            return refund

    def read_webhook(self, payload: bytes, signature: str) -> ProviderEvent:
        verify_signature(payload, signature, self.webhook_secret, self.clock.now().timestamp())
        return parse_event(payload)

    # --- test hooks: what the customer or an operator does at the provider ---------

    def authenticate(self, intent_id: str, success: bool) -> Intent:
        """The customer completes (or fails) the 3-D Secure challenge of an intent."""
        with self._lock:
            intent = self._get(intent_id)
            if intent.status != "requires_action":
                raise IntentStateError(f"{intent_id} is {intent.status}: nothing to authenticate")
            done = (self._succeeded(intent) if success else
                    replace(intent, status="failed", client_secret="",
                            decline_code="authentication_failed"))
            if not self.store.replace(done, "requires_action"):
                raise IntentStateError(f"{intent_id} changed meanwhile")
            self._emit(done)
            return done.as_intent()

    def refund_outside(self, intent_id: str, amount: int) -> Refund:
        """An operator refunds a charge in the provider's dashboard."""
        return self.refund(f"outside/{self._new_id('re')}", intent_id, amount)

    def pay_again(self, intent_id: str) -> Intent:
        """The customer's browser confirms a declined intent again with a good card (Stripe
        allows it): a charge the payment service did not ask for."""
        with self._lock:
            intent = self._get(intent_id)
            if intent.status != "failed":
                raise IntentStateError(f"{intent_id} is {intent.status}, not declined")
            done = self._succeeded(intent)
            if not self.store.replace(done, "failed"):
                raise IntentStateError(f"{intent_id} changed meanwhile")
            self._emit(done)
            return done.as_intent()

    def webhook(self, event: ProviderEvent, signed_at: float | None = None,
                secret: str | None = None) -> tuple[bytes, str]:
        """The body and ``Stripe-Signature`` header Stripe would send for an event."""
        payload = event_payload(event, int(signed_at or self.clock.now().timestamp()))
        return payload, sign(payload, secret or self.webhook_secret,
                             signed_at or self.clock.now().timestamp())

    # --- internals ---------------------------------------------------------------------

    def _get(self, intent_id: str) -> StoredIntent:
        intent = self.store.get(intent_id)
        if intent is None:
            raise IntentStateError(f"no such intent: {intent_id}")
        return intent

    def _decide(self, intent: StoredIntent) -> StoredIntent:
        method = intent.payment_method
        if method in ALWAYS_DECLINES:
            return replace(intent, status="failed", decline_code=ALWAYS_DECLINES[method])
        if method == AUTHENTICATION_REQUIRED:
            secret = f"{intent.intent_id}_secret_{_digest(intent.intent_id)[:16]}"
            return replace(intent, status="requires_action", client_secret=secret)
        if method == SIMULATED:
            draw = int(_digest(f"{self.seed}/{intent.idempotency_key}")[:8], 16) / 0xFFFFFFFF
            if draw < self.decline_rate:
                return replace(intent, status="failed", decline_code="card_declined")
        return self._succeeded(intent)

    @staticmethod
    def _succeeded(intent: StoredIntent) -> StoredIntent:
        return replace(intent, status="succeeded", charge_id=f"ch_{_digest(intent.intent_id)}",
                       decline_code="", client_secret="")

    def _emit(self, intent: StoredIntent, refund: Refund | None = None) -> None:
        if self.events is None:
            return
        if refund is not None:
            kind = "charge.refunded"
        elif intent.status == "failed":
            kind = "payment_intent.payment_failed"
        else:
            kind = f"payment_intent.{intent.status}"
        self.events.append(ProviderEvent(self._new_id("evt"), kind, intent.as_intent(), refund))

    def _new_id(self, kind: str) -> str:
        return f"{kind}_{_digest(f'{self._ids_from}/{kind}/{next(self._made)}')}"

    def _wait(self) -> None:
        if self.latency_s:
            time.sleep(self.latency_s)


# --- Stripe's webhook format -------------------------------------------------------------


def sign(payload: bytes, secret: str, at: float) -> str:
    """A ``Stripe-Signature`` header: HMAC-SHA256 of "<t>.<payload>"."""
    t = int(at)
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify_signature(payload: bytes, header: str, secret: str, now: float,
                     tolerance_s: int = TOLERANCE_S) -> None:
    """As Stripe's libraries verify: any v1 signature matches, in constant time, and the
    timestamp is recent (a replayed old delivery is refused)."""
    parts = [p.partition("=") for p in header.split(",")]
    stamps = [v for k, _, v in parts if k.strip() == "t"]
    signatures = [v.strip() for k, _, v in parts if k.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit() or not signatures:
        raise InvalidWebhook("the Stripe-Signature header is not t=<time>,v1=<signature>")
    t = int(stamps[0])
    expected = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise InvalidWebhook("no signature matches the payload")
    if now - t > tolerance_s:
        raise InvalidWebhook(f"the signature's timestamp is older than {tolerance_s} s")


def event_payload(event: ProviderEvent, created: int) -> bytes:
    """An event as Stripe's JSON: the intent, or for a refund the charge with it."""
    i = event.intent
    pi = {"id": i.intent_id, "object": "payment_intent", "status": i.status,
          "metadata": i.metadata, "latest_charge": i.charge_id or None,
          "last_payment_error": {"decline_code": i.decline_code} if i.decline_code else None,
          "client_secret": i.client_secret or None}
    if i.status == "failed":
        pi["status"] = "requires_payment_method"  # how Stripe shows a declined intent
    obj: dict[str, Any] = pi
    if event.refund is not None:
        obj = {"id": i.charge_id, "object": "charge", "payment_intent": i.intent_id,
               "metadata": i.metadata, "amount_refunded": event.refund.amount,
               "refunds": {"data": [{"id": event.refund.refund_id,
                                     "amount": event.refund.amount,
                                     "payment_intent": i.intent_id}]}}
    return json.dumps({"id": event.event_id, "object": "event", "type": event.type,
                       "created": created, "data": {"object": obj}}).encode()


def parse_event(payload: bytes) -> ProviderEvent:
    """The ProviderEvent of a verified Stripe event (the fields both Stripe and the
    local server have)."""
    try:
        body = json.loads(payload)
        kind, obj = body["type"], body["data"]["object"]
        if obj.get("object") == "charge":
            refunds = obj["refunds"]["data"]
            refund = Refund(refunds[0]["id"], obj["payment_intent"], int(refunds[0]["amount"]))
            intent = Intent(obj["payment_intent"], "succeeded", obj["id"],
                            metadata=dict(obj.get("metadata") or {}))
            return ProviderEvent(body["id"], kind, intent, refund)
        status = obj["status"]
        error = obj.get("last_payment_error") or {}
        if kind == "payment_intent.payment_failed" or status == "requires_payment_method":
            status = "failed"
        charge = obj.get("latest_charge") or ""
        intent = Intent(obj["id"], status, charge if isinstance(charge, str) else charge["id"],
                        error.get("decline_code") or error.get("code") or "",
                        obj.get("client_secret") or "", dict(obj.get("metadata") or {}))
        return ProviderEvent(body["id"], kind, intent)
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise InvalidWebhook(f"not a Stripe event: {e!r}") from None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]

"""The payment provider's port (payment/intents.py) on Stripe's PaymentIntents.

Through the official SDK, against Stripe itself (test or live mode) or against
localstripe, the local Stripe API that scripts/infra runs (docs/infra.md).

- An intent is created unconfirmed, then confirmed: a decline then leaves an intent
  whose id is known (a decline answered to a create would carry no intent).
- Every create, confirm, cancel and refund carries the caller's idempotency key.
  localstripe ignores them, so the payment service's own records must not rely on them.
- A confirm that answers a card error, or finds the intent already confirmed, is
  answered by retrieving the intent: its status says what happened.
- Webhooks are verified with the endpoint's secret and read into ``ProviderEvent``s:
  ``payment_intent.*`` and ``charge.refunded``; anything else is an ``InvalidWebhook``.

Against localstripe (``localstripe``: by default whenever the API base is not Stripe's)
two things differ. The project's API documents Stripe's test payment methods
(payment/gateway.py), which Stripe's test mode knows and localstripe mostly does not:
they are replaced by cards it knows that behave alike (``LOCAL_TEST_CARDS``), and a
replaced decline reports the documented decline code, which the intent keeps in its
metadata (``TEST_CARD_KEY``). And it refuses parameters it does not know, such as
``automatic_payment_methods``, which Stripe itself is given.
The API key and the webhook secret are never logged nor shown in a repr.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import stripe

from payment.gateway import ALWAYS_DECLINES, ALWAYS_SUCCEEDS, AUTHENTICATION_REQUIRED
from payment.intents import Intent, IntentStatus, InvalidWebhook, ProviderEvent, Refund
from shared.config import Settings

STRIPE_API_BASE = "https://api.stripe.com"

# Stripe's test payment method for a card that asks for 3-D Secure 2 on every payment
# (4000000000003220 in Stripe's test cards).
THREE_D_SECURE = "pm_card_threeDSecure2Required"
INVALID_PAYMENT_METHOD = "invalid_payment_method"


@dataclass(frozen=True)
class CardNumber:
    """A test card localstripe knows only by its number: made into a payment method from
    its details first (localstripe accepts card details; Stripe's API does not)."""

    number: str


# Against localstripe: what a documented test payment method becomes, a payment method
# localstripe knows by name or a card it knows by number.
LOCAL_TEST_CARDS: dict[str, str | CardNumber] = {
    **dict.fromkeys(ALWAYS_SUCCEEDS, "pm_card_visa"),  # it knows no other brand by name
    # pm_card_chargeDeclined* are unknown to it (404), and pm_card_visa_chargeDeclined does
    # not decline a PaymentIntent: its "charge customer fail" card declines on confirm.
    **dict.fromkeys(ALWAYS_DECLINES, "pm_card_chargeCustomerFail"),
    THREE_D_SECURE: CardNumber("4000000000003220"),  # one of the cards it asks to authenticate
    # The API's documented 3-D Secure token (the simulated provider's too): Stripe's
    # "authentication required" card.
    AUTHENTICATION_REQUIRED: CardNumber("4000002500003155"),
}
# Metadata of an intent made with a replaced test payment method: the documented one.
TEST_CARD_KEY = "test_payment_method"
# Metadata of a refund: the idempotency key it was made with.
REFUND_KEY = "idempotency_key"

_STATUSES: dict[str, IntentStatus] = {
    "requires_confirmation": "requires_confirmation",
    "requires_action": "requires_action",
    "processing": "processing",
    # Never asked for (capture is automatic); authorised, not yet charged: not an outcome.
    "requires_capture": "processing",
    "succeeded": "succeeded",
    "canceled": "canceled",
}


class StripeProvider:
    """``PaymentProvider`` on Stripe. ``api_base`` empty: Stripe itself."""

    def __init__(self, api_key: str, webhook_secret: str, api_base: str = "", *,
                 localstripe: bool | None = None, timeout_s: float = 10.0,
                 webhook_tolerance_s: int = 300,
                 http_client: stripe.HTTPClient | None = None) -> None:
        self.api_base = api_base.rstrip("/")
        self.localstripe = is_local_stripe(api_base) if localstripe is None else localstripe
        self._webhook_secret = webhook_secret
        self.webhook_tolerance_s = webhook_tolerance_s
        # No retries inside the SDK: the payment service decides when to ask again.
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": self.api_base} if self.api_base else None,
            max_network_retries=0,
            http_client=http_client or stripe.RequestsClient(timeout=timeout_s),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeProvider:
        """From ``CINEMA_STRIPE_API_BASE``, ``_API_KEY`` and ``_WEBHOOK_SECRET``."""
        return cls(settings.stripe_api_key, settings.stripe_webhook_secret,
                   settings.stripe_api_base)

    @property
    def client(self) -> stripe.StripeClient:
        """The SDK's client, for reading Stripe's records (payment/stripe_records.py)."""
        return self._client

    def __repr__(self) -> str:
        return f"StripeProvider(api_base={self.api_base or STRIPE_API_BASE!r})"

    # --- intents -----------------------------------------------------------

    def create_intent(self, idempotency_key: str, payment_method: str, amount: int,
                      currency: str, metadata: dict[str, str]) -> Intent:
        params_metadata = dict(metadata)
        method = payment_method
        if self.localstripe and payment_method in LOCAL_TEST_CARDS:
            params_metadata[TEST_CARD_KEY] = payment_method
            method = self._local_payment_method(idempotency_key, LOCAL_TEST_CARDS[payment_method])
        if not method.startswith("pm_"):
            return _unusable(metadata)
        params: stripe.params.PaymentIntentCreateParams = {
            "amount": amount,
            "currency": currency,
            "payment_method": method,
            "confirm": False,
            "metadata": params_metadata,
        }
        if not self.localstripe:
            # Confirmed by the server, with no page to come back to: no redirect-based
            # methods (else Stripe wants a return_url).
            params["automatic_payment_methods"] = {"enabled": True, "allow_redirects": "never"}
        try:
            created = self._client.v1.payment_intents.create(
                params, options={"idempotency_key": idempotency_key}
            )
        except stripe.InvalidRequestError as error:
            if _missing_payment_method(error):
                return _unusable(metadata)
            raise
        return self._intent(created)

    def confirm(self, idempotency_key: str, intent_id: str) -> Intent:
        try:
            confirmed = self._client.v1.payment_intents.confirm(
                intent_id, options={"idempotency_key": idempotency_key}
            )
        except stripe.CardError:
            return self.retrieve(intent_id)  # declined: the intent has the decline code
        except stripe.InvalidRequestError as error:
            # Confirmed before (a repeated confirm; localstripe ignores idempotency keys):
            # the intent says how that went. Still unconfirmed: the error was something else.
            if error.http_status == 404:
                raise
            intent = self.retrieve(intent_id)
            if intent.status == "requires_confirmation":
                raise
            return intent
        return self._intent(confirmed)

    def retrieve(self, intent_id: str) -> Intent:
        return self._intent(self._client.v1.payment_intents.retrieve(intent_id))

    def cancel(self, idempotency_key: str, intent_id: str) -> Intent:
        try:
            canceled = self._client.v1.payment_intents.cancel(
                intent_id, options={"idempotency_key": idempotency_key}
            )
        except stripe.InvalidRequestError as error:
            # Charged, or cancelled before: as it is. Still waiting: something else was wrong.
            if error.http_status == 404:
                raise
            intent = self.retrieve(intent_id)
            if intent.status in ("requires_confirmation", "requires_action"):
                raise
            return intent
        return self._intent(canceled)

    def refund(self, idempotency_key: str, intent_id: str, amount: int) -> Refund:
        """Each refund keeps its key in its metadata. localstripe ignores idempotency keys
        (and refunds beyond the charge), so a refund asked again after a crash, before its
        answer was recorded, would refund twice: there, the refund already made with the
        key is found first and answered."""
        if self.localstripe:
            done = [r for r in self._refunds(intent_id)
                    if (r.get("metadata") or {}).get(REFUND_KEY) == idempotency_key]
            if done:  # newest first: the first made is the last
                return Refund(refund_id=done[-1]["id"], intent_id=intent_id,
                              amount=int(done[-1]["amount"]))
        refund = self._client.v1.refunds.create(
            params={"payment_intent": intent_id, "amount": amount,
                    "metadata": {REFUND_KEY: idempotency_key}},
            options={"idempotency_key": idempotency_key},
        )
        return Refund(refund_id=refund.id, intent_id=intent_id, amount=refund.amount)

    def refunds(self, intent_id: str) -> list[Refund]:
        """The refunds of an intent's charge, newest first (up to 100)."""
        return [Refund(refund_id=r["id"], intent_id=intent_id, amount=int(r["amount"]))
                for r in self._refunds(intent_id)]

    def _refunds(self, intent_id: str) -> list[dict[str, Any]]:
        listed = self._client.v1.refunds.list(params={"payment_intent": intent_id, "limit": 100})
        return [r.to_dict() for r in listed.data]

    # --- webhooks ----------------------------------------------------------

    def read_webhook(self, payload: bytes, signature: str) -> ProviderEvent:
        try:
            event = stripe.Webhook.construct_event(
                payload, signature, self._webhook_secret, tolerance=self.webhook_tolerance_s
            )
        except stripe.SignatureVerificationError:
            raise InvalidWebhook("the signature does not verify or is too old") from None
        except (ValueError, TypeError, AttributeError):  # not JSON, or not an object
            raise InvalidWebhook("the payload is not an event") from None
        return event_from_stripe(event.to_dict())

    # --- localstripe's stand-ins -------------------------------------------

    def _local_payment_method(self, idempotency_key: str, stand_in: str | CardNumber) -> str:
        if isinstance(stand_in, str):
            return stand_in
        created = self._client.v1.payment_methods.create(
            params={
                "type": "card",
                "card": {
                    "number": stand_in.number,
                    "exp_month": 12,
                    "exp_year": datetime.date.today().year + 3,
                    "cvc": "123",
                },
            },
            options={"idempotency_key": f"{idempotency_key}:payment_method"},
        )
        return created.id

    def _intent(self, payment_intent: stripe.PaymentIntent) -> Intent:
        return intent_from_stripe(payment_intent.to_dict())


def is_local_stripe(api_base: str) -> bool:
    """Whether the API base is a local Stripe server (localstripe): set, and not Stripe's."""
    base = api_base.rstrip("/")
    return bool(base) and base != STRIPE_API_BASE


# --- reading Stripe's objects (pure: the unit tests call these) --------------


def intent_from_stripe(payment_intent: Mapping[str, Any]) -> Intent:
    """An ``Intent`` from a PaymentIntent as Stripe or localstripe shows it (JSON)."""
    raw_metadata = payment_intent.get("metadata") or {}
    metadata = {str(k): str(v) for k, v in raw_metadata.items() if k != TEST_CARD_KEY}
    intent_id = str(payment_intent["id"])
    status = payment_intent.get("status")
    if status == "requires_payment_method":
        # Declined, or authentication failed: the intent waits for another payment
        # method, which this service never gives it (an attempt is one intent).
        return Intent(intent_id, "failed", metadata=metadata,
                      decline_code=decline_code(payment_intent))
    mapped = _STATUSES.get(str(status), "processing")  # unknown: not an outcome, ask again
    return Intent(
        intent_id,
        mapped,
        charge_id=object_id(payment_intent.get("latest_charge")) if mapped == "succeeded" else "",
        client_secret=str(payment_intent.get("client_secret") or "")
        if mapped == "requires_action" else "",
        metadata=metadata,
    )


def decline_code(payment_intent: Mapping[str, Any]) -> str:
    """Why an intent failed, in the words of the project's API (payment/gateway.py).

    Stripe puts the card's reason in ``decline_code`` (``insufficient_funds``) under the
    ``code`` ``card_declined``, but its plain decline's ``decline_code`` is
    ``generic_decline``: the API says ``card_declined`` for it. A documented test payment
    method replaced for localstripe reports its documented code.
    """
    error = payment_intent.get("last_payment_error") or {}
    documented = ALWAYS_DECLINES.get(str((payment_intent.get("metadata") or {}).get(TEST_CARD_KEY)))
    if documented and error.get("code") == "card_declined":
        return documented
    reason = error.get("decline_code")
    if reason and reason != "generic_decline":
        return str(reason)
    return str(error.get("code") or "requires_payment_method")


def event_from_stripe(event: Mapping[str, Any]) -> ProviderEvent:
    """A verified webhook's event, if it is one this service reads; else InvalidWebhook."""
    event_id, kind = event.get("id"), event.get("type")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not (isinstance(event_id, str) and event_id and isinstance(kind, str)
            and isinstance(obj, Mapping) and obj.get("id")):
        raise InvalidWebhook("the payload is not an event")
    if kind.startswith("payment_intent.") and obj.get("object") == "payment_intent":
        return ProviderEvent(event_id, kind, intent_from_stripe(obj))
    if kind == "charge.refunded" and obj.get("object") == "charge" and obj.get("payment_intent"):
        intent_id = object_id(obj["payment_intent"])
        intent = Intent(intent_id, "succeeded", charge_id=str(obj["id"]),
                        metadata={str(k): str(v) for k, v in (obj.get("metadata") or {}).items()
                                  if k != TEST_CARD_KEY})
        return ProviderEvent(event_id, kind, intent, _newest_refund(obj, intent_id))
    raise InvalidWebhook(f"not an event this service reads: {kind}")


def _newest_refund(charge: Mapping[str, Any], intent_id: str) -> Refund | None:
    """The charge's newest refund, when the payload lists them (API versions since
    2022-11-15 leave ``refunds`` out unless expanded: then none)."""
    listed = charge.get("refunds")
    refunds = listed.get("data") if isinstance(listed, Mapping) else None
    if not refunds:
        return None
    newest = max(refunds, key=lambda r: int(r.get("created") or 0))
    return Refund(refund_id=str(newest["id"]), intent_id=intent_id, amount=int(newest["amount"]))


def object_id(value: object) -> str:
    """An object's id, whether the field holds the id (Stripe) or the object (localstripe)."""
    if isinstance(value, Mapping):
        return str(value.get("id") or "")
    return str(value or "")


def _missing_payment_method(error: stripe.InvalidRequestError) -> bool:
    """Stripe: 400 ``resource_missing`` on ``payment_method``; localstripe: 404."""
    return error.http_status == 404 or error.code == "resource_missing"


def _unusable(metadata: dict[str, str]) -> Intent:
    """An unknown payment method: no intent was made, nothing can be charged."""
    return Intent("", "failed", decline_code=INVALID_PAYMENT_METHOD, metadata=dict(metadata))

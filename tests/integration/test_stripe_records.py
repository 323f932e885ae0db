"""Stripe's own records read as the audits read them (payment/stripe_records.py), and
payment's webhook endpoint registered with localstripe (payment/webhook_endpoint.py),
against the real localstripe that scripts/infra runs."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from payment.records import Ledger
from payment.stripe_provider import StripeProvider
from payment.stripe_records import StripeRecords
from payment.webhook_endpoint import (
    PATH,
    register_with_local_stripe,
    silence_on_local_stripe,
)
from shared.config import GatewaySettings, Settings
from tests.support.webhook_receiver import Receiver

pytestmark = pytest.mark.infra

KEY = "sk_test_" + uuid.uuid4().hex


@pytest.fixture
def provider(stripe_server: str) -> StripeProvider:
    return StripeProvider(KEY, "whsec_unused", stripe_server)


def charge(provider: StripeProvider, booking: str, method: str, amount: int) -> str:
    created = provider.create_intent(f"{booking}/{uuid.uuid4().hex}", method, amount, "eur",
                                     {"booking_id": booking, "attempt": "1"})
    return provider.confirm(f"{booking}/confirm", created.intent_id).intent_id


def test_the_money_per_booking_as_stripes_records_show_it(provider, stripe_server) -> None:
    b = {name: f"{name}-{uuid.uuid4().hex[:8]}" for name in ("paid", "declined", "refunded",
                                                             "outside", "twice", "not_asked")}
    charge(provider, b["paid"], "pm_card_visa", 2000)
    charge(provider, b["declined"], "pm_card_chargeDeclined", 900)
    provider.refund("r1", charge(provider, b["refunded"], "pm_card_visa", 700), 700)
    outside = charge(provider, b["outside"], "pm_card_visa", 500)
    charge(provider, b["twice"], "pm_card_visa", 300)
    provider.refund("r2", charge(provider, b["twice"], "pm_card_visa", 300), 300)
    charge(provider, b["not_asked"], "pm_card_visa", 100)
    # Refunded in the Dashboard by its charge, not its intent.
    charge_id = provider.retrieve(outside).charge_id
    with httpx.Client(base_url=stripe_server, auth=(KEY, ""), timeout=10) as localstripe:
        r = localstripe.post("/v1/refunds", data={"charge": charge_id, "amount": "200"})
        assert r.status_code == 200, r.text

    asked = [b[n] for n in ("paid", "declined", "refunded", "outside", "twice")]
    ledger = Ledger(StripeRecords(provider, lambda: asked))
    assert ledger.captured_by_booking() == {
        b["paid"]: 2000, b["refunded"]: 700, b["outside"]: 500, b["twice"]: 600}
    assert ledger.successful_charges_by_booking() == {
        b["paid"]: 1, b["declined"]: 0, b["refunded"]: 1, b["outside"]: 1, b["twice"]: 2}
    assert ledger.standing_charges_by_booking() == {
        b["paid"]: 1, b["declined"]: 0, b["refunded"]: 0, b["outside"]: 1, b["twice"]: 1}
    assert ledger.refunded_by_booking() == {b["refunded"]: 700, b["outside"]: 200,
                                            b["twice"]: 300}
    assert ledger.refunded_total() == 1200
    assert ledger.confirmations_by_intent() is None  # Stripe keeps no count


def stripe_settings(api_base: str, gateway: str = "stripe") -> Settings:
    return Settings(gateway=GatewaySettings(provider=gateway), stripe_api_base=api_base,
                    stripe_api_key=KEY, stripe_webhook_secret="whsec_" + uuid.uuid4().hex)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


def test_payments_endpoint_is_registered_again_and_again_then_silenced(
    provider, stripe_server, receiver,
) -> None:
    settings = stripe_settings(stripe_server)
    url = register_with_local_stripe(settings, receiver.address)
    assert url == receiver.address + PATH
    assert register_with_local_stripe(settings, receiver.address) == url  # the same one
    signed = StripeProvider(KEY, settings.stripe_webhook_secret, stripe_server)

    intent_id = charge(provider, "b-webhook", "pm_card_visa", 800)
    body, signature = receiver.delivery_for(intent_id, timeout=10)
    event = signed.read_webhook(body, signature)  # signed with the settings' secret
    assert (event.type, event.intent.intent_id) == ("payment_intent.succeeded", intent_id)
    time.sleep(0.5)
    assert receiver.deliveries.empty()  # once, though registered twice

    silence_on_local_stripe(settings, receiver.address)
    quiet = charge(provider, "b-silenced", "pm_card_visa", 800)
    with pytest.raises(AssertionError):
        receiver.delivery_for(quiet, timeout=2.5)  # localstripe sends about 1 s late


def test_nothing_is_registered_for_the_simulated_provider_or_stripe_itself(receiver) -> None:
    # No call reaches a server: there is none at these addresses.
    assert register_with_local_stripe(stripe_settings("http://127.0.0.1:9", "simulated"),
                                      receiver.address) is None
    assert register_with_local_stripe(stripe_settings(""), receiver.address) is None
    assert register_with_local_stripe(stripe_settings("https://api.stripe.com"),
                                      receiver.address) is None


def test_a_local_stripe_server_that_does_not_answer_is_named(receiver) -> None:
    with pytest.raises(OSError, match=r"localstripe at http://127.0.0.1:9 .*scripts/infra up"):
        register_with_local_stripe(stripe_settings("http://127.0.0.1:9"), receiver.address)

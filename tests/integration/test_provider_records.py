"""The simulated provider over its PostgreSQL records: intents outlive the provider (a
payment process restarted finds them), an intent is confirmed at most once however many
instances race for it, a refund's key refunds once, and the audits read the money."""

from __future__ import annotations

import threading

import pytest

from payment.gateway import AUTHENTICATION_REQUIRED, IntentStateError, SimulatedProvider
from payment.ledger import PostgresLedger
from payment.records import Ledger

pytestmark = pytest.mark.infra


def test_intents_outlive_the_provider_and_the_audits_read_them(pg_database) -> None:
    records = PostgresLedger(pg_database.conninfo)
    ledger = Ledger(records)
    try:
        provider = SimulatedProvider(store=records)
        paid = provider.create_intent("pay-1/attempt/1", "pm_card_visa", 2000, "EUR",
                                      {"booking_id": "b1", "attempt": "1"})
        declined = provider.create_intent("pay-2/attempt/1", "pm_card_chargeDeclined", 900,
                                          "EUR", {"booking_id": "b2", "attempt": "1"})
        waiting = provider.create_intent("pay-3/attempt/1", AUTHENTICATION_REQUIRED, 700,
                                         "EUR", {"booking_id": "b3", "attempt": "1"})
        assert provider.confirm("c", declined.intent_id).decline_code == "card_declined"
        assert provider.confirm("c", waiting.intent_id).status == "requires_action"

        # A restarted payment process, with a provider of its own, on the same records.
        again = SimulatedProvider(store=PostgresLedger(pg_database.conninfo))
        assert again.retrieve(paid.intent_id) == paid  # created, not confirmed
        assert again.confirm("c", paid.intent_id).status == "succeeded"
        with pytest.raises(IntentStateError):
            provider.confirm("c", paid.intent_id)
        assert again.retrieve(waiting.intent_id).metadata == {"booking_id": "b3", "attempt": "1"}
        assert again.authenticate(waiting.intent_id, success=True).status == "succeeded"
        refund = again.refund("pay-3/refund", waiting.intent_id, 700)
        assert provider.refund("pay-3/refund", waiting.intent_id, 700) == refund
        again.store.close()

        assert ledger.captured_by_booking() == {"b1": 2000, "b3": 700}
        assert ledger.successful_charges_by_booking() == {"b1": 1, "b2": 0, "b3": 1}
        assert ledger.standing_charges_by_booking() == {"b1": 1, "b2": 0, "b3": 0}
        assert ledger.refunded_total() == 700 and ledger.refunded_by_booking() == {"b3": 700}
        assert ledger.confirmations_by_intent() == {
            paid.intent_id: 2, declined.intent_id: 1, waiting.intent_id: 1}
    finally:
        ledger.close()


def test_instances_racing_to_confirm_an_intent_confirm_it_once(pg_database) -> None:
    """Payment instances with providers of their own race on the same intents: one
    confirm each succeeds, the others are refused (as Stripe refuses them)."""
    providers = [SimulatedProvider(store=PostgresLedger(pg_database.conninfo)) for _ in range(4)]
    intents = [providers[0].create_intent(f"pay-{n}/attempt/1", "pm_card_visa", 100, "EUR",
                                          {"booking_id": f"b{n}"}).intent_id for n in range(20)]
    answers, refused = [], []
    start = threading.Barrier(len(providers))

    def confirm(provider: SimulatedProvider) -> None:
        start.wait()
        for intent_id in intents:
            try:
                answers.append(provider.confirm("c", intent_id))
            except IntentStateError:
                refused.append(intent_id)

    threads = [threading.Thread(target=confirm, args=(p,)) for p in providers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert sorted(a.intent_id for a in answers) == sorted(intents)  # one each
        assert len(refused) == 60
        ledger = providers[0].ledger
        assert ledger.successful_charges_by_booking() == {f"b{n}": 1 for n in range(20)}
    finally:
        for p in providers:
            p.store.close()

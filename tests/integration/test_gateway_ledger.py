"""The simulated gateway over its PostgreSQL ledger: a key is charged once, and repeats
(here, after a restart of the gateway) get the first result back."""

from __future__ import annotations

import threading

import pytest

from payment.gateway import SimulatedGateway
from payment.ledger import PostgresLedger

pytestmark = pytest.mark.infra


def test_a_key_is_charged_once_and_repeats_get_the_first_result(pg_database) -> None:
    ledger = PostgresLedger(pg_database.conninfo)
    try:
        gateway = SimulatedGateway(ledger=ledger)
        first = gateway.charge("pay-1/attempt/1", "pm_card_visa", 2000, "EUR", "b1")
        declined = gateway.charge("pay-2/attempt/1", "pm_card_chargeDeclined", 900, "EUR", "b2")
        assert first.succeeded and first.charge_id.startswith("ch_")
        assert not declined.succeeded and declined.decline_code == "card_declined"

        # A restarted gateway, asked again (even with another method or amount): the
        # result on record, no second charge.
        again = SimulatedGateway(ledger=PostgresLedger(pg_database.conninfo))
        assert again.charge("pay-1/attempt/1", "pm_card_chargeDeclined", 1, "EUR", "b1") == first
        assert again.charge("pay-2/attempt/1", "pm_card_visa", 900, "EUR", "b2") == declined
        again.ledger.close()

        assert ledger.captured_by_booking() == {"b1": 2000}
        assert ledger.successful_charges_by_booking() == {"b1": 1, "b2": 0}
    finally:
        ledger.close()


def test_concurrent_gateways_charge_a_key_once(pg_database) -> None:
    """Two payment instances with their own gateways race on the same attempt."""
    gateways = [SimulatedGateway(ledger=PostgresLedger(pg_database.conninfo)) for _ in range(4)]
    results = []
    start = threading.Barrier(len(gateways))

    def charge(gateway: SimulatedGateway) -> None:
        start.wait()
        for n in range(20):
            results.append(gateway.charge(f"pay-{n}/attempt/1", "pm_card_visa", 100, "EUR", f"b{n}"))

    threads = [threading.Thread(target=charge, args=(g,)) for g in gateways]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert len(results) == 80 and all(r.succeeded for r in results)
        assert len({r.charge_id for r in results}) == 20  # one charge per key, shared by all
        assert gateways[0].ledger.successful_charges_by_booking() == {f"b{n}": 1 for n in range(20)}
    finally:
        for g in gateways:
            g.ledger.close()

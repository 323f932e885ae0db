"""The simulated provider's records in PostgreSQL (an ``IntentStore``).

They stand in for Stripe's own records: they live in their own schema, are written only
by the simulated provider, and survive a crash of the payment process, so an intent
created before a crash can be retrieved and confirmed after it, and the money can be
audited after chaos (payment/records.py reads them). Several payment instances share
them: a confirm is a compare-and-set on the intent's status, as Stripe refuses a second
confirm.
"""

from __future__ import annotations

import json
from typing import Any

from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool

from payment.gateway import StoredIntent
from payment.intents import Refund
from payment.records import IntentRecord

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS gateway_sim;
CREATE TABLE IF NOT EXISTS gateway_sim.intents (
    intent_id text PRIMARY KEY,
    idempotency_key text NOT NULL,
    booking_id text NOT NULL,
    payment_method text NOT NULL,
    amount bigint NOT NULL,
    currency text NOT NULL,
    metadata text NOT NULL,
    status text NOT NULL,
    charge_id text NOT NULL,
    decline_code text NOT NULL,
    client_secret text NOT NULL,
    confirmations integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS gateway_sim.intent_refunds (
    idempotency_key text PRIMARY KEY,
    refund_id text NOT NULL,
    intent_id text NOT NULL,
    amount bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""
_INTENT = ("intent_id, idempotency_key, payment_method, amount, currency, metadata, status,"
           " charge_id, decline_code, client_secret")


class PostgresLedger:
    def __init__(self, conninfo: str) -> None:
        # Autocommit: every write is one statement, so one round trip instead of two.
        self.pool = ConnectionPool(conninfo, min_size=1, max_size=4, open=True,
                                   kwargs={"autocommit": True})
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(4242)")  # concurrent first starts
            conn.execute(SCHEMA)

    # --- IntentStore ----------------------------------------------------------------

    def insert(self, intent: StoredIntent) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                f"INSERT INTO gateway_sim.intents ({_INTENT}, booking_id)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (*_row(intent), intent.booking_id),
            )

    def get(self, intent_id: str) -> StoredIntent | None:
        with self.pool.connection() as conn:
            row = conn.execute(f"SELECT {_INTENT} FROM gateway_sim.intents WHERE intent_id = %s",
                               (intent_id,)).fetchone()
        if row is None:
            return None
        return StoredIntent(row[0], row[1], row[2], int(row[3]), row[4], json.loads(row[5]),
                            *row[6:])

    def replace(self, intent: StoredIntent, expected_status: str) -> bool:
        with self.pool.connection() as conn:
            cur = conn.execute(
                "UPDATE gateway_sim.intents SET status = %s, charge_id = %s, decline_code = %s,"
                " client_secret = %s WHERE intent_id = %s AND status = %s",
                (intent.status, intent.charge_id, intent.decline_code, intent.client_secret,
                 intent.intent_id, expected_status),
            )
            return cur.rowcount == 1

    def count_confirmation(self, intent_id: str) -> None:
        with self.pool.connection() as conn:
            conn.execute("UPDATE gateway_sim.intents SET confirmations = confirmations + 1"
                         " WHERE intent_id = %s", (intent_id,))

    def refund_of(self, idempotency_key: str) -> Refund | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT refund_id, intent_id, amount FROM gateway_sim.intent_refunds"
                " WHERE idempotency_key = %s", (idempotency_key,),
            ).fetchone()
        return Refund(row[0], row[1], int(row[2])) if row else None

    def insert_refund(self, idempotency_key: str, refund: Refund) -> Refund:
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO gateway_sim.intent_refunds VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (idempotency_key) DO NOTHING",
                (idempotency_key, refund.refund_id, refund.intent_id, refund.amount),
            )
        stored = self.refund_of(idempotency_key)  # the key's first refund stands
        assert stored is not None
        return stored

    def refunded(self, intent_id: str) -> int:
        return int(self._rows(
            "SELECT coalesce(sum(amount), 0) FROM gateway_sim.intent_refunds"
            " WHERE intent_id = %s", intent_id)[0][0])

    # --- ProviderRecords: what the audits read (payment/records.py) -------------------

    def _rows(self, sql: str, *args: Any) -> list[tuple]:
        with self.pool.connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            return cur.execute(sql, args or None).fetchall()

    def intent_records(self) -> list[IntentRecord]:
        return [IntentRecord(i, b, status, int(amount)) for i, b, status, amount in self._rows(
            "SELECT intent_id, booking_id, status, amount FROM gateway_sim.intents")]

    def refund_records(self) -> list[Refund]:
        return [Refund(r, i, int(amount)) for r, i, amount in self._rows(
            "SELECT refund_id, intent_id, amount FROM gateway_sim.intent_refunds")]

    def confirmations_by_intent(self) -> dict[str, int]:
        return dict(self._rows(
            "SELECT intent_id, confirmations FROM gateway_sim.intents WHERE confirmations > 0"))

    def close(self) -> None:
        self.pool.close()


def _row(i: StoredIntent) -> tuple:
    return (i.intent_id, i.idempotency_key, i.payment_method, i.amount, i.currency,
            json.dumps(i.metadata), i.status, i.charge_id, i.decline_code, i.client_secret)

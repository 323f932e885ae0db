"""The simulated gateway's ledger in PostgreSQL.

It stands in for Stripe's own records: it lives in its own schema, is written
only by the simulated gateway, and survives a crash of the payment process, so
idempotency keys keep their meaning and the money can be audited after chaos.
"""

from __future__ import annotations

from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool

from payment.gateway import ChargeResult

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS gateway_sim;
CREATE TABLE IF NOT EXISTS gateway_sim.charges (
    idempotency_key text PRIMARY KEY,
    booking_id text NOT NULL,
    amount bigint NOT NULL,
    succeeded boolean NOT NULL,
    charge_id text NOT NULL,
    decline_code text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS gateway_sim.refunds (
    idempotency_key text PRIMARY KEY,
    charge_id text NOT NULL,
    amount bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""


class PostgresLedger:
    def __init__(self, conninfo: str) -> None:
        # Autocommit: every write is one statement, so one round trip instead of two.
        self.pool = ConnectionPool(conninfo, min_size=1, max_size=4, open=True,
                                   kwargs={"autocommit": True})
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(4242)")  # concurrent first starts
            conn.execute(SCHEMA)

    def find_charge(self, idempotency_key: str) -> ChargeResult | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT succeeded, charge_id, decline_code FROM gateway_sim.charges"
                " WHERE idempotency_key = %s", (idempotency_key,),
            ).fetchone()
        return ChargeResult(*row) if row else None

    def record_charge(
        self, idempotency_key: str, booking_id: str, amount: int, result: ChargeResult
    ) -> ChargeResult:
        """One statement when the key is new (the simulated payment hop's main cost was
        three transactions per charge: look up, insert, read back)."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO gateway_sim.charges VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (idempotency_key) DO NOTHING"
                " RETURNING succeeded, charge_id, decline_code",
                (idempotency_key, booking_id, amount, result.succeeded, result.charge_id,
                 result.decline_code),
            ).fetchone()
        if row is not None:
            return ChargeResult(*row)
        found = self.find_charge(idempotency_key)  # the key's first result stands
        assert found is not None
        return found

    def record_refund(self, idempotency_key: str, charge_id: str, amount: int) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO gateway_sim.refunds VALUES (%s, %s, %s)"
                " ON CONFLICT (idempotency_key) DO NOTHING", (idempotency_key, charge_id, amount),
            )

    def _rows(self, sql: str) -> list[tuple]:
        with self.pool.connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            return cur.execute(sql).fetchall()

    def captured_by_booking(self) -> dict[str, int]:
        return dict(self._rows(
            "SELECT booking_id, sum(amount)::bigint FROM gateway_sim.charges"
            " WHERE succeeded GROUP BY booking_id"
        ))

    def successful_charges_by_booking(self) -> dict[str, int]:
        return dict(self._rows(
            "SELECT booking_id, count(*) FILTER (WHERE succeeded) FROM gateway_sim.charges"
            " GROUP BY booking_id"
        ))

    def refunded_total(self) -> int:
        return int(self._rows("SELECT coalesce(sum(amount), 0) FROM gateway_sim.refunds")[0][0])

    def close(self) -> None:
        self.pool.close()

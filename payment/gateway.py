"""The payment gateway port and its simulation.

The port has Stripe's shape: charges and refunds carry an idempotency key, and
the same key always returns the first result without charging again. Payment
methods are Stripe-style test tokens, so the same tokens will work against
Stripe's test mode when a real adapter replaces the simulation.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class ChargeResult:
    succeeded: bool
    charge_id: str = ""
    decline_code: str = ""


@dataclass(frozen=True)
class RefundResult:
    refund_id: str


class PaymentGateway(Protocol):
    def charge(
        self, idempotency_key: str, payment_method: str, amount: int, currency: str, booking_id: str
    ) -> ChargeResult: ...

    def refund(self, idempotency_key: str, charge_id: str, amount: int) -> RefundResult: ...


# Stripe's test payment methods that always answer the same way.
ALWAYS_SUCCEEDS = {"pm_card_visa", "pm_card_mastercard", "pm_card_amex"}
ALWAYS_DECLINES = {
    "pm_card_chargeDeclined": "card_declined",
    "pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds",
    "pm_card_chargeDeclinedExpiredCard": "expired_card",
    "pm_card_chargeDeclinedFraudulent": "fraudulent",
}
# Not a Stripe token: decided by the simulation's decline rate, for load tests.
SIMULATED = "pm_card_simulated"
KNOWN_METHODS = ALWAYS_SUCCEEDS | set(ALWAYS_DECLINES) | {SIMULATED}


class Ledger(Protocol):
    """The gateway's own record of charges and refunds: first write per key wins."""

    def record_charge(
        self, idempotency_key: str, booking_id: str, amount: int, result: ChargeResult
    ) -> ChargeResult:
        """Store the result unless the key has one; return the stored result."""

    def record_refund(self, idempotency_key: str, charge_id: str, amount: int) -> None: ...

    def captured_by_booking(self) -> dict[str, int]: ...

    def successful_charges_by_booking(self) -> dict[str, int]: ...

    def refunded_total(self) -> int: ...


@dataclass
class InMemoryLedger:
    charges: dict[str, tuple[str, ChargeResult, int]] = field(default_factory=dict)
    refunds: dict[str, tuple[str, int]] = field(default_factory=dict)  # key -> (charge, amount)

    def record_charge(
        self, idempotency_key: str, booking_id: str, amount: int, result: ChargeResult
    ) -> ChargeResult:
        self.charges.setdefault(idempotency_key, (booking_id, result, amount))
        return self.charges[idempotency_key][1]

    def record_refund(self, idempotency_key: str, charge_id: str, amount: int) -> None:
        self.refunds.setdefault(idempotency_key, (charge_id, amount))

    def captured_by_booking(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for booking_id, result, amount in self.charges.values():
            if result.succeeded:
                out[booking_id] = out.get(booking_id, 0) + amount
        return out

    def successful_charges_by_booking(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for booking_id, result, _ in self.charges.values():
            out[booking_id] = out.get(booking_id, 0) + int(result.succeeded)
        return out

    def refunded_total(self) -> int:
        return sum(amount for _, amount in self.refunds.values())


class SimulatedGateway:
    """Deterministic under a seed: the outcome of a charge depends only on its token,
    its idempotency key and the seed, never on timing or call order."""

    def __init__(
        self,
        decline_rate: float = 0.0,
        latency_s: float = 0.0,
        seed: int = 0,
        ledger: Ledger | None = None,
    ) -> None:
        self.decline_rate = decline_rate
        self.latency_s = latency_s
        self.seed = seed
        self.ledger: Ledger = ledger or InMemoryLedger()
        self._lock = threading.Lock()

    def charge(
        self, idempotency_key: str, payment_method: str, amount: int, currency: str, booking_id: str
    ) -> ChargeResult:
        if self.latency_s:
            time.sleep(self.latency_s)
        with self._lock:
            # Decided first (a pure function of the key and the method), then offered to
            # the ledger, which keeps the first result per key: a repeated key gets that
            # one back and is never charged twice, in one write instead of a read first.
            result = self._decide(idempotency_key, payment_method)
            return self.ledger.record_charge(idempotency_key, booking_id, amount, result)

    def refund(self, idempotency_key: str, charge_id: str, amount: int) -> RefundResult:
        with self._lock:
            self.ledger.record_refund(idempotency_key, charge_id, amount)
            return RefundResult(refund_id=f"re_{_digest(idempotency_key)}")

    def _decide(self, key: str, method: str) -> ChargeResult:
        if method in ALWAYS_DECLINES:
            return ChargeResult(False, decline_code=ALWAYS_DECLINES[method])
        if method not in KNOWN_METHODS:
            return ChargeResult(False, decline_code="invalid_payment_method")
        if method == SIMULATED:
            draw = int(_digest(f"{self.seed}/{key}")[:8], 16) / 0xFFFFFFFF
            if draw < self.decline_rate:
                return ChargeResult(False, decline_code="card_declined")
        return ChargeResult(True, charge_id=f"ch_{_digest(key)}")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]

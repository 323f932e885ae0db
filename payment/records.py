"""The money as the payment provider's own records show it, per booking: what the audits
read after a run, whichever provider kept the records.

A provider's records (the simulated provider's store, Stripe's own objects) list its
intents, each with the booking it charges for in its metadata, and its refunds, each
naming its intent. ``Ledger`` reads the money from those two lists, the same way for
every provider, so an audit never depends on which one ran.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from payment.intents import IntentStatus, Refund


@dataclass(frozen=True)
class IntentRecord:
    """One of the provider's intents as its records keep it."""

    intent_id: str
    booking_id: str  # from the intent's metadata ("" if it has none)
    status: IntentStatus
    amount: int  # what a success charges


class ProviderRecords(Protocol):
    def intent_records(self) -> list[IntentRecord]: ...

    def refund_records(self) -> list[Refund]: ...

    def confirmations_by_intent(self) -> dict[str, int] | None:
        """How many times each intent was asked to confirm (refused asks included);
        None: the provider's records do not count them (Stripe's do not)."""


class Ledger:
    """Money per booking, read afresh from the provider's records at every call."""

    def __init__(self, records: ProviderRecords) -> None:
        self.records = records

    def captured_by_booking(self) -> dict[str, int]:
        """Money taken per booking (every successful charge, refunded or not)."""
        out: Counter[str] = Counter()
        for i in self._charges():
            out[i.booking_id] += i.amount
        return dict(out)

    def successful_charges_by_booking(self) -> dict[str, int]:
        """Per booking with an intent: how many of its intents charged (0 or more)."""
        out: Counter[str] = Counter()
        for i in self.records.intent_records():
            out[i.booking_id] += i.status == "succeeded"
        return dict(out)

    def standing_charges_by_booking(self) -> dict[str, int]:
        """Per booking with an intent: successful charges not refunded in full."""
        refunded = self._refunded_by_intent()
        out: Counter[str] = Counter()
        for i in self.records.intent_records():
            out[i.booking_id] += i.status == "succeeded" and refunded[i.intent_id] < i.amount
        return dict(out)

    def refunded_by_booking(self) -> dict[str, int]:
        booking_of = {i.intent_id: i.booking_id for i in self.records.intent_records()}
        out: Counter[str] = Counter()
        for r in self.records.refund_records():
            out[booking_of.get(r.intent_id, "")] += r.amount
        return dict(out)

    def refunded_total(self) -> int:
        return sum(r.amount for r in self.records.refund_records())

    def confirmations_by_intent(self) -> dict[str, int] | None:
        return self.records.confirmations_by_intent()

    def close(self) -> None:
        close = getattr(self.records, "close", None)
        if close is not None:
            close()

    def _charges(self) -> list[IntentRecord]:
        return [i for i in self.records.intent_records() if i.status == "succeeded"]

    def _refunded_by_intent(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for r in self.records.refund_records():
            out[r.intent_id] += r.amount
        return out

"""Stripe's own records of the money (``ProviderRecords``, payment/records.py): every
PaymentIntent and Refund, listed through the SDK, page after page.

An intent names its booking in its metadata (``booking_id``); a refund names its intent,
or only its charge (one made in Stripe's Dashboard), whose intent is then found by the
intents' latest charges. Stripe does not count how often an intent was asked to confirm
(it refuses a second confirm, which charges nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from payment.intents import Refund
from payment.records import IntentRecord
from payment.stripe_provider import StripeProvider, intent_from_stripe, object_id

PAGE = 100  # the most Stripe lists at once


class StripeRecords:
    """``bookings``: when given, only the intents of the bookings it names (and their
    refunds), asked at every listing: one local Stripe server may serve several systems."""

    def __init__(self, provider: StripeProvider,
                 bookings: Callable[[], Collection[str]] | None = None) -> None:
        self.client = provider.client
        self.bookings = bookings

    def intent_records(self) -> list[IntentRecord]:
        return [record for record, _ in self._intents()]

    def refund_records(self) -> list[Refund]:
        intents = self._intents()
        ours = {record.intent_id for record, _ in intents}
        by_charge = {charge: record.intent_id for record, charge in intents if charge}
        out = []
        for listed in self.client.v1.refunds.list(params={"limit": PAGE}).auto_paging_iter():
            r = listed.to_dict()
            intent_id = (object_id(r.get("payment_intent"))
                         or by_charge.get(object_id(r.get("charge")), ""))
            if intent_id in ours:
                out.append(Refund(refund_id=r["id"], intent_id=intent_id, amount=int(r["amount"])))
        return out

    def confirmations_by_intent(self) -> None:
        return None

    def _intents(self) -> list[tuple[IntentRecord, str]]:
        """Each intent's record and its latest charge's id ("" if none)."""
        keep = set(self.bookings()) if self.bookings is not None else None
        out = []
        listed = self.client.v1.payment_intents.list(params={"limit": PAGE})
        for pi in listed.auto_paging_iter():
            shown = pi.to_dict()
            intent = intent_from_stripe(shown)
            booking_id = intent.metadata.get("booking_id", "")
            if keep is None or booking_id in keep:
                record = IntentRecord(intent.intent_id, booking_id, intent.status,
                                      int(shown["amount"]))
                out.append((record, object_id(shown.get("latest_charge"))))
        return out

"""A show's price sheet: what a price lookup and a quote are answered from.

It is the show's latest price version with inventory's demand uplifts for it, taken
from the show's ``ShowPricing`` and kept in the price cache as it is. ``revision`` is
the aggregate's version, which every change moves on: the cache never replaces a sheet
with an older one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from pricing.domain import ShowPricing
from shared import price_list
from shared.contracts import DemandRule


class UnknownSeats(ValueError):
    """Seats that the show does not sell (HTTP 422)."""


class PriceSheet(msgspec.Struct, frozen=True, kw_only=True):
    show_id: str
    theatre_id: str
    revision: int
    price_version: int
    rules_version: int
    prices: dict[str, int]  # category -> base price of this version
    currency: str
    rounding: int
    caps: dict[str, int]
    demand: DemandRule | None
    uplifts: dict[str, int]  # category -> percent, as inventory applies it now
    explanation: dict[str, list[str]]
    seats: dict[str, str]  # seat id -> category
    starts_at: datetime
    cancelled: bool

    @classmethod
    def of(cls, show: ShowPricing) -> PriceSheet:
        return cls(
            show_id=show.show_id, theatre_id=show.theatre_id, revision=show.version,
            price_version=show.price_version, rules_version=show.rules_version,
            prices=dict(show.prices), currency=show.currency, rounding=show.rounding,
            caps=dict(show.caps), demand=show.demand_rule(), uplifts=dict(show.uplifts),
            explanation=dict(show.explanation), seats=dict(show.seats),
            starts_at=show.starts_at, cancelled=show.cancelled,
        )

    def price_now(self, category: str) -> int:
        """One seat of this category at a hold made now."""
        return price_list.seat_price(self.prices[category], self.uplifts.get(category, 0),
                                     self.rounding, self.caps.get(category))

    def amount(self, seat_ids: list[str]) -> int:
        unknown = sorted(s for s in set(seat_ids) if s not in self.seats)
        if unknown:
            raise UnknownSeats(f"show {self.show_id} has no seats {', '.join(unknown)}")
        return price_list.amount(seat_ids, self.seats, self.prices, self.uplifts,
                                 self.rounding, self.caps)

    def categories(self) -> dict[str, dict[str, Any]]:
        """Per category on sale: the price now, its base, the uplift and the steps."""
        return {
            cat: {"price": self.price_now(cat), "base": base,
                  "uplift_percent": self.uplifts.get(cat, 0),
                  "explanation": list(self.explanation.get(cat, []))}
            for cat, base in sorted(self.prices.items())
        }


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(PriceSheet)


def encode(sheet: PriceSheet) -> bytes:
    return _encoder.encode(sheet)


def decode(data: bytes) -> PriceSheet:
    return _decoder.decode(data)

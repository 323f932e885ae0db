"""The pricing API's requests and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from pricing.price_sheet import PriceSheet
from pricing.rules import PriceRules, RuleChange
from shared.contracts import DemandRule
from shared.http.schemas import RequestBody, ResponseBody, SeatId, ShowId, utc
from shared.quotes import Quote

Note = Annotated[str, msgspec.Meta(max_length=500)]


class RulesChange(RequestBody, frozen=True):
    rules: PriceRules
    # new_shows: shows put on sale from effective_from on; all_shows: every show on sale
    # is repriced from effective_from on.
    applies: Literal["new_shows", "all_shows"] = "new_shows"
    effective_from: datetime | None = None  # UTC; none: now
    note: Note = ""


class DemandSetting(RequestBody, frozen=True):
    rule: DemandRule | None  # None: no demand pricing for the show


class QuoteRequest(RequestBody, frozen=True):
    show_id: ShowId
    seat_ids: Annotated[list[SeatId], msgspec.Meta(min_length=1, max_length=10)]


class RuleChangeView(ResponseBody, frozen=True):
    version: int
    applies: str
    effective_from: datetime
    changed_by: str
    changed_at: datetime
    note: str
    rules: PriceRules


class RulesView(ResponseBody, frozen=True):
    changes: list[RuleChangeView]  # oldest first: the history of the rules


class CategoryPrice(ResponseBody, frozen=True):
    price: int  # one seat at a hold made now, demand uplift included
    base: int  # this price version's price, before demand
    uplift_percent: int
    explanation: list[str]


class PricesView(ResponseBody, frozen=True):
    show_id: str
    theatre_id: str
    price_version: int
    rules_version: int  # 0: the theatre's list prices
    currency: str
    categories: dict[str, CategoryPrice]
    demand: DemandRule | None
    rounding: int
    caps: dict[str, int]


class QuoteLine(ResponseBody, frozen=True):
    seat_id: str
    category: str
    price: int


class QuoteView(ResponseBody, frozen=True):
    quote: str  # pass it with the booking request: the price shown is the price charged
    quote_id: str
    show_id: str
    seat_ids: list[str]
    amount: int
    currency: str
    price_version: int
    expires_at: datetime
    lines: list[QuoteLine]


class CacheView(ResponseBody, frozen=True):
    hits: int
    misses: int
    failures: int
    hit_ratio: float


def rule_change_view(change: RuleChange) -> RuleChangeView:
    return RuleChangeView(
        version=change.version, applies=change.applies,
        effective_from=utc(change.effective_from), changed_by=change.changed_by,
        changed_at=utc(change.changed_at), note=change.note, rules=change.rules)


def prices_view(sheet: PriceSheet) -> PricesView:
    return PricesView(
        show_id=sheet.show_id, theatre_id=sheet.theatre_id, price_version=sheet.price_version,
        rules_version=sheet.rules_version, currency=sheet.currency,
        categories={k: CategoryPrice(**v) for k, v in sheet.categories().items()},
        demand=sheet.demand, rounding=sheet.rounding, caps=dict(sheet.caps))


def quote_view(quote: Quote, token: str, sheet: PriceSheet) -> QuoteView:
    lines = [QuoteLine(seat_id=s, category=sheet.seats[s],
                       price=sheet.price_now(sheet.seats[s])) for s in quote.seat_ids]
    return QuoteView(quote=token, quote_id=str(quote.quote_id), show_id=quote.show_id,
                     seat_ids=list(quote.seat_ids), amount=quote.amount,
                     currency=quote.currency, price_version=quote.price_version,
                     expires_at=utc(quote.expires_at), lines=lines)


def cache_view(stats: dict[str, Any]) -> CacheView:
    return CacheView(**stats)

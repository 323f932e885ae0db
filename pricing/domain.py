"""Pricing's aggregates: the chain's book of price rules, and each show's prices.

The rules are data (pricing/rules.py) changed by operators; every change is an event
that says who made it, when, what, and from when it applies, so any price can be
explained afterwards: a show's ``Priced`` events name the rules version they came from
and the steps that made each category's price.

A show's prices are versioned (``price_version`` 1, 2, ...): a new version when the show
is put on sale, when a rule change reaches it, when it is moved to another time, or when
its demand rule is set. Inventory prices holds from the latest version it has, and a
hold keeps the version it used, so a change never alters a held booking.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec
from eventsourcing.domain import event

from pricing.rules import PriceRules, RuleChange, ShowFacts, price_show
from shared import ids
from shared.aggregate import Aggregate
from shared.contracts import DemandRule

Applies = Literal["new_shows", "all_shows"]


class InvalidDemandRule(ValueError):
    """A demand rule that cannot be applied (HTTP 422)."""


class ShowNotPriceable(ValueError):
    """A change to a show that is cancelled or has started (HTTP 409)."""


def check_demand_rule(rule: DemandRule) -> None:
    if not 0 < rule.threshold_percent <= 100:
        raise InvalidDemandRule("threshold_percent must be between 1 and 100")
    if rule.uplift_percent <= 0 or rule.max_uplift_percent < rule.uplift_percent:
        raise InvalidDemandRule("uplift_percent must be positive and at most max_uplift_percent")
    if rule.max_uplift_percent > 500:
        raise InvalidDemandRule("max_uplift_percent above 500 is not a price but a typo")
    if rule.every_percent < 0:
        raise InvalidDemandRule("every_percent must not be negative")


class PriceBook(Aggregate):
    """The chain's price rules, every version of them: one per chain."""

    TOPIC = "cinema.pricing:PriceBook"

    class Created(Aggregate.Created):
        TOPIC = "cinema.pricing:PriceBook.Created"

    @staticmethod
    def create_id() -> Any:
        return ids.price_book_id()

    @event("Opened", topic="cinema.pricing:PriceBook.Opened")
    def __init__(self) -> None:
        self.changes: list[dict[str, Any]] = []  # RuleChange, as builtins

    def change(self, rules: PriceRules, applies: Applies, effective_from: datetime | None,
               changed_by: str, now: datetime, note: str = "") -> RuleChange:
        """A new version of the rules. ``new_shows``: it prices the shows put on sale from
        ``effective_from`` on; ``all_shows``: every show on sale is repriced by it from
        ``effective_from`` on (now, if not given)."""
        rules.validate()
        change = RuleChange(version=len(self.changes) + 1, rules=rules, applies=applies,
                            effective_from=effective_from or now, changed_by=changed_by,
                            changed_at=now, note=note)
        self._changed(change=msgspec.to_builtins(change))
        return change

    @event("RulesChanged", topic="cinema.pricing:PriceBook.RulesChanged")
    def _changed(self, change: dict[str, Any]) -> None:
        self.changes.append(change)

    def rule_changes(self) -> list[RuleChange]:
        return [msgspec.convert(c, RuleChange, strict=False) for c in self.changes]


class ShowPricing(Aggregate):
    """One show's prices, version by version, from the rules and its own demand rule."""

    TOPIC = "cinema.pricing:ShowPricing"

    class Created(Aggregate.Created):
        TOPIC = "cinema.pricing:ShowPricing.Created"

    @staticmethod
    def create_id(show_id: str) -> Any:
        return ids.show_pricing_id(show_id)

    @event("Opened", topic="cinema.pricing:ShowPricing.Opened")
    def __init__(self, show_id: str, theatre_id: str, seats: dict[str, str],
                 list_prices: dict[str, int], currency: str, local_start: str,
                 starts_at: datetime, on_sale_since: datetime) -> None:
        self.show_id, self.theatre_id = show_id, theatre_id
        self.seats = dict(seats)  # seat id -> category
        self.list_prices, self.currency = dict(list_prices), currency  # the theatre's
        self.local_start, self.starts_at = local_start, starts_at
        self.on_sale_since = on_sale_since
        self.cancelled = False
        self.price_version = 0
        self.rules_version = 0
        self.prices: dict[str, int] = {}
        self.rounding = 1
        self.caps: dict[str, int] = {}
        self.explanation: dict[str, list[str]] = {}
        self.demand: dict[str, int] | None = None  # a DemandRule's fields
        self.uplifts: dict[str, int] = {}  # as inventory last said, for its price version

    def facts(self) -> ShowFacts:
        return ShowFacts(theatre_id=self.theatre_id,
                         local_start=datetime.fromisoformat(self.local_start),
                         categories=frozenset(self.seats.values()),
                         list_prices=dict(self.list_prices), currency=self.currency)

    def on_sale(self, now: datetime) -> bool:
        return not self.cancelled and now < self.starts_at

    def price(self, change: RuleChange | None, now: datetime, cause: str,
              by: str = "pricing") -> bool:
        """Price the show by these rules (None: the theatre's list prices). A new version
        only when something a customer pays changes, or the first time."""
        priced = price_show(change.rules if change else None, self.facts())
        rules_version = change.version if change else 0
        if self.price_version and (
                (priced.prices, priced.caps, priced.rounding, priced.currency)
                == (self.prices, self.caps, self.rounding, self.currency)):
            return False
        self._priced(show_id=self.show_id, theatre_id=self.theatre_id,
                     price_version=self.price_version + 1, rules_version=rules_version,
                     prices=dict(priced.prices), currency=priced.currency,
                     rounding=priced.rounding, caps=dict(priced.caps),
                     explanation={k: list(v) for k, v in priced.explanation.items()},
                     demand=self.demand, cause=cause, by=by, at=now)
        return True

    def set_demand(self, rule: DemandRule | None, by: str, now: datetime) -> bool:
        """Set (or clear, with None) the show's demand rule: a new price version."""
        if not self.on_sale(now):
            raise ShowNotPriceable(f"show {self.show_id} is cancelled or has started")
        if rule is not None:
            check_demand_rule(rule)
        fields = None if rule is None else msgspec.to_builtins(rule)
        if fields == self.demand:
            return False
        self._priced(show_id=self.show_id, theatre_id=self.theatre_id,
                     price_version=self.price_version + 1, rules_version=self.rules_version,
                     prices=dict(self.prices), currency=self.currency, rounding=self.rounding,
                     caps=dict(self.caps), explanation=self.explanation, demand=fields,
                     cause="demand rule " + ("cleared" if rule is None else "set"), by=by,
                     at=now)
        return True

    @event("Priced", topic="cinema.pricing:ShowPricing.Priced")
    def _priced(self, show_id: str, theatre_id: str, price_version: int, rules_version: int,
                prices: dict[str, int],
                currency: str, rounding: int, caps: dict[str, int],
                explanation: dict[str, list[str]], demand: dict[str, int] | None,
                cause: str, by: str, at: datetime) -> None:
        self.price_version, self.rules_version = price_version, rules_version
        self.prices, self.currency, self.rounding = dict(prices), currency, rounding
        self.caps, self.explanation, self.demand = dict(caps), dict(explanation), demand
        self.uplifts = {}  # inventory says again for this version, if any applies

    def reschedule(self, local_start: str, starts_at: datetime, now: datetime) -> bool:
        if (local_start, starts_at) == (self.local_start, self.starts_at):
            return False
        self._rescheduled(local_start=local_start, starts_at=starts_at, at=now)
        return True

    @event("Rescheduled", topic="cinema.pricing:ShowPricing.Rescheduled")
    def _rescheduled(self, local_start: str, starts_at: datetime, at: datetime) -> None:
        self.local_start, self.starts_at = local_start, starts_at

    def cancel(self, now: datetime) -> None:
        if not self.cancelled:
            self._cancelled(at=now)

    @event("Cancelled", topic="cinema.pricing:ShowPricing.Cancelled")
    def _cancelled(self, at: datetime) -> None:
        self.cancelled = True

    def demand_changed(self, price_version: int, uplifts: dict[str, int], now: datetime) -> None:
        """Inventory's demand uplifts for a price version: kept for quotes, if they are
        for the current version (an older version's are stale)."""
        if price_version == self.price_version and uplifts != self.uplifts:
            self._demand_changed(price_version=price_version, uplifts=dict(uplifts), at=now)

    @event("DemandChanged", topic="cinema.pricing:ShowPricing.DemandChanged")
    def _demand_changed(self, price_version: int, uplifts: dict[str, int], at: datetime) -> None:
        self.uplifts = dict(uplifts)

    def demand_rule(self) -> DemandRule | None:
        return None if self.demand is None else DemandRule(**self.demand)

"""The chain's price rules, and what they make a show's prices: no I/O.

An operator sets one ``PriceRules`` for the whole chain: a base price per seat category
(the chain's default ``"*"``, and any theatre's own), and adjustments by the show's local
start time (a time band), its local day (weekday, weekend, public holiday) and the
seasons its local date falls in; then the currency's rounding step, and a floor and a
cap per category. ``price_show`` applies them in that order, category by category, and
says what each step did.

Money is integer minor units and the arithmetic is integer only, so the same rules and
the same show always give the same prices: pricing can compute them again from its
events, and a quote matches what inventory charges.

Each change to the rules is a ``RuleChange`` with a version. One for ``new_shows``
prices the shows put on sale from its ``effective_from``; one for ``all_shows`` reprices
every show on sale once its ``effective_from`` comes. A change takes effect no earlier
than it was recorded (``changed_at``): an ``effective_from`` in the past means "now",
so a change never reaches back to shows priced before it existed.

The structs are msgspec's, strict like the public contracts, so that they go into
events and HTTP bodies as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Literal, NamedTuple, get_args

import msgspec

from shared.contracts import SeatCategory
from shared.price_list import round_to_step

CATEGORIES: tuple[str, ...] = get_args(SeatCategory)  # ("Regular", "Premium", "Recliner")
CHAIN = "*"  # the key of the chain's default base prices
MINUTES_A_DAY = 24 * 60
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")

BandName = Literal["morning", "matinee", "evening", "late"]
DayType = Literal["weekday", "weekend", "public_holiday"]


class InvalidRules(ValueError):
    """Price rules that cannot be applied as given (HTTP 422); the message lists every
    problem found."""


class CannotPrice(ValueError):
    """A show the rules cannot price: a category with no base in the rules and no list
    price of the show, or list prices in another currency than the rules'."""


class _Rule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A part of the rules, decoded as strictly as the public contracts."""


class Adjustment(_Rule, frozen=True, kw_only=True):
    """``price * percent / 100`` (rounded half up to a minor unit) ``+ add``."""

    percent: int = 100
    add: int = 0  # minor units; negative lowers the price

    def apply(self, price: int) -> int:
        """The adjusted price, possibly negative: the caller keeps it at 0 and says so."""
        return round_to_step(price * self.percent, 100, 1) + self.add

    def describe(self) -> str:
        """``"120%"``, ``"+200"``, ``"90% -50"``; ``"100%"`` when it changes nothing."""
        parts = []
        if self.percent != 100 or self.add == 0:
            parts.append(f"{self.percent}%")
        if self.add:
            parts.append(f"{self.add:+d}")
        return " ".join(parts)


class TimeBand(_Rule, frozen=True, kw_only=True):
    """The shows starting in [starts, ends), local time "HH:MM". ``ends`` at or before
    ``starts`` wraps past midnight (a late band 22:00-02:00); equal, the whole day."""

    name: BandName
    starts: str
    ends: str
    adjustment: Adjustment

    def minutes(self) -> list[tuple[int, int]]:
        """The band as half-open minute ranges of one day (two when it wraps)."""
        start, end = _minute(self.starts), _minute(self.ends)
        if start < end:
            return [(start, end)]
        return [(start, MINUTES_A_DAY), (0, end)] if end > 0 else [(start, MINUTES_A_DAY)]

    def contains(self, minute: int) -> bool:
        return any(a <= minute < b for a, b in self.minutes())


class Season(_Rule, frozen=True, kw_only=True):
    """The shows whose local date is from ``first`` to ``last``, both included."""

    name: str
    first: date
    last: date
    adjustment: Adjustment


class PriceRules(_Rule, frozen=True, kw_only=True):
    currency: str = "GBP"
    # "*" (the chain's default) or a theatre id -> category -> minor units. A category
    # neither the theatre nor the chain prices keeps the show's list price as its base.
    base: dict[str, dict[str, int]]
    time_bands: list[TimeBand] = []
    day_types: dict[DayType, Adjustment] = {}
    public_holidays: list[date] = []
    seasons: list[Season] = []  # each one containing the show's date applies, in order
    rounding: int = 1  # the currency's step in minor units
    floors: dict[str, int] = {}  # category -> the lowest price
    caps: dict[str, int] = {}  # category -> the highest price

    def validate(self) -> None:
        """Raise InvalidRules naming every problem, or return: valid rules price any show
        to a price between its floor and cap that is a multiple of the rounding step."""
        problems = [*self._money_problems(), *self._time_problems()]
        if problems:
            raise InvalidRules("; ".join(problems))

    def _money_problems(self) -> list[str]:
        problems: list[str] = []
        if not _CURRENCY.match(self.currency):
            problems.append(f"currency {self.currency!r} is not 3 upper-case letters like GBP")
        if not self.base:
            problems.append("base is empty: give the chain's prices ('*') or a theatre's")
        for where, prices in self.base.items():
            owner = "the chain ('*')" if where == CHAIN else f"theatre {where}"
            problems += _category_problems(f"base of {owner}", prices)
        if self.rounding < 1:
            problems.append(f"rounding {self.rounding}: the step is at least 1 minor unit")
        for kind, limits in (("floor", self.floors), ("cap", self.caps)):
            problems += _category_problems(kind, limits)
            if self.rounding >= 1:
                problems += [f"{kind} {limit} of {cat} is not a multiple of the rounding "
                             f"step {self.rounding}"
                             for cat, limit in limits.items() if limit % self.rounding]
        problems += [f"floor {self.floors[cat]} of {cat} is above its cap {self.caps[cat]}"
                     for cat in CATEGORIES
                     if cat in self.floors and cat in self.caps
                     and self.floors[cat] > self.caps[cat]]
        adjustments = [
            *((f"time band {b.name}", b.adjustment) for b in self.time_bands),
            *((day.replace("_", " "), a) for day, a in self.day_types.items()),
            *((f"season {s.name}", s.adjustment) for s in self.seasons),
        ]
        problems += [f"{what}: percent {a.percent} is negative"
                     for what, a in adjustments if a.percent < 0]
        return problems

    def _time_problems(self) -> list[str]:
        problems: list[str] = []
        bands = []
        for b in self.time_bands:
            bad = [t for t in (b.starts, b.ends) if not _HHMM.match(t)]
            if bad:
                problems += [f"time band {b.name}: {t!r} is not a time like 18:30" for t in bad]
            else:
                bands.append(b)
        for i, one in enumerate(bands):
            for other in bands[i + 1:]:
                if any(a < d and c < b for a, b in one.minutes() for c, d in other.minutes()):
                    problems.append(f"time bands {one.name} ({one.starts}-{one.ends}) and "
                                    f"{other.name} ({other.starts}-{other.ends}) overlap")
        for s in self.seasons:
            if not s.name.strip():
                problems.append(f"the season from {s.first} to {s.last} needs a name")
            if s.last < s.first:
                problems.append(f"season {s.name}: its last day {s.last} is before its "
                                f"first {s.first}")
        return problems


def _category_problems(what: str, prices: Mapping[str, int]) -> list[str]:
    problems = [f"{what}: no seat category {cat!r} (one of {', '.join(CATEGORIES)})"
                for cat in prices if cat not in CATEGORIES]
    problems += [f"{what}: {cat} {price} is negative"
                 for cat, price in prices.items() if price < 0]
    return problems


def _minute(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


class ShowFacts(NamedTuple):
    theatre_id: str
    local_start: datetime  # aware, in the theatre's time zone
    categories: frozenset[str]  # the categories of the show's seats on sale
    list_prices: dict[str, int]  # the theatre's prices for the show (where the rules have none)
    currency: str  # the list prices'


class Priced(NamedTuple):
    prices: dict[str, int]  # category -> price, every category of the show
    explanation: dict[str, list[str]]  # category -> the steps that made its price
    caps: dict[str, int]  # the caps of the show's categories (demand uplifts stop there)
    rounding: int
    currency: str


def price_show(rules: PriceRules | None, show: ShowFacts) -> Priced:
    """The show's prices from the rules (None: its list prices as they are).

    Per category: base (the theatre's, else the chain's, else the list price), the time
    band containing the local start, the local day's type (a public holiday listed in
    the rules, else weekend on Saturday and Sunday, else weekday), every season
    containing the local date in the rules' order, rounding half up to the step, then
    the floor and the cap. A day type the rules give no adjustment changes nothing: a
    public holiday on a Saturday is a public holiday, not a weekend."""
    categories = sorted(show.categories)
    if rules is None:
        missing = [cat for cat in categories if cat not in show.list_prices]
        if missing:
            raise CannotPrice(f"show at theatre {show.theatre_id} has no list price for "
                              f"{', '.join(missing)}")
        return Priced(
            prices={cat: show.list_prices[cat] for cat in categories},
            explanation={cat: [_list_price(show, cat)] for cat in categories},
            caps={}, rounding=1, currency=show.currency)
    rules.validate()
    steps = _steps(rules, show.local_start)
    prices: dict[str, int] = {}
    explanation: dict[str, list[str]] = {}
    for cat in categories:
        price, lines = _base(rules, show, cat)
        for label, adjustment in steps:
            adjusted = adjustment.apply(price)
            below = f" ({adjusted}, never below 0)" if adjusted < 0 else ""
            price = max(adjusted, 0)
            lines.append(f"{label} {adjustment.describe()} -> {price}{below}")
        rounded = round_to_step(price, 1, rules.rounding)
        if rounded != price:
            lines.append(f"rounded to {rules.rounding} -> {rounded}")
        price = rounded
        if cat in rules.floors and price < rules.floors[cat]:
            price = rules.floors[cat]
            lines.append(f"raised to the floor {price}")
        if cat in rules.caps and price > rules.caps[cat]:
            price = rules.caps[cat]
            lines.append(f"capped at {price}")
        prices[cat], explanation[cat] = price, lines
    return Priced(prices=prices, explanation=explanation,
                  caps={cat: rules.caps[cat] for cat in categories if cat in rules.caps},
                  rounding=rules.rounding, currency=rules.currency)


def _base(rules: PriceRules, show: ShowFacts, cat: str) -> tuple[int, list[str]]:
    own = rules.base.get(show.theatre_id, {})
    if cat in own:
        return own[cat], [f"base {own[cat]} (theatre {show.theatre_id})"]
    chain = rules.base.get(CHAIN, {})
    if cat in chain:
        return chain[cat], [f"base {chain[cat]} (chain default)"]
    if cat not in show.list_prices:
        raise CannotPrice(f"no price for {cat} at theatre {show.theatre_id}: the rules have "
                          f"no base for it, and the show no list price")
    if show.currency != rules.currency:
        raise CannotPrice(f"no base for {cat} at theatre {show.theatre_id} in the rules' "
                          f"{rules.currency}, and the show's list prices are in "
                          f"{show.currency}")
    return show.list_prices[cat], [_list_price(show, cat)]


def _list_price(show: ShowFacts, cat: str) -> str:
    return f"list price {show.list_prices[cat]} (theatre {show.theatre_id})"


def _steps(rules: PriceRules, local_start: datetime) -> list[tuple[str, Adjustment]]:
    """The adjustments that apply to a show starting then, in order, with their labels."""
    minute = local_start.hour * 60 + local_start.minute
    day = local_start.date()
    band = next((b for b in rules.time_bands if b.contains(minute)), None)
    steps: list[tuple[str, Adjustment]] = []
    if band is not None:
        steps.append((band.name, band.adjustment))
    day_type: DayType = ("public_holiday" if day in rules.public_holidays
                         else "weekend" if day.weekday() >= 5 else "weekday")
    if day_type in rules.day_types:
        steps.append((day_type.replace("_", " "), rules.day_types[day_type]))
    steps += [(f"season {s.name}", s.adjustment) for s in rules.seasons
              if s.first <= day <= s.last]
    return steps


# --- effective dating ----------------------------------------------------------------


class RuleChange(_Rule, frozen=True, kw_only=True):
    version: int  # 1, 2, ... in the order recorded
    rules: PriceRules
    applies: Literal["new_shows", "all_shows"]
    effective_from: datetime  # UTC
    changed_by: str
    changed_at: datetime  # UTC
    note: str = ""

    @property
    def in_force_from(self) -> datetime:
        """When it takes effect: its effective_from, or when it was recorded if later."""
        return max(self.effective_from, self.changed_at)


def governing(changes: Sequence[RuleChange], on_sale_since: datetime,
              now: datetime) -> RuleChange | None:
    """The change that prices a show put on sale at ``on_sale_since``, as of ``now``: the
    highest version among those in force for it (None: the theatre's list prices). One
    for new shows is in force for the shows put on sale from when it takes effect; one
    for all shows, for every show once it has taken effect."""
    applicable = [
        c for c in changes
        if c.in_force_from <= now
        and (c.applies == "all_shows" or c.in_force_from <= on_sale_since)
    ]
    return max(applicable, key=lambda c: c.version, default=None)


def due(changes: Sequence[RuleChange], after: datetime, now: datetime) -> list[RuleChange]:
    """The changes for all shows that took effect in (after, now], in the order they did:
    each reprices the shows on sale."""
    return sorted((c for c in changes
                   if c.applies == "all_shows" and after < c.in_force_from <= now),
                  key=lambda c: (c.in_force_from, c.version))


def next_due(changes: Sequence[RuleChange], now: datetime) -> datetime | None:
    """When the next change for all shows takes effect after ``now`` (None: none is
    waiting), for the timer that reprices."""
    return min((c.in_force_from for c in changes
                if c.applies == "all_shows" and c.in_force_from > now), default=None)

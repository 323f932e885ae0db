"""What a show's published prices (``ShowPriced``) make a set of seats cost.

One definition, read by inventory (which prices each hold and so decides what is
charged) and by pricing (which quotes before the hold). Pure and integer-only: the same
price list and the same counts always give the same amount, so replaying inventory's
events gives the prices it charged, and a quote made from the same facts matches it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from shared.contracts import DemandRule


def round_to_step(numerator: int, denominator: int, step: int) -> int:
    """numerator / denominator, rounded half up to a multiple of ``step`` (minor units)."""
    step = max(step, 1)
    unit = denominator * step
    return (numerator + unit // 2) // unit * step


def uplift_percent(rule: DemandRule | None, booked: int, capacity: int) -> int:
    """The demand uplift for one category with ``booked`` of its ``capacity`` seats sold."""
    if rule is None or capacity <= 0 or rule.uplift_percent <= 0:
        return 0
    booked_percent = booked * 100 // capacity
    if booked_percent < rule.threshold_percent:
        return 0
    steps = 1
    if rule.every_percent > 0:
        steps += (booked_percent - rule.threshold_percent) // rule.every_percent
    return max(0, min(steps * rule.uplift_percent, rule.max_uplift_percent))


def seat_price(base: int, uplift: int, rounding: int, cap: int | None) -> int:
    """A seat's price: its category's base, raised by the demand uplift (rounded to the
    currency's step), never above the category's cap. No uplift: the base as published."""
    if uplift <= 0:
        return base
    price = round_to_step(base * (100 + uplift), 100, rounding)
    return min(price, cap) if cap is not None else price


def uplifts(rule: DemandRule | None, booked: Mapping[str, int],
            capacity: Mapping[str, int]) -> dict[str, int]:
    """The uplift of every category on sale (0 where none applies)."""
    return {cat: uplift_percent(rule, booked.get(cat, 0), n) for cat, n in capacity.items()}


def category_counts(seats: Mapping[str, str], seat_ids: Iterable[str]) -> dict[str, int]:
    """How many of these seats are in each category."""
    return dict(Counter(seats[s] for s in seat_ids))


def amount(seat_ids: Iterable[str], seats: Mapping[str, str], prices: Mapping[str, int],
           category_uplifts: Mapping[str, int], rounding: int = 1,
           caps: Mapping[str, int] | None = None) -> int:
    """What these seats cost together: the sum of their seat prices."""
    caps = caps or {}
    total = 0
    for seat in seat_ids:
        cat = seats[seat]
        total += seat_price(prices[cat], category_uplifts.get(cat, 0), rounding, caps.get(cat))
    return total

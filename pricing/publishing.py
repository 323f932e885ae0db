"""Which pricing events are public, and their contracts: a show's price versions. The
rules, a show's schedule and the demand uplifts inventory told it are pricing's own."""

from __future__ import annotations

from typing import Any

from pricing.domain import ShowPricing
from shared import contracts as c


def to_public(e: Any) -> c.PublicEvent | None:
    if isinstance(e, ShowPricing.Priced):
        return c.ShowPriced(
            event_id=c.event_id("pricing", e.originator_id, e.originator_version),
            occurred_at=e.at, show_id=e.show_id, theatre_id=e.theatre_id,
            price_version=e.price_version, rules_version=e.rules_version,
            prices=dict(e.prices), currency=e.currency, rounding=e.rounding,
            caps=dict(e.caps), demand=None if e.demand is None else c.DemandRule(**e.demand),
            explanation={k: list(v) for k, v in e.explanation.items()},
        )
    return None


"""A show's prices now, as the seat map and the catalogue show them: what one seat of each
category costs at a hold made now, by the rule inventory prices holds with
(``shared.price_list.seat_price``).

Three inputs, kept in a view's document as they arrive (``fold``), from three streams
whose relative order is not fixed:

- the list prices (inventory's ShowInventoryOpened, theatre's ShowScheduled): the prices
  until pricing has published a version;
- pricing's ShowPriced: only the highest ``price_version`` is kept, so a version folded
  late or again never replaces a newer one;
- inventory's ShowDemandChanged: the latest is kept (inventory's stream is in order). Its
  uplifts count only for the price version they were computed for; for any other, the
  uplift is 0 until inventory says again (a version it says nothing of has no uplift:
  inventory tells every version with a demand rule, and any that ends an uplift).

``prices_now`` is computed from the inputs alone, so the prices come out the same in any
interleaving of the streams.
"""

from __future__ import annotations

from typing import Any

from shared import contracts as c
from shared.price_list import seat_price

EVENTS = (c.ShowPriced, c.ShowDemandChanged)  # folded by ``fold``


def blank(list_prices: dict[str, int] | None = None,
          list_currency: str | None = None) -> dict[str, Any]:
    """The inputs with these list prices (none yet: empty), no version, no uplifts."""
    return {"list": dict(list_prices or {}), "list_currency": list_currency, "version": None,
            "demand": None}


def fold(inputs: dict[str, Any], e: c.ShowPriced | c.ShowDemandChanged) -> None:
    if isinstance(e, c.ShowPriced):
        known = inputs["version"]
        if known is None or e.price_version > known["price_version"]:
            inputs["version"] = {"price_version": e.price_version, "prices": dict(e.prices),
                                 "currency": e.currency, "rounding": e.rounding,
                                 "caps": dict(e.caps)}
    else:
        inputs["demand"] = {"price_version": e.price_version, "uplifts": dict(e.uplifts)}


def price_version(inputs: dict[str, Any]) -> int:
    """The version the prices come from; 0: the list prices (as in SeatsReserved)."""
    version = inputs["version"]
    return version["price_version"] if version else 0


def currency(inputs: dict[str, Any]) -> str | None:
    version = inputs["version"]
    return version["currency"] if version else inputs["list_currency"]


def prices_now(inputs: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Per category: ``price`` (one seat at a hold now), ``base`` (before any uplift) and
    ``uplift_percent``. A category the version does not price keeps its list price
    (pricing prices every category on sale, so that is only a category not on sale)."""
    version, demand = inputs["version"], inputs["demand"]
    base = {**inputs["list"], **(version["prices"] if version else {})}
    uplifts: dict[str, int] = {}
    if version and demand and demand["price_version"] == version["price_version"]:
        uplifts = demand["uplifts"]
    rounding = version["rounding"] if version else 1
    caps = version["caps"] if version else {}
    out = {}
    for cat, price in sorted(base.items()):
        uplift = uplifts.get(cat, 0) if version and cat in version["prices"] else 0
        out[cat] = {"price": seat_price(price, uplift, rounding, caps.get(cat)), "base": price,
                    "uplift_percent": uplift}
    return out

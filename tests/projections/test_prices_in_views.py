"""The seat map and the catalogue price a show from pricing's versions (ShowPriced) and
inventory's demand uplifts (ShowDemandChanged), in memory: what one seat costs at a hold
now, step by step (the same over MongoDB in test_catalogue_in_mongo.py; in any
interleaving in tests/simulation/test_catalogue_interleavings.py)."""

from __future__ import annotations

from typing import Any

from projections.projector import InMemoryViewStore, project
from projections.queries import InMemoryQueries
from shared import contracts as c
from tests.support import catalogue as cat

THEATRE = cat.theatre_stream()
DUNE = cat.show_of(THEATRE, "dune-odeon-eve")
S = DUNE.show_id
V2 = cat.priced(DUNE, 2, {"Regular": 950, "Premium": 1450}, rounding=50,
                caps={"Regular": 1100}, demand=cat.DEMAND)
V3 = cat.priced(DUNE, 3, {"Regular": 1010, "Premium": 1500}, rounding=50, demand=cat.DEMAND)


class Streams:
    """The views, fed one event at a time, each stream numbered in its own order."""

    def __init__(self) -> None:
        self.views = InMemoryViewStore()
        self.positions: dict[str, int] = {}

    def fold(self, stream: str, *events: c.PublicEvent) -> Streams:
        for e in events:
            self.positions[stream] = self.positions.get(stream, 0) + 1
            project(self.views, [(stream, self.positions[stream], e)])
        return self

    def scheduled_and_opened(self) -> Streams:
        self.fold("theatre", *THEATRE)
        return self.fold("inventory", cat.opened(DUNE))

    def seat_map(self) -> dict[str, Any] | None:
        return InMemoryQueries(self.views).seat_map(S)

    def prices(self) -> tuple[int, dict[str, dict[str, int]], dict[str, int], int]:
        """The seat map's version and prices per category, the catalogue's prices and
        version; each seat's price is its category's on both."""
        seat_map, show = self.seat_map(), InMemoryQueries(self.views).show(S)
        assert seat_map is not None and show is not None
        for seat in seat_map["seats"].values():
            assert seat["price"] == seat_map["prices"][seat["category"]]["price"]
        for seat in show["seats"]:
            if seat["state"] != "NOT_ON_SALE":
                assert seat["price"] == show["prices"][seat["category"]]
        return seat_map["price_version"], seat_map["prices"], show["prices"], show["price_version"]


def per_category(regular: tuple[int, int, int], premium: tuple[int, int, int]) -> dict:
    """(price, base, uplift_percent) of each category, as the seat map gives them."""
    return {cat: dict(zip(("price", "base", "uplift_percent"), p, strict=True))
            for cat, p in (("Premium", premium), ("Regular", regular))}


def test_before_any_version_both_show_the_list_prices_and_ignore_uplifts():
    s = Streams().scheduled_and_opened()
    s.fold("inventory", cat.demand_changed(S, 2, {"Regular": 20}))  # for a version not seen
    assert s.prices() == (0, per_category((900, 900, 0), (1400, 1400, 0)),
                          {"Regular": 900, "Premium": 1400}, 0)
    assert s.seat_map()["currency"] == "GBP"


def test_each_version_and_its_uplifts_step_by_step():
    s = Streams().scheduled_and_opened()
    s.fold("pricing", cat.priced(DUNE, 1))
    assert s.prices() == (1, per_category((900, 900, 0), (1400, 1400, 0)),
                          {"Regular": 900, "Premium": 1400}, 1)
    s.fold("pricing", V2)
    assert s.prices() == (2, per_category((950, 950, 0), (1450, 1450, 0)),
                          {"Regular": 950, "Premium": 1450}, 2)
    # +20 %: 950 -> 1140, rounded to 1150, capped at 1100
    s.fold("inventory", cat.demand_changed(S, 2, {"Regular": 20, "Premium": 0}))
    assert s.prices() == (2, per_category((1100, 950, 20), (1450, 1450, 0)),
                          {"Regular": 1100, "Premium": 1450}, 2)
    # a new version: version 2's uplift no longer counts until inventory says again
    s.fold("pricing", V3)
    assert s.prices() == (3, per_category((1010, 1010, 0), (1500, 1500, 0)),
                          {"Regular": 1010, "Premium": 1500}, 3)
    # +20 %: 1010 -> 1212, rounded to 1200 (no cap in version 3)
    s.fold("inventory", cat.demand_changed(S, 3, {"Regular": 20, "Premium": 0}))
    final = (3, per_category((1200, 1010, 20), (1500, 1500, 0)),
             {"Regular": 1200, "Premium": 1500}, 3)
    assert s.prices() == final
    s.fold("pricing", V2, cat.priced(DUNE, 1))  # older versions again (redelivered)
    assert s.prices() == final
    s.fold("inventory", cat.demand_changed(S, 3, {"Regular": 10, "Premium": 10}))
    assert s.prices() == (3, per_category((1100, 1010, 10), (1650, 1500, 10)),
                          {"Regular": 1100, "Premium": 1650}, 3)


def test_uplifts_told_before_their_version_count_once_it_comes():
    s = Streams().scheduled_and_opened().fold("pricing", V2)
    s.fold("inventory", cat.demand_changed(S, 3, {"Regular": 20}))  # inventory is ahead
    assert s.prices()[1]["Regular"] == {"price": 950, "base": 950, "uplift_percent": 0}
    s.fold("pricing", V3)
    assert s.prices()[1]["Regular"] == {"price": 1200, "base": 1010, "uplift_percent": 20}


def test_a_version_before_the_show_is_scheduled_and_opened_is_kept():
    s = Streams().fold("pricing", V3)
    assert s.seat_map() is None  # a document of prices alone is not a seat map
    queries = InMemoryQueries(s.views)
    assert queries.show(S) is None and S not in [x["show_id"] for x in queries.shows()]
    s.fold("inventory", cat.opened(DUNE))
    s.fold("theatre", *THEATRE)
    assert s.prices() == (3, per_category((1010, 1010, 0), (1500, 1500, 0)),
                          {"Regular": 1010, "Premium": 1500}, 3)


def test_the_currency_is_the_versions():
    s = Streams().scheduled_and_opened()
    s.fold("pricing", c.ShowPriced(**{f: getattr(V3, f) for f in V3.__struct_fields__
                                      if f != "currency"}, currency="EUR"))
    assert s.seat_map()["currency"] == "EUR"
    assert InMemoryQueries(s.views).show(S)["currency"] == "EUR"


def test_documents_folded_before_prices_came_from_pricing_take_versions():
    """A view's documents as the fold made them before it read pricing: the live projector
    folds what comes next into them (a rebuild makes them anew)."""
    s = Streams().scheduled_and_opened()
    s.fold("inventory", cat.reserved(S, "ann", "A1"))
    seat_map = s.views.docs["seat_maps"][S]
    for field in ("opened", "price_version", "prices", "pricing"):
        del seat_map[field]
    show = s.views.docs["catalogue_shows"][S]
    for field in ("price_version", "pricing"):
        del show[field]
    assert s.seat_map() == seat_map  # shown, as before
    assert InMemoryQueries(s.views).show(S)["price_version"] == 0
    s.fold("inventory", cat.booked(S, "ann", "A1"))
    s.fold("pricing", V3)
    assert s.prices() == (3, per_category((1010, 1010, 0), (1500, 1500, 0)),
                          {"Regular": 1010, "Premium": 1500}, 3)
    assert s.seat_map()["seats"]["A1"]["state"] == "BOOKED"

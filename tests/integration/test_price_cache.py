"""Pricing's price cache in the real Redis, with its store in the real PostgreSQL: two
pricing instances share it, a write refreshes it for both, an older sheet never
replaces a newer one, and lookups go on from the store while Redis is away."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from eventsourcing.persistence import Tracking

from pricing.application import PricingService
from pricing.price_cache import CacheDown
from pricing.price_sheet import PriceSheet
from pricing.redis_price_cache import RedisPriceCache
from pricing.rules import PriceRules
from shared import contracts as c
from shared.clock import FakeClock
from shared.redis_link import RedisLink

pytestmark = pytest.mark.infra

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
SEATS = {"A1": "Regular", "A2": "Regular", "B1": "Recliner"}
Start = Callable[..., PricingService]


@pytest.fixture
def pricing(pg_database, redis_server, redis_prefix, endpoints) -> Iterator[Start]:
    """``start(url=...)``: a pricing instance on the test's database, its price cache in
    the Redis at ``url`` (the real one by default)."""
    started: list[PricingService] = []

    def start(url: str = endpoints.redis_url) -> PricingService:
        cache = RedisPriceCache(RedisLink(url), namespace=redis_prefix)
        started.append(PricingService(env=pg_database.eventsourcing_env(),
                                      clock=FakeClock(NOW), cache=cache))
        return started[-1]

    yield start
    for app in started:
        app.close()


def schedule(app: PricingService, show: str = "s1", position: int = 1) -> None:
    start = NOW + timedelta(days=5)
    app.handle(c.ShowScheduled(
        event_id=f"theatre/x/{position}", occurred_at=NOW, show_id=show, theatre_id="odeon",
        screen_id="one", layout_version=1,
        film=c.Film(title="Dune", runtime_minutes=100, rating="12A", language="en",
                    format="2D"),
        starts_at=start, ends_at=start + timedelta(minutes=100),
        local_start=start.isoformat(), seats=SEATS, prices={"Regular": 900, "Recliner": 1800},
        currency="GBP"), Tracking("theatre", position))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_write_puts_the_sheet_and_every_instance_reads_it_from_the_cache(pricing):
    a, b = pricing(), pricing()
    schedule(a)
    sheet = b.price_sheet("s1")
    assert (sheet.price_version, sheet.prices) == (1, {"Regular": 900, "Recliner": 1800})
    assert b.cache_stats.as_dict()["hits"] == 1 and b.cache_stats.misses == 0

    a.change_rules(PriceRules(currency="GBP", base={"*": {"Regular": 1100, "Recliner": 2000}}),
                   "all_shows", None, "ops")
    sheet = b.price_sheet("s1")  # a's write refreshed the cache: b sees it at once
    assert (sheet.price_version, sheet.prices["Regular"]) == (2, 1100)
    assert b.cache_stats.hits == 2 and b.cache_stats.misses == 0


def test_a_miss_is_read_from_the_store_and_fills_the_cache(pricing):
    a = pricing()
    schedule(a)
    a.cache.forget("s1")  # type: ignore[attr-defined]
    assert a.price_sheet("s1").price_version == 1
    assert a.price_sheet("s1").price_version == 1
    assert (a.cache_stats.misses, a.cache_stats.hits) == (1, 1)


def test_an_older_sheet_never_replaces_a_newer_one(pricing):
    a = pricing()
    schedule(a)
    a.change_rules(PriceRules(currency="GBP", base={"*": {"Regular": 1100, "Recliner": 2000}}),
                   "all_shows", None, "ops")
    newer = a.price_sheet("s1")
    older = PriceSheet(**{**{f: getattr(newer, f) for f in PriceSheet.__struct_fields__},
                          "revision": newer.revision - 1, "price_version": 1})
    a.cache.put(older)  # a reader that missed, read the store before the write, puts late
    assert a.price_sheet("s1").price_version == newer.price_version


def test_without_redis_lookups_are_answered_from_the_store_at_once(pricing):
    a = pricing(url=f"redis://127.0.0.1:{closed_port()}/0")
    schedule(a)  # its put fails: the show is marked to be put again
    for _ in range(20):
        start = time.monotonic()
        assert a.price_sheet("s1").price_version == 1
        assert time.monotonic() - start < 1.0
    assert a.cache_stats.failures == 20 and a.cache_stats.hits == 0


class Flaky:
    """The real cache, down while ``down`` is set: a Redis that went away and came back
    holding what it had."""

    def __init__(self, cache: RedisPriceCache) -> None:
        self.cache, self.down = cache, False

    def get(self, show_id: str) -> PriceSheet | None:
        if self.down:
            raise CacheDown("down")
        return self.cache.get(show_id)

    def put(self, sheet: PriceSheet) -> None:
        if self.down:
            raise CacheDown("down")
        self.cache.put(sheet)


def test_a_sheet_missed_while_redis_was_away_is_put_once_it_answers(pricing):
    a = pricing()
    flaky = Flaky(a.cache)  # type: ignore[arg-type]
    a.cache = flaky
    schedule(a)
    assert flaky.cache.get("s1").price_version == 1
    flaky.down = True
    a.change_rules(PriceRules(currency="GBP", base={"*": {"Regular": 1100, "Recliner": 2000}}),
                   "all_shows", None, "ops")
    assert a.price_sheet("s1").price_version == 2  # from the store
    flaky.down = False
    assert flaky.cache.get("s1").price_version == 1  # stale until the timer puts it again
    a.reprice_due()
    assert flaky.cache.get("s1").price_version == 2

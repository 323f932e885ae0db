"""Price lookups under a flash sale's load: from the price cache (Redis) against from
pricing's store (PostgreSQL), in one run.

A show is scheduled through the theatre, so pricing prices it. While the flash sale
runs (its customers book another show), two loads look its prices up at a fixed rate:

- in the bench's process, a handle on pricing's store and on the same Redis takes turns:
  one lookup through the cache, the next read from the store, so both are measured
  under the same load, moment by moment (``in_process``);
- over HTTP, ``GET /shows/{id}/prices`` on the pricing service, as a client sees it,
  with the service's own cache hits and misses (``http``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from bench.driver import Driver
from bench.procstats import Sampler
from bench.report import pct
from bench.scenarios import flash_sale
from pricing.application import PricingService
from pricing.redis_price_cache import RedisPriceCache
from shared.redis_link import RedisLink
from tests.e2e.harness import Distributed

ROWS = [{"row": r, "seats": [{"number": n, "column": n, "category": cat}
                             for n in range(1, 21)]}
        for r, cat in (("A", "Regular"), ("B", "Regular"), ("C", "Premium"), ("D", "Recliner"))]
FILM = {"title": "Dune", "runtime_minutes": 166, "rating": "12A", "language": "en",
        "format": "IMAX"}


async def _call(session: aiohttp.ClientSession, method: str, url: str,
                **kwargs: Any) -> tuple[int, Any]:
    async with session.request(method, url, **kwargs) as r:
        return r.status, await r.json(content_type=None)


async def priced_show(system: Distributed, show: str) -> None:
    """A show scheduled through the theatre, once pricing answers its prices."""
    ops = Distributed.auth("ops", operator=True)
    day = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    async with aiohttp.ClientSession(system.local.url("theatre")) as theatre:
        for path, body in (
                ("/theatres/bench", {"name": "Bench", "city": "London", "address": "1 High St",
                                     "time_zone": "Europe/London"}),
                ("/theatres/bench/screens/one", {"name": "One", "rows": ROWS}),
                (f"/shows/{show}", {"theatre_id": "bench", "screen_id": "one", "film": FILM,
                                    "start": f"{day}T19:30", "currency": "GBP",
                                    "prices": {"Regular": 900, "Premium": 1300,
                                               "Recliner": 1800}})):
            status, answer = await _call(theatre, "PUT", path, json=body, headers=ops)
            if status not in (200, 201):
                raise RuntimeError(f"PUT {path}: {status} {answer}")
    async with aiohttp.ClientSession(system.local.url("pricing")) as pricing:
        for _ in range(300):
            status, _ = await _call(pricing, "GET", f"/shows/{show}/prices", headers=ops)
            if status == 200:
                return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"pricing never priced {show}")


def _in_process(app: PricingService, show: str, rate: float, stop: threading.Event,
                took: dict[str, list[float]]) -> None:
    """Turns of one lookup through the cache and one from the store, ``rate`` a second."""
    every, turn, next_at = 1 / rate, 0, time.monotonic()
    while not stop.is_set():
        source = ("cache", "store")[turn % 2]
        start = time.perf_counter()
        app.price_sheet(show) if source == "cache" else app.sheet_from_store(show)
        took[source].append(time.perf_counter() - start)
        turn += 1
        next_at += every
        stop.wait(max(0.0, next_at - time.monotonic()))


async def _over_http(system: Distributed, show: str, rate: float, stop: asyncio.Event,
                     took: list[float]) -> dict[str, Any]:
    who = Distributed.auth("browser")
    ops = Distributed.auth("ops", operator=True)
    async with aiohttp.ClientSession(system.local.url("pricing")) as pricing:
        _, before = await _call(pricing, "GET", "/cache", headers=ops)
        every, next_at = 1 / rate, time.monotonic()
        while not stop.is_set():
            start = time.perf_counter()
            status, _ = await _call(pricing, "GET", f"/shows/{show}/prices", headers=who)
            if status == 200:
                took.append(time.perf_counter() - start)
            next_at += every
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        _, after = await _call(pricing, "GET", "/cache", headers=ops)
    looked = {k: after[k] - before[k] for k in ("hits", "misses", "failures")}
    total = sum(looked.values())
    return {**looked, "hit_ratio": round(looked["hits"] / total, 4) if total else None}


def _dist(values_s: list[float]) -> dict:
    """n, p50, p99, max in milliseconds, to the microsecond (a cache hit is sub-ms)."""
    out: dict = {"n": len(values_s)}
    for name, p in (("p50", 50), ("p99", 99), ("max", 100)):
        v = pct(values_s, p)
        out[name] = None if v is None else round(v * 1000, 3)
    return out


async def price_lookups(system: Distributed, driver: Driver, sampler: Sampler,
                        customers: int, seats: int, rate: float, seed: int,
                        arrive_over: float = 0.0) -> dict:
    show = "priced-show"
    await priced_show(system, show)
    s = system.local.settings
    app = PricingService(env=s.postgres_env(s.service_db("pricing")),
                         cache=RedisPriceCache(RedisLink(s.redis_url),
                                               namespace=f"{s.topic_prefix}pricing:"))
    took: dict[str, list[float]] = {"cache": [], "store": []}
    http_took: list[float] = []
    stop_thread, stop_http = threading.Event(), asyncio.Event()
    thread = threading.Thread(target=_in_process, args=(app, show, rate, stop_thread, took),
                              daemon=True)
    thread.start()
    http = asyncio.create_task(_over_http(system, show, rate, stop_http, http_took))
    try:
        flash = await flash_sale(system, driver, sampler, customers, seats, seed=seed,
                                 timeout=180, arrive_over=arrive_over)
    finally:
        stop_thread.set()
        stop_http.set()
        thread.join(10)
    http_stats = await http
    cache, store = _dist(took["cache"]), _dist(took["store"])
    in_process = {"cache": cache, "store": store, "cache_stats": app.cache_stats.as_dict()}
    if cache.get("p50") and store.get("p50"):
        in_process["store_over_cache_p50"] = round(store["p50"] / cache["p50"], 1)
        in_process["store_over_cache_p99"] = round(store["p99"] / cache["p99"], 1)
    app.close()
    return {"show": show, "rate_per_s": rate, "arrive_over_s": arrive_over,
            "in_process": in_process,
            "http": {"latency": _dist(http_took), **http_stats},
            "flash_sale": {k: flash.get(k) for k in (
                "customers", "seats", "exact", "sold_twice", "confirmed", "losers",
                "losers_told") if k in flash}}

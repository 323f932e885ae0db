"""The price cache: price sheets by show, filled and refreshed from pricing's own writes.

A lookup reads the cache and, on a miss, the store (and fills the cache). Every write
of a show's prices puts the new sheet after its commit; a put never replaces a newer
revision (a reader that missed, read the store and puts after a writer keeps the
writer's). So a sheet is stale at most between a commit and its put; a put that fails
(the cache is down) marks the show, and it is put again as soon as the cache answers.
Inventory decides the price of every hold anyway: a quote made from a stale sheet is
refused there (``price_changed``), never charged.

Two kinds: in the process (the embedded runtime, tests), and Redis (shared by every
pricing instance; pricing/redis_price_cache.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

from pricing.price_sheet import PriceSheet


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    failures: int = 0  # the cache did not answer: read from the store

    def as_dict(self) -> dict[str, float]:
        looked = self.hits + self.misses + self.failures
        return {"hits": self.hits, "misses": self.misses, "failures": self.failures,
                "hit_ratio": round(self.hits / looked, 4) if looked else 0.0}


class CacheDown(Exception):
    """The cache did not answer."""


class PriceCache(Protocol):
    def get(self, show_id: str) -> PriceSheet | None:
        """The cached sheet, None if none; raises CacheDown."""

    def put(self, sheet: PriceSheet) -> None:
        """Keep the sheet unless a newer revision is there; raises CacheDown."""


class InProcessPriceCache:
    def __init__(self) -> None:
        self._sheets: dict[str, PriceSheet] = {}
        self._lock = threading.Lock()

    def get(self, show_id: str) -> PriceSheet | None:
        return self._sheets.get(show_id)

    def put(self, sheet: PriceSheet) -> None:
        with self._lock:
            cached = self._sheets.get(sheet.show_id)
            if cached is None or cached.revision < sheet.revision:
                self._sheets[sheet.show_id] = sheet

    def clear(self) -> None:
        with self._lock:
            self._sheets.clear()

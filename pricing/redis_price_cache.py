"""The price cache in Redis, shared by every pricing instance (pricing/price_cache.py).

One hash per show: the sheet and its revision. A put is one Lua script that keeps the
higher revision, so two instances (or a writer and a reader that missed) never put an
older sheet over a newer one. Entries lapse after ``ttl`` seconds: a show's sheet is
read again from the store now and then, and shows long over leave the cache by
themselves. Nothing here needs persisting: a Redis that restarts empty is refilled by
the next lookups.
"""

from __future__ import annotations

from pricing import price_sheet
from pricing.price_cache import CacheDown
from pricing.price_sheet import PriceSheet
from shared.redis_link import RedisDown, RedisLink

_PUT_NEWER = """
local cached = redis.call('HGET', KEYS[1], 'revision')
if cached and tonumber(cached) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'revision', ARGV[1], 'sheet', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


class RedisPriceCache:
    def __init__(self, link: RedisLink, namespace: str = "pricing:", ttl: int = 3600) -> None:
        self.link, self.namespace, self.ttl = link, namespace, ttl
        self._put_newer = link.script(_PUT_NEWER)

    def _key(self, show_id: str) -> str:
        return f"{self.namespace}sheet:{show_id}"

    def get(self, show_id: str) -> PriceSheet | None:
        try:
            data = self.link.call(lambda r: r.hget(self._key(show_id), "sheet"))
        except RedisDown as e:
            raise CacheDown(str(e)) from e
        return None if data is None else price_sheet.decode(
            data.encode() if isinstance(data, str) else data)

    def put(self, sheet: PriceSheet) -> None:
        key, data = self._key(sheet.show_id), price_sheet.encode(sheet)
        try:
            self.link.call(lambda r: self._put_newer(
                keys=[key], args=[sheet.revision, data, self.ttl], client=r))
        except RedisDown as e:
            raise CacheDown(str(e)) from e

    def forget(self, show_id: str) -> None:
        """Drop a show's sheet (tests; an operator clearing a suspect entry)."""
        try:
            self.link.call(lambda r: r.delete(self._key(show_id)))
        except RedisDown as e:
            raise CacheDown(str(e)) from e

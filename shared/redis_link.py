"""A link to Redis that costs next to nothing when Redis is gone.

What the services keep in Redis speeds them up and is rebuilt from their events (booking's
seat claims, a price cache), so a caller goes on without it. The link therefore waits
briefly for Redis (``timeout`` to connect and per reply, one try: no retries), and after
failing to reach it does not try again for ``retry_after`` seconds: meanwhile every call
raises ``RedisDown`` at once, without touching the network. A request path pays at most
one ``timeout`` per ``retry_after`` for a dead or hung Redis, and nothing for a refused
connection.

    link = RedisLink("redis://127.0.0.1:56379/0")
    try:
        value = link.call(lambda r: r.get("key"))
    except RedisDown:
        value = None  # do without
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.retry import Retry

log = logging.getLogger(__name__)

T = TypeVar("T")


class RedisDown(Exception):
    """Redis did not answer, answered with an error, or is given up on for a moment:
    carry on without it."""


class RedisLink:
    def __init__(self, url: str, timeout: float = 0.3, retry_after: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout, self.retry_after, self.clock = timeout, retry_after, clock
        self.client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0),  # one try: the pause below decides when to retry
        )
        kwargs = self.client.connection_pool.connection_kwargs
        self.where = f"{kwargs.get('host')}:{kwargs.get('port')}"  # the URL may hold a password
        self._down_until: float | None = None  # None: up, as far as the last call told
        self._lock = threading.Lock()  # the HTTP threads and a consumer share the link

    @property
    def up(self) -> bool:
        """False from a failure to reach Redis until a call succeeds again."""
        return self._down_until is None

    def call(self, use: Callable[[redis.Redis], T]) -> T:
        """``use(client)``, or RedisDown if Redis cannot be reached or refuses it."""
        until = self._down_until
        if until is not None and self.clock() < until:
            raise RedisDown(f"Redis at {self.where} is down; next try in "
                            f"{until - self.clock():.1f}s")
        try:
            result = use(self.client)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            self._went_down(error)
            raise RedisDown(f"Redis at {self.where}: {error}") from error
        except redis.RedisError as error:  # an error reply: out of memory, a read-only replica
            raise RedisDown(f"Redis at {self.where}: {error}") from error
        if until is not None:
            self._came_back()
        return result

    def script(self, lua: str) -> Script:
        """A Lua script run by its digest (loaded again after Redis restarted empty):
        ``link.call(lambda r: script(keys, args, client=r))``."""
        return self.client.register_script(lua)

    def ping(self) -> bool:
        try:
            return bool(self.call(lambda r: r.ping()))
        except RedisDown:
            return False

    def close(self) -> None:
        self.client.close()

    def _went_down(self, error: Exception) -> None:
        with self._lock:
            first = self._down_until is None
            self._down_until = self.clock() + self.retry_after
        if first:
            log.warning("Redis at %s unreachable (%s): going on without it, trying again "
                        "every %.1fs", self.where, error, self.retry_after)

    def _came_back(self) -> None:
        with self._lock:
            was_down, self._down_until = self._down_until is not None, None
        if was_down:
            log.warning("Redis at %s answers again", self.where)

"""How often a caller may write: per customer and per client address, shared by a
service's instances through Redis, or kept in memory without it.

The rule is GCRA, the token bucket's arithmetic with one number per caller: a limit of
``count`` per ``period`` lets ``count`` writes through at once, then one every
``period / count``; each key holds the moment the caller's bucket is full again (its
"theoretical arrival time"), and lapses then. No window edges (a fixed window lets
twice the limit through across one), no list of past writes (a sliding log's memory),
one script and one round trip per write, whose time is Redis's own (``TIME``), so
instances with skewed clocks agree.

Both of a write's keys are checked and counted together, all or nothing: a write one
limit refuses counts against neither, so a customer over their limit does not use up
the allowance of everyone behind the same address. The keys of one service share a
hash tag (``{<service>}``), which keeps them in one slot of a Redis Cluster, as a
script's keys must be.

Without Redis (none configured, or ``RedisLink`` says it is down) each instance limits
in memory, by the same rule: the limits then hold per instance, not per service.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from shared.config import WriteLimits
from shared.redis_link import RedisDown, RedisLink

# KEYS: the caller's keys; ARGV: per key, its emission interval and burst tolerance (ms).
# Returns {0, 0} when the write may go (it is counted on every key), else {the 1-based
# index of the key that refuses longest, the milliseconds until it would not}.
GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local full, refusing, wait = {}, 0, 0
for i, key in ipairs(KEYS) do
  local at = tonumber(redis.call('GET', key) or '0')
  if at < now then at = now end
  full[i] = at
  local w = at - tonumber(ARGV[2 * i]) - now
  if w > wait then refusing, wait = i, w end
end
if refusing > 0 then return {refusing, math.ceil(wait)} end
for i, key in ipairs(KEYS) do
  local at = full[i] + tonumber(ARGV[2 * i - 1])
  redis.call('SET', key, string.format('%.3f', at), 'PX', math.ceil(at - now))
end
return {0, 0}
"""

LOCAL_CALLERS = 100_000  # callers remembered in memory, the least recent forgotten first


@dataclass(frozen=True)
class Refusal:
    """A write refused: by which limit, and in how many seconds one would go through."""

    by: str  # "customer" or "address"
    count: int
    period_s: float
    retry_after_s: float

    def __str__(self) -> str:
        who = "this customer" if self.by == "customer" else "this address"
        return (f"too many writes from {who}: at most {self.count} per {self.period_s:g} s;"
                f" try again in {math.ceil(self.retry_after_s)} s")


class WriteLimiter:
    def __init__(self, limits: WriteLimits, link: RedisLink | None, namespace: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``namespace``: the keys' prefix, the deployment's and the service's."""
        self.limits, self.link, self.clock = limits, link, clock
        self.namespace = namespace
        self._script = link.script(GCRA) if link is not None else None
        self._local: OrderedDict[str, float] = OrderedDict()  # key -> when full again (s)
        self._lock = threading.Lock()

    @property
    def remote(self) -> bool:
        """Whether a check may wait on Redis (then it is made off the event loop)."""
        return self.link is not None

    def check(self, customer: str, address: str) -> Refusal | None:
        """Count a write of this customer from this address, or say why not."""
        rules = [(by, f"{self.namespace}{by[0]}:{who}", count)
                 for by, who, count in (("customer", customer, self.limits.per_customer),
                                        ("address", address, self.limits.per_address))
                 if count > 0]
        if not rules:
            return None
        period = self.limits.period_s
        if self.link is not None and self._script is not None:
            args: list[float] = []
            for _, _, count in rules:
                args += [1000 * period / count, 1000 * (period - period / count)]
            script = self._script
            try:
                refusing, wait_ms = self.link.call(
                    lambda r: script(keys=[key for _, key, _ in rules], args=args, client=r))
            except RedisDown:
                pass  # this instance's own count, until Redis answers again
            else:
                if not refusing:
                    return None
                by, _, count = rules[int(refusing) - 1]
                return Refusal(by, count, period, int(wait_ms) / 1000)
        return self._check_locally(rules)

    def _check_locally(self, rules: list[tuple[str, str, int]]) -> Refusal | None:
        """The same rule as the script's, in this process's memory."""
        period = self.limits.period_s
        with self._lock:
            now = self.clock()
            full = [max(self._local.get(key, now), now) for _, key, _ in rules]
            waits = [at - (period - period / count) - now
                     for at, (_, _, count) in zip(full, rules, strict=True)]
            longest = max(range(len(rules)), key=lambda i: waits[i])
            if waits[longest] > 0:
                by, _, count = rules[longest]
                return Refusal(by, count, period, waits[longest])
            for at, (_, key, count) in zip(full, rules, strict=True):
                self._local[key] = at + period / count
                self._local.move_to_end(key)
            while len(self._local) > LOCAL_CALLERS:
                self._local.popitem(last=False)
        return None

"""The limits on writes, in memory (a fake clock): ``count`` at once, then one every
``period / count``; per customer and per address, all or nothing."""

from __future__ import annotations

import pytest

from shared.config import WriteLimits
from shared.rate_limits import WriteLimiter
from shared.redis_link import RedisLink


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(clock: Clock, per_customer: int = 3, per_address: int = 10,
            link: RedisLink | None = None) -> WriteLimiter:
    return WriteLimiter(WriteLimits(per_customer, per_address, period_s=60), link, "t:",
                        clock=clock)


def test_a_customer_writes_the_limit_at_once_then_one_per_interval() -> None:
    clock = Clock()
    limits = limiter(clock)
    assert [limits.check("ann", "10.0.0.1") for _ in range(3)] == [None, None, None]
    refused = limits.check("ann", "10.0.0.1")
    assert refused is not None and refused.by == "customer"
    assert refused.retry_after_s == pytest.approx(20)  # 60 s / 3
    assert str(refused) == ("too many writes from this customer: at most 3 per 60 s;"
                            " try again in 20 s")
    clock.now += 19.9
    assert limits.check("ann", "10.0.0.1") is not None
    clock.now += 0.1
    assert limits.check("ann", "10.0.0.1") is None  # one more, then wait again
    assert limits.check("ann", "10.0.0.1") is not None
    clock.now += 60
    assert [limits.check("ann", "10.0.0.1") for _ in range(4)][-1] is not None  # 3 again


def test_customers_are_limited_apart_and_their_address_together() -> None:
    clock = Clock()
    limits = limiter(clock, per_customer=3, per_address=5)
    assert all(limits.check("ann", "10.0.0.1") is None for _ in range(3))
    assert all(limits.check("bob", "10.0.0.1") is None for _ in range(2))
    refused = limits.check("cat", "10.0.0.1")  # the address's fifth was bob's second
    assert refused is not None and refused.by == "address" and refused.count == 5
    assert limits.check("cat", "10.0.0.2") is None  # another address


def test_a_refused_write_counts_against_neither_limit() -> None:
    clock = Clock()
    limits = limiter(clock, per_customer=2, per_address=4)
    for _ in range(2):
        assert limits.check("ann", "10.0.0.1") is None
    for _ in range(10):  # ann, over her limit, keeps trying
        assert limits.check("ann", "10.0.0.1") is not None
    assert all(limits.check("bob", "10.0.0.1") is None for _ in range(2))  # 4 used, not 14


def test_a_limit_of_zero_is_none() -> None:
    limits = limiter(Clock(), per_customer=0, per_address=0)
    assert all(limits.check("ann", "10.0.0.1") is None for _ in range(1000))
    only_address = limiter(Clock(), per_customer=0, per_address=2)
    assert [only_address.check(f"c{n}", "10.0.0.1") is None for n in range(3)] == [
        True, True, False]


def test_without_redis_each_instance_counts_alone() -> None:
    # Nothing listens on port 1: the link is down, and the limiter counts in memory.
    clock = Clock()
    link = RedisLink("redis://127.0.0.1:1/0", timeout=0.2)
    try:
        limits = limiter(clock, link=link)
        assert limits.remote
        assert [limits.check("ann", "10.0.0.1") is None for _ in range(4)] == [
            True, True, True, False]
        assert not link.up
    finally:
        link.close()

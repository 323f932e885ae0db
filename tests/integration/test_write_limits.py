"""The limits on writes are the service's, not an instance's: two booking instances share
them through the real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import redis
from litestar.testing import TestClient

from booking.http import create_app as booking_app
from shared.config import Settings, WriteLimits
from tests.support.embedded import embedded_system
from tests.support.servers import Endpoints
from tests.support.tokens import SECRET, bearer

pytestmark = pytest.mark.infra


@pytest.fixture
def instances(endpoints: Endpoints, redis_prefix: str) -> Iterator[list[TestClient]]:
    """Two booking instances (their own stores: only the limits are shared)."""
    settings = Settings(token_secret=SECRET, redis_url=endpoints.redis_url,
                        topic_prefix=redis_prefix,
                        write_limits=WriteLimits(per_customer=5, per_address=8, period_s=60))
    with ExitStack() as stack:
        yield [stack.enter_context(TestClient(booking_app(embedded_system().booking, settings)))
               for _ in range(2)]


def write(client: TestClient, customer: str, n: int) -> int:
    r = client.post("/bookings", headers={**bearer(customer), "Idempotency-Key": f"k{n}"},
                    json={"show_id": "show-1", "seat_ids": [f"A{n}"],
                          "payment_method": "pm_card_visa"})
    return r.status_code


def test_two_instances_share_a_customers_and_an_addresss_limit(
        instances: list[TestClient], redis_server: redis.Redis, redis_prefix: str) -> None:
    first, second = instances
    assert [write(first, "alice", n) for n in range(1, 4)] == [202] * 3
    assert [write(second, "alice", n) for n in range(4, 6)] == [202] * 2
    r = first.post("/bookings", headers={**bearer("alice"), "Idempotency-Key": "k6"},
                   json={"show_id": "show-1", "seat_ids": ["A6"], "payment_method": "pm_card_visa"})
    assert r.status_code == 429 and r.json()["error"] == "rate_limited"
    assert "this customer: at most 5 per 60 s" in r.json()["message"]
    assert 1 <= int(r.headers["retry-after"]) <= 12  # one every 12 s
    assert write(second, "alice", 7) == 429

    key = f"{redis_prefix}rate:{{booking}}:c:alice".encode()
    assert 0 < redis_server.pttl(key) <= 60_000  # gone once her allowance is whole again

    # The address (the test client's, for both) has had 5 of its 8: three more, anyone's.
    assert [write(second, "bob", n) for n in range(10, 13)] == [202] * 3
    assert write(first, "carol", 20) == 429
    assert redis_server.exists(f"{redis_prefix}rate:{{booking}}:a:testclient")

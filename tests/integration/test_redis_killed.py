"""kill -9 of the real Redis while two booking instances take requests, then a restart by
scripts/infra: no request fails or waits, and once Redis is back (empty) the instances
share their claims again."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from booking.application import BookingService, SeatsTaken
from booking.shared_claims import SharedClaims
from scripts.infractl.config import load
from scripts.infractl.redis import Redis
from shared import contracts as c
from shared.clock import FakeClock
from shared.redis_link import RedisLink
from tests.support.paths import ROOT

pytestmark = pytest.mark.infra

SHOW = "s1"
HOLD = timedelta(minutes=10)


def infra_up() -> subprocess.CompletedProcess:
    # The test cluster's PostgreSQL settings, as scripts/test starts it.
    env = {**os.environ, "CINEMA_PG_DURABLE": os.environ.get("CINEMA_PG_DURABLE", "0")}
    return subprocess.run([str(ROOT / "scripts" / "infra"), "up"], capture_output=True,
                          text=True, timeout=180, env=env, check=False)


@pytest.fixture
def redis_process(redis_server, endpoints) -> Iterator[Redis]:
    """The Redis scripts/infra runs for this checkout; restarted afterwards if the test
    left it down, so that later tests have it."""
    server = Redis(load(ROOT))
    assert server.pid() is not None and server.cfg.redis_url == endpoints.redis_url, (
        "this test kills the Redis that scripts/infra started for this checkout")
    yield server
    if not server.answers():
        restored = infra_up()
        assert restored.returncode == 0, restored.stdout + restored.stderr


def test_booking_goes_on_through_a_redis_killed_and_restarted(
    redis_process, pg_database, redis_prefix, endpoints,
) -> None:
    clock = FakeClock()
    follower, other = (BookingService(
        env=pg_database.eventsourcing_env(), clock=clock,
        shared_claims=SharedClaims(RedisLink(endpoints.redis_url), namespace=redis_prefix),
    ) for _ in range(2))
    slowest = 0.0

    def book(app: BookingService, customer: str, seat: str) -> bool:
        """Whether the request was taken (False: refused at once); the follower hears
        inventory hold the seat for a booking taken."""
        nonlocal slowest
        started = time.monotonic()
        try:
            booking = app.request_booking(customer, f"k-{customer}", SHOW, [seat],
                                          "pm_card_visa").booking
        except SeatsTaken:
            return False
        finally:
            slowest = max(slowest, time.monotonic() - started)
        follower.handle(c.SeatsReserved(
            event_id=f"inventory/{booking.id}/1", occurred_at=clock.now(), show_id=SHOW,
            booking_id=booking.id, seat_ids=[seat], amount=900, currency="EUR",
            reserved_until=clock.now() + HOLD))
        slowest = max(slowest, time.monotonic() - started)
        return True

    try:
        # Up: each instance refuses what the other took.
        assert [book(follower, f"a{n}", f"A{n}") for n in range(10)] == [True] * 10
        assert [book(other, f"b{n}", f"A{n}") for n in range(10)] == [False] * 10
        assert [book(other, f"c{n}", f"B{n}") for n in range(10)] == [True] * 10
        assert [book(follower, f"d{n}", f"B{n}") for n in range(10)] == [False] * 10
        pid = redis_process.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # no shutdown: what a crash or an OOM kill does
        # Down: each instance knows what it heard or claimed itself, and nothing fails.
        assert [book(other, f"e{n}", f"C{n}") for n in range(10)] == [True] * 10
        assert [book(follower, f"f{n}", f"C{n}") for n in range(10)] == [False] * 10
        assert not follower.shared_claims.link.up and not other.shared_claims.link.up
        # other does not follow the show: a taken seat goes round the saga (inventory
        # would reject it) instead of being refused at once.
        assert [book(other, f"g{n}", f"A{n}") for n in range(3)] == [True] * 3
        restart = infra_up()
        assert restart.returncode == 0, restart.stdout + restart.stderr
        assert redis_process.pid() not in (None, pid)
        time.sleep(1.1)  # the instances leave Redis alone for a second after a failure
        # Back, and empty: shared again from the next claims and holds on.
        assert [book(follower, f"h{n}", f"D{n}") for n in range(10)] == [True] * 10
        assert [book(other, f"i{n}", f"D{n}") for n in range(10)] == [False] * 10
        assert follower.shared_claims.link.up and other.shared_claims.link.up
        assert slowest < 1.0, f"a request took {slowest:.2f}s"
    finally:
        follower.close()
        other.close()

"""The Redis link's pause after a failure, decided without a server: a refused connection
(a port nobody listens on) and calls that answer without the network."""

import socket

import pytest
import redis

from shared.redis_link import RedisDown, RedisLink


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def link():
    with socket.socket() as s:  # a port free now, so refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    clock = Clock()
    link = RedisLink(f"redis://:secret@127.0.0.1:{port}/0", retry_after=1.0, clock=clock)
    yield link, clock
    link.close()


def test_after_a_failure_the_link_leaves_redis_alone_for_a_moment(link) -> None:
    link, clock = link
    tried = []

    def ping(r: redis.Redis) -> object:
        tried.append(clock.now)
        return r.ping()

    assert link.up
    with pytest.raises(RedisDown, match="Redis at 127.0.0.1:"):
        link.call(ping)
    assert not link.up and tried == [100.0]
    clock.now = 100.9
    with pytest.raises(RedisDown, match="next try in 0.1s"):
        link.call(ping)
    assert tried == [100.0]  # not tried: the network was not touched
    clock.now = 101.0
    with pytest.raises(RedisDown):
        link.call(ping)
    assert tried == [100.0, 101.0]
    clock.now = 102.0
    assert link.call(lambda r: 42) == 42  # a call that succeeds: up again
    assert link.up and not link.ping()


def test_an_error_reply_is_redis_down_for_that_call_only(link) -> None:
    link, _ = link

    def refused(r: redis.Redis) -> object:
        raise redis.ResponseError("OOM command not allowed when used memory > 'maxmemory'")

    with pytest.raises(RedisDown, match="OOM"):
        link.call(refused)
    assert link.up  # Redis answered: the next call tries it


def test_the_password_stays_out_of_messages(link) -> None:
    link, _ = link
    with pytest.raises(RedisDown) as down:
        link.call(lambda r: r.ping())
    assert "secret" not in str(down.value) and "secret" not in link.where

"""End-to-end fixtures: the whole system as separate processes on the real servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.e2e.harness import Distributed
from tests.support.paths import E2E_LOGS


@pytest.fixture
def start_system(postgres_server, kafka_bootstrap,
                 redis_server) -> Iterator[Callable[..., Distributed]]:
    """Start a fresh system (own databases, topics, ports) with the given CINEMA_ settings."""
    started: list[Distributed] = []

    def start(**settings: str) -> Distributed:
        system = Distributed.create(postgres_server, E2E_LOGS, **settings)
        started.append(system)
        return system.start()

    yield start
    for system in started:
        system.close()


@pytest.fixture(scope="module")
def shared_system(postgres_server, kafka_bootstrap, redis_server) -> Iterator[Distributed]:
    """One system for tests that use shows of their own and so cannot disturb each other."""
    # Long enough that a slow, shared CI machine still retries within the hold.
    system = Distributed.create(postgres_server, E2E_LOGS, hold_seconds="8")
    try:
        yield system.start()
    finally:
        system.close()

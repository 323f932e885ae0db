"""Run the benchmark against a durable PostgreSQL: ``python -m bench ... --durable``.

The cluster of `scripts/run` is durable; the one of `scripts/test` runs with fsync,
synchronous_commit and full_page_writes off (docs/infra.md). A run reports which it
found. ``durable()`` turns the three on for the length of a run (ALTER SYSTEM and a
reload: all three take effect without a restart) and resets them afterwards, so the
same machine measures both. The tests that crash PostgreSQL use it too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from shared.config import Settings

SETTINGS = ("fsync", "synchronous_commit", "full_page_writes")
FAST_NOTE = "PostgreSQL test cluster: fsync=off, synchronous_commit=off (docs/infra.md)"
DURABLE_NOTE = "PostgreSQL made durable for this run: fsync=on, synchronous_commit=on, full_page_writes=on"


def current(s: Settings) -> dict[str, str]:
    """The three settings as a new connection sees them."""
    shown = {}
    with psycopg.connect(s.postgres_conninfo("postgres"), autocommit=True) as c:
        for name in SETTINGS:
            row = c.execute(f"SHOW {name}").fetchone()
            assert row is not None
            shown[name] = row[0]
    return shown


def found_note(settings: dict[str, str]) -> str:
    """The run's note on the cluster as it was found."""
    if set(settings.values()) == {"off"}:
        return FAST_NOTE
    return "PostgreSQL as found: " + ", ".join(f"{k}={v}" for k, v in settings.items())


def _apply(s: Settings, on: bool, timeout: float = 10.0) -> None:
    """``on``: the three on, once a new connection sees them; else back to the files'."""
    with psycopg.connect(s.postgres_conninfo("postgres"), autocommit=True) as c:
        for name in SETTINGS:
            c.execute(f"ALTER SYSTEM SET {name} = on" if on else f"ALTER SYSTEM RESET {name}")
        c.execute("SELECT pg_reload_conf()")
    if not on:
        return
    deadline = time.monotonic() + timeout  # the postmaster re-reads its files on the signal
    while set(current(s).values()) != {"on"}:
        if time.monotonic() > deadline:
            raise RuntimeError(f"PostgreSQL did not turn {SETTINGS} on: {current(s)}")
        time.sleep(0.1)


@contextmanager
def durable(s: Settings, on: bool) -> Iterator[str]:
    """The run's note on durability; with ``on``, the cluster durable until the end."""
    if not on:
        yield found_note(current(s))
        return
    _apply(s, on=True)
    try:
        yield DURABLE_NOTE
    finally:
        _apply(s, on=False)

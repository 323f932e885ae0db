"""Rebuild speed of the MongoDB views from a large event store.

    .venv/bin/python -m bench.rebuild_views --bookings 12000
    .venv/bin/python -m bench.rebuild_views --bookings 12800 --keep        # leaves the stores
    .venv/bin/python -m bench.rebuild_views --reuse bench1a2b3c            # rebuilds from them

Seeds three service stores on PostgreSQL by running the real saga in process (the
embedded runtime over PostgreSQL: same domain, policies, inbox and outbox), then
rebuilds every view from the first event, twice (batch sizes compared in one run),
and verifies the result against a fresh fold.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import time
import uuid
from datetime import timedelta

import psycopg
from psycopg import sql

from booking.application import SeatsTaken
from embedded.system import EmbeddedSystem
from inventory.domain import HoldLimits
from projections.mongo_store import connect
from projections.rebuild import rebuild, verify
from projections.sources import StreamReader
from shared.clock import FakeClock
from shared.config import Settings
from shared.services import NAMES

SERVICES = NAMES


def seed(settings: Settings, names: dict[str, str], bookings: int, rng: random.Random) -> int:
    def env(service: str) -> dict[str, str]:
        return settings.postgres_env(names[service])

    clock = FakeClock()
    system = EmbeddedSystem(clock=clock, limits=HoldLimits(max_seats=4), env_for=env)
    shows = [f"show-{i}" for i in range(bookings // 40 + 1)]
    for show in shows:
        system.inventory.open_show(show, {f"A{i}": "std" for i in range(1, 61)}, {"std": 900}, "EUR")
    started = time.monotonic()
    for i in range(bookings):
        method = "pm_card_visa" if rng.random() < 0.8 else "pm_card_chargeDeclined"
        seats = rng.sample([f"A{k}" for k in range(1, 61)], rng.randint(1, 3))
        with contextlib.suppress(SeatsTaken):  # refused at once: nothing recorded
            system.booking.request_booking(f"c{i % 500}", f"k{i}", rng.choice(shows), seats, method)
        if i % 200 == 199:
            system.run_until_quiet()
            clock.advance(timedelta(minutes=3))
            system.sweep()
            rate = (i + 1) / (time.monotonic() - started)
            print(f"  seeded {i + 1} bookings ({rate:,.0f}/s)", flush=True)
    clock.advance(timedelta(minutes=30))
    system.sweep()
    return sum(a.recorder.max_notification_id() or 0 for a in system.apps.values())


def _head(settings: Settings, dbname: str) -> int:
    with psycopg.connect(settings.postgres_conninfo(dbname)) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE tablename LIKE '%_events'"
            " AND tablename NOT LIKE '%snapshot%'")]
        head = 0
        for t in tables:
            row = conn.execute(sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}")
                               .format(sql.Identifier(t))).fetchone()
            assert row is not None
            head += row[0]
        return head


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bookings", type=int, default=12_000)
    parser.add_argument("--batches", default="1000,5000")
    parser.add_argument("--keep", action="store_true",
                        help="keep the seeded stores (seeding takes minutes) for --reuse")
    parser.add_argument("--reuse", metavar="PREFIX",
                        help="rebuild from stores a --keep run left (e.g. bench1a2b3c)")
    args = parser.parse_args()
    settings = Settings.from_env()
    prefix = args.reuse or f"bench{uuid.uuid4().hex[:6]}"
    keep = args.keep or bool(args.reuse)
    names = {s: f"{prefix}_{s}" for s in SERVICES}
    admin = settings.postgres_conninfo("postgres")
    if not args.reuse:
        with psycopg.connect(admin, autocommit=True) as conn:
            for n in names.values():
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(n)))
    mongo = connect(settings.mongo_url)
    db = mongo[f"{prefix}_views"]
    mongo.drop_database(db.name)
    try:
        if args.reuse:
            events = sum(_head(settings, names[s]) for s in SERVICES)
        else:
            print(f"seeding {args.bookings} bookings through the saga ...", flush=True)
            events = seed(settings, names, args.bookings, random.Random(7))
        print(f"store holds {events:,} events ({prefix})")
        readers = {s: StreamReader(s, settings.postgres_env(names[s])) for s in SERVICES}
        for batch in [int(b) for b in args.batches.split(",")]:
            t0 = time.monotonic()
            rebuild(db, readers, batch_size=batch, progress=lambda line: print("  " + line))
            seconds = time.monotonic() - t0
            print(f"rebuild, batch {batch}: {events:,} events in {seconds:.1f} s"
                  f" = {events / seconds:,.0f} events/s")
        problems = verify(db, readers)
        print(f"verify: {len(problems)} difference(s)")
    finally:
        mongo.drop_database(db.name)
        if keep:
            print(f"stores kept: --reuse {prefix}")
        else:
            with psycopg.connect(admin, autocommit=True) as conn:
                for n in names.values():
                    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(n)))


if __name__ == "__main__":
    main()

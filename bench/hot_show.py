"""Microbenchmark of the flash sale's hot show: one ``ShowInventory``, decided in-process.

Builds a show (200 seats by default) and feeds ``InventoryService.handle`` the flash-sale
pattern: 2,000 ``BookingRequested`` for one seat each (customer i asks for seat i mod
seats), and each winner's ``PaymentSucceeded`` some messages after its hold (payments
queue behind the requests, as in the real sale). Every message goes through ``handle``
with a tracking record, as the inbox does. No Kafka, no other service.

    .venv/bin/python -m bench.hot_show                         # POPO and PostgreSQL
    .venv/bin/python -m bench.hot_show --compare fce073f       # also inventory/ of that commit
    .venv/bin/python -m bench.hot_show --backends popo --cache off,on

Each configuration runs in a child process of its own. ``--compare REF`` runs the same
pattern against ``inventory/`` as it is at REF (taken with ``git archive``; everything
else is the current checkout), so the before/after figures come from one run.
PostgreSQL comes from ``scripts/infra env`` (CINEMA_POSTGRES_*): a scratch database is
created and dropped. ``--cache off`` disables eventsourcing's aggregate cache
(AGGREGATE_CACHE_MAXSIZE empty: every message loads the show from the store, as a cold
or evicted cache does); ``--cache on`` sets it to 5,000, with fast-forward as the
service class configures it (the other AGGREGATE_CACHE_* settings are left alone).
Timings are wall-clock in one thread: on a shared machine, compare rows of one run.

Printed per configuration: the show's events, the size of its latest stored snapshot
and of one taken of its final state, ms per load of the show from the store (snapshot +
events after it; sampled every 100 messages, mean and max) and through the application
(``get_show``: the cache when enabled), ms per deepcopy of the show (what a cache hit
costs), ms per decided request (mean, p99), requests/s and all messages/s.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: the child may run another commit's inventory/
    from eventsourcing.persistence import Tracking as TrackingType

    from inventory.application import InventoryService
    from shared.clock import FakeClock
    from shared.config import Settings
    from shared.contracts import PublicEvent

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2030, 1, 1, 18, 0, tzinfo=UTC)


# --- one configuration (child process) -------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def run(backend: str, seats: int, requests: int, pay_lag: int, cache: str,
        snapshot_interval: int | None) -> dict:
    from eventsourcing.persistence import Tracking

    from inventory.application import InventoryService
    from inventory.domain import HoldLimits, ShowInventory
    from shared import contracts as c
    from shared.clock import FakeClock
    from shared.config import Settings

    dropper: Callable[[], None] | None = None
    if backend == "popo":
        env = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    else:
        env, dropper = scratch_database(Settings.from_env())
    # Explicit either way: the services' own defaults may enable the cache.
    env["AGGREGATE_CACHE_MAXSIZE"] = "" if cache == "off" else "5000"
    if snapshot_interval is not None:
        InventoryService.snapshotting_intervals = {ShowInventory: snapshot_interval}
    clock = FakeClock(T0)
    app = InventoryService(env, clock, HoldLimits(max_seats=10, hold_for=timedelta(minutes=10)))
    try:
        return drive(app, c, Tracking, clock, seats, requests, pay_lag) | {
            "interval": dict(app.snapshotting_intervals).get(ShowInventory),
        }
    finally:
        app.close()
        if dropper:
            dropper()


def scratch_database(settings: Settings) -> tuple[dict[str, str], Callable[[], None]]:
    import psycopg
    from psycopg import sql

    name = f"bench_hot_show_{uuid.uuid4().hex[:10]}"
    admin = settings.postgres_conninfo("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))

    return settings.postgres_env(name), drop


def drive(app: InventoryService, c: ModuleType, Tracking: type[TrackingType], clock: FakeClock,
          seats: int, requests: int, pay_lag: int) -> dict:
    show_id = "hot"
    seat_ids = [f"A{i}" for i in range(1, seats + 1)]
    app.open_show(show_id, {s: "std" for s in seat_ids}, {"std": 1200}, "EUR")
    show_uuid = app.get_show(show_id).id

    position = 0
    request_ms: list[float] = []
    payment_ms: list[float] = []
    store_load_ms: list[float] = []
    app_load_ms: list[float] = []

    def deliver(message: PublicEvent, into: list[float]) -> None:
        nonlocal position
        position += 1
        start = time.perf_counter()
        assert app.handle(message, Tracking("bench:0", position))
        into.append(1000 * (time.perf_counter() - start))
        if position % 100 == 0:
            sample_loads()

    def sample_loads() -> None:
        version = app.get_show(show_id).version
        start = time.perf_counter()
        app.repository.get(show_uuid, version=version)  # from the store: snapshot + events
        store_load_ms.append(1000 * (time.perf_counter() - start))
        start = time.perf_counter()
        app.get_show(show_id)  # as a message's reaction loads it (the cache, if enabled)
        app_load_ms.append(1000 * (time.perf_counter() - start))

    def event_id(n: int) -> str:
        return f"booking/{uuid.UUID(int=n)}/1"

    pending: list[tuple[int, PublicEvent]] = []  # (deliver after this many requests, payment)
    booking_ids = [uuid.uuid5(uuid.NAMESPACE_URL, f"hot/{i}") for i in range(requests)]
    started = time.perf_counter()
    for i, booking_id in enumerate(booking_ids):
        clock.advance(timedelta(milliseconds=10))
        deliver(c.BookingRequested(
            event_id=event_id(i), occurred_at=clock.now(), show_id=show_id,
            booking_id=booking_id, customer_id=f"c{i}", seat_ids=[seat_ids[i % seats]],
            payment_method="pm_card_visa",
        ), request_ms)
        hold = app.get_show(show_id).hold_of(booking_id) if i < seats else None
        if hold is not None and hold["status"] == "RESERVED":
            pending.append((i + pay_lag, c.PaymentSucceeded(
                event_id=f"payment/{booking_id}/2", occurred_at=clock.now(), show_id=show_id,
                booking_id=booking_id, payment_id=uuid.uuid4(), attempt=1, amount=1200,
                currency="EUR", charge_id=f"ch_{i}",
            )))
        while pending and pending[0][0] <= i:
            deliver(pending.pop(0)[1], payment_ms)
    for _, payment in pending:
        deliver(payment, payment_ms)
    elapsed = time.perf_counter() - started

    show = app.get_show(show_id)
    booked = sum(1 for s in seat_ids if show.seat_state(s) == "BOOKED")
    assert booked == min(seats, requests), f"{booked} seats booked"
    assert len(payment_ms) == booked

    snapshot_bytes, snapshot_version = latest_snapshot(app, show_uuid)
    snapshot_class = getattr(type(show), "Snapshot", None) or app.snapshot_class
    assert snapshot_class is not None
    final_snapshot = app.mapper.to_stored_event(snapshot_class.take(show))
    final_loads = []
    for _ in range(5):
        start = time.perf_counter()
        app.repository.get(show_uuid, version=show.version)
        final_loads.append(1000 * (time.perf_counter() - start))
    copies = []
    for _ in range(20):
        start = time.perf_counter()
        copy.deepcopy(show)
        copies.append(1000 * (time.perf_counter() - start))
    return {
        "events": show.version,
        "booked": booked,
        "snapshot_version": snapshot_version,
        "snapshot_bytes": snapshot_bytes,
        "final_snapshot_bytes": len(final_snapshot.state),
        "store_load_ms_mean": statistics.fmean(store_load_ms),
        "store_load_ms_max": max(store_load_ms),
        "store_load_ms_end": statistics.median(final_loads),
        "app_load_ms_mean": statistics.fmean(app_load_ms),
        "deepcopy_ms": statistics.median(copies),
        "request_ms_mean": statistics.fmean(request_ms),
        "request_ms_p99": percentile(request_ms, 0.99),
        "payment_ms_mean": statistics.fmean(payment_ms),
        "requests_per_s": len(request_ms) / (sum(request_ms) / 1000),
        "messages_per_s": position / elapsed,
        "elapsed_s": elapsed,
    }


def latest_snapshot(app: InventoryService, show_uuid: uuid.UUID) -> tuple[int, int | None]:
    if app.snapshots is None:
        return 0, None
    stored = app.snapshots.recorder.select_events(show_uuid, desc=True, limit=1)
    if not stored:
        return 0, None
    return len(stored[0].state), stored[0].originator_version


# --- the comparison (parent process) ----------------------------------------------


def code_at(ref: str, into: Path) -> str:
    """Extract ``inventory/`` as it is at ``ref`` into ``into``; its short hash."""
    commit = subprocess.run(["git", "rev-parse", "--short", ref], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.strip()
    archive = subprocess.run(["git", "archive", commit, "inventory"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return commit


def child(args: argparse.Namespace, backend: str, cache: str, code_dir: Path | None) -> dict:
    cmd = [sys.executable, "-m", "bench.hot_show", "--child", backend, "--cache", cache,
           "--seats", str(args.seats), "--requests", str(args.requests),
           "--pay-lag", str(args.pay_lag)]
    if args.snapshot_interval is not None:
        cmd += ["--snapshot-interval", str(args.snapshot_interval)]
    env = dict(os.environ)
    if code_dir is None:
        cwd = ROOT
    else:
        # The old inventory/ first (python -m puts the working directory first), the
        # rest of the checkout after it.
        cwd = code_dir
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    out = subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


COLUMNS = [
    ("code", "{}"), ("backend", "{}"), ("cache", "{}"), ("interval", "{}"), ("events", "{:,}"),
    ("snapshot_bytes", "{:,}"), ("final_snapshot_bytes", "{:,}"),
    ("store_load_ms_mean", "{:.2f}"), ("store_load_ms_max", "{:.2f}"),
    ("app_load_ms_mean", "{:.2f}"), ("deepcopy_ms", "{:.3f}"),
    ("request_ms_mean", "{:.2f}"), ("request_ms_p99", "{:.2f}"), ("payment_ms_mean", "{:.2f}"),
    ("requests_per_s", "{:,.0f}"), ("messages_per_s", "{:,.0f}"),
]
HEADERS = {
    "snapshot_bytes": "snapshot B (last stored)", "final_snapshot_bytes": "snapshot B (final state)",
    "store_load_ms_mean": "load ms from store, mean", "store_load_ms_max": "max",
    "app_load_ms_mean": "load ms via app, mean", "deepcopy_ms": "deepcopy ms",
    "request_ms_mean": "ms per request, mean", "request_ms_p99": "p99",
    "payment_ms_mean": "ms per payment", "requests_per_s": "requests/s",
    "messages_per_s": "messages/s (wall)",
}


def render(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(HEADERS.get(k, k) for k, _ in COLUMNS) + " |",
             "|" + "|".join("---" if k in ("code", "backend", "cache") else "---:"
                            for k, _ in COLUMNS) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(
            "-" if r.get(k) is None else f.format(r[k]) for k, f in COLUMNS) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.hot_show", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seats", type=int, default=200)
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--pay-lag", type=int, default=100,
                   help="a winner's payment arrives this many requests after its hold")
    p.add_argument("--backends", default="popo,postgres", help="popo, postgres or both")
    p.add_argument("--cache", default="off", help="off, on or off,on (AGGREGATE_CACHE_MAXSIZE)")
    p.add_argument("--snapshot-interval", type=int, default=None,
                   help="override InventoryService.snapshotting_intervals for ShowInventory")
    p.add_argument("--compare", metavar="REF", default=None,
                   help="also run inventory/ as it is at this commit")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.child:
        result = run(args.child, args.seats, args.requests, args.pay_lag, args.cache,
                     args.snapshot_interval)
        print(json.dumps(result))
        return

    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=False,
                          capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "inventory"], cwd=ROOT,
                           check=False, capture_output=True, text=True).stdout.strip()
    codes: list[tuple[str, Path | None]] = [(head + ("+dirty" if dirty else ""), None)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="hot_show_") as tmp:
        if args.compare:
            codes.insert(0, (code_at(args.compare, Path(tmp)), Path(tmp)))
        print(f"{args.requests:,} requests for {args.seats} seats of one show, payments "
              f"{args.pay_lag} requests after each hold", file=sys.stderr)
        for backend in args.backends.split(","):
            for cache in args.cache.split(","):
                for label, code_dir in codes:
                    print(f"  {label} {backend} cache={cache} ...", file=sys.stderr, flush=True)
                    rows.append({"code": label, "backend": backend, "cache": cache}
                                | child(args, backend, cache, code_dir))
    print(render(rows))


if __name__ == "__main__":
    main()

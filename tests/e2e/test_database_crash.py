"""PostgreSQL crashes under load (``pg_ctl stop -m immediate``) and comes back: durable,
as `scripts/run` runs it, nothing acknowledged is lost; the services notice the restart,
reload what they keep in memory and resume from what the store recorded. Every booking
settles, every stream is contiguous, and the views agree with the stores.
"""

from __future__ import annotations

import random
import subprocess
import threading
import time
from pathlib import Path

import pytest

from bench.durability import durable
from projections.mongo_store import connect
from projections.rebuild import verify
from projections.sources import stream_holes, stream_readers
from shared.services import NAMES, PROJECTED
from tests.support.audit import audit, settle
from tests.support.customers import Customers, wait_final

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
SEED = 20261204
OUTAGE_SECONDS = 8


def test_postgres_crashed_under_load_loses_nothing_and_every_booking_settles(start_system):
    from scripts.infractl.config import PG_BIN, load
    from scripts.infractl.postgres import Postgres

    server = Postgres(load(ROOT))
    pid = server.pid()
    assert pid is not None, "this test crashes the PostgreSQL that scripts/infra started here"
    rng = random.Random(SEED)
    system = start_system(hold_seconds="30")
    settings = system.local.settings
    with durable(settings, on=True):
        shows = [f"pgcrash-{i}" for i in range(3)]
        for show in shows:
            system.open_show(show, seats=12)
        restarted = threading.Event()
        after_restart: list[str] = []
        client = Customers(system, rng, shows, count=40, people=6, pause=(0.05, 0.2),
                           on_booked=lambda b: restarted.is_set() and after_restart.append(b))
        client.start()
        time.sleep(2.0)
        # A crash: no checkpoint, no shutdown; the server recovers from its WAL at start.
        stop = server._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(server.pgdata),
                                    "stop", "-m", "immediate"])
        assert stop.returncode == 0, stop.stdout + stop.stderr
        time.sleep(OUTAGE_SECONDS)
        restart = subprocess.run([str(ROOT / "scripts" / "infra"), "up"], capture_output=True,
                                 text=True, timeout=180, check=False)
        assert restart.returncode == 0, restart.stdout + restart.stderr
        assert server.pid() not in (None, pid)
        restarted.set()
        client.join(180)
        assert client.done.is_set()
        assert after_restart, "no booking was taken after the restart"
        wait_final(system, client.bookings, timeout=120)  # read through the views
        settle(system)
        audit(system)

        stores = system.stores()
        holes = [h for app in stores.apps.values() for h in stream_holes(app)]
        assert holes == []
        assert system.views_caught_up(PROJECTED, timeout=30)
        readers = stream_readers(settings)
        with connect(settings.mongo_url) as mongo:
            assert verify(mongo[settings.views_db], readers) == []
        noticed = [s for s in NAMES
                   if "StoreRestarted" in (system.local.log_dir / f"{s}.log").read_text()]
        assert noticed, "no service noticed that the database had restarted"
    print(f"\n{len(client.bookings)} bookings, {client.refused} refused at once; services that"
          f" noticed the restart: {noticed}")

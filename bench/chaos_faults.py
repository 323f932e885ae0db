"""The chaos soak's faults, done to a running system: kill -9 of a process of the
system, of a server (PostgreSQL crashed with ``pg_ctl stop -m immediate``), each
restarted after its outage; a service paused with SIGSTOP, then continued.

The servers are the ones ``scripts/infra`` runs for this checkout (restarted with
``scripts/infra up``), but for the views' FerretDB when the run has one of its own.
Blocking: the soak runs each in a thread while its customers keep booking.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.chaos_schedule import KILLS, PAUSE, Fault
from bench.system import BenchSystem

ROOT = Path(__file__).resolve().parents[1]


def infra(*args: str) -> None:
    done = subprocess.run([str(ROOT / "scripts" / "infra"), *args], capture_output=True,
                          text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/infra {' '.join(args)}: {done.stdout[-500:]}{done.stderr[-500:]}")


def server(name: str) -> Any:  # LaunchedServer, or Postgres with its pg_ctl
    from scripts.infractl import config
    from scripts.infractl.ferretdb import FerretDB
    from scripts.infractl.kafka import Kafka
    from scripts.infractl.mailpit import Mailpit
    from scripts.infractl.postgres import Postgres
    from scripts.infractl.redis import Redis
    from scripts.infractl.stripe import LocalStripe

    kinds = {"kafka": Kafka, "postgres": Postgres, "ferretdb": FerretDB, "redis": Redis,
             "stripe": LocalStripe, "mailpit": Mailpit}
    return kinds[name](config.load(ROOT))


def kill_server(name: str, outage: float) -> None:
    s = server(name)
    pid = s.pid()
    if pid is None:
        raise RuntimeError(f"{name} is not running: nothing to kill")
    if name == "postgres":  # a crash: no checkpoint; it recovers from its WAL at start
        from scripts.infractl.config import PG_BIN

        stop = s._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(s.pgdata), "stop", "-m", "immediate"])
        if stop.returncode != 0:
            raise RuntimeError(f"pg_ctl stop: {stop.stdout}{stop.stderr}")
    else:
        os.kill(pid, signal.SIGKILL)
    time.sleep(outage)
    infra("up", name) if name in ("redis", "stripe", "mailpit") else infra("up")
    if s.pid() in (None, pid):
        raise RuntimeError(f"{name} did not come back")


def kill_private_ferretdb(system: BenchSystem, outage: float) -> None:
    ferret = system.ferret
    assert ferret is not None and ferret.proc is not None
    ferret.proc.send_signal(signal.SIGKILL)
    ferret.proc.wait()
    time.sleep(outage)
    ferret.launch(timeout=120)


def kill_process(system: BenchSystem, process: str, outage: float) -> None:
    system.local.kill(process)
    time.sleep(outage)
    system.local.start(process)
    system.local.wait_ready(process, timeout=180)


def pause_process(system: BenchSystem, process: str, outage: float) -> None:
    pid = system.local.procs[process].pid
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(outage)
    finally:
        os.kill(pid, signal.SIGCONT)


def do(system: BenchSystem, fault: Fault) -> None:
    """The fault, and the restart after it: back when this returns."""
    if fault.kind in KILLS:
        kill_process(system, fault.target, fault.outage)
    elif fault.kind == PAUSE:
        pause_process(system, fault.target, fault.outage)
    elif fault.target == "ferretdb" and system.ferret is not None:
        kill_private_ferretdb(system, fault.outage)
    else:
        kill_server(fault.target, fault.outage)

"""`scripts/infra up|down|status|env`, and `up|down` of one server that stands alone."""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import config
from .ferretdb import FerretDB
from .kafka import Kafka
from .mailpit import Mailpit
from .postgres import Postgres
from .procs import InfraError, LaunchedServer, locked, port_listeners, reserve_ports
from .redis import Redis
from .stripe import LocalStripe

USAGE = """usage: scripts/infra up|down|status|env
       scripts/infra up|down redis|stripe|mailpit

  up      start PostgreSQL, Kafka, FerretDB, Redis, localstripe and Mailpit (idempotent),
          wait until they answer
  down    stop them all and check that no process is left
  status  say for each server whether it is up and where it listens (exit 3 if one is down)
  env     print `export` lines for the clients (eval "$(scripts/infra env)")

  up NAME, down NAME: start (and wait for) or stop that server only; those three use no
  other server (a test stops one to see what its clients do without it).
"""

# The servers that use no other: each can be started and stopped alone.
ALONE: dict[str, type[LaunchedServer]] = {"redis": Redis, "stripe": LocalStripe, "mailpit": Mailpit}


def say(message: str) -> None:
    print(f"[infra] {message}", flush=True)


class Clock:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def lap(self) -> float:
        now = time.monotonic()
        elapsed, self.start = now - self.start, now
        return elapsed


def up(cfg: config.Config) -> None:
    total = Clock()
    pg, kafka, ferret, redis = Postgres(cfg), Kafka(cfg), FerretDB(cfg), Redis(cfg)
    stripe, mailpit = LocalStripe(cfg), Mailpit(cfg)
    reserve_ports(list(cfg.ports()))
    # Fail before any download or build if a port is held by someone else.
    for server in (pg, kafka, ferret, redis, stripe, mailpit):
        server.check_port()
    clock = Clock()
    # The artifacts are independent: fetch jars (network-bound) while Go compiles.
    with ThreadPoolExecutor(max_workers=3) as pool:
        jars = pool.submit(kafka.ensure_jars)
        binary = pool.submit(ferret.ensure_binary)
        mail_binary = pool.submit(mailpit.ensure_binary)
        jars_how, binary_how, mail_how = jars.result(), binary.result(), mail_binary.result()
    say(
        f"artifacts in {clock.lap():.1f}s: kafka {config.KAFKA_VERSION} jars {jars_how}, "
        f"ferretdb {config.FERRETDB_VERSION} {binary_how}, mailpit {config.MAILPIT_VERSION} "
        f"{mail_how} (cache {cfg.cache})"
    )
    redis_how = redis.launch()  # ready in milliseconds, uses nothing else
    redis.wait_ready()
    say(f"redis {redis_how}, ready in {clock.lap():.1f}s on {redis.where}")
    # These two use nothing else either; localstripe answers about a second after the
    # start (its imports), so both are waited for after the others.
    stripe_how = stripe.launch()
    mailpit_how = mailpit.launch()
    # The JVM is the slowest to start, so launch it first and wait for it last.
    kafka_how = kafka.launch()
    kafka_clock = Clock()
    pg_how = pg.start()
    durability = "durable" if cfg.pg_durable else "fsync and synchronous_commit off: tests only"
    say(f"postgres {pg_how} ({durability}), ready in {clock.lap():.1f}s on {pg.where}")
    ferret.index_ids()  # before FerretDB creates any table, and for those it made before
    ferret_how = ferret.launch()
    ferret.wait_ready()
    say(f"ferretdb {ferret_how}, ready in {clock.lap():.1f}s on {ferret.where}")
    kafka.wait_ready()
    say(f"kafka {kafka_how}, ready {kafka_clock.lap():.1f}s after launch on {kafka.where}")
    stripe.wait_ready()
    say(f"stripe (localstripe) {stripe_how}, ready on {stripe.where}")
    mailpit.wait_ready()
    say(f"mailpit {mailpit_how}, ready on {mailpit.where}")
    say(f"up in {total.lap():.1f}s (data and logs in {cfg.data})")


def up_alone(server: LaunchedServer) -> None:
    clock = Clock()
    reserve_ports(list(server.cfg.ports()))
    server.check_port()
    how = server.launch()
    server.wait_ready()
    say(f"{server.name} {how}, ready in {clock.lap():.1f}s on {server.where}")


def down(cfg: config.Config, alone: LaunchedServer | None = None) -> None:
    clock = Clock()
    # Reverse order of dependencies: FerretDB uses PostgreSQL.
    servers = (alone,) if alone else (Mailpit(cfg), LocalStripe(cfg), Redis(cfg), FerretDB(cfg),
                                      Kafka(cfg), Postgres(cfg))
    for server in servers:
        say(f"{server.name}: {'stopped' if server.stop() else 'was not running'}")
    left = [pid for server in servers for pid in server.strays()]
    ports = {name: port_listeners(port) for name, port in _ports(cfg).items()
             if alone is None or name.startswith(alone.name)}
    busy = {name: pids for name, pids in ports.items() if pids != []}
    if left:
        raise InfraError(f"server processes still running from {cfg.data}: {left}")
    say(f"down in {clock.lap():.1f}s; no {alone.name if alone else 'server'} process left "
        f"from {cfg.data}")
    if busy:
        # Not ours (we just stopped ours): worth a warning, not a failure.
        say(f"note: ports still in use by other processes: {busy}")


def _ports(cfg: config.Config) -> dict[str, int]:
    return {
        "postgres": cfg.pg_port,
        "kafka": cfg.kafka_port,
        "kafka controller": cfg.kafka_controller_port,
        "ferretdb": cfg.mongo_port,
        "redis": cfg.redis_port,
        "stripe": cfg.stripe_port,
        "mailpit smtp": cfg.mailpit_smtp_port,
        "mailpit http": cfg.mailpit_http_port,
    }


def status(cfg: config.Config) -> int:
    all_up = True
    for server in (Postgres(cfg), Kafka(cfg), FerretDB(cfg), Redis(cfg), LocalStripe(cfg),
                   Mailpit(cfg)):
        pid = server.pid()
        if pid and server.answers():
            state = f"up    {server.where}  pid {pid}"
        elif pid:
            state = f"starting/not answering  {server.where}  pid {pid}"
            all_up = False
        else:
            state = f"down  (would listen on {server.where})"
            all_up = False
        print(f"{server.name:9} {state}")
    print(f"data: {cfg.data}\ncache: {cfg.cache}")
    return 0 if all_up else 3


def main(argv: list[str]) -> int:
    whole = len(argv) == 1 and argv[0] in ("up", "down", "status", "env")
    one = len(argv) == 2 and argv[0] in ("up", "down") and argv[1] in ALONE
    if not (whole or one):
        print(USAGE, file=sys.stderr)
        return 2
    root = Path(__file__).resolve().parents[2]
    cfg = config.load(root)
    try:
        if one:
            server = ALONE[argv[1]](cfg)
            with locked(cfg.data / ".infra.lock"):
                if argv[0] == "up":
                    up_alone(server)
                else:
                    down(cfg, server)
        elif argv[0] in ("up", "down"):
            # Two `up`s in one checkout at once (say, scripts/test in two terminals) would
            # both start and format servers: the second waits here, then finds them up.
            with locked(cfg.data / ".infra.lock"):
                (up if argv[0] == "up" else down)(cfg)
        elif argv[0] == "status":
            return status(cfg)
        else:
            print("\n".join(cfg.env_lines()))
    except InfraError as error:
        print(f"[infra] FAILED: {error}", file=sys.stderr)
        return 1
    return 0

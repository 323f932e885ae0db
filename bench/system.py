"""A fresh system for one benchmark run, and the probes that look inside it.

Built like ``tests/e2e/harness.Distributed.create`` (own databases, topic prefix and
free ports on 127.0.0.1), with ``bench<tag>`` names so a leftover is recognisable, and
with its topics deleted at the end.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from confluent_kafka import Consumer, TopicPartition

from bench.ferret import PrivateFerretDB
from launcher.processes import service_of
from shared.contracts import TOPICS
from shared.services import BY_NAME, NAMES, PROJECTED, spec
from tests.e2e.harness import Distributed
from tests.support.servers import Endpoints

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".data" / "bench"


def running(system: Distributed) -> list[str]:
    """The registered services (each with a database and a topic) the system runs."""
    return [s for s in NAMES if s in system.local.processes]


def projected(system: Distributed) -> list[str]:
    """The services it runs whose streams the views fold."""
    return [s for s in running(system) if s in PROJECTED]


def mail_domain(system: Distributed) -> str:
    """The domain of the run's customers' email addresses (``bench<tag>.example``)."""
    return f"{system.local.settings.topic_prefix.strip('.')}.example"


@dataclass
class BenchSystem(Distributed):
    """A system started for the benchmark: named ``bench<tag>``, with its own FerretDB
    or not."""

    tag: str = ""
    ferret: PrivateFerretDB | None = None
    ferret_db: str = "ferretdb"  # the PostgreSQL database behind the views' FerretDB


def start_system(hold_seconds: float, sweep_seconds: float, private_ferretdb: bool = True,
                 instances: int = 1, without: tuple[str, ...] = (),
                 **settings: str) -> BenchSystem:
    """Start the system's processes as the end-to-end tests do (``Distributed.create``,
    so settings the harness gains are picked up), renamed ``bench<tag>``, optionally with
    a FerretDB of its own and ``without`` some services (their processes not started);
    the caller must ``stop_system``."""
    ep = Endpoints.from_env()
    urls = [ep.mongo_url, getattr(ep, "redis_url", "")]  # an older version has no Redis
    for host in (ep.pg_host, ep.kafka_bootstrap.rsplit(":", 1)[0],
                 *(url.split("/")[2].rsplit(":", 1)[0] for url in urls if url)):
        assert host == "127.0.0.1", f"the benchmark only targets 127.0.0.1, not {host}"
    ferret = None
    if private_ferretdb:
        ferret = PrivateFerretDB(ep, DATA).start()
        ep = dataclasses.replace(ep, mongo_url=ferret.url)
    try:
        system = BenchSystem.create(ep, DATA / "logs", instances, hold_seconds=str(hold_seconds),
                                     sweep_seconds=str(sweep_seconds), http_host="127.0.0.1",
                                     **settings)
    except BaseException:
        if ferret:
            ferret.stop()
        raise
    tag = system.local.log_dir.name
    system.local.env = {k: v.replace(f"e2e{tag}", f"bench{tag}") for k, v in system.local.env.items()}
    system.local.services = tuple(p for p in system.local.services if p not in without)
    system.local.instances = {p: v for p, v in system.local.instances.items()
                              if service_of(p) not in without}
    system.tag = tag
    system.ferret = ferret
    system.ferret_db = ferret.database if ferret else "ferretdb"
    try:
        system.start()
    except BaseException:
        stop_system(system)
        raise
    return system


def stop_system(system: Distributed, log: Callable[[str], object] = print) -> None:
    """Stop the services, drop their databases and views, delete their topics. A step
    that fails (a server restarted meanwhile) is reported and the others still run."""
    try:
        system.close()  # processes, databases, the views database, topics
    except Exception as e:
        log(f"teardown: {type(e).__name__}: {e}")
        for step in (system.local.stop_all, system.local.drop_databases,
                     system.local.delete_topics):
            try:
                step()
            except Exception as e2:
                log(f"teardown: {step.__name__}: {type(e2).__name__}: {e2}")
    try:
        forget_mail(system)
    except Exception as e:
        log(f"teardown: Mailpit: {type(e).__name__}: {e}")
    ferret = getattr(system, "ferret", None)
    if ferret is not None:
        try:
            ferret.stop()
        except Exception as e:
            log(f"teardown: private FerretDB: {type(e).__name__}: {e}")


def forget_mail(system: Distributed) -> None:
    """Delete what the run's notification service sent to Mailpit (its customers' domain),
    as the rest of the run's data."""
    import httpx

    api = Endpoints.from_env().mailpit_api
    if api and "notifications" in system.local.processes:
        httpx.request("DELETE", f"{api}/api/v1/search",
                      params={"query": f"to:@{mail_domain(system)}"}, timeout=30)


def service_pids(system: Distributed) -> dict[str, int]:
    return {name: p.pid for name, p in system.local.procs.items()}


@dataclass
class Probe:
    """Looks at the system from outside its processes: PostgreSQL statistics,
    backlogs in front of each service, server-side event counts. Opens its own
    connections; one Probe per thread."""

    system: Distributed

    def __post_init__(self) -> None:
        s = self.system.local.settings
        self.settings = s
        self.services = running(self.system)
        self.dbs = {svc: s.service_db(svc) for svc in self.services}
        self.admin = psycopg.connect(s.postgres_conninfo("postgres"), autocommit=True)
        self.conns = {
            svc: psycopg.connect(s.postgres_conninfo(db), autocommit=True)
            for svc, db in self.dbs.items()
        }
        self._kafka: Consumer | None = None

    def close(self) -> None:
        for c in [self.admin, *self.conns.values()]:
            c.close()
        if self._kafka is not None:
            self._kafka.close()

    # --- PostgreSQL -------------------------------------------------------------

    def backend_pids(self) -> dict[str, list[int]]:
        """The server processes (backends) serving each service's database, and
        FerretDB's (its database: private to the run, or the shared ``ferretdb``)."""
        ferret_db = getattr(self.system, "ferret_db", "ferretdb")
        names = {**{db: svc for svc, db in self.dbs.items()}, ferret_db: "ferretdb"}
        rows = self.admin.execute(
            "SELECT datname, pid FROM pg_stat_activity WHERE datname = ANY(%s)", (list(names),),
        ).fetchall()
        out: dict[str, list[int]] = {svc: [] for svc in names.values()}
        for db, pid in rows:
            out[names[db]].append(pid)
        return out

    def commits(self) -> dict[str, int]:
        """Committed transactions per service database (pg_stat_database.xact_commit;
        PostgreSQL updates these within about a second)."""
        rows = self.admin.execute(
            "SELECT datname, xact_commit FROM pg_stat_database WHERE datname = ANY(%s)",
            (list(self.dbs.values()),),
        ).fetchall()
        by_db: dict[str, int] = dict(rows)
        return {svc: int(by_db.get(db, 0)) for svc, db in self.dbs.items()}

    def rows_written(self) -> dict[str, dict[str, int]]:
        """Per service: events inserted, and tracking records written (one per message
        processed by the inbox, plus the relay's position updates)."""
        out = {}
        for svc, conn in self.conns.items():
            rows: dict[str, int] = dict(conn.execute(
                "SELECT relname, n_tup_ins + n_tup_upd FROM pg_stat_user_tables"
                " WHERE relname = ANY(%s)", ([spec(svc).table("events"), spec(svc).table("tracking")],),
            ).fetchall())
            out[svc] = {"events": int(rows.get(spec(svc).table("events"), 0)),
                        "tracking": int(rows.get(spec(svc).table("tracking"), 0))}
        return out

    def max_event_id(self, service: str) -> int:
        row = self.conns[service].execute(
            f"SELECT coalesce(max(notification_id), 0) FROM {spec(service).table('events')}"
        ).fetchone()
        assert row is not None
        return int(row[0])

    def booking_outcomes(self, after_id: int) -> dict[str, int]:
        """How many bookings recorded after ``after_id`` were requested, confirmed,
        cancelled: a cheap way to see whether they all settled."""
        rows = self.conns["booking"].execute(
            f"SELECT topic, count(*) FROM {spec('booking').table('events')}"
            " WHERE notification_id > %s"
            " AND topic = ANY(%s) GROUP BY topic",
            (after_id, [f"cinema.booking:Booking.{k}" for k in ("Requested", "Confirmed", "Cancelled")]),
        ).fetchall()
        return {topic.rsplit(".", 1)[1]: n for topic, n in rows}

    def messages_told(self) -> dict[str, int]:
        """The notification service's messages so far (none without it): decided,
        sent, dropped, and still to be sent (decided, neither sent, dropped nor given
        up)."""
        if "notifications" not in self.conns:
            return {}
        kinds = ("Due", "Sent", "Dropped", "AttemptFailed")
        counts: dict[str, int] = dict(self.conns["notifications"].execute(
            f"SELECT topic, count(*) FROM {spec('notifications').table('events')}"
            " WHERE topic = ANY(%s) GROUP BY topic",
            ([f"cinema.notifications:Notification.{k}" for k in kinds],),
        ).fetchall())
        n = {k: counts.get(f"cinema.notifications:Notification.{k}", 0) for k in kinds}
        return {"decided": n["Due"], "sent": n["Sent"], "dropped": n["Dropped"],
                "failed_attempts": n["AttemptFailed"],
                "waiting": n["Due"] - n["Sent"] - n["Dropped"]}

    # --- backlogs ------------------------------------------------------------------

    def backlogs(self) -> dict[str, dict[str, int]]:
        """Per service: notifications not yet relayed (outbox), and messages on its
        subscribed topics not yet processed (inbox). A backlog that grows names the
        stage that cannot keep up."""
        s = self.settings
        if self._kafka is None:
            self._kafka = Consumer({"bootstrap.servers": s.kafka_bootstrap,
                                    "group.id": f"bench-probe-{uuid.uuid4().hex}"})
        ends: dict[str, int] = {}
        for svc in self.services:
            topic = s.topic_prefix + TOPICS[svc]
            for p in range(6):
                try:
                    ends[f"{topic}:{p}"] = self._kafka.get_watermark_offsets(
                        TopicPartition(topic, p), timeout=2, cached=False)[1]
                except Exception:
                    ends[f"{topic}:{p}"] = 0
        out = {}
        for svc, conn in self.conns.items():
            rows: dict[str, int] = dict(conn.execute(
                f"SELECT application_name, notification_id FROM {spec(svc).table('tracking')}"
            ).fetchall())
            # One that publishes nothing runs no relay: it has no outbox.
            outbox = self.max_event_id(svc) - int(rows.get("outbox") or 0) if BY_NAME[
                svc].publishes else 0
            subscribed = [s.topic_prefix + TOPICS[o] for o in BY_NAME[svc].subscribes_to]
            inbox = sum(
                max(end - int(rows.get(tp) or 0), 0)
                for tp, end in ends.items() if tp.rsplit(":", 1)[0] in subscribed
            )
            out[svc] = {"outbox": outbox, "inbox": inbox}
        return out


def infra_ports(system: Distributed) -> dict[str, int]:
    s = system.local.settings
    ports = {"postgres": s.postgres_port, "kafka": int(s.kafka_bootstrap.rsplit(":", 1)[1]),
             "ferretdb": int(s.mongo_url.rstrip("/").rsplit(":", 1)[1])}
    if "notifications" in system.local.processes:  # the SMTP server it sends to
        ports["mailpit"] = s.channels.smtp_port
    return ports


def infra_pids(system: Distributed) -> dict[str, int | None]:
    """The servers' pids: a change between two calls means a server was restarted
    meanwhile (by someone else), which disturbs whatever was measured."""
    from bench.procstats import listener_pid

    return {name: listener_pid(port) for name, port in infra_ports(system).items()}


def children(pid: int) -> list[int]:
    """Direct children of a process (e.g. all of a PostgreSQL cluster's processes)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def loadavg() -> list[float]:
    return [float(x) for x in open("/proc/loadavg").read().split()[:3]]


def cpu_model() -> str:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def machine() -> dict:
    with open("/proc/meminfo") as f:
        mem_kib = next(int(line.split()[1]) for line in f if line.startswith("MemTotal"))
    return {"nproc": os.cpu_count(), "mem_gib": round(mem_kib / 2**20, 1), "cpu": cpu_model(),
            "loadavg_before": loadavg()}

"""Reference limits of the machine's servers, measured beside the system's figures.

Each measure is bounded by a count and by ``seconds``, uses scratch objects (a
database, a topic) that it removes again, and reports a rate and how it was made.
All on 127.0.0.1, on the servers of ``scripts/infra`` (durability: docs/infra.md).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from eventsourcing.application import Application
from eventsourcing.persistence import ProcessRecorder, StoredEvent, Tracking
from psycopg import sql

from shared.config import Settings
from shared.messaging.kafka import ensure_topics
from tests.support.servers import Endpoints

PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"
PAYLOAD = b"x" * 300  # about one of our public events


def settings() -> Settings:
    ep = Endpoints.from_env()
    return Settings(postgres_host=ep.pg_host, postgres_port=ep.pg_port, postgres_user=ep.pg_user,
                    postgres_password=ep.pg_password, kafka_bootstrap=ep.kafka_bootstrap)


class ScratchDatabase:
    def __init__(self, s: Settings) -> None:
        self.s, self.name = s, f"bench_scratch_{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> str:
        with psycopg.connect(self.s.postgres_conninfo("postgres"), autocommit=True) as c:
            c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        return self.name

    def __exit__(self, *_: object) -> None:
        with psycopg.connect(self.s.postgres_conninfo("postgres"), autocommit=True) as c:
            c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(self.name)))


def pgbench_insert(s: Settings, db: str, clients: int, seconds: float) -> dict:
    """pgbench: one single-row INSERT (300 bytes) per transaction, prepared statements."""
    if not Path(PGBENCH).exists() and not shutil.which("pgbench"):
        return {"error": "pgbench not found"}
    with psycopg.connect(s.postgres_conninfo(db), autocommit=True) as c:
        c.execute("CREATE TABLE IF NOT EXISTS t (id bigserial PRIMARY KEY, v bytea)")
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write("INSERT INTO t (v) VALUES (decode(repeat('78', 300), 'hex'));\n")
    env = {"PGPASSWORD": s.postgres_password, "PATH": "/usr/bin:/bin"}
    cmd = [PGBENCH if Path(PGBENCH).exists() else "pgbench", "-n", "-M", "prepared",
           "-c", str(clients), "-j", str(clients), "-T", str(max(1, round(seconds))), "-f", f.name,
           "-h", s.postgres_host, "-p", str(s.postgres_port), "-U", s.postgres_user, db]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env,
                             timeout=seconds + 30, check=False).stdout
    finally:
        Path(f.name).unlink()
    m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    if not m:
        return {"error": f"pgbench said: {out[-300:]}"}
    return {"rate": float(m.group(1)),
            "how": f"pgbench -M prepared -c {clients} -j {clients} -T {round(seconds)}: one"
                   " 300-byte INSERT per transaction"}


def psycopg_insert(s: Settings, db: str, seconds: float, limit: int = 500_000) -> dict:
    """A Python loop over one connection: INSERT one row, COMMIT, repeat."""
    with psycopg.connect(s.postgres_conninfo(db)) as c:
        c.execute("CREATE TABLE IF NOT EXISTS py (id bigserial PRIMARY KEY, v bytea)")
        c.commit()
        n, start = 0, time.perf_counter()
        while n < limit and time.perf_counter() - start < seconds:
            c.execute("INSERT INTO py (v) VALUES (%s)", (PAYLOAD,), prepare=True)
            c.commit()
            n += 1
        took = time.perf_counter() - start
    return {"rate": n / took, "how": "Python/psycopg, 1 connection: INSERT + COMMIT per row"}


def eventsourcing_insert(
    s: Settings, db: str, seconds: float, limit: int = 500_000, library: bool = False
) -> dict:
    """The services' own write path without their logic: the process recorder storing
    one event with one tracking record per transaction (table lock, NOTIFY, INSERT,
    tracking upsert), as the inbox does per message. ``library``: eventsourcing's own
    pipelined recorder instead of the services' (shared/recorder.py), for comparison."""

    class Scratch(Application):
        def construct_recorder(self) -> ProcessRecorder:
            return self.factory.process_recorder()

    env = s.postgres_env(db)
    if library:
        env["PROCESS_RECORDER_TOPIC"] = ""
    app = Scratch(env=env)
    try:
        recorder = app.recorder
        position = f"bench:{uuid.uuid4().hex[:8]}"  # each run its own tracking record
        n, start, cpu = 0, time.perf_counter(), time.process_time()
        while n < limit and time.perf_counter() - start < seconds:
            n += 1
            event = StoredEvent(originator_id=uuid.uuid4(), originator_version=1,
                                topic="bench:Event", state=PAYLOAD)
            recorder.insert_events([event], tracking=Tracking(position, n))
        took, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        app.close()
    which = "eventsourcing's own process recorder" if library else "the services' recorder"
    return {"rate": n / took, "client_cpu_ms": round(1000 * cpu / max(n, 1), 3),
            "how": f"{which}, 1 thread: 1 event + tracking per transaction,"
                   f" {1000 * cpu / max(n, 1):.2f} ms client CPU each"}


def kafka_rates(s: Settings, seconds: float, limit: int = 300_000) -> dict[str, dict]:
    """Produce (batched and one-at-a-time) and consume 300-byte messages on a scratch
    topic with 6 partitions, with our producer settings (idempotent, acks=all)."""
    topic = f"bench-limits-{uuid.uuid4().hex[:8]}"
    ensure_topics(s.kafka_bootstrap, [topic])
    conf = {"bootstrap.servers": s.kafka_bootstrap, "enable.idempotence": True, "acks": "all",
            "linger.ms": 2, "partitioner": "murmur2_random"}
    out: dict[str, dict] = {}
    try:
        producer = Producer(conf)
        n, start = 0, time.perf_counter()
        while n < limit and time.perf_counter() - start < seconds:
            try:
                producer.produce(topic, value=PAYLOAD, key=f"show-{n % 200}")
                n += 1
            except BufferError:
                producer.poll(0.05)
            producer.poll(0)
        left = producer.flush(30)
        took = time.perf_counter() - start
        out["kafka_produce"] = {"rate": (n - left) / took,
                                "how": "confluent-kafka, idempotent, acks=all, linger.ms=2,"
                                       " 300 B, flush at the end"}
        produced = n - left
        m, start = 0, time.perf_counter()
        while m < 100_000 and time.perf_counter() - start < seconds:
            producer.produce(topic, value=PAYLOAD, key=f"show-{m % 200}")
            producer.flush(10)
            m += 1
        took = time.perf_counter() - start
        out["kafka_produce_flush_each"] = {
            "rate": m / took, "how": "the same, flush after every message (the relay at low load)"}
        produced += m
        consumer = Consumer(consumer_conf(s))
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(6)])
        got, start = 0, time.perf_counter()
        while got < produced and time.perf_counter() - start < max(seconds * 3, 10):
            for msg in consumer.consume(num_messages=500, timeout=0.5):
                if not msg.error():
                    got += 1
        took = time.perf_counter() - start
        out["kafka_consume"] = {"rate": got / took,
                                "how": f"confluent-kafka consume(500) of {got:,} messages from 6"
                                       " partitions (includes the first fetch's start-up)"}
        out["kafka_consume_wait"] = consume_wait(consumer_conf(s), topic, producer)
        consumer.close()
    finally:
        admin = AdminClient({"bootstrap.servers": s.kafka_bootstrap})
        for future in admin.delete_topics([topic], operation_timeout=10).values():
            future.result(timeout=30)  # wait: an admin client dropped at once sends nothing
    return out


def consumer_conf(s: Settings) -> dict:
    return {"bootstrap.servers": s.kafka_bootstrap, "group.id": f"bench-limits-{uuid.uuid4().hex}",
            "enable.auto.commit": False}


def consume_wait(conf: dict, topic: str, producer: Producer, rounds: int = 5) -> dict:
    """How long ``consume(num_messages=500, timeout=0.2)`` (the services' inbox call)
    takes to return when one message is waiting: librdkafka fills the batch until the
    timeout, so every hop of the saga can wait up to that long."""
    consumer = Consumer(conf)
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_END) for p in range(6)])
        for _ in range(3):  # settle the assignment and the first fetches
            consumer.consume(num_messages=500, timeout=0.2)
        waits = []
        for _ in range(rounds):
            producer.produce(topic, value=PAYLOAD, key="show-0")
            producer.flush(10)
            start = time.perf_counter()
            got = consumer.consume(num_messages=500, timeout=0.2)
            if got:  # only rounds where the message was there to take
                waits.append((time.perf_counter() - start) * 1000)
    finally:
        consumer.close()
    if not waits:
        return {"error": "the probe message never arrived"}
    return {"ms": round(sorted(waits)[len(waits) // 2], 1),
            "how": "consume(num_messages=500, timeout=0.2) with 1 message waiting: median"
                   " return time (a latency, not a rate)"}


def measure(seconds: float = 3.0, log: Callable[[str], object] = print) -> dict[str, dict]:
    """Every reference limit, each for about ``seconds``."""
    s = settings()
    assert s.postgres_host == "127.0.0.1" and s.kafka_bootstrap.startswith("127.0.0.1:")
    out: dict[str, dict] = {}
    with ScratchDatabase(s) as db:
        for name, fn in (
            ("pgbench_insert_1_client", lambda: pgbench_insert(s, db, 1, seconds)),
            ("pgbench_insert_3_clients", lambda: pgbench_insert(s, db, 3, seconds)),
            ("pg_psycopg_insert", lambda: psycopg_insert(s, db, seconds)),
            ("pg_eventsourcing_insert", lambda: eventsourcing_insert(s, db, seconds)),
            ("pg_eventsourcing_library_insert",
             lambda: eventsourcing_insert(s, db, seconds, library=True)),
        ):
            log(f"limits: {name} ...")
            try:
                out[name] = fn()
            except Exception as e:  # one failing measure must not hide the others
                out[name] = {"error": f"{type(e).__name__}: {e}"}
    log("limits: kafka ...")
    try:
        out.update(kafka_rates(s, seconds))
    except Exception as e:
        out["kafka"] = {"error": f"{type(e).__name__}: {e}"}
    return out

"""The services as child processes: start, wait until ready, kill, stop.

Used by ``python -m launcher`` (the README's run command) and by the end-to-end and
crash tests, so that what is tested is what a user runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from psycopg import sql

from launcher.tether import spawn
from payment import webhook_endpoint
from shared.config import Settings
from shared.services import BY_NAME, NAMES, PROJECTOR

# The processes of a system: every registered service, then the projector.
SERVICES = (*NAMES, PROJECTOR)
DATABASES = NAMES  # each service's own; the projector reads them


def service_of(process: str) -> str:
    """``booking`` for the processes ``booking`` (its first instance) and ``booking-2``."""
    return process.partition("-")[0]


@dataclass
class LocalSystem:
    """The processes of one system. Each service runs once, as a process named after it;
    ``add_instance`` adds further instances of a service (``booking-2``), which share its
    database and Kafka consumer group and answer HTTP on a port of their own."""

    env: dict[str, str]  # CINEMA_* settings handed to every service
    log_dir: Path
    services: tuple[str, ...] = SERVICES
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    # further instances: process name -> the settings that differ from the first one's
    instances: dict[str, dict[str, str]] = field(default_factory=dict)
    # process name -> the module it runs instead of its service's (``python -m``): the
    # crash tests run payment inside a wrapper that kills it at chosen points
    modules: dict[str, str] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        """What the services started by this system read (they inherit this process's
        environment, then ``env``)."""
        return Settings.from_env({**os.environ, **self.env})

    def add_instance(self, service: str, number: int, port: int) -> str:
        """Another instance of a service (``number`` >= 2: its stable name, for Kafka's
        static membership); returns its process name. Started by ``start_all``."""
        assert service in DATABASES and number >= 2, "the projector runs once"
        name = f"{service}-{number}"
        self.instances[name] = {"CINEMA_INSTANCE": str(number),
                                f"CINEMA_{service.upper()}_PORT": str(port)}
        return name

    def add_instances(self, instances: int, port: Callable[[str, int], int]) -> None:
        """``instances`` of each service but the projector in all: the first, and
        ``add_instance`` for the others, instance n of a service on ``port(service, n)``."""
        for service in DATABASES:
            for n in range(2, instances + 1):
                self.add_instance(service, n, port(service, n))

    @property
    def processes(self) -> list[str]:
        return [*self.services, *self.instances]

    def _env(self, process: str) -> dict[str, str]:
        return {**os.environ, **self.env, **self.instances.get(process, {})}

    def url(self, process: str) -> str:
        port = Settings.from_env(self._env(process)).service_port(service_of(process))
        return f"http://127.0.0.1:{port}"

    def create_databases(self) -> None:
        s = self.settings
        with psycopg.connect(s.postgres_conninfo("postgres"), autocommit=True) as conn:
            for service in DATABASES:
                name = s.service_db(service)
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if exists.fetchone() is None:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop_databases(self) -> None:
        s = self.settings
        with psycopg.connect(s.postgres_conninfo("postgres"), autocommit=True) as conn:
            for service in DATABASES:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(s.service_db(service))
                    )
                )

    def delete_topics(self) -> None:
        """Delete this system's topics. A broker keeps every topic it was ever given: with
        the topics of some 180 finished test systems (3,185 partitions) the local broker
        took 13.6 s to start instead of 5.9 (its CPU per message did not change)."""
        s = self.settings
        admin = AdminClient({"bootstrap.servers": s.kafka_bootstrap})
        topics = [s.topic_prefix + t for spec in BY_NAME.values()
                  for t in (spec.topic, spec.replay_topic)]
        for future in admin.delete_topics(topics, operation_timeout=10).values():
            try:
                future.result()
            except KafkaException as e:
                if e.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:  # never created
                    raise

    def start(self, process: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{process}.log", "ab")  # noqa: SIM115 (the child owns it)
        self.procs[process] = spawn(  # ends when this process dies, even by kill -9
            [sys.executable, "-m", self.modules.get(process, service_of(process))],
            env=self._env(process),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal reaches only the launcher
        )
        log.close()

    def wait_ready(self, process: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.procs[process]
            if proc.poll() is not None:
                raise RuntimeError(f"{process} exited with {proc.returncode}: see {self.log_dir}")
            try:
                with urllib.request.urlopen(self.url(process) + "/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{process} not ready after {timeout}s: see {self.log_dir}/{process}.log")

    def start_all(self) -> None:
        self.create_databases()
        if "payment" in self.processes:
            # Where a local Stripe server delivers the provider's webhooks: to payment's
            # first instance (Stripe itself is told in its Dashboard).
            webhook_endpoint.register_with_local_stripe(self.settings, self.url("payment"))
        for process in self.processes:
            self.start(process)
        for process in self.processes:
            self.wait_ready(process)

    def kill(self, process: str) -> None:
        """kill -9: no shutdown hook runs, nothing is flushed."""
        proc = self.procs.pop(process)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop(self, process: str, grace: float = 15.0) -> None:
        proc = self.procs.pop(process)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop_all(self) -> None:
        for process in list(self.procs):
            self.stop(process)
        if "payment" in self.processes:
            try:
                webhook_endpoint.silence_on_local_stripe(self.settings, self.url("payment"))
            except OSError as error:  # the local Stripe server is gone: nothing to silence
                print(f"could not silence payment's webhook endpoint: {error}", file=sys.stderr)

"""A private FerretDB for one benchmark run (``--ferretdb private``, the default).

The views are read through FerretDB. The shared one of ``scripts/infra`` serves every
test run on the machine, and another run may restart or load it; a private
instance (same binary and flags as scripts/infractl/ferretdb.py, its own PostgreSQL
database on the same cluster, a free port) keeps the measurement to our own load.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pymongo
from psycopg import sql

from launcher.tether import spawn
from scripts.infractl import ferretdb_ids
from tests.e2e.harness import free_port
from tests.support.servers import Endpoints

VERSION = "v1.24.2"  # scripts/infractl/config.py FERRETDB_VERSION


def binary() -> Path:
    cache = os.environ.get("CINEMA_CACHE_DIR") or str(Path.home() / ".cache" / "cinema-saga")
    return Path(cache) / "ferretdb" / VERSION / "ferretdb"


class PrivateFerretDB:
    def __init__(self, ep: Endpoints, data: Path) -> None:
        self.ep = ep
        self.database = f"bench_ferret_{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.state = data / "ferretdb" / self.database
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def _admin(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(host=self.ep.pg_host, port=self.ep.pg_port, user=self.ep.pg_user,
                               password=self.ep.pg_password, dbname=dbname, autocommit=True)

    def start(self, timeout: float = 30) -> PrivateFerretDB:
        if not binary().exists():
            raise RuntimeError(f"{binary()} missing: run scripts/infra up once")
        with self._admin() as c:
            c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
        if os.environ.get("BENCH_FERRETDB_ID_INDEX", "on") != "off":  # "off" to measure without
            with self._admin(self.database) as c:
                ferretdb_ids.install(c)
        return self.launch(timeout)

    def launch(self, timeout: float = 30) -> PrivateFerretDB:
        """Run the server on its database and port (again, after a kill: the chaos soak)."""
        self.state.mkdir(parents=True, exist_ok=True)
        log = open(self.state / "ferretdb.log", "ab")  # noqa: SIM115 (the child owns it)
        auth = f"{self.ep.pg_user}:{self.ep.pg_password}@" if self.ep.pg_password else f"{self.ep.pg_user}@"
        self.proc = spawn(  # ends with the benchmark, even if it is killed with kill -9
            [str(binary()), "--handler=postgresql",
             f"--postgresql-url=postgres://{auth}{self.ep.pg_host}:{self.ep.pg_port}/{self.database}",
             f"--listen-addr=127.0.0.1:{self.port}", f"--state-dir={self.state}",
             "--debug-addr=-", "--telemetry=disable", "--log-level=error"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"FerretDB exited: see {self.state / 'ferretdb.log'}")
            try:
                client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
                    self.url, serverSelectionTimeoutMS=500)
                with client:
                    client.admin.command("ping")
                return self
            except pymongo.errors.PyMongoError:
                time.sleep(0.2)
        raise TimeoutError(f"private FerretDB not answering after {timeout}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with self._admin() as c:
            c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(self.database)))

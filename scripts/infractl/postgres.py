"""A private PostgreSQL 15 cluster in <checkout>/.data/postgres, run as the `postgres` user."""

from __future__ import annotations

import functools
import os
import pwd
import signal
import stat
import subprocess
from typing import TYPE_CHECKING, Any

from .config import FERRETDB_DATABASE, HOST, PG_BIN, PG_MAJOR, SERVICE_DATABASES, Config
from .procs import (
    InfraError,
    check_port_free,
    cmdline,
    pid_alive,
    process_tree,
    processes_matching,
    read_pid,
    stop_tree,
    tail,
    wait_for,
)

if TYPE_CHECKING:
    import psycopg  # only `up` needs it: keep `env` and `status` light

# Written to pgdata/cinema.conf at every `up` (so a changed port or durability applies) and
# included from postgresql.conf.
CONF = """\
listen_addresses = '{host}'
port = {port}
unix_socket_directories = '{sock}'
max_connections = 1000
shared_buffers = 128MB
{durability}log_min_messages = warning
log_line_prefix = '%m [%p] %d '
"""
DURABILITY = ("fsync", "synchronous_commit", "full_page_writes")


def durability_lines(durable: bool) -> str:
    """Durable is PostgreSQL's own default, kept for everything a user runs. Off, a crash
    of the server (not only of the machine) loses commits it had acknowledged: only for
    the test cluster (CINEMA_PG_DURABLE=0, set by scripts/test), whose data is thrown
    away, and where it makes commits several times cheaper."""
    value = "on" if durable else "off"
    return "".join(f"{name} = {value}\n" for name in DURABILITY)


class Postgres:
    name = "postgres"

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.base = cfg.data / "postgres"
        self.pgdata = self.base / "pgdata"
        self.sock = self.base / "sock"  # unix socket dir, inside the data folder
        self.log = self.base / "postgres.log"

    @property
    def where(self) -> str:
        return f"{HOST}:{self.cfg.pg_port}"

    # --- state -------------------------------------------------------------

    def pid(self) -> int | None:
        """The postmaster's pid if this checkout's cluster runs."""
        pid = read_pid(self.pgdata / "postmaster.pid")
        # The path check guards against a stale pid file whose pid was reused.
        if pid and pid_alive(pid) and str(self.pgdata) in cmdline(pid):
            return pid
        return None

    def answers(self) -> bool:
        result = subprocess.run(
            [
                str(PG_BIN / "pg_isready"),
                "-q",
                "-h",
                HOST,
                "-p",
                str(self.cfg.pg_port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-t",
                "1",
            ],
            check=False,
        )
        return result.returncode == 0

    def check_port(self) -> None:
        pid = self.pid()
        check_port_free(self.name, self.cfg.pg_port, set(process_tree(pid)) if pid else set())

    # --- install and init --------------------------------------------------

    def ensure_installed(self) -> None:
        if (PG_BIN / "postgres").exists():
            return
        if os.geteuid() != 0:
            raise InfraError(f"{PG_BIN}/postgres is missing: install postgresql-{PG_MAJOR}")
        print(f"[infra] postgres: installing postgresql-{PG_MAJOR} with apt-get", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for argv in (
            ["apt-get", "update", "-q"],
            ["apt-get", "install", "-y", "-q", f"postgresql-{PG_MAJOR}"],
        ):
            result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise InfraError(
                    f"`{' '.join(argv)}` failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
                )

    def _make_reachable(self) -> None:
        """initdb/postgres run as `postgres`, which must be able to reach the data folder.

        A checkout inside a 0700 directory (e.g. from mktemp -d) blocks it: grant others
        search permission (x only, not read) on such parent directories.
        """
        user = pwd.getpwnam("postgres")
        for parent in reversed(self.base.parents):
            mode = parent.stat()
            if mode.st_uid != user.pw_uid and not mode.st_mode & stat.S_IXOTH:
                print(
                    f"[infra] postgres: chmod o+x {parent} so the postgres user can reach .data",
                    flush=True,
                )
                parent.chmod(stat.S_IMODE(mode.st_mode) | stat.S_IXOTH)
        self.base.mkdir(parents=True, exist_ok=True)
        self.sock.mkdir(exist_ok=True)
        for path in (self.base, self.sock):
            os.chown(path, user.pw_uid, user.pw_gid)
        self.base.chmod(0o700)

    def _as_postgres(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run(prefix + argv, capture_output=True, text=True, check=False, **kwargs)

    def init(self) -> None:
        self._make_reachable()
        socket_path = self.sock / f".s.PGSQL.{self.cfg.pg_port}"
        if len(str(socket_path)) > 107:
            raise InfraError(
                f"postgres: socket path too long for Linux (>107 bytes): {socket_path}"
            )
        if not (self.pgdata / "PG_VERSION").exists():
            result = self._as_postgres(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                ]
            )
            if result.returncode != 0:
                raise InfraError(f"postgres: initdb failed:\n{result.stdout}{result.stderr}")
            with (self.pgdata / "postgresql.conf").open("a") as conf:
                conf.write("\ninclude 'cinema.conf'\n")
        self.write_conf()

    def write_conf(self) -> bool:
        """Write cinema.conf; True if it changed."""
        conf = self.pgdata / "cinema.conf"
        text = CONF.format(host=HOST, port=self.cfg.pg_port, sock=self.sock,
                           durability=durability_lines(self.cfg.pg_durable))
        if conf.exists() and conf.read_text() == text:
            return False
        conf.write_text(text)
        user = pwd.getpwnam("postgres")
        os.chown(conf, user.pw_uid, user.pw_gid)
        return True

    def apply_durability(self) -> None:
        """On a running cluster: the three settings take effect on a reload."""
        import psycopg  # only `up` needs it: keep `env` and `status` light

        if not self.write_conf():
            return
        with psycopg.connect(host=HOST, port=self.cfg.pg_port, user="postgres",
                             dbname="postgres", autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
            want = "on" if self.cfg.pg_durable else "off"
            if not wait_for(lambda: self._shown(conn, want), 10, 0.1):
                raise InfraError(f"postgres: {DURABILITY} did not turn {want} on a reload")

    @staticmethod
    def _shown(conn: psycopg.Connection[Any], want: str) -> bool:
        return all((row := conn.execute(f"SHOW {name}").fetchone()) is not None and row[0] == want
                   for name in DURABILITY)

    # --- start and stop ----------------------------------------------------

    def start(self) -> str:
        """Start (or find running) and create the databases; returns what happened."""
        if self.pid():
            if not self.answers() and not wait_for(self.answers, 30, 0.2):
                raise InfraError(
                    f"postgres: running but not answering on {self.where}\n{tail(self.log)}"
                )
            self.apply_durability()
            self.create_databases()
            return "already up"
        self.ensure_installed()
        self.init()
        result = self._as_postgres(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.pgdata),
                "-l",
                str(self.log),
                "-w",
                "-t",
                "60",
                "-s",
                "start",
            ],
            start_new_session=True,  # the postmaster must outlive this shell
        )
        if result.returncode != 0 or not wait_for(self.answers, 30, 0.2):
            raise InfraError(
                f"postgres: did not start on {self.where} ({result.stdout}{result.stderr}).\n"
                f"Last lines of {self.log}:\n{tail(self.log)}"
            )
        self.create_databases()
        return "started"

    def create_databases(self) -> None:
        import psycopg  # only `up` needs it: keep `env` and `status` light
        from psycopg import errors, sql

        wanted = (*SERVICE_DATABASES, FERRETDB_DATABASE)
        with psycopg.connect(
            host=HOST, port=self.cfg.pg_port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
            for name in wanted:
                if name not in existing:
                    try:
                        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                    except errors.DuplicateDatabase:
                        pass  # another `up` created it meanwhile

    def strays(self) -> list[int]:
        """Postmasters of this checkout's cluster, found by command line."""
        return processes_matching(str(PG_BIN / "postgres"), f"-D {self.pgdata}")

    def stop(self) -> bool:
        pids = dict.fromkeys(pid for pid in [self.pid(), *self.strays()] if pid is not None)
        for pid in pids:
            # SIGINT is PostgreSQL's "fast" shutdown: abort sessions, checkpoint, exit.
            stop_tree(pid, grace=30, term=functools.partial(os.kill, pid, signal.SIGINT))
        return bool(pids)

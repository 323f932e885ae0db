"""FerretDB v1 (MongoDB wire protocol over PostgreSQL), built from the Go module proxy.

Why FerretDB: MongoDB itself is in none of the registries this machine reaches, and
FerretDB v1 stores its data in the same PostgreSQL cluster. See docs/infra.md.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from . import ferretdb_ids
from .config import FERRETDB_DATABASE, FERRETDB_VERSION, HOST, Config
from .gobuild import ensure_built, go, go_env
from .procs import InfraError, LaunchedServer

MODULE = "github.com/FerretDB/FerretDB"


class FerretDB(LaunchedServer):
    name = "ferretdb"
    title = f"FerretDB {FERRETDB_VERSION}"
    ready_timeout = 60
    ready_interval = 0.2

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.state = self.base / "state"  # also makes our cmdline name this checkout
        self.binary = cfg.cache / "ferretdb" / FERRETDB_VERSION / "ferretdb"
        self.marker = self.state
        self.strays_marked_by = (str(self.binary), f"--state-dir={self.state}")

    @property
    def where(self) -> str:
        return f"{HOST}:{self.cfg.mongo_port}"

    def answers(self) -> bool:
        import pymongo

        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            self.cfg.mongo_url, serverSelectionTimeoutMS=1000, connectTimeoutMS=1000
        )
        try:
            client.admin.command("ping")
        except pymongo.errors.PyMongoError:
            return False
        finally:
            client.close()
        return True

    def ports(self) -> tuple[int, ...]:
        return (self.cfg.mongo_port,)

    # --- build -------------------------------------------------------------

    def ensure_binary(self) -> str:
        return ensure_built(self.binary, self._build)

    def _build(self) -> None:
        go_cmd = go(self.name)
        env = go_env()
        result = subprocess.run(
            [go_cmd, "mod", "download", "-json", f"{MODULE}@{FERRETDB_VERSION}"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        try:
            source = Path(json.loads(result.stdout)["Dir"])
        except (ValueError, KeyError):
            raise InfraError(
                f"ferretdb: `go mod download {MODULE}@{FERRETDB_VERSION}` failed "
                f"(download refused or offline?):\n{result.stdout}{result.stderr}"
            ) from None
        self.binary.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.binary.parent) as tmp:
            src = Path(tmp) / "src"
            shutil.copytree(source, src)  # the module cache is read-only
            for path in [src, *src.rglob("*")]:
                if path.is_dir():
                    path.chmod(path.stat().st_mode | stat.S_IWUSR)
            # The module zip lacks build/version/version.txt (made by `git describe` upstream);
            # without it the binary panics at start.
            (src / "build" / "version" / "version.txt").write_text(FERRETDB_VERSION + "\n")
            out = Path(tmp) / "ferretdb"
            # ferretdb_no_sqlite: skip the huge pure-Go SQLite backend (we use PostgreSQL).
            result = subprocess.run(
                [
                    go_cmd,
                    "build",
                    "-trimpath",
                    "-tags",
                    "ferretdb_no_sqlite",
                    "-o",
                    str(out),
                    "./cmd/ferretdb",
                ],
                cwd=src,
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            if result.returncode != 0:
                raise InfraError(
                    f"ferretdb: go build failed:\n{(result.stdout + result.stderr)[-3000:]}"
                )
            shutil.rmtree(src)  # tidy: read-only bits are gone, so this works
            out.rename(self.binary)

    # --- start and stop ----------------------------------------------------

    def index_ids(self) -> None:
        """Let FerretDB's lookups by `_id` use an index (see ferretdb_ids)."""
        import psycopg

        with psycopg.connect(host=HOST, port=self.cfg.pg_port, user="postgres",
                             dbname=FERRETDB_DATABASE, autocommit=True) as conn:
            ferretdb_ids.install(conn)

    def prepare(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)

    def argv(self) -> list[str]:
        return [
            str(self.binary),
            "--handler=postgresql",
            f"--postgresql-url=postgres://postgres@{HOST}:{self.cfg.pg_port}/{FERRETDB_DATABASE}",
            f"--listen-addr={HOST}:{self.cfg.mongo_port}",
            f"--state-dir={self.state}",
            "--debug-addr=-",  # no HTTP debug listener (it would take another port)
            "--telemetry=disable",
            # warn would log every error reply (duplicate keys, pymongo's endSessions...)
            "--log-level=error",
        ]

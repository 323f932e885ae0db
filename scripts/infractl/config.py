"""Where things live and which ports they use.

The tests and benchmarks find these servers through ``load`` too
(tests/support/servers.py); tests/integration/test_infra_script.py checks that
``scripts/infra env`` and the fixtures agree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from shared.services import SERVICES

HOST = "127.0.0.1"

KAFKA_VERSION = "4.4.0"  # newest 4.x on Maven Central when this was written
FERRETDB_VERSION = "v1.24.2"  # last FerretDB v1 release (v2 needs DocumentDB, not plain PostgreSQL)
MAILPIT_VERSION = "v1.33.1"  # newest on the Go module proxy when this was written
PG_MAJOR = "15"
PG_BIN = Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin")
REDIS_SERVER = Path("/usr/bin/redis-server")  # Debian's redis-server package (7.0 on bookworm)

SERVICE_DATABASES = tuple(s.database for s in SERVICES)  # the registry's (shared/services.py)
FERRETDB_DATABASE = "ferretdb"  # FerretDB's PostgreSQL backend keeps its data here


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise SystemExit(f"infra: {name}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise SystemExit(f"infra: {name}={port} is out of range")
    return port


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("0", "1", "on", "off", "true", "false", "yes", "no"):
        raise SystemExit(f"infra: {name}={raw!r} is not 0 or 1")
    return raw in ("1", "on", "true", "yes")


@dataclass(frozen=True)
class Config:
    root: Path  # the checkout
    cache: Path  # downloads and builds shared by all checkouts on this machine
    pg_port: int
    kafka_port: int
    kafka_controller_port: int
    mongo_port: int
    redis_port: int = 56379
    stripe_port: int = 58420  # localstripe's HTTP API
    mailpit_smtp_port: int = 58025
    mailpit_http_port: int = 58026  # Mailpit's web UI and API
    pg_durable: bool = True  # CINEMA_PG_DURABLE=0: the test cluster only (postgres.py)

    @property
    def data(self) -> Path:
        """Server data, logs and pid files: per checkout, git-ignored."""
        return self.root / ".data"

    def ports(self) -> tuple[int, ...]:
        return (self.pg_port, self.kafka_port, self.kafka_controller_port, self.mongo_port,
                self.redis_port, self.stripe_port, self.mailpit_smtp_port, self.mailpit_http_port)

    @property
    def kafka_bootstrap(self) -> str:
        return f"{HOST}:{self.kafka_port}"

    @property
    def mongo_url(self) -> str:
        return f"mongodb://{HOST}:{self.mongo_port}/"

    @property
    def redis_url(self) -> str:
        return f"redis://{HOST}:{self.redis_port}/0"

    @property
    def stripe_api_base(self) -> str:
        return f"http://{HOST}:{self.stripe_port}"

    @property
    def mailpit_api(self) -> str:
        """Mailpit's HTTP base: its web UI, and its API under /api/v1."""
        return f"http://{HOST}:{self.mailpit_http_port}"

    def env_lines(self) -> list[str]:
        return [
            f"export CINEMA_POSTGRES_HOST={HOST}",
            f"export CINEMA_POSTGRES_PORT={self.pg_port}",
            "export CINEMA_POSTGRES_USER=postgres",
            "export CINEMA_POSTGRES_PASSWORD=''",
            f"export CINEMA_KAFKA_BOOTSTRAP={self.kafka_bootstrap}",
            f"export CINEMA_MONGO_URL={self.mongo_url}",
            f"export CINEMA_REDIS_URL={self.redis_url}",
            f"export CINEMA_STRIPE_API_BASE={self.stripe_api_base}",
            f"export CINEMA_SMTP_HOST={HOST}",
            f"export CINEMA_SMTP_PORT={self.mailpit_smtp_port}",
            f"export CINEMA_MAILPIT_API={self.mailpit_api}",
        ]


def load(root: Path) -> Config:
    cache = os.environ.get("CINEMA_CACHE_DIR") or str(Path.home() / ".cache" / "cinema-saga")
    cfg = Config(
        root=root.resolve(),
        cache=Path(cache).resolve(),
        pg_port=_port("CINEMA_PG_PORT", 55432),
        kafka_port=_port("CINEMA_KAFKA_PORT", 59092),
        kafka_controller_port=_port("CINEMA_KAFKA_CONTROLLER_PORT", 59093),
        mongo_port=_port("CINEMA_MONGO_PORT", 57017),
        redis_port=_port("CINEMA_REDIS_PORT", 56379),
        stripe_port=_port("CINEMA_STRIPE_PORT", 58420),
        mailpit_smtp_port=_port("CINEMA_MAILPIT_SMTP_PORT", 58025),
        mailpit_http_port=_port("CINEMA_MAILPIT_HTTP_PORT", 58026),
        pg_durable=_flag("CINEMA_PG_DURABLE", default=True),
    )
    ports = cfg.ports()
    if len(set(ports)) != len(ports):
        raise SystemExit(f"infra: the {len(ports)} ports must differ, got {ports}")
    return cfg

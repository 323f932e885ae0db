"""Mailpit: an SMTP server that keeps what it receives and shows it over HTTP (a web UI and
an API), built with Go from the Go module proxy.

The email channel (notifications/email.py) sends to it as to any SMTP relay; the tests
read back over its API what arrived (tests/support/mailpit.py). Messages are kept in a
SQLite file in <checkout>/.data/mailpit, so a restart keeps them. See docs/infra.md.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from .config import HOST, MAILPIT_VERSION, Config
from .gobuild import ensure_built, go, go_env
from .procs import InfraError, LaunchedServer

MODULE = "github.com/axllent/mailpit"


class Mailpit(LaunchedServer):
    name = "mailpit"
    title = f"Mailpit {MAILPIT_VERSION}"
    ready_timeout = 30
    # SIGTERM: it closes its listeners and its database, then exits.
    stop_grace = 10

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.database = self.base / "mailpit.db"  # its path makes our cmdline name this checkout
        self.binary = cfg.cache / "mailpit" / MAILPIT_VERSION / "mailpit"
        self.marker = self.database
        self.strays_marked_by = (str(self.binary), f"--database={self.database}")

    @property
    def where(self) -> str:
        return f"{HOST}:{self.cfg.mailpit_smtp_port} (web and API {self.cfg.mailpit_api})"

    def answers(self) -> bool:
        """Both listeners: the API's /readyz answers 200 and the SMTP port greets (220)."""
        try:
            with urllib.request.urlopen(f"{self.cfg.mailpit_api}/readyz", timeout=1) as response:
                if response.status != 200:
                    return False
            with socket.create_connection((HOST, self.cfg.mailpit_smtp_port), timeout=1) as sock:
                return sock.recv(64).startswith(b"220")
        except (urllib.error.URLError, OSError):
            return False

    def ports(self) -> tuple[int, ...]:
        return (self.cfg.mailpit_smtp_port, self.cfg.mailpit_http_port)

    # --- build -------------------------------------------------------------

    def ensure_binary(self) -> str:
        return ensure_built(self.binary, self._build)

    def _build(self) -> None:
        go_cmd = go(self.name)
        self.binary.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.binary.parent) as tmp:
            # The module carries its web UI already built; the version is stamped as
            # upstream's release builds do (else it calls itself "dev").
            result = subprocess.run(
                [
                    go_cmd,
                    "install",
                    "-trimpath",
                    f"-ldflags=-X {MODULE}/config.Version={MAILPIT_VERSION}",
                    f"{MODULE}@{MAILPIT_VERSION}",
                ],
                capture_output=True,
                text=True,
                env=go_env(GOBIN=tmp),
                check=False,
            )
            if result.returncode != 0:
                raise InfraError(
                    f"mailpit: `go install {MODULE}@{MAILPIT_VERSION}` failed (download "
                    f"refused or offline?):\n{(result.stdout + result.stderr)[-3000:]}"
                )
            (Path(tmp) / "mailpit").rename(self.binary)

    # --- start and stop ----------------------------------------------------

    def prepare(self) -> None:
        # Here too, so that `scripts/infra up mailpit` alone works from an empty cache.
        self.ensure_binary()
        super().prepare()

    def argv(self) -> list[str]:
        return [
            str(self.binary),
            f"--smtp={HOST}:{self.cfg.mailpit_smtp_port}",
            f"--listen={HOST}:{self.cfg.mailpit_http_port}",
            f"--database={self.database}",
            # Keep every message: a test counts the copies of one, which pruning the
            # oldest (500 by default) could remove. `DELETE /api/v1/messages` empties it.
            "--max=0",
            "--disable-version-check",  # it would ask GitHub at every start
            "--smtp-disable-rdns",  # no reverse DNS lookup of each client
            # Lets a test make the SMTP server refuse senders or recipients through the API
            # (PUT /api/v1/chaos); no effect until a trigger is set.
            "--enable-chaos",
        ]

    def env(self) -> dict[str, str]:
        # Mailpit reads MP_* variables as settings: none of the caller's may change ours.
        return {key: value for key, value in os.environ.items() if not key.startswith("MP_")}

"""A private Redis 7 (Debian's redis-server) on 127.0.0.1, in <checkout>/.data/redis.

Nothing it holds needs to survive it (booking's seat claims and the price cache are
rebuilt from the services' events), so it runs without snapshots or an append-only
file: a restart starts empty. See docs/infra.md.
"""

from __future__ import annotations

import os
import socket
import subprocess

from .config import HOST, REDIS_SERVER, Config
from .procs import InfraError, LaunchedServer


class Redis(LaunchedServer):
    name = "redis"
    title = "Redis"
    # SIGTERM: Redis closes its clients and exits (with nothing to save).
    stop_grace = 10

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.marker = self.base  # its --dir, in the command line
        self.strays_marked_by = (str(REDIS_SERVER), f"--dir {self.base}")

    @property
    def where(self) -> str:
        return f"{HOST}:{self.cfg.redis_port}"

    def answers(self) -> bool:
        """PING in the protocol itself: `status` needs no client library. A server still
        loading answers -LOADING, which does not count."""
        try:
            with socket.create_connection((HOST, self.cfg.redis_port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def ports(self) -> tuple[int, ...]:
        return (self.cfg.redis_port,)

    # --- install -----------------------------------------------------------

    def ensure_installed(self) -> str:
        if REDIS_SERVER.exists():
            return "installed"
        if os.geteuid() != 0:
            raise InfraError(f"{REDIS_SERVER} is missing: install redis-server")
        print("[infra] redis: installing redis-server with apt-get", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for argv in (
            ["apt-get", "update", "-q"],
            ["apt-get", "install", "-y", "-q", "redis-server"],
        ):
            result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise InfraError(
                    f"`{' '.join(argv)}` failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
                )
        return "installed with apt-get"

    # --- start and stop ----------------------------------------------------

    def prepare(self) -> None:
        self.ensure_installed()
        super().prepare()

    def argv(self) -> list[str]:
        return [
            str(REDIS_SERVER),
            "--port", str(self.cfg.redis_port),
            "--bind", HOST,
            "--dir", str(self.base),
            # Nothing to persist (see the docstring): no snapshots, no append-only file.
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",  # stays our child: its pid is the one in the pid file
            # Keep the command line as given: it names this checkout's data folder,
            # by which `status` and `down` know the process (Redis would rewrite it).
            "--set-proc-title", "no",
        ]

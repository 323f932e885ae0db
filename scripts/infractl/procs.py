"""Process and port helpers: pid files, detached start, stop with a grace period.

Everything reads /proc directly (Linux only), so no psutil is needed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


class InfraError(Exception):
    """A failure whose message is meant for the person running scripts/infra."""


# --- processes -------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """True if the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    # The state letter follows the parenthesised command name, which may hold spaces.
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def describe(pid: int) -> str:
    cmd = cmdline(pid) or "?"
    if len(cmd) > 160:
        cmd = cmd[:157] + "..."
    return f"pid {pid}: {cmd}"


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _parent_map() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def process_tree(pid: int) -> list[int]:
    """The pid and all its descendants (e.g. a postmaster and its backends)."""
    parents = _parent_map()
    tree, frontier = [pid], [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        tree.extend(children)
        frontier.extend(children)
    return tree


def processes_matching(*markers: str) -> list[int]:
    """Live processes whose command line contains every one of ``markers``.

    Finds a checkout's servers even when a pid file was lost (e.g. by `rm -rf .data`).
    """
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != me:
            pid = int(entry.name)
            line = cmdline(pid)
            if all(marker in line for marker in markers) and pid_alive(pid):
                found.append(pid)
    return found


def spawn(
    argv: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen:
    """Start a server in its own session so that it outlives the calling shell."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # setsid: no SIGHUP when the terminal or CI step ends
            close_fds=True,
            env=env,
            cwd=cwd,
        )


def stop_tree(pid: int, grace: float, term: Callable[[], None] | None = None) -> None:
    """Ask a server to stop (SIGTERM, or ``term``), then SIGKILL whatever is left.

    Raises InfraError if some process of the tree survives even SIGKILL.
    """
    tree = [p for p in process_tree(pid) if pid_alive(p)]
    if not tree:
        return
    if term is not None:
        term()
    else:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    if not wait_for(lambda: not any(pid_alive(p) for p in tree), grace):
        for p in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
        if not wait_for(lambda: not any(pid_alive(p) for p in tree), 10):
            left = ", ".join(describe(p) for p in tree if pid_alive(p))
            raise InfraError(f"processes survived SIGKILL: {left}")


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def wait_until_answers(
    server: LaunchedServer, noun: str, timeout: float, interval: float
) -> None:
    """Wait for ``server.answers()``; fail at once, with its log, if the process died."""

    def ready() -> bool:
        # Right after exec, /proc/<pid>/cmdline can still read empty, so pid() would
        # briefly say "not ours": ask our own child handle when we have one.
        if (server.proc.poll() is not None) if server.proc else not server.pid():
            raise InfraError(
                f"{server.name}: the {noun} died. Last lines of {server.log}:\n{tail(server.log)}"
            )
        return server.answers()

    if not wait_for(ready, timeout, interval):
        raise InfraError(
            f"{server.name}: no answer on {server.where} after {timeout:.0f}s. "
            f"Last lines of {server.log}:\n{tail(server.log)}"
        )


def tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


# --- ports -----------------------------------------------------------------

# Listening sockets on these local addresses collide with a bind to 127.0.0.1.
_CLASHING = {
    "0100007F",  # 127.0.0.1
    "00000000",  # 0.0.0.0
    "00000000000000000000000000000000",  # ::
    "0000000000000000FFFF00000100007F",  # ::ffff:127.0.0.1
}


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            address, hex_port = fields[1].split(":")
            if fields[3] == "0A" and int(hex_port, 16) == port and address in _CLASHING:
                inodes.add(fields[9])
    return inodes


def port_listeners(port: int) -> list[int] | None:
    """Pids listening on ``port`` on loopback/any; [] if none, None if taken by an unknown pid.

    (An unknown owner happens for a process in another pid namespace.)
    """
    inodes = _listening_inodes(port)
    if not inodes:
        return []
    wanted = {f"socket:[{inode}]" for inode in inodes}
    owners = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in wanted:
                        owners.append(int(entry.name))
                        break
    return owners or None


def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def check_port_free(name: str, port: int, ours: set[int]) -> None:
    """Fail clearly if ``port`` is held by a process that is not one of ``ours``."""
    listeners = port_listeners(port)
    if listeners is None:
        raise InfraError(
            f"{name}: port {port} on 127.0.0.1 is already taken by a process this script "
            "cannot see. Stop it, or choose another port (see docs/infra.md)."
        )
    foreign = [pid for pid in listeners if pid not in ours]
    if foreign:
        raise InfraError(
            f"{name}: port {port} on 127.0.0.1 is already taken by a foreign process "
            f"({describe(foreign[0])}). If it is another checkout's server, run "
            "`scripts/infra down` there; or pick other ports with CINEMA_PG_PORT, "
            "CINEMA_KAFKA_PORT, CINEMA_KAFKA_CONTROLLER_PORT, CINEMA_MONGO_PORT, CINEMA_REDIS_PORT, "
            "CINEMA_STRIPE_PORT, CINEMA_MAILPIT_SMTP_PORT, CINEMA_MAILPIT_HTTP_PORT."
        )


def running_pid(pidfile: Path, marker: Path) -> int | None:
    """The pid in ``pidfile`` if it runs and its command line names ``marker`` (a path of
    this checkout's): a stale file whose pid was reused by another process is not ours."""
    pid = read_pid(pidfile)
    if pid and pid_alive(pid) and str(marker) in cmdline(pid):
        return pid
    return None


class LaunchedServer:
    """A server this checkout launches itself, in .data/<name>, known by its pid file.

    Launching, waiting and stopping are the same for every such server; each subclass
    says what differs: its command (``argv``, ``env``, ``cwd``), what to do before it
    (``prepare``), the marks of its command line, its readiness poll and its stop grace.
    """

    name: str
    title: str  # how the header line in its log names it
    marker: Path  # a path in the server's command line that names this checkout
    strays_marked_by: tuple[str, ...]  # in the command line of each of this checkout's processes
    noun = "server"  # what a failure to start calls it
    ready_timeout: float = 30
    ready_interval: float = 0.05  # between two `answers()` while it starts
    stop_grace: float = 10  # after SIGTERM, before SIGKILL

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self.base: Path = cfg.data / self.name
        self.log = self.base / f"{self.name}.log"
        self.pidfile = self.base / f"{self.name}.pid"
        self.proc: subprocess.Popen | None = None  # set when this run launched it

    def pid(self) -> int | None:
        return running_pid(self.pidfile, self.marker)

    @property
    def where(self) -> str:
        """The address it serves on."""
        raise NotImplementedError

    def answers(self) -> bool:
        """Whether the server takes requests (each server asks in its own way)."""
        raise NotImplementedError

    def ports(self) -> tuple[int, ...]:
        """The ports it listens on."""
        raise NotImplementedError

    def check_port(self) -> None:
        """Fail clearly if one of its ports is held by a process that is not this server."""
        pid = self.pid()
        ours = set(process_tree(pid)) if pid else set()
        for port in self.ports():
            check_port_free(self.name, port, ours)

    # --- what each server says ----------------------------------------------

    def prepare(self) -> None:
        """Everything the command needs before it starts (by default, its folder)."""
        self.base.mkdir(parents=True, exist_ok=True)

    def argv(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str] | None:
        """The server's environment: None inherits this process's."""
        return None

    def cwd(self) -> Path | None:
        return None

    # --- start and stop ----------------------------------------------------

    def launch(self) -> str:
        """Start the server without waiting for it (see wait_ready); returns what happened."""
        if self.pid():
            return "already up"
        self.prepare()
        with self.log.open("a") as log:
            log.write(f"\n===== scripts/infra: starting {self.title} =====\n")
        proc = spawn(self.argv(), self.log, env=self.env(), cwd=self.cwd())
        self.pidfile.write_text(f"{proc.pid}\n")
        self.proc = proc
        return "started"

    def wait_ready(self, timeout: float | None = None) -> None:
        wait_until_answers(
            self,
            self.noun,
            self.ready_timeout if timeout is None else timeout,
            self.ready_interval,
        )

    def strays(self) -> list[int]:
        """This checkout's server processes, found by command line (pid file or not)."""
        return processes_matching(*self.strays_marked_by)

    def stop(self) -> bool:
        pids = dict.fromkeys(pid for pid in [self.pid(), *self.strays()] if pid is not None)
        for pid in pids:
            stop_tree(pid, grace=self.stop_grace)
        self.pidfile.unlink(missing_ok=True)
        return bool(pids)


def reserve_ports(ports: list[int]) -> bool:
    """Keep the servers' ports out of the kernel's range for outgoing connections: the
    defaults lie inside it (32768-60999), and a client socket that happened to take one
    (left in TIME-WAIT for a minute) made a restarted Kafka fail to bind. Needs root;
    without it, nothing changes. Returns whether the ports are reserved."""
    path = Path("/proc/sys/net/ipv4/ip_local_reserved_ports")
    try:
        current = path.read_text().strip()
        missing = [str(p) for p in ports if not _in_ranges(p, current)]
        if missing:
            path.write_text(",".join([current, *missing] if current else missing))
        return True
    except OSError:
        return False


def _in_ranges(port: int, spec: str) -> bool:
    for part in filter(None, spec.split(",")):
        low, _, high = part.partition("-")
        if int(low) <= port <= int(high or low):
            return True
    return False


# --- cache lock ------------------------------------------------------------


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Serialize downloads/builds into the shared cache across concurrent checkouts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

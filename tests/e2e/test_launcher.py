"""The launcher as a user runs it (``python -m launcher``): killed with ``kill -9``, it
leaves no service running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from launcher.processes import SERVICES
from tests.e2e.harness import Distributed
from tests.support.paths import E2E_LOGS

pytestmark = pytest.mark.infra


def stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command's name: state, parent pid, ...; None if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def children(parent: int) -> dict[int, str]:
    """The processes ``parent`` started: pid -> command line."""
    found = {}
    for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):
        if (fields := stat(pid)) and int(fields[1]) == parent:
            found[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return found


def running(pid: int) -> bool:
    """Neither gone nor a zombie (dead, waiting to be reaped by whoever adopted it)."""
    fields = stat(pid)
    return fields is not None and fields[0] != "Z"


def test_kill_9_of_the_launcher_ends_its_services(postgres_server, kafka_bootstrap, tmp_path):
    system = Distributed.create(postgres_server, E2E_LOGS)  # own databases, topics and ports
    # -u: lines reach the pipe as they would a terminal; logs go to tmp_path/.data/logs.
    launcher = subprocess.Popen([sys.executable, "-u", "-m", "launcher"], cwd=tmp_path,
                                env={**os.environ, **system.local.env},
                                stdout=subprocess.PIPE, text=True)
    services: dict[int, str] = {}
    try:
        said = []
        for line in launcher.stdout:  # until its services are ready, or it exits
            said.append(line)
            if line.startswith("ready."):
                break
        assert launcher.poll() is None, f"the launcher exited: {''.join(said)}"
        services = children(launcher.pid)
        assert sorted(cmd.split()[-1] for cmd in services.values()) == sorted(SERVICES)
        launcher.send_signal(signal.SIGKILL)
        launcher.wait()
        deadline = time.monotonic() + 10
        while (left := [cmd for pid, cmd in services.items() if running(pid)]) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.1)
        assert not left, f"still running after the launcher was killed: {left}"
    finally:
        if launcher.poll() is None:
            launcher.terminate()  # it stops its services
            launcher.wait(60)
        for pid in services:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
        system.close()  # databases, views, topics

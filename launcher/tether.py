"""Children that end when the process that started them dies, even by ``kill -9``.

On Linux ``spawn`` runs ``python -m launcher.tether PARENT_PID COMMAND...``, which asks
the kernel to kill it when its parent dies (PR_SET_PDEATHSIG), then execs COMMAND in its
place: the same pid, and the request survives exec. The request is made after exec, not
in a ``preexec_fn``, which can deadlock in the child of a parent with threads. Other
systems have no such request: there ``spawn`` runs COMMAND as it is.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

# The kernel kills the child when the *thread* that forked it ends, not its process: one
# thread forks every child, whichever thread asks, and it ends when the interpreter exits.
_forker = ThreadPoolExecutor(1, thread_name_prefix="forker")


def spawn(argv: list[str], **popen: Any) -> subprocess.Popen:
    """``subprocess.Popen(argv, **popen)`` for a child that must not outlive this process."""
    if sys.platform == "linux":
        argv = [sys.executable, "-m", "launcher.tether", str(os.getpid()), *argv]
    return _forker.submit(lambda: subprocess.Popen(argv, **popen)).result()


def main(argv: list[str]) -> None:
    parent, command = int(argv[0]), argv[1:]
    # SIGKILL, not SIGTERM: with the parent gone, nobody could end a child stuck in its
    # shutdown, and the services lose nothing on kill -9 (tests/e2e/test_faults.py).
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL)) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # it died before the request, so no signal will come
        sys.exit(1)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])

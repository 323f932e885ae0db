"""A crash point for a service's process: it kills itself (SIGKILL: kill -9) right after
one of its calls to the outside world answered, before it could record the answer. The
crash tests run such a process in the place of the service's own
(``LocalSystem.modules``: tests/support/crashing_payment.py,
tests/support/crashing_notifications.py).

    CINEMA_TEST_CRASH_AFTER=<call>:<n>   die once this process's n-th <call> answered;
                                         unset: the service as it is

Each start counts from zero: a service started again with the same setting dies again.
Before dying it writes ``CRASH_LINE``, the call and what it was about to its log.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

VARIABLE = "CINEMA_TEST_CRASH_AFTER"
CRASH_LINE = "crash point: killed after"  # then "<call> answered <what>"


def crash_point() -> tuple[str, int] | None:
    """The call and the count ``CINEMA_TEST_CRASH_AFTER`` names, if any."""
    setting = os.environ.get(VARIABLE, "")
    if not setting:
        return None
    call, _, n = setting.partition(":")
    return call, int(n or 1)


class DiesAfter:
    """``target``, by delegation, whose process dies once its n-th ``call`` answered;
    ``what(answer, args)`` names what the call was about in the crash line."""

    def __init__(self, target: Any, call: str, n: int,
                 what: Callable[[Any, tuple[Any, ...]], str]) -> None:
        self.target, self.call, self.n, self.what = target, call, n, what
        self.answered = 0
        self.lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.target, name)
        if name != self.call:
            return method

        def answered_then_die(*args: Any, **kwargs: Any) -> Any:
            answer = method(*args, **kwargs)
            with self.lock:
                self.answered += 1
                if self.answered >= self.n:
                    # One write, newline and all: the other threads' log lines (payment
                    # calls its provider from several) never land inside it.
                    sys.stderr.flush()
                    os.write(2, f"\n{CRASH_LINE} {name} answered "
                                f"{self.what(answer, args)}\n".encode())
                    os.kill(os.getpid(), signal.SIGKILL)
            return answer

        return answered_then_die

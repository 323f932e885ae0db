"""The payment service's process, killed (SIGKILL: kill -9) right after its payment provider
answered a chosen call, before the service could record the answer. The crash tests run
it in the place of ``python -m payment`` (``LocalSystem.modules``), as the simulation's
``CrashingProvider`` stands in for its provider.

    CINEMA_TEST_CRASH_AFTER=<call>:<n>   die once the provider answered this process's
                                         n-th <call> (create_intent, confirm, cancel,
                                         refund, retrieve); unset: payment as it is

Each start counts from zero: payment started again with the same setting dies again.
Before dying it writes ``CRASH_LINE`` with the call and the intent to its log.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

import payment.wiring
from launcher.bootstrap import main
from payment.intents import PaymentProvider
from shared.clock import Clock
from shared.config import Settings

VARIABLE = "CINEMA_TEST_CRASH_AFTER"
CRASH_LINE = "crash point: killed after"  # then "<call> answered <intent id>"


class DyingProvider:
    """The provider, whose process dies once it answered its n-th ``call``."""

    def __init__(self, provider: PaymentProvider, call: str, n: int) -> None:
        self.provider, self.call, self.n = provider, call, n
        self.answered = 0
        self.lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.provider, name)
        if name != self.call:
            return method

        def answered_then_die(*args: Any, **kwargs: Any) -> Any:
            answer = method(*args, **kwargs)
            with self.lock:
                self.answered += 1
                if self.answered >= self.n:
                    intent = getattr(answer, "intent_id", "")
                    print(f"{CRASH_LINE} {name} answered {intent}", file=sys.stderr, flush=True)
                    os.kill(os.getpid(), signal.SIGKILL)
            return answer

        return answered_then_die


def dying(settings: Settings, clock: Clock | None = None) -> PaymentProvider:
    provider = making(settings, clock)
    call, _, n = os.environ[VARIABLE].partition(":")
    dies: Any = DyingProvider(provider, call, int(n or 1))
    return dies  # a PaymentProvider by delegation


making = payment.wiring.make_provider

if __name__ == "__main__":
    if os.environ.get(VARIABLE):
        payment.wiring.make_provider = dying  # application() builds its provider with it
    main("payment")

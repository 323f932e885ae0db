"""The payment service's process, killed (SIGKILL: kill -9) right after its payment provider
answered a chosen call, before the service could record the answer. The crash tests run
it in the place of ``python -m payment`` (``LocalSystem.modules``), as the simulation's
``CrashingProvider`` stands in for its provider.

    CINEMA_TEST_CRASH_AFTER=<call>:<n>   die once the provider answered this process's
                                         n-th <call> (create_intent, confirm, cancel,
                                         refund, retrieve); unset: payment as it is

Each start counts from zero (tests/support/crash_point.py). Before dying it writes
``CRASH_LINE`` with the call and the intent to its log.
"""

from __future__ import annotations

from typing import Any

import payment.wiring
from launcher.bootstrap import main
from payment.intents import PaymentProvider
from shared.clock import Clock
from shared.config import Settings
from tests.support.crash_point import CRASH_LINE, VARIABLE, DiesAfter, crash_point

__all__ = ["CRASH_LINE", "VARIABLE"]


def dying(settings: Settings, clock: Clock | None = None) -> PaymentProvider:
    call, n = crash_point() or ("", 0)
    dies: Any = DiesAfter(making(settings, clock), call, n,
                          lambda answer, _: getattr(answer, "intent_id", ""))
    return dies  # a PaymentProvider by delegation


making = payment.wiring.make_provider

if __name__ == "__main__":
    if crash_point():
        payment.wiring.make_provider = dying  # application() builds its provider with it
    main("payment")

"""The notification service's process, killed (SIGKILL: kill -9) right after one of its
channels accepted a message (Mailpit stored the email, the push service took the push),
before the service could record it sent. The fault tests run it in the place of
``python -m notifications`` (``LocalSystem.modules``).

    CINEMA_TEST_CRASH_AFTER=send:<n>   die once this process's channels accepted n
                                       messages; unset: the service as it is

Each start counts from zero (tests/support/crash_point.py). Before dying it writes
``CRASH_LINE``, ``send answered`` and the message's Message-ID to its log.
"""

from __future__ import annotations

from typing import Any

import notifications.wiring
from launcher.bootstrap import main
from notifications.sending import Channels
from shared.config import Settings
from tests.support.crash_point import CRASH_LINE, VARIABLE, DiesAfter, crash_point

__all__ = ["CRASH_LINE", "VARIABLE"]


def dying(settings: Settings) -> Channels:
    call, n = crash_point() or ("", 0)
    dies: Any = DiesAfter(making(settings), call, n, lambda _, args: args[0].message_id)
    return dies  # Channels by delegation


making = notifications.wiring.channels_from

if __name__ == "__main__":
    if crash_point():
        notifications.wiring.channels_from = dying  # application() builds its channels so
    main("notifications")

"""Channels that keep what they are given, in memory: the embedded runtime's, the
simulation's and the fast tests'. They can be told to refuse: for a while (an outage,
retryable) or some destinations for good (an address the server refuses), and to stop
the process right after accepting a message (a crash between the send and its record).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from notifications.channels import DeliveryFailed, Email, Push


class Crash(BaseException):
    """The process dies right after the provider accepted a message (not an Exception:
    nothing on the way catches it)."""


@dataclass
class Recording:
    accepted: list[Email | Push] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (message id, reason)
    outage: str | None = None  # set: every send is refused (retryable) with this reason
    refused_for_good: set[str] = field(default_factory=set)  # destinations refused, permanently
    crash_after_next: bool = False  # the next accepted send is followed by a Crash
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self, message: Email | Push, destination: str) -> None:
        with self._lock:
            if self.outage is not None:
                self.refused.append((message.message_id, self.outage))
                raise DeliveryFailed(self.outage)
            if destination in self.refused_for_good:
                self.refused.append((message.message_id, "refused for good"))
                raise DeliveryFailed(f"{destination} refused", permanent=True)
            self.accepted.append(message)
            crash, self.crash_after_next = self.crash_after_next, False
        if crash:
            raise Crash(message.message_id)

    def times_sent(self) -> Counter[str]:
        """How often each message id was accepted."""
        with self._lock:
            return Counter(m.message_id for m in self.accepted)


class RecordingEmail(Recording):
    def send(self, email: Email) -> None:
        self.take(email, email.to)


class RecordingPush(Recording):
    def send(self, push: Push) -> None:
        self.take(push, push.subscription.endpoint)

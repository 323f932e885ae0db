"""The channels this service sends through, by the name its notifications give them."""

from __future__ import annotations

from dataclasses import dataclass

from notifications.channels import Email, EmailChannel, Push, PushChannel
from notifications.contact import EMAIL, PUSH


@dataclass(frozen=True)
class Channels:
    email: EmailChannel | None = None
    push: PushChannel | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The channels there are: a notice is addressed on these only."""
        return tuple(n for n, c in ((EMAIL, self.email), (PUSH, self.push)) if c is not None)

    def send(self, message: Email | Push) -> None:
        """Hand a message to its channel: returns once accepted, else DeliveryFailed."""
        if isinstance(message, Email):
            assert self.email is not None, "an email is addressed only with an email channel"
            self.email.send(message)
        else:
            assert self.push is not None, "a push is addressed only with a push channel"
            self.push.send(message)

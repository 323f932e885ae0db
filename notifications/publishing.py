"""Notifications publishes no public event: nothing in the choreography waits for a
message, and what one says (an address, a language) is the customer's to keep here."""

from __future__ import annotations

from typing import Any

from shared import contracts as c


def to_public(domain_event: Any) -> c.PublicEvent | None:
    return None

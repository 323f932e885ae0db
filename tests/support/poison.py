"""Messages for inventory's inbox, good and bad, and a handler that fails for one booking:
what the dead-letter tests publish between good messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from inventory.domain import ShowInventory
from shared import contracts as c

SHOW = "show-dl"
SEATS = {f"A{n}": "std" for n in range(1, 9)}
PRICES = {"std": 1000}
AT = datetime(2030, 1, 1, 18, 0, tzinfo=UTC)

GARBAGE = b"\x00\xffnot json at all"
# A newer producer's version, which this code does not read yet.
UNKNOWN_VERSION = json.dumps({
    "type": "BookingRequested.v2", "event_id": "booking/x/1", "occurred_at": AT.isoformat(),
    "show_id": SHOW, "booking_id": str(uuid4()), "customer_id": "ann", "seat_ids": ["A8"],
}).encode()


def requested(seat: str, booking_id: UUID | None = None, customer: str = "ann") -> tuple[UUID, bytes]:
    """A booking's request for one seat of SHOW, as booking publishes it."""
    booking_id = booking_id or uuid4()
    message = c.BookingRequested(
        event_id=f"booking/{booking_id}/1", occurred_at=AT, show_id=SHOW, booking_id=booking_id,
        customer_id=customer, seat_ids=[seat], payment_method="pm_card_visa",
    )
    return booking_id, c.encode(message)


@contextmanager
def failing_for(monkeypatch: pytest.MonkeyPatch, booking_id: UUID,
                error: Exception | None = None, times: int | None = None) -> Iterator[list[UUID]]:
    """Inventory's handler raises ``error`` (a ValueError: a fault of the message) for
    this booking's request, the first ``times`` times (None: every time) until the block
    ends; yields the tries."""
    tries: list[UUID] = []
    original = ShowInventory.request_hold

    def request_hold(self: ShowInventory, bid: UUID, *args: Any, **kwargs: Any) -> None:
        if bid == booking_id and (times is None or len(tries) < times):
            tries.append(bid)
            raise error or ValueError(f"cannot take booking {bid}")
        original(self, bid, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(ShowInventory, "request_hold", request_hold)
        yield tries

"""The event streams the views are folded from: each service's own event store.

The stores are the source of truth (Kafka topics may expire), so projectors read
the services' notification logs directly and map them through each service's
public contracts: views depend only on ``shared.contracts``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import Application
from eventsourcing.utils import EnvType

from booking.publishing import to_public as booking_public
from inventory.publishing import to_public as inventory_public
from payment.publishing import to_public as payment_public
from projections.projector import Event
from shared.contracts import PublicEvent

# stream -> (the service application's name, which names its tables; its mapping)
STREAMS: dict[str, tuple[str, Callable[[Any], PublicEvent | None]]] = {
    "booking": ("BookingService", booking_public),
    "inventory": ("InventoryService", inventory_public),
    "payment": ("PaymentService", payment_public),
}


class StreamReader(Application):
    """Read access to one service's store, under that service's application name."""

    def __init__(self, stream: str, env: EnvType | None = None) -> None:
        self.stream = stream
        self.name, self._to_public = STREAMS[stream]
        super().__init__(env)

    def to_public(self, domain_event: Any) -> PublicEvent | None:
        return self._to_public(domain_event)


@dataclass(frozen=True)
class Batch:
    events: list[Event]
    last: int | None  # last notification id read (public or not)
    oldest_timestamp: Any = None  # when the first event of the batch was recorded


def read_public(app: Any, start: int, limit: int = 1000) -> Batch:
    """The next notifications from ``start`` as (stream, position, public event)."""
    stream = getattr(app, "stream", None) or app.service
    notifications = app.recorder.select_notifications(start=start, limit=limit)
    events: list[Event] = []
    oldest = None
    for n in notifications:
        domain_event = app.mapper.to_domain_event(n)
        oldest = oldest or domain_event.timestamp
        public = app.to_public(domain_event)
        if public is not None:
            events.append((stream, n.id, public))
    return Batch(events, notifications[-1].id if notifications else None, oldest)

"""Which theatre events are public, and their contracts. A screen's schedule is
private: its slots are the shows' own times, which the shows' events publish."""

from __future__ import annotations

from typing import Any

from shared import contracts as c
from theatre.domain import Screen, Show, Theatre


def to_public(e: Any) -> c.PublicEvent | None:
    event_id = c.event_id("theatre", e.originator_id, e.originator_version)
    if isinstance(e, Theatre.Registered):
        return c.TheatreRegistered(
            event_id=event_id, occurred_at=e.at, theatre_id=e.theatre_id, name=e.name,
            city=e.city, address=e.address, time_zone=e.time_zone,
        )
    if isinstance(e, (Screen.LaidOut, Screen.LayoutChanged)):
        return c.ScreenLaidOut(
            event_id=event_id, occurred_at=e.at, theatre_id=e.theatre_id,
            screen_id=e.screen_id, name=e.name,
            # The first layout is version 1; its event is the screen's creation.
            layout_version=getattr(e, "layout_version", 1),
            seats=[c.Seat(**seat) for seat in e.seats],
        )
    if isinstance(e, Show.Scheduled):
        return c.ShowScheduled(
            event_id=event_id, occurred_at=e.at, show_id=e.show_id, theatre_id=e.theatre_id,
            screen_id=e.screen_id, layout_version=e.layout_version, film=c.Film(**e.film),
            starts_at=e.starts_at, ends_at=e.ends_at, local_start=e.local_start,
            seats=dict(e.seats), prices=dict(e.prices), currency=e.currency,
        )
    if isinstance(e, Show.Rescheduled):
        return c.ShowRescheduled(
            event_id=event_id, occurred_at=e.at, show_id=e.show_id, theatre_id=e.theatre_id,
            starts_at=e.starts_at, ends_at=e.ends_at, local_start=e.local_start,
        )
    if isinstance(e, Show.Cancelled):
        return c.ShowCancelled(event_id=event_id, occurred_at=e.at, show_id=e.show_id,
                               theatre_id=e.theatre_id, reason=e.reason)
    if isinstance(e, Show.SeatsWithdrawn):
        return c.SeatsWithdrawn(event_id=event_id, occurred_at=e.at, show_id=e.show_id,
                                theatre_id=e.theatre_id, seat_ids=list(e.seat_ids),
                                reason=e.reason)
    return None

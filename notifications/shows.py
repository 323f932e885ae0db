"""What the messages say of a show and its theatre, kept from the theatre's events
(the service reads no other service's store): film, screen, start in the theatre's time
zone, the theatre's name and address. No I/O.

A show opened by an operator straight in inventory has no theatre facts: its messages
name the show only.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import event

from shared import ids
from shared.aggregate import Aggregate


class ShowDetails(Aggregate):
    TOPIC = "cinema.notifications:ShowDetails"

    class Created(Aggregate.Created):
        TOPIC = "cinema.notifications:ShowDetails.Created"

    @staticmethod
    def create_id(show_id: str) -> UUID:
        return ids.show_details_id(show_id)

    @event("Scheduled", topic="cinema.notifications:ShowDetails.Scheduled")
    def __init__(self, show_id: str, theatre_id: str, screen_id: str, film: str,
                 starts_at: datetime, local_start: str) -> None:
        self.show_id, self.theatre_id, self.screen_id = show_id, theatre_id, screen_id
        self.film = film
        self.starts_at = starts_at
        self.local_start = local_start  # ISO 8601 with the theatre's offset
        self.cancelled = False

    def reschedule(self, starts_at: datetime, local_start: str) -> bool:
        if (starts_at, local_start) == (self.starts_at, self.local_start):
            return False
        self._reschedule(starts_at=starts_at, local_start=local_start)
        return True

    @event("Rescheduled", topic="cinema.notifications:ShowDetails.Rescheduled")
    def _reschedule(self, starts_at: datetime, local_start: str) -> None:
        self.starts_at, self.local_start = starts_at, local_start

    def cancel(self) -> bool:
        if self.cancelled:
            return False
        self._cancel()
        return True

    @event("Cancelled", topic="cinema.notifications:ShowDetails.Cancelled")
    def _cancel(self) -> None:
        self.cancelled = True


class TheatreDetails(Aggregate):
    TOPIC = "cinema.notifications:TheatreDetails"

    class Created(Aggregate.Created):
        TOPIC = "cinema.notifications:TheatreDetails.Created"

    @staticmethod
    def create_id(theatre_id: str) -> UUID:
        return ids.theatre_details_id(theatre_id)

    @event("Registered", topic="cinema.notifications:TheatreDetails.Registered")
    def __init__(self, theatre_id: str, name: str, city: str, address: str,
                 time_zone: str) -> None:
        self.theatre_id, self.name, self.city = theatre_id, name, city
        self.address, self.time_zone = address, time_zone
        self.screens: dict[str, str] = {}  # screen id -> its name

    def name_screen(self, screen_id: str, name: str) -> bool:
        if self.screens.get(screen_id) == name:
            return False
        self._name_screen(screen_id=screen_id, name=name)
        return True

    @event("ScreenNamed", topic="cinema.notifications:TheatreDetails.ScreenNamed")
    def _name_screen(self, screen_id: str, name: str) -> None:
        self.screens[screen_id] = name

"""What booking has heard from inventory about seats that are held or sold.

Booking consumes inventory's events anyway (to move its bookings along); from the same
events it keeps, per show, the seats inventory holds or has sold and for which booking.
A request for a seat it knows is taken is refused at once (409) instead of being
recorded, sent round the saga and rejected by inventory a hop later: in a rush on a
popular show most requests are for seats already gone, and this makes each of them a
lookup in memory instead of three writes in two services, three Kafka messages and
their view updates.

Advisory only; inventory decides. Messages about a show arrive in inventory's order
(one partition per show), so this is inventory's state as of the last message booking
has processed: a request it lets through may still be rejected there, and one it
refuses may have just missed a release (the client can ask again). It starts empty
(after a restart it learns again from the messages that follow), forgets everything
when the instance is no longer given some partitions (another instance follows those
shows now, and what is known of them would go stale), and keeps the most recently
touched shows only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

UNKNOWN = ""  # holder not known: learned from a rejection, which names seats, not holders


class TakenSeats:
    def __init__(self, max_shows: int = 10_000) -> None:
        self.max_shows = max_shows
        self._shows: OrderedDict[str, dict[str, str]] = OrderedDict()  # show -> seat -> holder
        self._lock = threading.Lock()  # HTTP threads read while the consumer writes

    def held(self, show_id: str, seat_ids: Iterable[str], booking_id: str) -> None:
        """Inventory reserved or sold these seats for this booking."""
        with self._lock:
            seats = self._show(show_id)
            for seat in seat_ids:
                seats[seat] = booking_id

    def refused(self, show_id: str, seat_ids: Iterable[str]) -> None:
        """Inventory rejected a request because these seats were taken (by someone)."""
        with self._lock:
            seats = self._show(show_id)
            for seat in seat_ids:
                seats.setdefault(seat, UNKNOWN)

    def released(self, show_id: str, seat_ids: Iterable[str]) -> None:
        """Inventory let these seats go (expired hold, cancelled booking)."""
        with self._lock:
            seats = self._shows.get(show_id)
            if seats is not None:
                for seat in seat_ids:
                    seats.pop(seat, None)

    def taken(self, show_id: str, seat_ids: Iterable[str], apart_from: str) -> list[str]:
        """The seats asked for that are known to be held or sold for a booking other
        than ``apart_from`` (the request's own booking, if it was made before)."""
        with self._lock:
            seats = self._shows.get(show_id)
            if not seats:
                return []
            return [s for s in seat_ids if s in seats and seats[s] != apart_from]

    def known(self) -> dict[str, dict[str, str]]:
        """A copy of what is known: show -> seat -> holding booking (UNKNOWN: someone)."""
        with self._lock:
            return {show: dict(seats) for show, seats in self._shows.items()}

    def forget(self) -> None:
        """Know nothing (this instance stopped following some shows' messages)."""
        with self._lock:
            self._shows.clear()

    def _show(self, show_id: str) -> dict[str, str]:
        seats = self._shows.get(show_id)
        if seats is None:
            seats = self._shows[show_id] = {}
            while len(self._shows) > self.max_shows:
                self._shows.popitem(last=False)
        else:
            self._shows.move_to_end(show_id)
        return seats

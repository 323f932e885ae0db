"""What booking has heard from inventory about seats that are held or sold.

Booking consumes inventory's events anyway (to move its bookings along); from the same
events it keeps, per show, the seats inventory holds or has sold and for which booking.
A request for a seat it knows is taken is refused at once (409) instead of being
recorded, sent round the saga and rejected by inventory a hop later: in a rush on a
popular show most requests are for seats already gone, and this makes each of them a
lookup in memory instead of three writes in two services, three Kafka messages and
their view updates.

Booking also claims the seats of each booking it records until inventory has answered
for it: a request for a seat another booking has asked for first, still unanswered, is
refused too. Inventory decides one show's requests in the order booking recorded them,
so the later request would lose there anyway (unless the first is rejected for a reason
of its own, such as its customer's hold limit: then the seat is free again as soon as
that answer arrives). In a rush this tells the losers who ask within the first hop's
time at once, instead of a saga later.

Advisory only; inventory decides. Messages about a show arrive in inventory's order
(one partition per show), so this is inventory's state as of the last message booking
has processed: a request it lets through may still be rejected there, and one it
refuses may have just missed a release (the client can ask again). It starts empty
(after a restart it learns again from the messages that follow), forgets everything
when the instance is no longer given some partitions (another instance follows those
shows now, and what is known of them would go stale), and keeps the most recently
touched shows only. A claim lapses after ``claim_ttl`` seconds in any case: with several
booking instances, the answer may reach another one. What the instances know together
is shared through Redis (shared_claims.py); this is what one knows without it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import NamedTuple

from shared.config import Tuning

UNKNOWN = ""  # holder not known: learned from a rejection, which names seats, not holders


class Claim(NamedTuple):
    taken: list[str]  # seats held, sold or claimed for another booking: nothing was claimed
    claimed: list[str]  # seats claimed now for this booking (not those it had claimed before)


class _Show:
    __slots__ = ("claims", "holders")

    def __init__(self) -> None:
        self.holders: dict[str, str] = {}  # seat -> holding booking, as inventory said
        self.claims: dict[str, tuple[str, float]] = {}  # seat -> (booking, lapses at)


class TakenSeats:
    def __init__(self, max_shows: int = 10_000, claim_ttl: float = Tuning.seat_claim_s,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_shows, self.claim_ttl, self.clock = max_shows, claim_ttl, clock
        self._shows: OrderedDict[str, _Show] = OrderedDict()
        self._lock = threading.Lock()  # HTTP threads claim while the consumer learns

    def taken_by(self, show_id: str, seat_ids: Iterable[str], booking_id: str) -> None:
        """Inventory reserved or sold these seats for this booking."""
        with self._lock:
            show = self._show(show_id)
            for seat in seat_ids:
                show.holders[seat] = booking_id
                show.claims.pop(seat, None)

    def rejected(self, show_id: str, booking_id: str, taken: Iterable[str] = ()) -> None:
        """Inventory rejected this booking's request: its claims go; ``taken`` names the
        seats it was rejected for, if they were taken (by someone)."""
        with self._lock:
            show = self._show(show_id)
            for seat in [s for s, (b, _) in show.claims.items() if b == booking_id]:
                del show.claims[seat]
            for seat in taken:
                show.holders.setdefault(seat, UNKNOWN)

    def released(self, show_id: str, seat_ids: Iterable[str]) -> None:
        """Inventory let these seats go (expired hold, cancelled booking)."""
        with self._lock:
            show = self._shows.get(show_id)
            if show is not None:
                for seat in seat_ids:
                    show.holders.pop(seat, None)
                    show.claims.pop(seat, None)

    def claim(self, show_id: str, seat_ids: list[str], booking_id: str) -> Claim:
        """All or nothing: the seats are claimed for this booking unless one of them is
        held, sold or claimed for another (``taken``; the request's own booking, if it
        was made before, does not count)."""
        with self._lock:
            show, now = self._show(show_id), self.clock()
            taken = [s for s in seat_ids if self._holder(show, s, now) not in (None, booking_id)]
            if taken:
                return Claim(taken, [])
            claimed = [s for s in seat_ids if s not in show.holders and s not in show.claims]
            lapses = now + self.claim_ttl
            for seat in claimed:
                show.claims[seat] = (booking_id, lapses)
            return Claim([], claimed)

    def unclaim(self, show_id: str, seat_ids: Iterable[str], booking_id: str) -> None:
        """Withdraw this booking's claims on these seats (it was not recorded after all)."""
        with self._lock:
            show = self._shows.get(show_id)
            if show is not None:
                for seat in seat_ids:
                    if show.claims.get(seat, ("",))[0] == booking_id:
                        del show.claims[seat]

    def known(self) -> dict[str, dict[str, str]]:
        """A copy of what inventory said: show -> seat -> holding booking (UNKNOWN: someone)."""
        with self._lock:
            return {sid: dict(show.holders) for sid, show in self._shows.items() if show.holders}

    def claimed(self) -> dict[str, dict[str, str]]:
        """A copy of the claims still waiting for inventory: show -> seat -> booking."""
        with self._lock:
            now = self.clock()
            out = {sid: {s: b for s, (b, lapses) in show.claims.items() if lapses > now}
                   for sid, show in self._shows.items()}
            return {sid: seats for sid, seats in out.items() if seats}

    def forget(self) -> None:
        """Know nothing (this instance stopped following some shows' messages)."""
        with self._lock:
            self._shows.clear()

    @staticmethod
    def _holder(show: _Show, seat: str, now: float) -> str | None:
        if seat in show.holders:
            return show.holders[seat]
        claim = show.claims.get(seat)
        if claim is None:
            return None
        if claim[1] <= now:  # lapsed: the answer went elsewhere, or never came
            del show.claims[seat]
            return None
        return claim[0]

    def _show(self, show_id: str) -> _Show:
        show = self._shows.get(show_id)
        if show is None:
            show = self._shows[show_id] = _Show()
            while len(self._shows) > self.max_shows:
                self._shows.popitem(last=False)
        else:
            self._shows.move_to_end(show_id)
        return show

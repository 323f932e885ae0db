"""What the query endpoints ask of the read side: the interface, not its storage.

The services' HTTP handlers depend on this protocol only; the composition root hands
them the MongoDB views (projections.queries.MongoQueries) or, embedded, the in-memory
ones. A client that must see its own write passes the consistency token it got back
(``"booking:1234"``: a stream and a position in it); the query then waits, bounded,
until the views have projected that far.
"""

from __future__ import annotations

import re
import time
from typing import Any, Protocol, runtime_checkable

from shared.services import PROJECTED

# A consistency token: a projected stream and a position in it.
TOKEN_PATTERN = rf"^({'|'.join(PROJECTED)}):[0-9]{{1,18}}$"
_TOKEN = re.compile(TOKEN_PATTERN)
# How long a read waits, at most, for the views to show a token's write (read at each
# call: the API fuzzer sets it to 0, as its tokens name writes that never happened).
TOKEN_WAIT_S = 2.0


class BadToken(ValueError):
    pass


def parse_token(token: str) -> tuple[str, int]:
    if not _TOKEN.match(token):
        raise BadToken(f"a consistency token looks like {PROJECTED[0]}:1234")
    stream, _, position = token.partition(":")
    return stream, int(position)


@runtime_checkable
class ViewQueries(Protocol):
    def booking(self, booking_id: str) -> dict[str, Any] | None: ...
    def customer_bookings(self, customer_id: str, limit: int) -> list[dict[str, Any]]: ...
    def seat_map(self, show_id: str) -> dict[str, Any] | None: ...
    def payment(self, booking_id: str) -> dict[str, Any] | None: ...
    def position(self, stream: str) -> int: ...


@runtime_checkable
class CatalogueQueries(Protocol):
    """What's on: the catalogue, folded from theatre's events and inventory's seat counts.
    Lists are sorted (shows by start time, then show id; theatres by city, then name)
    and paged with ``offset`` and ``limit``; a filter left None does not filter."""

    def shows(self, *, city: str | None = None, day: str | None = None,
              theatre_id: str | None = None, film: str | None = None,
              include_cancelled: bool = False, offset: int = 0,
              limit: int = 50) -> list[dict[str, Any]]:
        """Shows on sale; ``day`` is a local date (YYYY-MM-DD) in the theatre's time zone;
        ``film`` matches the title, case-insensitively."""
        ...

    def show(self, show_id: str) -> dict[str, Any] | None:
        """A show with its film, theatre, screen, layout (every seat, with its state) and
        live seat counts."""
        ...

    def theatres(self, *, city: str | None = None, offset: int = 0,
                 limit: int = 50) -> list[dict[str, Any]]: ...

    def theatre(self, theatre_id: str) -> dict[str, Any] | None:
        """A theatre with its screens (each with its current layout version)."""
        ...


def wait_for(views: ViewQueries, token: str | None, timeout: float | None = None) -> bool:
    """Wait until the views reflect the token's write (``TOKEN_WAIT_S`` by default);
    False if they did not in time."""
    if not token:
        return True
    stream, position = parse_token(token)
    deadline = time.monotonic() + (TOKEN_WAIT_S if timeout is None else timeout)
    while views.position(stream) < position:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True

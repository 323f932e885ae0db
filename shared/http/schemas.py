"""Schema building blocks shared by the services' request and response bodies.

Requests are strict (unknown fields are errors, every size is bounded) so that a
typo in a client surfaces as a 400 naming the field, never as a silent default.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, overload

import msgspec
from litestar.params import QueryParameter

from shared.views import TOKEN_PATTERN

ShowId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
SeatId = Annotated[str, msgspec.Meta(min_length=1, max_length=16)]
# Stripe-style test tokens, e.g. pm_card_visa; the payment provider decides what they do.
PaymentMethod = Annotated[
    str, msgspec.Meta(pattern=r"^pm_[A-Za-z0-9_]{1,64}$", examples=["pm_card_visa"])
]
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$", examples=["EUR"])]
# Money is always integer minor units (cents) next to its currency.
MinorUnits = Annotated[int, msgspec.Meta(ge=0, le=10_000_000)]


class RequestBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Base of every request body."""


class ResponseBody(msgspec.Struct, frozen=True):
    """Base of every response body."""


@overload
def utc(moment: datetime) -> datetime: ...
@overload
def utc(moment: None) -> None: ...
def utc(moment: datetime | None) -> datetime | None:
    """Times leave the API as ISO-8601 in UTC, whatever zone the store kept."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# Writes answer with a position; reads accept it to wait until the views show the write.
TOKEN_HEADER = "X-Consistency-Token"


def stale_header(fresh: bool) -> dict[str, str]:
    """Said when a read waited for a consistency token in vain: the view may be behind."""
    return {} if fresh else {"X-View-Stale": "true"}


def consistency_token(service: Any, position: int | None) -> dict[str, str]:
    """The header that names a write's position in the service's event sequence, for
    read-your-writes on the views. A command that wrote nothing now (a repeat): the
    store's head, which is at or after whatever it repeats."""
    if position is None:
        position = service.recorder.max_notification_id() or 0
    return {TOKEN_HEADER: f"{service.service}:{position}"}


# A read's query parameter: the token of the caller's write, to wait for.
ConsistencyToken = Annotated[
    str | None,
    QueryParameter(
        pattern=TOKEN_PATTERN,
        description="The X-Consistency-Token of your write: wait (up to 2 s) until it shows.",
    ),
]

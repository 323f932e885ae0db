"""What operators read of a service's plumbing, on every service: its dead letters
(shared/messaging/dead_letters.py). Replaying them is a command
(``python -m <service> dead-letters replay``), not an HTTP call."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import get
from litestar.handlers import HTTPRouteHandler
from litestar.params import QueryParameter

from shared.http.auth import operator_only
from shared.http.errors import error_responses
from shared.http.schemas import ResponseBody, utc
from shared.messaging.dead_letters import DeadLetter, DeadLetters


class DeadLetterView(ResponseBody, frozen=True):
    id: int
    topic: str
    partition: int
    offset: int
    key: str | None  # as UTF-8, other bytes escaped (\xff)
    value: str  # the same
    reason: str  # undecodable, unknown_contract, invalid_contract, handler_failed
    error: str
    recorded_at: datetime
    replayed_at: datetime | None

    @classmethod
    def of(cls, d: DeadLetter) -> DeadLetterView:
        key = None if d.key is None else d.key.decode("utf-8", "backslashreplace")
        return cls(id=d.id, topic=d.topic, partition=d.partition, offset=d.offset, key=key,
                   value=d.value_text(), reason=d.reason, error=d.error,
                   recorded_at=utc(d.recorded_at), replayed_at=utc(d.replayed_at))


def ops_routes(letters: DeadLetters) -> list[HTTPRouteHandler]:
    @get("/ops/dead-letters", guards=[operator_only], tags=["operations"],
         sync_to_thread=True, responses=error_responses(400, 401, 403))
    def dead_letters(
        include_replayed: Annotated[bool, QueryParameter()] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> list[DeadLetterView]:
        """The messages this service could not take, newest first (operators): those not
        replayed yet, or every one with ``include_replayed``."""
        return [DeadLetterView.of(d)
                for d in letters.listed(pending_only=not include_replayed, limit=limit)]

    return [dead_letters]

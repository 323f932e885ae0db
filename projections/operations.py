"""What an operator asks of the views about sagas: one booking's path across the services
(every event, when, which service, how long each hop took, and its trace), and the
bookings that are stuck (projections/stuck.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

import msgspec

from projections.stuck import IN_FLIGHT, StuckRules, last_moved
from shared.observability import tracing


class SagaNotFound(LookupError):
    """No booking with this id in the views (yet)."""


class SagaViews(Protocol):
    def booking(self, booking_id: str) -> dict[str, Any] | None: ...
    def in_flight_bookings(self, requested_before: datetime) -> list[dict[str, Any]]: ...


class Operations:
    def __init__(self, views: SagaViews, rules: StuckRules, stores: Mapping[str, Any] | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.views = views
        self.rules = rules
        self.stores = stores or {}  # the services' event stores, by name (their readers)
        self.now = now

    def saga(self, booking_id: UUID) -> dict[str, Any]:
        doc = self.views.booking(str(booking_id))
        if doc is None:
            raise SagaNotFound(str(booking_id))
        timeline = doc.get("timeline") or []
        start = timeline[0]["at"] if timeline else None
        steps, previous = [], start
        for entry in timeline:
            steps.append({
                "at": entry["at"],
                "service": entry["event_id"].split("/", 1)[0],  # "<service>/<aggregate>/<v>"
                "event": entry["event"],
                "event_id": entry["event_id"],
                "after_ms": _ms(entry["at"] - previous),  # this hop: since the step before
                "since_start_ms": _ms(entry["at"] - start),
            })
            previous = entry["at"]
        now = self.now()
        verdict = self.rules.verdict(doc, now) if doc["status"] in IN_FLIGHT else None
        return {
            "booking_id": str(booking_id), "show_id": doc["show_id"], "status": doc["status"],
            "trace_id": self._trace_id(booking_id),
            "steps": steps,
            "took_ms": _ms(previous - start) if start is not None else 0,
            "stuck": None if verdict is None else {"waiting_for": verdict[0], "reason": verdict[1]},
        }

    def _trace_id(self, booking_id: UUID) -> str | None:
        """The trace booking's first event names (tracing.stamp): where its spans are."""
        booking = self.stores.get("booking")
        if booking is None:
            return None
        try:
            first = booking.recorder.select_events(booking_id, limit=1)
            state = msgspec.json.decode(first[0].state) if first else {}
        except Exception:  # noqa: BLE001 - the path stands without it
            return None
        return tracing.trace_id_of(state.get(tracing.TRACEPARENT))

    def stuck(self) -> list[dict[str, Any]]:
        """The bookings not moved on in time, the longest stuck first."""
        now = self.now()
        out = []
        for doc in self.views.in_flight_bookings(now - self.rules.shortest):
            verdict = self.rules.verdict(doc, now)
            if verdict is None:
                continue
            moved = last_moved(doc)
            out.append({
                "booking_id": doc["_id"], "show_id": doc["show_id"], "status": doc["status"],
                "requested_at": doc["requested_at"], "last_moved_at": moved,
                "stuck_for_s": round((now - moved).total_seconds(), 3),
                "last_event": (doc.get("timeline") or [{}])[-1].get("event"),
                "waiting_for": verdict[0], "reason": verdict[1],
            })
        return sorted(out, key=lambda b: b["last_moved_at"])

    def stuck_counts(self) -> dict[str, int]:
        """Stuck bookings per state, every in-flight state named (0 when none)."""
        counts = Counter(b["status"] for b in self.stuck())
        return {state: counts.get(state, 0) for state in IN_FLIGHT}


def _ms(span: Any) -> int:
    return round(span.total_seconds() * 1000)

"""What the projector tells an operator: how far the views are behind each stream, per
stream and per view (a view is as far behind as the furthest of the streams it folds),
computed when scraped; the delay of every event from its store to the views; and, for
events of a sampled trace, a span in that trace when the views reflect them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Histogram

from projections.projector import VIEWS
from shared.observability import metrics, tracing

DELAY = Histogram(
    "cinema_projection_delay_seconds", "Time from an event's recording in its store to the"
    " views' acknowledged write that reflects it.", ["stream"],
    buckets=metrics.LATENCY_BUCKETS, registry=metrics.REGISTRY)


def delayed(stream: str, recorded_at: list[datetime], projected_at: datetime) -> None:
    histogram = metrics.child(DELAY, stream)
    for t in recorded_at:
        histogram.observe(max(0.0, (projected_at - t).total_seconds()))


def projected_spans(stream: str, batch: Any, started_ns: int) -> None:
    """A span per traced event the round folded, in the event's trace: from the round's
    start to the views' acknowledged write."""
    done = time.time_ns()
    for index, traceparent in batch.traces.items():
        event = batch.events[index][2]
        tracing.ended_span(f"{type(event).__name__} project", traceparent, started_ns, done, {
            "cinema.service": "projections", "cinema.stream": stream,
            "cinema.event": type(event).__name__,
            "cinema.booking_id": str(getattr(event, "booking_id", "")),
        })


def behind(projector: Any) -> dict[str, tuple[int, float]]:
    """Per stream: events recorded but not yet in the views, and the age in seconds of
    the oldest of them (0 when none): one indexed read per stream, one more per stream
    behind."""
    out = {}
    now = datetime.now(UTC)
    for stream, reader in projector.readers.items():
        position = projector.projected(stream)
        if position is None:
            continue  # not following a generation now: /ready says so
        head = reader.recorder.max_notification_id() or 0
        age = 0.0
        if head > position:
            first = reader.recorder.select_notifications(start=position + 1, limit=1)
            if first:
                age = max(0.0, (now - reader.mapper.to_domain_event(first[0]).timestamp)
                          .total_seconds())
        out[stream] = (max(0, head - position), age)
    return out


def watch_stuck(ops: Any) -> Callable[[], None]:
    """``cinema_stuck_bookings`` by state, from the stuck-saga detector, when scraped."""
    return metrics.sampled(
        "cinema_stuck_bookings", "Bookings not moved on for longer than their step should"
        " take (GET /ops/stuck-bookings lists them).", ["state"],
        lambda: [([state], n) for state, n in ops.stuck_counts().items()])


def watch_projector(projector: Any) -> Callable[[], None]:
    """Register the projector's scrape-time gauges; returns what unregisters them."""
    last: dict[str, dict[str, tuple[int, float]]] = {}

    def streams() -> dict[str, tuple[int, float]]:
        last["now"] = found = behind(projector)  # one read serves the four gauges
        return found

    def by_stream(index: int) -> Callable[[], Iterator[tuple[list[str], float]]]:
        def read() -> Iterator[tuple[list[str], float]]:
            found = streams() if index == 0 else last.get("now") or streams()
            for stream, values in found.items():
                yield [stream], values[index]
        return read

    def by_view(index: int) -> Callable[[], Iterator[tuple[list[str], float]]]:
        def read() -> Iterator[tuple[list[str], float]]:
            found = last.get("now") or streams()
            for name, view in VIEWS.items():
                values = [found[s][index] for s in view.SOURCES if s in found]
                yield [name], (max(values) if index else sum(values)) if values else 0
        return read

    stops = [
        metrics.sampled("cinema_projection_lag_events", "Events recorded in a stream and"
                        " not yet in the views.", ["stream"], by_stream(0)),
        metrics.sampled("cinema_projection_lag_seconds", "Age of the oldest event of a stream"
                        " not yet in the views (0: none).", ["stream"], by_stream(1)),
        metrics.sampled("cinema_view_lag_events", "Events of the streams a view folds not"
                        " yet in it.", ["view"], by_view(0)),
        metrics.sampled("cinema_view_lag_seconds", "Age of the oldest event a view does not"
                        " reflect yet (0: none).", ["view"], by_view(1)),
    ]
    return metrics.together(stops)

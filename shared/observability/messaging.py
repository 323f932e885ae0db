"""The messaging loops' metrics: messages consumed and produced per topic, the time a
policy takes per message, and, computed when scraped, the inbox's positions and lag
and the outbox's backlog."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from opentelemetry.trace import SpanKind

from shared.observability import logs, metrics, tracing
from shared.services import NAMES

_TOPIC_LABELS: dict[str, str] = {}


def topic_label(topic: str) -> str:
    """A topic as labelled: ``<service>.<kind>`` (``booking.events``, ``booking.replays``),
    without the deployment's prefix (one per deployment; the tests' would make the label
    values unbounded)."""
    label = _TOPIC_LABELS.get(topic)
    if label is None:
        head, _, kind = topic.rpartition(".")
        service = next((name for name in NAMES if head.endswith(name)), "other")
        label = _TOPIC_LABELS[topic] = f"{service}.{kind}"
    return label


def consumed(service: str, topic: str, count: int) -> None:
    metrics.child(metrics.MESSAGES_CONSUMED, service, topic_label(topic)).inc(count)


def produced(service: str, topic: str, count: int) -> None:
    metrics.child(metrics.MESSAGES_PRODUCED, service, topic_label(topic)).inc(count)


class handling:
    """Around one message's policy: how long the service took to decide it, the
    booking and show its log lines name, and, for a message sent within a sampled
    trace, a CONSUMER span whose context the events it causes are stamped with. Paid
    for every message, so a plain class: nothing is built for a span that is not made."""

    __slots__ = (
        "before",
        "bound",
        "message",
        "position",
        "processing",
        "service",
        "span",
        "started",
        "traced",
    )

    def __init__(self, service: str, message: Any, processing: Any = None,
                 position: Any = None) -> None:
        self.service, self.message = service, message
        self.processing, self.position = processing, position

    def __enter__(self) -> None:
        self.started = time.perf_counter()
        self.bound = logs.bind(self.message)
        self.traced: Any = None
        traceparent = tracing.delivered_trace(self.position)
        if traceparent is not None or tracing.in_sampled_span():
            message, name = self.message, type(self.message).__name__
            self.traced = tracing.span(f"{name} process", traceparent, SpanKind.CONSUMER, {
                "cinema.service": self.service, "cinema.event": name,
                "cinema.booking_id": str(getattr(message, "booking_id", "")),
                "cinema.show_id": getattr(message, "show_id", "")})
            self.span = self.traced.__enter__()
            self.before = len(self.processing.events) if self.processing is not None else 0

    def __exit__(self, *failure: object) -> None:
        try:
            if self.traced is not None:
                if failure[0] is None and self.span is not None and self.processing is not None:
                    tracing.stamp(self.processing.events[self.before:],
                                  tracing.traceparent_of(self.span.get_span_context()))
                self.traced.__exit__(*failure)
        finally:
            logs.unbind(self.bound)
            metrics.child(metrics.HANDLING, self.service, type(self.message).__name__).observe(
                time.perf_counter() - self.started)


def watch_loops(service: str, inbox: Callable[[], Iterable[tuple[str, int, int, int]]],
                backlog: Callable[[], int | None]) -> Callable[[], None]:
    """Register the scrape-time gauges of one service process: ``inbox`` gives each
    assigned partition's (topic, partition, position, end offset), ``backlog`` the
    events stored but not yet relayed (None: another instance relays). Returns what
    unregisters them."""

    def positions() -> Iterator[tuple[list[str], float]]:
        for topic, partition, position, _ in inbox():
            yield [service, topic_label(topic), str(partition)], position

    def lag() -> Iterator[tuple[list[str], float]]:
        behind: dict[str, int] = {}
        for topic, _, position, end in inbox():
            label = topic_label(topic)
            behind[label] = behind.get(label, 0) + max(0, end - position)
        for label, n in behind.items():
            yield [service, label], n

    def outbox() -> Iterator[tuple[list[str], float]]:
        n = backlog()
        if n is not None:
            yield [service], n

    stops = [
        metrics.sampled("cinema_inbox_position", "The next offset the service's consumer"
                        " takes from each partition it follows.",
                        ["service", "topic", "partition"], positions),
        metrics.sampled("cinema_inbox_lag_messages", "Messages on the service's subscribed"
                        " topics not yet taken by its consumer.", ["service", "topic"], lag),
        metrics.sampled("cinema_outbox_backlog_events", "Events the service stored that its"
                        " relay has not yet published (on the relaying instance).",
                        ["service"], outbox),
    ]
    return metrics.together(stops)

"""The process's Prometheus metrics: one registry per process, served on ``/metrics``.

Names follow Prometheus's conventions (``cinema_`` prefix, ``_total`` counters, base
units: seconds, messages, events); every label's values are bounded (routes as
templates, topics, event types, reasons from the contracts' literals), never an id.
Counters are bumped through cached label children (``child``), so a hot path pays a
dict lookup, not prometheus-client's label validation. Gauges whose truth lives
elsewhere (the inbox's positions, the outbox's backlog, the projector's lag, the stuck
bookings) are computed when scraped, by the callbacks registered with ``sampled``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)  # CPU seconds, memory, open files of this process
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

# Latencies of a saga's steps: milliseconds on loopback to seconds with a slow provider.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "cinema_http_requests", "HTTP requests answered, by route template and status.",
    ["service", "method", "route", "status"], registry=REGISTRY)
HTTP_DURATION = Histogram(
    "cinema_http_request_duration_seconds", "Time from a request's arrival to its answer.",
    ["service", "method", "route"], buckets=LATENCY_BUCKETS, registry=REGISTRY)
MESSAGES_CONSUMED = Counter(
    "cinema_messages_consumed", "Messages taken from a topic by the service's consumer.",
    ["service", "topic"], registry=REGISTRY)
MESSAGES_PRODUCED = Counter(
    "cinema_messages_produced", "Public events the relay published to the service's topic.",
    ["service", "topic"], registry=REGISTRY)
HANDLING = Histogram(
    "cinema_message_handling_seconds", "Time the service's policy took to decide one message.",
    ["service", "event"], buckets=LATENCY_BUCKETS, registry=REGISTRY)
UNREADABLE = Counter(
    "cinema_messages_unreadable", "Messages no version of the contracts could read.",
    ["service", "topic"], registry=REGISTRY)
DEAD_LETTERS = Counter(
    "cinema_dead_letters", "Messages set aside as dead letters (``dead_lettered``).",
    ["service", "topic"], registry=REGISTRY)
HOLDS = Counter(
    "cinema_holds", "Inventory's decisions on holds: placed, rejected (with the reason),"
    " released (expired, cancelled, ...) and booked.", ["outcome", "reason"], registry=REGISTRY)
PAYMENTS = Counter(
    "cinema_payments", "Payment attempts' outcomes: succeeded, failed (the provider's code),"
    " action_required; refunds.", ["outcome", "reason"], registry=REGISTRY)
BOOKINGS = Counter(
    "cinema_bookings", "Bookings requested, confirmed and cancelled (with the reason).",
    ["outcome", "reason"], registry=REGISTRY)
NOTIFICATIONS = Counter(
    "cinema_notifications", "Notifications by the state they reached (``notification``).",
    ["channel", "state"], registry=REGISTRY)

_children: dict[tuple[Any, ...], Any] = {}


class _Uncounted:
    """What ``child`` gives while metrics are off: counts nothing."""

    def inc(self, amount: float = 1) -> None:
        pass

    def observe(self, amount: float) -> None:
        pass


_UNCOUNTED = _Uncounted()
_enabled = True


def enable(on: bool) -> None:
    """Whether this process counts (CINEMA_METRICS): off, only to measure the cost."""
    global _enabled
    _enabled = on


def child(metric: Any, *labels: str) -> Any:
    """The metric's child for these label values, created once (a race creates the same
    child twice: prometheus-client returns one object)."""
    if not _enabled:
        return _UNCOUNTED
    key = (metric, labels)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric.labels(*labels)
    return found


def dead_lettered(service: str, topic: str) -> None:
    """The hook for whatever sets a message aside as a dead letter."""
    child(DEAD_LETTERS, service, topic).inc()


def notification(channel: str, state: str) -> None:
    """The hook for the notification service: each state a notification reaches
    (``sent``, ``failed``, ``retried``, ...), by channel."""
    child(NOTIFICATIONS, channel, state).inc()


# --- gauges computed when scraped -------------------------------------------------------

Sample = tuple[str, str, list[str], Callable[[], Iterable[tuple[list[str], float]]]]


class _Sampled(Collector):
    """Gauges read from their sources at scrape time. Several sources may feed one
    gauge (two services' processes in one test process); a source that fails is left
    out of that scrape rather than failing the whole scrape."""

    def __init__(self) -> None:
        self._sources: dict[object, Sample] = {}
        self._lock = threading.Lock()

    def add(self, key: object, sample: Sample) -> None:
        with self._lock:
            self._sources[key] = sample

    def remove(self, key: object) -> None:
        with self._lock:
            self._sources.pop(key, None)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            sources = list(self._sources.values())
        families: dict[str, GaugeMetricFamily] = {}
        for name, documentation, labels, read in sources:
            try:
                values = list(read())
            except Exception:  # a source down must not break the scrape
                log.debug("gauge %s left out of this scrape", name, exc_info=True)
                continue
            family = families.get(name)
            if family is None:
                family = families[name] = GaugeMetricFamily(name, documentation, labels=labels)
            for label_values, value in values:
                family.add_metric(label_values, value)
        yield from families.values()

    def describe(self) -> Iterable[Metric]:
        return ()  # names vary with what is registered: nothing to check at registration


_SAMPLED = _Sampled()
REGISTRY.register(_SAMPLED)


def sampled(name: str, documentation: str, labels: list[str],
            read: Callable[[], Iterable[tuple[list[str], float]]]) -> Callable[[], None]:
    """Register a gauge computed at each scrape by ``read`` (label values, value);
    returns what unregisters it."""
    key = object()
    _SAMPLED.add(key, (name, documentation, labels, read))
    return lambda: _SAMPLED.remove(key)


def together(stops: list[Callable[[], None]]) -> Callable[[], None]:
    """One call that unregisters every gauge of ``stops``."""
    def stop() -> None:
        for s in stops:
            s()
    return stop


def exposition() -> tuple[bytes, str]:
    """The registry in Prometheus's text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST

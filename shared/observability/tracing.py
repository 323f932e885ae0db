"""Traces with OpenTelemetry: one booking's saga, across every service, is one trace.

A trace starts where a request arrives (booking's POST /bookings: a SERVER span). The
application layer stamps the context of the span that decided on every event it
records (``stamp``: a ``traceparent`` field in the event's stored state; the domain
knows nothing of it), so an event relayed later, even after a restart, still names its
trace. The relay publishes it with a PRODUCER span, its context in the message's W3C
``traceparent`` header; the consumer handles the message in a CONSUMER span, the
header's child, and stamps the events that message caused; and so on, service after
service, to the projector, whose spans say when the views reflected each event.

Sampling is decided once, at the trace's start (parent-based, ``CINEMA``'s default
ratio 10 %; the standard ``OTEL_TRACES_SAMPLER``/``OTEL_TRACES_SAMPLER_ARG`` choose
otherwise). Only sampled contexts are stamped and sent on: an unsampled saga costs a
sampler's decision at its start and nothing after it. Spans go over OTLP (HTTP) when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, and as JSON lines to ``CINEMA_TRACE_FILE``;
with neither (or ``OTEL_SDK_DISABLED=true``), nothing is traced.
"""

from __future__ import annotations

import os
import random
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from shared.observability import logs
from shared.observability.settings import ObservabilitySettings

TRACEPARENT = "traceparent"  # the W3C header, and the field of a stored event
Headers = list[tuple[str, str | bytes | None]]  # a Kafka message's, as the client takes them
_tracer = trace.get_tracer("cinema")
_enabled = False
# The share of requests that start a trace, decided before any span is made (None: the
# SDK's sampler, from OTEL_TRACES_SAMPLER, decides every root itself).
_root_ratio: float | None = None


def enabled() -> bool:
    return _enabled


def configure(service: str, settings: ObservabilitySettings, instance: str = "1",
              environ: Mapping[str, str] | None = None) -> bool:
    """Install the process's tracer provider; whether tracing is on."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    processors = []
    if settings.trace_file:
        from shared.observability.trace_file import JsonLinesSpanExporter

        processors.append(BatchSpanProcessor(JsonLinesSpanExporter(settings.trace_file),
                                             schedule_delay_millis=1000))
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processors.append(BatchSpanProcessor(OTLPSpanExporter()))
    if not processors:
        return False
    # Roots start only at requests (server_span), which decide by the ratio before making
    # a span: an unsampled request makes none. So the SDK's sampler keeps every root it is
    # given and follows the parent otherwise, unless OTEL_TRACES_SAMPLER names another.
    custom = "OTEL_TRACES_SAMPLER" in env  # the SDK reads the standard variables
    provider = TracerProvider(
        sampler=None if custom else SAMPLER,
        resource=Resource.create({"service.name": service, "service.instance.id": instance}),
    )
    for processor in processors:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    install(provider, None if custom else settings.trace_ratio)
    return True


SAMPLER = ParentBased(ALWAYS_ON)  # with ``install``'s root ratio: sampling as shipped


def install(provider: TracerProvider, root_ratio: float | None) -> None:
    """Trace with this provider's tracer; ``root_ratio``: the share of requests that
    start a trace (None: the provider's sampler decides). Tests install their own."""
    global _enabled, _tracer, _root_ratio
    _tracer = provider.get_tracer("cinema")
    _root_ratio = root_ratio
    logs.current_trace_id = current_trace_id
    _enabled = True


# --- contexts as text ---------------------------------------------------------------


def traceparent_of(context: SpanContext) -> str | None:
    """A sampled span's context in W3C form; None for one not sampled (not sent on)."""
    if not (context.is_valid and context.trace_flags.sampled):
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-01"


def current_traceparent() -> str | None:
    return traceparent_of(trace.get_current_span().get_span_context())


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


def parent(traceparent: str | None) -> Context | None:
    """The context a W3C ``traceparent`` names, for a child span; None if unreadable."""
    if not traceparent:
        return None
    try:
        version, trace_id, span_id, flags = traceparent.split("-")
        context = SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=True,
                              trace_flags=TraceFlags(int(flags, 16)))
    except ValueError:
        return None
    if not context.is_valid or version != "00":
        return None
    return trace.set_span_in_context(NonRecordingSpan(context))


def trace_id_of(traceparent: str | None) -> str | None:
    return traceparent[3:35] if traceparent else None


# --- what the application layer does -------------------------------------------------


def stamp(events: Iterable[Any], traceparent: str | None) -> None:
    """Name the trace on events about to be recorded (those not named yet): a field of
    their stored state, which the relay reads back whenever it publishes them."""
    if traceparent is None:
        return
    for event in events:
        if getattr(event, TRACEPARENT, None) is None:
            object.__setattr__(event, TRACEPARENT, traceparent)


def stamped(event: Any) -> str | None:
    return getattr(event, TRACEPARENT, None)


class RecentTraces:
    """The trace each aggregate's latest sampled event named (the latest ``keep``): work
    on an aggregate outside any request or message (payment's follow-up after a
    commit) continues its trace. Only for aggregates of one booking each: a show's
    aggregate takes part in many bookings' traces."""

    def __init__(self, keep: int = 10_000) -> None:
        self.keep = keep
        self._traces: OrderedDict[Any, str] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, aggregate_id: Any, traceparent: str) -> None:
        with self._lock:
            self._traces[aggregate_id] = traceparent
            self._traces.move_to_end(aggregate_id)
            if len(self._traces) > self.keep:
                self._traces.popitem(last=False)

    def of(self, aggregate_id: Any) -> str | None:
        return self._traces.get(aggregate_id)


def in_sampled_span() -> bool:
    """Whether a sampled span is current (a request's, a follow-up's)."""
    return _enabled and trace.get_current_span().is_recording()


@contextmanager
def span(name: str, traceparent: str | None = None, kind: SpanKind = SpanKind.INTERNAL,
         attributes: Mapping[str, Any] | None = None) -> Iterator[Any]:
    """A span, the child of ``traceparent`` (else of the current span); nothing when
    tracing is off or there is no sampled parent: traces start only at requests."""
    context = parent(traceparent) if traceparent else None
    if not _enabled or (context is None and not trace.get_current_span().is_recording()):
        yield None
        return
    with _tracer.start_as_current_span(name, context=context, kind=kind,
                                       attributes=attributes) as current:
        yield current


def server_span(name: str, traceparent: str | None,
                attributes: Mapping[str, Any]) -> Any:
    """An HTTP request's span: a trace starts here (sampled by the ratio) unless the
    caller sent one."""
    if not _enabled:
        return nullcontext()
    if traceparent is None and _root_ratio is not None and random.random() >= _root_ratio:
        return nullcontext()  # not sampled: decided before anything is made
    # A refusal (401, 409) is an answer, not a failure of the span: the status says.
    return _tracer.start_as_current_span(name, context=parent(traceparent),
                                         kind=SpanKind.SERVER, attributes=attributes,
                                         record_exception=False,
                                         set_status_on_exception=False)


def client_span(name: str, attributes: Mapping[str, Any] | None = None) -> Any:
    """A call to another system, inside a sampled trace only."""
    return span(name, kind=SpanKind.CLIENT, attributes=attributes)


def produced(topic: str, traceparent: str, event_type: str) -> Headers:
    """The PRODUCER span of one message (the stamped event's child) and the message's
    headers, which carry it to the consumers."""
    context = parent(traceparent)
    if not _enabled or context is None:
        return [(TRACEPARENT, traceparent.encode())]
    current = _tracer.start_span(f"{topic} publish", context=context, kind=SpanKind.PRODUCER,
                                 attributes={"messaging.system": "kafka",
                                             "messaging.destination.name": topic,
                                             "cinema.event": event_type})
    current.end()
    sent = traceparent_of(current.get_span_context()) or traceparent
    return [(TRACEPARENT, sent.encode())]


def marked(name: str, traceparent: str, attributes: Mapping[str, Any]) -> str | None:
    """A moment in a trace (a span that ends as it starts), the child of ``traceparent``:
    its own traceparent, for what it decided to name; None when not traced."""
    context = parent(traceparent)
    if not _enabled or context is None:
        return None
    current = _tracer.start_span(name, context=context, attributes=attributes)
    current.end()
    return traceparent_of(current.get_span_context())


def ended_span(name: str, traceparent: str, start_ns: int, end_ns: int,
               attributes: Mapping[str, Any]) -> None:
    """A span recorded after the fact (the projector's, once the views' write is
    acknowledged)."""
    context = parent(traceparent)
    if not _enabled or context is None:
        return
    _tracer.start_span(name, context=context, kind=SpanKind.CONSUMER,
                       attributes=attributes, start_time=start_ns).end(end_time=end_ns)


# --- messages delivered with a trace ----------------------------------------------------

_delivered = threading.local()


def deliveries() -> dict[tuple[str, int], str]:
    """This consumer thread's traced messages of the batch in hand: (tracking name,
    tracking position) -> traceparent; the consumer fills it, the handling reads it."""
    found: dict[tuple[str, int], str] | None = getattr(_delivered, "traces", None)
    if found is None:
        found = _delivered.traces = {}
    return found


def delivered_trace(tracking: Any) -> str | None:
    traces = getattr(_delivered, "traces", None)
    if not traces or tracking is None:
        return None
    return traces.get((tracking.application_name, tracking.notification_id))

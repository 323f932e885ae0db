"""Tracing in one process: a request's span, its context stamped on the events it
records, sent on in the relayed message's header, and a message's span the child of
the header's context, its events stamped with it. (Across processes:
tests/e2e/test_observability.py.)"""

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from payment.gateway import AUTHENTICATION_REQUIRED
from shared import contracts as c
from shared import ids
from shared.messaging.inbox import Inbox
from shared.messaging.outbox import OutboxRelay
from shared.observability import logs, tracing


@pytest.fixture
def spans(monkeypatch):
    """Tracing on in this process, every trace kept, spans kept in memory."""
    return keep(monkeypatch, ratio=1.0)


def keep(monkeypatch, ratio: float) -> InMemorySpanExporter:
    """Sampling as shipped, at this ratio; put back as it was after the test."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=tracing.SAMPLER)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    for name in ("_tracer", "_enabled", "_root_ratio"):
        monkeypatch.setattr(tracing, name, getattr(tracing, name))
    monkeypatch.setattr(logs, "current_trace_id", logs.current_trace_id)
    tracing.install(provider, ratio)
    return exporter


class Sent:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes, list | None]] = []

    def publish(self, topic, key, value, headers=None) -> None:
        self.messages.append((key, value, headers))

    def flush(self) -> None:
        pass


def relayed(app) -> list[tuple[str, bytes, list | None]]:
    sent = Sent()
    OutboxRelay(app, sent, "booking.events").relay_once()
    return sent.messages


def test_a_request_starts_the_trace_its_stored_events_name_and_their_messages_carry(api, spans):
    api.open_show()
    booking_id = api.book().json()["booking_id"]
    (posted,) = [s for s in spans.get_finished_spans() if s.name == "POST /bookings"]
    assert posted.attributes["http.route"] == "/bookings"
    assert posted.attributes["http.response.status_code"] == 202
    trace_id = f"{posted.context.trace_id:032x}"
    stored = api.system.booking.recorder.select_events(UUID(booking_id))
    assert trace_id.encode() in stored[0].state  # stamped in the stored state
    api.system.start_services()  # a restart: the relay reads the trace from the store
    (message,) = [m for m in relayed(api.system.booking) if m[0] == "show-1"]
    (name, header), = message[2]
    assert name == "traceparent" and header.decode()[3:35] == trace_id
    publish = [s for s in spans.get_finished_spans() if s.name == "booking.events publish"]
    assert publish[0].parent.span_id == posted.context.span_id
    assert header.decode()[36:52] == f"{publish[0].context.span_id:016x}"


def test_an_unsampled_request_stamps_and_sends_nothing(api, monkeypatch):
    keep(monkeypatch, ratio=0.0)
    api.open_show()
    booking_id = api.book().json()["booking_id"]
    stored = api.system.booking.recorder.select_events(UUID(booking_id))
    assert b"traceparent" not in stored[0].state
    assert all(headers is None for _, _, headers in relayed(api.system.booking))


def test_a_message_is_handled_in_its_senders_trace_and_stamps_what_it_causes(api, spans):
    api.open_show()
    sender = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    message = c.BookingRequested(
        event_id="booking/x/1", occurred_at=datetime.now(UTC), show_id="show-1",
        booking_id=uuid4(), customer_id="alice", seat_ids=["A1"], payment_method="pm_card_visa")
    tracing.deliveries().clear()
    tracing.deliveries()[("booking.events:0", 1)] = sender
    try:
        Inbox(api.system.inventory).receive("booking.events", 0, 0, c.encode(message))
    finally:
        tracing.deliveries().clear()
    (handled,) = [s for s in spans.get_finished_spans() if s.name == "BookingRequested process"]
    assert f"{handled.context.trace_id:032x}" == sender[3:35]
    assert f"{handled.parent.span_id:016x}" == sender[36:52]
    assert handled.attributes["cinema.booking_id"] == str(message.booking_id)
    head = api.system.inventory.recorder.max_notification_id()
    (last,) = api.system.inventory.recorder.select_notifications(head, 1)
    own = tracing.traceparent_of(handled.context)
    assert own is not None and own.encode() in last.state  # SeatsReserved names the span


def saga_in_one_trace(api, method: str) -> tuple[str, str]:
    """A booking made and settled inside one sampled span (the embedded bus carries no
    headers, so the span stands for the trace they would carry): its id, the trace id."""
    with tracing._tracer.start_as_current_span("customer") as root:
        booking_id = api.book(method=method).json()["booking_id"]
        api.settle()
    return booking_id, f"{root.get_span_context().trace_id:032x}"


def stamp_of_last(app) -> str | None:
    head = app.recorder.max_notification_id()
    (last,) = app.recorder.select_notifications(head, 1)
    return tracing.stamped(app.mapper.to_domain_event(last))


def test_a_hold_expired_by_the_sweep_goes_on_in_its_bookings_trace(api, spans):
    api.open_show()
    booking_id, trace_id = saga_in_one_trace(api, "pm_card_chargeDeclined")
    assert api.booking_of(booking_id)["status"] == "PAYMENT_PENDING"
    api.clock.advance(timedelta(minutes=11))
    assert api.system.inventory.release_expired_holds() == 1  # outside any span
    (expired,) = [s for s in spans.get_finished_spans() if s.name == "hold expired"]
    assert f"{expired.context.trace_id:032x}" == trace_id
    assert expired.attributes["cinema.booking_id"] == booking_id
    assert stamp_of_last(api.system.inventory) == tracing.traceparent_of(expired.context)
    api.settle()
    assert api.booking_of(booking_id)["status"] == "CANCELLED"


def test_a_providers_webhook_goes_on_in_the_payments_trace(api, spans):
    api.system.webhooks_delivered = False
    api.open_show()
    booking_id, trace_id = saga_in_one_trace(api, AUTHENTICATION_REQUIRED)
    [pending] = api.payment_of(booking_id)["pending"]
    api.take_webhooks()  # its requires_action, known from the confirm's answer
    api.system.provider.authenticate(pending["intent_id"], success=True)
    [succeeded] = api.take_webhooks()
    r = api.webhook(succeeded)  # a request of its own: sampled, a trace of its own
    assert r.status_code == 200 and r.json()["recorded"] is True, r.text
    (event,) = [s for s in spans.get_finished_spans() if s.name == "provider event"]
    assert f"{event.context.trace_id:032x}" == trace_id
    assert event.attributes["cinema.provider_event"] == succeeded.event_id
    # Read from the payment's stored events: an instance that never saw it knows it too.
    api.system.payment.recent_traces = tracing.RecentTraces()
    assert api.system.payment.trace_of(ids.payment_id(UUID(booking_id)))[3:35] == trace_id
    api.settle()
    assert api.booking_of(booking_id)["status"] == "CONFIRMED"

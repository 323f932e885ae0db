"""Notification service: learns what becomes of each booking from the other services'
events, decides each message once, and sends it outside any transaction.

Deciding happens in the inbox's transaction: the facts a message brings, the notices
they make due and those notices' messages (``Notification``s, due) are recorded with
the message's position. Sending is a side effect, done by the dispatcher (a timer):
for each message due it records the attempt, hands the message to its channel with the
lock released, then records sent or failed (domain.py: the delivery rule). A channel
that fails is tried again after a backoff, and one message's trouble never stops the
others. The payment reminder is decided by another timer, when its due time comes.

Both timers know what is due from indexes kept by this instance's writes and rebuilt
from the store when the process starts or gains partitions, as inventory's deadlines.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from functools import partial, singledispatchmethod
from typing import Any
from uuid import UUID

from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ProcessRecorder
from eventsourcing.utils import EnvType

from notifications.channels import DeliveryFailed
from notifications.contact import ContactDetails, ContactPreferences
from notifications.domain import (
    FAILED,
    FAILED_PERMANENTLY,
    KINDS,
    BookingNotices,
    Notice,
    Notification,
    RetryPolicy,
    address,
)
from notifications.messages import MessageWriter
from notifications.publishing import to_public
from notifications.recording import RecordingEmail, RecordingPush
from notifications.sending import Channels
from notifications.shows import ShowDetails, TheatreDetails
from shared import contracts as c
from shared import ids
from shared.clock import Clock
from shared.config import Settings
from shared.observability import decisions, tracing
from shared.service import ServiceApplication, Written

log = logging.getLogger(__name__)

# Events that end a booking's wait for its payment reminder (for the index's rebuild).
_REMINDER_ENDS = (BookingNotices.Paid, BookingNotices.Confirmed, BookingNotices.SeatsGone,
                  BookingNotices.Cancelled, BookingNotices.ReminderDecided)


# Messages whose attempts are recorded in one write, then sent one after another (over
# one SMTP connection), then their outcomes recorded in one write: two transactions for
# the batch instead of two per message. A crash meanwhile leaves the batch's attempts
# without outcome: each is made again after the send timeout, recorded as interrupted.
DISPATCH_BATCH = 50


class BookingNotFound(LookupError):
    pass


class ContactNotFound(LookupError):
    pass


class NotificationService(ServiceApplication):
    service = "notifications"

    def __init__(self, env: EnvType | None = None, clock: Clock | None = None,
                 recorder: ProcessRecorder | None = None, *, channels: Channels | None = None,
                 writer: MessageWriter | None = None, retry: RetryPolicy | None = None,
                 remind_before: timedelta = timedelta(minutes=2),
                 gather: timedelta | None = None) -> None:
        super().__init__(env, clock, recorder)
        # Nothing waits for this service: its inbox gathers messages and decides all of a
        # poll in one transaction (shared/messaging/kafka.py), not one per partition.
        self.gather_s = gather.total_seconds() if gather is not None else None
        self.channels = channels or Channels(RecordingEmail(), RecordingPush())
        self.writer = writer or MessageWriter(Settings().token_secret)
        self.retry = retry or RetryPolicy()
        self.remind_before = remind_before  # before the hold's end
        self.due: dict[UUID, datetime] = {}  # notification id -> when to look at it next
        self.reminders: dict[UUID, datetime] = {}  # booking notices id -> reminder due
        self._relearn = threading.Event()  # rebuild both from the store at the next run
        self._relearn.set()

    def to_public(self, domain_event: Any) -> c.PublicEvent | None:
        return to_public(domain_event)

    # --- reactions: facts, and the notices they make due -------------------------------

    @singledispatchmethod
    def policy(self, message: c.PublicEvent, processing: ProcessingEvent) -> None:
        pass

    def aggregate_of(self, message: c.BookingEvent) -> BookingNotices:
        """What this service knows of the booking: new with its first message, whichever
        service's it is."""
        found = self.find(ids.booking_notices_id(message.booking_id))
        return found or BookingNotices(booking_id=message.booking_id, show_id=message.show_id)

    def _learn(self, message: c.BookingEvent, processing: ProcessingEvent,
               learn: Callable[[BookingNotices], bool]) -> None:
        """The booking learns a fact; if it is news, the notices it makes due are decided
        in the same write (a republished message is no news: nothing is decided twice)."""
        def react(booking: BookingNotices) -> None:
            if learn(booking):
                due = booking.notices_due(self.clock.now())
                processing.collect_events(*self._decide(booking, due))
        self._react(message, processing, react)

    def _decide(self, booking: BookingNotices, notices: Iterable[Notice]) -> list[Notification]:
        made: list[Notification] = []
        now = self.clock.now()
        for notice in notices:
            assert booking.customer_id is not None
            # As stored now: the customer may have changed them through any instance.
            contact = self.find_latest(ids.contact_id(booking.customer_id))
            notifications = address(booking, notice, contact, self.channels.names, now)
            booking.decide(notice, notifications)
            made.extend(notifications)
        return made

    @policy.register
    def on_booking_requested(self, m: c.BookingRequested, p: ProcessingEvent) -> None:
        self._learn(m, p, lambda b: b.requested(m.customer_id, list(m.seat_ids)))

    @policy.register
    def on_payment_retry_requested(self, m: c.PaymentRetryRequested, p: ProcessingEvent) -> None:
        self._learn(m, p, lambda b: b.retry_requested(m.attempt))

    @policy.register
    def on_booking_confirmed(self, m: c.BookingConfirmed, p: ProcessingEvent) -> None:
        self._learn(m, p, lambda b: b.confirmed_for(m.customer_id, m.amount))

    @policy.register
    def on_booking_cancelled(self, m: c.BookingCancelled, p: ProcessingEvent) -> None:
        self._learn(m, p, lambda b: b.cancelled_for(m.customer_id, m.reason, m.detail))

    @policy.register
    def on_seats_reserved(self, m: c.SeatsReserved, p: ProcessingEvent) -> None:
        self._learn(m, p, lambda b: b.held(list(m.seat_ids), m.amount, m.currency,
                                           m.reserved_until, self.remind_before))

    @policy.register
    def on_seats_rejected(self, m: c.SeatsRejected, p: ProcessingEvent) -> None:
        self._learn(m, p, lambda b: b.seats_ended(f"rejected:{m.reason}"))

    @policy.register
    def on_seats_released(self, m: c.SeatsReleased, p: ProcessingEvent) -> None:
        self._learn(m, p, lambda b: b.seats_ended(f"released:{m.reason}"))

    @policy.register
    def on_seats_booked(self, m: c.SeatsBooked, p: ProcessingEvent) -> None:
        self._learn(m, p, lambda b: b.payment_succeeded())

    @policy.register
    def on_payment_succeeded(self, m: c.PaymentSucceeded, p: ProcessingEvent) -> None:
        self._learn(m, p, lambda b: b.payment_succeeded())

    @policy.register
    def on_payment_failed(self, m: c.PaymentFailed, p: ProcessingEvent) -> None:
        self._learn(m, p, lambda b: b.payment_failed(m.attempt, m.reason))

    @policy.register
    def on_payment_refunded(self, m: c.PaymentRefunded, p: ProcessingEvent) -> None:
        self._learn(m, p, lambda b: b.refunded(m.refund_id, m.amount, m.currency, m.reason))

    # --- the theatre's facts, which the messages quote ------------------------------

    @policy.register
    def on_theatre_registered(self, m: c.TheatreRegistered, p: ProcessingEvent) -> None:
        if self.find(ids.theatre_details_id(m.theatre_id)) is None:
            p.collect_events(TheatreDetails(theatre_id=m.theatre_id, name=m.name, city=m.city,
                                            address=m.address, time_zone=m.time_zone))

    @policy.register
    def on_screen_laid_out(self, m: c.ScreenLaidOut, p: ProcessingEvent) -> None:
        theatre = self.find(ids.theatre_details_id(m.theatre_id))  # registered before, in order
        if theatre is not None and theatre.name_screen(m.screen_id, m.name):
            p.collect_events(theatre)

    @policy.register
    def on_show_scheduled(self, m: c.ShowScheduled, p: ProcessingEvent) -> None:
        if self.find(ids.show_details_id(m.show_id)) is None:
            p.collect_events(ShowDetails(show_id=m.show_id, theatre_id=m.theatre_id,
                                         screen_id=m.screen_id, film=m.film.title,
                                         starts_at=m.starts_at, local_start=m.local_start))

    @policy.register
    def on_show_rescheduled(self, m: c.ShowRescheduled, p: ProcessingEvent) -> None:
        show = self.find(ids.show_details_id(m.show_id))
        if show is not None and show.reschedule(m.starts_at, m.local_start):
            p.collect_events(show)

    @policy.register
    def on_show_cancelled(self, m: c.ShowCancelled, p: ProcessingEvent) -> None:
        show = self.find(ids.show_details_id(m.show_id))
        if show is not None and show.cancel():
            p.collect_events(show)

    # --- the reminder timer -------------------------------------------------------------

    def remind_due(self) -> int:
        """Decide the payment reminders whose time has come; returns how many. Safe from
        any number of instances: a reminder is decided in a version-checked write of its
        booking, once."""
        self._learn_if_asked()
        now = self.clock.now()
        decided = 0
        for notices_id, due_at in list(self.reminders.items()):
            if due_at <= now:
                try:
                    decided += self.write(partial(self._remind, notices_id)).result
                except Exception:  # one booking's trouble must not stop the others
                    log.exception("deciding the reminder of %s failed; trying again", notices_id)
        return decided

    def _remind(self, notices_id: UUID) -> tuple[int, list[Aggregate]]:
        booking: BookingNotices | None = self.find_current(notices_id)
        now = self.clock.now()
        notice = booking.reminder_due(now) if booking is not None else None
        if booking is None or notice is None:  # not due after all: paid, over, too late
            if booking is None or booking.reminder_pending() is None or booking.lapsed(now):
                self.reminders.pop(notices_id, None)
            return 0, []
        return 1, [booking, *self._decide(booking, [notice])]

    # --- the dispatcher -----------------------------------------------------------------

    def dispatch_due(self) -> int:
        """Send every message due now, oldest first, in batches; returns how many were sent."""
        self._learn_if_asked()
        now = self.clock.now()
        due = [i for i, at in sorted(self.due.items(), key=lambda d: d[1]) if at <= now]
        sent = 0
        for first in range(0, len(due), DISPATCH_BATCH):
            sent += self.dispatch(due[first:first + DISPATCH_BATCH])
        return sent

    def dispatch(self, notification_ids: list[UUID]) -> int:
        """A batch of messages: their attempts recorded in one write, each sent, their
        outcomes recorded in one write; returns how many were sent. A batch whose write
        fails is tried message by message, so that one message's trouble (or the store's)
        never stops the others."""
        try:
            started = self.write(lambda: self._start_attempts(notification_ids)).result
        except Exception:
            if len(notification_ids) > 1:
                return sum(self.dispatch([one]) for one in notification_ids)
            log.exception("dispatching %s failed; the next run tries again", notification_ids[0])
            return 0
        outcomes = []
        for n, show, theatre in started:
            # In the trace of the message that made it due, if sampled.
            with tracing.span("notification dispatch", self.recent_traces.of(n.id)):
                outcomes.append((n.id, n.attempt, self._send(n, show, theatre)))
        failures = {notification_id: failure for notification_id, _, failure in outcomes}
        try:
            self.write(lambda: self._record_outcomes(outcomes))
        except Exception:
            log.warning("recording a batch's outcomes failed; one by one", exc_info=True)
            for one in outcomes:  # one by one: the others' outcomes are not lost to one's
                try:
                    self.write(lambda: self._record_outcomes([one]))  # noqa: B023 (called now)
                except Exception:  # left sending: its attempt is made again after the timeout
                    log.exception("recording the outcome of %s failed", one[0])
        for n, _, _ in started:
            decisions.notified(n.channel, n.kind, n.booking_id, failures[n.id])
        return sum(failure is None for *_, failure in outcomes)

    def _send(self, n: Notification, show: ShowDetails | None,
              theatre: TheatreDetails | None) -> tuple[str, bool] | None:
        """Write the message and hand it to its channel: None once accepted, else why not
        and whether for good."""
        try:
            message = self.writer.write(n, show, theatre)
        except Exception as e:  # a template that cannot word these facts: no retry helps
            log.exception("notification %s cannot be written", n.id)
            return f"unwritable: {e}", True
        try:
            with tracing.client_span(f"{n.channel} send", {"cinema.kind": n.kind}):
                self.channels.send(message)
        except DeliveryFailed as e:
            return e.reason, e.permanent
        except Exception as e:  # a channel's own fault: the provider may be fine later
            log.warning("channel %s failed on %s", n.channel, n.id, exc_info=True)
            return f"{type(e).__name__}: {e}", False
        return None

    def _start_attempts(self, notification_ids: list[UUID]) -> tuple[
            list[tuple[Notification, ShowDetails | None, TheatreDetails | None]],
            list[Aggregate]]:
        """Each message still to be sent and still relevant: its attempt recorded (the
        others' index entries corrected, or the irrelevant dropped)."""
        started: list[tuple[Notification, ShowDetails | None, TheatreDetails | None]] = []
        changed: list[Aggregate] = []
        now = self.clock.now()
        sendable: list[Notification] = []
        for notification_id in notification_ids:
            # The cached copy: a stale one (another instance's attempt) loses the version
            # check of this write, which is then decided again on the stored one.
            n = self.find(notification_id)
            if n is None or not n.sendable(now, self.retry):
                self._index(n, notification_id)  # sent meanwhile by another instance, say
            else:
                sendable.append(n)
        # As stored now: another instance may have learned facts of them since.
        bookings = self.find_all_current(ids.booking_notices_id(n.booking_id) for n in sendable)
        for n in sendable:
            booking = bookings[ids.booking_notices_id(n.booking_id)]
            assert booking is not None, "a notification is decided with its booking"
            changed.append(n)
            why = booking.irrelevance(n.kind, n.occasion, now)
            if why is not None:
                n.drop(why, now)
                continue
            n.start_attempt(now, self.retry)
            show = self.find(ids.show_details_id(booking.show_id))
            theatre = self.find(ids.theatre_details_id(show.theatre_id)) if show else None
            started.append((n, show, theatre))
        return started, changed

    def _record_outcomes(self, outcomes: list[tuple[UUID, int, tuple[str, bool] | None]]
                         ) -> tuple[None, list[Aggregate]]:
        changed: list[Aggregate] = []
        now = self.clock.now()
        for notification_id, attempt, failure in outcomes:
            n = self.find(notification_id)
            assert isinstance(n, Notification)
            if failure is None:
                n.record_sent(attempt, now)
            else:
                n.record_failure(attempt, *failure, now, self.retry)
            changed.append(n)
        return None, changed

    # --- the timers' indexes ------------------------------------------------------------

    def recorded(self, aggregates: Iterable[Any]) -> None:
        for a in aggregates:
            if isinstance(a, Notification):
                self._index(a, a.id)
            elif isinstance(a, BookingNotices):
                pending = a.reminder_pending()
                if pending is None:
                    self.reminders.pop(a.id, None)
                else:
                    self.reminders[a.id] = pending

    def _index(self, n: Notification | None, notification_id: UUID) -> None:
        look = n.next_look(self.retry) if n is not None else None
        if look is None:
            self.due.pop(notification_id, None)
        else:
            self.due[notification_id] = look

    def partitions_assigned(self) -> None:
        super().partitions_assigned()
        self._relearn.set()  # another instance's messages and reminders may be due here now

    def _learn_if_asked(self) -> None:
        if self._relearn.is_set():
            self._relearn.clear()  # before: an assignment meanwhile sets it again
            try:
                self.learn_due()
            except BaseException:
                self._relearn.set()
                raise

    def learn_due(self) -> None:
        """Rebuild both indexes from the store by folding the events that change them,
        in their order, without loading any aggregate."""
        due: dict[UUID, datetime] = {}
        for e in self._events(Notification.Due, Notification.AttemptStarted,
                              Notification.AttemptFailed, Notification.Sent,
                              Notification.Dropped):
            if isinstance(e, Notification.Due):
                due[e.originator_id] = e.at
            elif isinstance(e, Notification.AttemptStarted):
                due[e.originator_id] = e.at + self.retry.send_timeout
            elif isinstance(e, Notification.AttemptFailed) and e.next_try_at is not None:
                due[e.originator_id] = e.next_try_at
            else:
                due.pop(e.originator_id, None)
        reminders: dict[UUID, datetime] = {}
        for e in self._events(BookingNotices.ReminderScheduled, *_REMINDER_ENDS):
            if isinstance(e, BookingNotices.ReminderScheduled):
                reminders[e.originator_id] = e.due_at
            else:
                reminders.pop(e.originator_id, None)
        self.due.update(due)
        self.reminders.update(reminders)

    def _events(self, *classes: type) -> Iterator[Any]:
        topics = [getattr(cls, "TOPIC") for cls in classes]  # noqa: B009 (set by @event)
        for n in self.notifications(*topics):
            yield self.mapper.to_domain_event(n)

    # --- customers' contact details -----------------------------------------------------

    def set_contact(self, customer_id: str, details: ContactDetails) -> Written[ContactPreferences]:
        def decide() -> tuple[ContactPreferences, list[Aggregate]]:
            contact = (self.find_current(ids.contact_id(customer_id))
                       or ContactPreferences(customer_id=customer_id))
            changed = contact.update(details, self.clock.now()) or contact.version == 1
            return contact, [contact] if changed else []
        return self.write(decide)

    def contact(self, customer_id: str) -> ContactPreferences:
        contact = self.find_stored(ids.contact_id(customer_id))
        if contact is None:
            raise ContactNotFound(customer_id)
        return contact

    # --- queries ------------------------------------------------------------------------

    def booking_notifications(self, booking_id: UUID, customer_id: str | None
                              ) -> list[Notification]:
        """A booking's messages, oldest first; ``customer_id`` None: an operator's look.
        Another customer's booking is not found, as one this service never heard of."""
        booking = self.find_stored(ids.booking_notices_id(booking_id))
        if booking is None or booking.customer_id is None or (
                customer_id is not None and booking.customer_id != customer_id):
            raise BookingNotFound(str(booking_id))
        found = (self.find_stored(i) for i in booking.notification_ids())
        return sorted((n for n in found if n is not None), key=lambda n: (n.due_at, n.kind))

    def failures(self, limit: int = 100) -> list[Notification]:
        """Messages that failed and still stand failed (retrying, or given up), the
        latest failure first. A scan of every failure recorded: they are rare."""
        latest = {n.originator_id: n.id
                  for n in self.notifications(Notification.AttemptFailed.TOPIC)}
        out: list[Notification] = []
        for notification_id in sorted(latest, key=latest.__getitem__, reverse=True):
            n = self.find_stored(notification_id)
            if n is not None and n.status in (FAILED, FAILED_PERMANENTLY):
                out.append(n)
                if len(out) == limit:
                    break
        return out

    @staticmethod
    def kinds() -> tuple[str, ...]:
        return KINDS

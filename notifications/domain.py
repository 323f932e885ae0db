"""What the notification service knows of each booking, which messages it decides to
send, and each message's delivery. No I/O: times are passed in.

- ``BookingNotices``, one per booking: the facts the other services published about it
  (its customer, seats, amount, hold deadline, payment, cancellation, refunds), learned
  in whatever order they arrive, each once, and the notices decided for it. A notice
  (a kind of message, and what tells two of a kind apart: the attempt that failed, the
  refund) is decided once, in the write that creates its messages.
- ``Notification``, one per message: a notice by one channel to one destination, its id
  derived from the notice, so a redelivered event finds it. Its life:
  due → sending (attempt n) → sent; or failed, tried again after a backoff, until it
  fails permanently after a bounded number of attempts; or dropped with a reason (no
  contact details, opted out, no longer relevant).

The delivery rule: an attempt is recorded (sending, attempt n) before the message goes
to the channel, and sent once the channel accepted it. A crash in between leaves the
attempt without an outcome: once ``send_timeout`` has passed, the next attempt records
it as interrupted and sends again, with the same message id. So a message is sent at
most once per interrupted attempt more than once, and the record says which.

The payment reminder is a durable timer: the hold's deadline, and the reminder's due
time before it, are recorded when the hold is learned; the service's timer finds the
reminders due, and a booking paid, cancelled or released meanwhile has none.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from notifications.contact import ContactPreferences
from shared import ids
from shared.aggregate import Aggregate

# The kinds of message.
CONFIRMATION = "confirmation"  # the booking is paid: its tickets
PAYMENT_FAILED = "payment_failed"  # while the seats are held: what to do, until when
PAYMENT_REMINDER = "payment_reminder"  # the seats will be released soon, still unpaid
CANCELLATION = "cancellation"  # why the booking was cancelled
REFUND = "refund"  # what was refunded
KINDS = (CONFIRMATION, PAYMENT_FAILED, PAYMENT_REMINDER, CANCELLATION, REFUND)

# Payment failures not worth a message: the hold is over, or the customer chose
# another way to pay while an attempt waited (its intent was cancelled).
UNTOLD_FAILURES = frozenset({"hold_expired", "canceled"})

# A notification's states.
DUE, SENDING, SENT = "due", "sending", "sent"
FAILED, FAILED_PERMANENTLY, DROPPED = "failed", "failed_permanently", "dropped"
FINAL = frozenset({SENT, FAILED_PERMANENTLY, DROPPED})
NO_CHANNEL = "none"  # the channel of a notice dropped before any channel was chosen

# Why a message is dropped.
NO_CONTACT = "no_contact"  # the customer gave no address on any channel the message may use
OPTED_OUT = "opted_out"  # the customer wants no such message
PAID = "paid"  # a reminder or a failure's message, for a booking paid meanwhile
CANCELLED = "booking_cancelled"  # the booking was cancelled, or its seats released
HOLD_ENDED = "hold_ended"  # the hold's deadline passed
RETRIED = "retried"  # a payment failure's message, after the customer paid again


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a message is tried."""

    max_attempts: int = 5
    first_wait: timedelta = timedelta(seconds=30)  # doubled after each failure
    longest_wait: timedelta = timedelta(hours=1)
    # An attempt with no outcome after this long was interrupted (the process died
    # between the send and its record); longer than any channel waits for its provider.
    send_timeout: timedelta = timedelta(minutes=1)

    def next_try(self, attempt: int, now: datetime) -> datetime | None:
        """When to try again after attempt ``attempt`` failed; None: no more tries."""
        if attempt >= self.max_attempts:
            return None
        return now + min(self.first_wait * 2 ** (attempt - 1), self.longest_wait)


@dataclass(frozen=True)
class Notice:
    """A message decided for a booking, before it is addressed."""

    kind: str
    occasion: str  # "" for a kind sent once per booking; the attempt, the refund
    facts: dict[str, Any]  # what the message says, as JSON values

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.occasion}" if self.occasion else self.kind


class BookingNotices(Aggregate):
    TOPIC = "cinema.notifications:BookingNotices"

    class Created(Aggregate.Created):
        TOPIC = "cinema.notifications:BookingNotices.Created"

    @staticmethod
    def create_id(booking_id: UUID) -> UUID:
        return ids.booking_notices_id(booking_id)

    @event("Opened", topic="cinema.notifications:BookingNotices.Opened")
    def __init__(self, booking_id: UUID, show_id: str) -> None:
        self.booking_id = booking_id
        self.show_id = show_id
        self.customer_id: str | None = None
        self.requested_seats: list[str] = []
        self.seat_ids: list[str] = []  # as held
        self.amount: int | None = None
        self.currency: str | None = None
        self.reserved_until: datetime | None = None
        self.paid = False
        self.confirmed = False
        self.seats_gone: str | None = None  # inventory released or rejected them: why
        self.cancelled: str | None = None  # booking's reason
        self.cancel_detail = ""
        self.failures: dict[str, str] = {}  # attempt -> the provider's reason
        self.latest_attempt = 1  # the latest payment attempt the customer asked for
        self.refunds: dict[str, dict[str, Any]] = {}  # refund id -> amount, currency, reason
        self.reminder_due_at: datetime | None = None
        self.decided: dict[str, list[str]] = {}  # notice key -> its notifications' ids

    # --- what the other services say (each True when it is news) ----------------------

    def requested(self, customer_id: str, seat_ids: list[str]) -> bool:
        if self.requested_seats:
            return False
        self._request(customer_id=customer_id, seat_ids=list(seat_ids))
        return True

    @event("Requested", topic="cinema.notifications:BookingNotices.Requested")
    def _request(self, customer_id: str, seat_ids: list[str]) -> None:
        self.customer_id, self.requested_seats = customer_id, seat_ids

    def held(self, seat_ids: list[str], amount: int, currency: str, reserved_until: datetime,
             remind_before: timedelta) -> bool:
        """The seats are held until ``reserved_until``: a reminder is due ``remind_before``
        it, unless the booking is paid or over first."""
        if self.reserved_until is not None:
            return False
        self._hold(seat_ids=list(seat_ids), amount=amount, currency=currency,
                   reserved_until=reserved_until)
        if self._open():
            self._schedule_reminder(due_at=reserved_until - remind_before)
        return True

    @event("Held", topic="cinema.notifications:BookingNotices.Held")
    def _hold(self, seat_ids: list[str], amount: int, currency: str,
              reserved_until: datetime) -> None:
        self.seat_ids, self.reserved_until = seat_ids, reserved_until
        self.amount = self.amount if self.amount is not None else amount
        self.currency = currency

    @event("ReminderScheduled", topic="cinema.notifications:BookingNotices.ReminderScheduled")
    def _schedule_reminder(self, due_at: datetime) -> None:
        self.reminder_due_at = due_at

    def payment_succeeded(self) -> bool:
        if self.paid:
            return False
        self._pay()
        return True

    @event("Paid", topic="cinema.notifications:BookingNotices.Paid")
    def _pay(self) -> None:
        self.paid = True

    def confirmed_for(self, customer_id: str, amount: int) -> bool:
        if self.confirmed:
            return False
        self._confirm(customer_id=customer_id, amount=amount)
        return True

    @event("Confirmed", topic="cinema.notifications:BookingNotices.Confirmed")
    def _confirm(self, customer_id: str, amount: int) -> None:
        self.customer_id, self.amount, self.confirmed, self.paid = customer_id, amount, True, True

    def seats_ended(self, reason: str) -> bool:
        """Inventory released the seats or never held them."""
        if self.seats_gone is not None:
            return False
        self._end_seats(reason=reason)
        return True

    @event("SeatsGone", topic="cinema.notifications:BookingNotices.SeatsGone")
    def _end_seats(self, reason: str) -> None:
        self.seats_gone = reason

    def cancelled_for(self, customer_id: str, reason: str, detail: str) -> bool:
        if self.cancelled is not None:
            return False
        self._cancel(customer_id=customer_id, reason=reason, detail=detail)
        return True

    @event("Cancelled", topic="cinema.notifications:BookingNotices.Cancelled")
    def _cancel(self, customer_id: str, reason: str, detail: str) -> None:
        self.customer_id, self.cancelled, self.cancel_detail = customer_id, reason, detail

    def payment_failed(self, attempt: int, reason: str) -> bool:
        if str(attempt) in self.failures:
            return False
        self._fail(attempt=attempt, reason=reason)
        return True

    @event("PaymentFailed", topic="cinema.notifications:BookingNotices.PaymentFailed")
    def _fail(self, attempt: int, reason: str) -> None:
        self.failures[str(attempt)] = reason

    def retry_requested(self, attempt: int) -> bool:
        if attempt <= self.latest_attempt:
            return False
        self._retry(attempt=attempt)
        return True

    @event("RetryRequested", topic="cinema.notifications:BookingNotices.RetryRequested")
    def _retry(self, attempt: int) -> None:
        self.latest_attempt = attempt

    def refunded(self, refund_id: str, amount: int, currency: str, reason: str) -> bool:
        if refund_id in self.refunds:
            return False
        self._refund(refund_id=refund_id, amount=amount, currency=currency, reason=reason)
        return True

    @event("Refunded", topic="cinema.notifications:BookingNotices.Refunded")
    def _refund(self, refund_id: str, amount: int, currency: str, reason: str) -> None:
        self.refunds[refund_id] = {"amount": amount, "currency": currency, "reason": reason}

    # --- what is due ------------------------------------------------------------------

    def _open(self) -> bool:
        """Held, and neither paid nor over."""
        return (self.reserved_until is not None and not self.paid
                and self.cancelled is None and self.seats_gone is None)

    def lapsed(self, now: datetime) -> str | None:
        """Why a message about paying (a reminder, a failure) no longer matters, if it
        does not: paid, cancelled, or the hold is over."""
        if self.paid:
            return PAID
        if self.cancelled is not None or self.seats_gone is not None:
            return CANCELLED
        if self.reserved_until is None or now >= self.reserved_until:
            return HOLD_ENDED
        return None

    def irrelevance(self, kind: str, occasion: str, now: datetime) -> str | None:
        """Why a decided message should not be sent now, if so (the dispatcher asks
        before each attempt: facts may have come since it was decided)."""
        if kind == CONFIRMATION and (self.cancelled is not None or self.seats_gone is not None):
            return CANCELLED
        if kind == PAYMENT_REMINDER:
            return self.lapsed(now)
        if kind == PAYMENT_FAILED:
            if int(occasion) < self.latest_attempt and not self.paid:
                return RETRIED
            return self.lapsed(now)
        return None

    def notices_due(self, now: datetime) -> list[Notice]:
        """The notices the facts known make due, not decided yet (reminders aside: the
        timer decides them, ``reminder_due``)."""
        if self.customer_id is None:  # every message goes to the booking's customer
            return []
        due: list[Notice] = []
        if (self.confirmed and self.currency is not None and self.cancelled is None
                and self.seats_gone is None):
            due.append(Notice(CONFIRMATION, "", self._facts()))
        for attempt, reason in sorted(self.failures.items(), key=lambda f: int(f[0])):
            if (reason not in UNTOLD_FAILURES and int(attempt) >= self.latest_attempt
                    and self.lapsed(now) is None):
                due.append(Notice(PAYMENT_FAILED, attempt, {**self._facts(), "reason": reason}))
        if self.cancelled is not None:
            due.append(Notice(CANCELLATION, "", {
                **self._facts(), "reason": self.cancelled, "detail": self.cancel_detail,
                "was_confirmed": self.confirmed}))
        for refund_id, refund in sorted(self.refunds.items()):
            due.append(Notice(REFUND, refund_id, {**self._facts(), **refund}))
        return [n for n in due if n.key not in self.decided]

    def reminder_pending(self) -> datetime | None:
        """When the payment reminder is due, while it is still to be decided."""
        if self.reminder_due_at is None or PAYMENT_REMINDER in self.decided or not self._open():
            return None
        return self.reminder_due_at

    def reminder_due(self, now: datetime) -> Notice | None:
        due_at = self.reminder_pending()
        if due_at is None or now < due_at or self.lapsed(now) or self.customer_id is None:
            return None
        return Notice(PAYMENT_REMINDER, "", self._facts())

    def _facts(self) -> dict[str, Any]:
        until = self.reserved_until
        return {"booking_id": str(self.booking_id), "show_id": self.show_id,
                "seat_ids": self.seat_ids or self.requested_seats, "amount": self.amount,
                "currency": self.currency, "reserved_until": until.isoformat() if until else None}

    def decide(self, notice: Notice, notifications: Iterable[Notification]) -> None:
        made = [str(n.id) for n in notifications]
        if notice.kind == PAYMENT_REMINDER:
            self._remind(notifications=made)
        else:
            self._decide(key=notice.key, notifications=made)

    @event("Decided", topic="cinema.notifications:BookingNotices.Decided")
    def _decide(self, key: str, notifications: list[str]) -> None:
        self.decided[key] = notifications

    @event("ReminderDecided", topic="cinema.notifications:BookingNotices.ReminderDecided")
    def _remind(self, notifications: list[str]) -> None:
        self.decided[PAYMENT_REMINDER] = notifications

    def notification_ids(self) -> list[UUID]:
        return [UUID(n) for made in self.decided.values() for n in made]


class Notification(Aggregate):
    """One message: a notice of a booking by one channel to one destination."""

    TOPIC = "cinema.notifications:Notification"

    class Created(Aggregate.Created):
        TOPIC = "cinema.notifications:Notification.Created"

    @staticmethod
    def create_id(booking_id: UUID, kind: str, occasion: str, channel: str, copy: int) -> UUID:
        return ids.notification_id(booking_id, kind, occasion, channel, copy)

    @event("Due", topic="cinema.notifications:Notification.Due")
    def __init__(self, booking_id: UUID, customer_id: str, kind: str, occasion: str,
                 channel: str, copy: int, destination: dict[str, Any], language: str,
                 facts: dict[str, Any], at: datetime) -> None:
        self.booking_id, self.customer_id = booking_id, customer_id
        self.kind, self.occasion = kind, occasion
        self.channel, self.copy, self.destination = channel, copy, destination
        self.language, self.facts = language, facts
        self.status = DUE
        self.due_at = at
        self.next_try_at: datetime | None = at
        self.attempt = 0  # the latest attempt started
        self.attempt_started_at: datetime | None = None
        self.interrupted: list[int] = []  # attempts whose outcome a crash lost
        self.history: list[dict[str, Any]] = []  # each attempt: its start, outcome, reason
        self.reason = ""  # why it failed or was dropped
        self.sent_at: datetime | None = None

    @property
    def message_id(self) -> str:
        """The same for every attempt: a repeated send is recognisable as one message."""
        return f"<{self.id}@cinema-saga>"

    @property
    def final(self) -> bool:
        return self.status in FINAL

    def next_look(self, policy: RetryPolicy) -> datetime | None:
        """When the dispatcher should look at it next (None: never again)."""
        if self.status == SENDING:
            assert self.attempt_started_at is not None
            return self.attempt_started_at + policy.send_timeout
        return None if self.final else self.next_try_at

    def sendable(self, now: datetime, policy: RetryPolicy) -> bool:
        look = self.next_look(policy)
        return look is not None and look <= now

    def start_attempt(self, now: datetime, policy: RetryPolicy) -> int:
        """Record the next attempt before its send; an earlier one left without outcome
        is recorded as interrupted first (it may have been sent)."""
        assert self.sendable(now, policy), f"{self.id} is not to be sent now ({self.status})"
        if self.status == SENDING:
            self._interrupt(attempt=self.attempt, at=now)
        self._start(attempt=self.attempt + 1, at=now)
        return self.attempt

    @event("AttemptInterrupted", topic="cinema.notifications:Notification.AttemptInterrupted")
    def _interrupt(self, attempt: int, at: datetime) -> None:
        self.interrupted.append(attempt)
        self.history[-1]["outcome"] = "interrupted"

    @event("AttemptStarted", topic="cinema.notifications:Notification.AttemptStarted")
    def _start(self, attempt: int, at: datetime) -> None:
        self.status, self.attempt, self.attempt_started_at = SENDING, attempt, at
        self.history.append({"attempt": attempt, "started_at": at, "outcome": "", "reason": ""})

    def record_sent(self, attempt: int, now: datetime) -> None:
        """The channel accepted the message (whichever attempt sent it: it got through)."""
        if not self.final:
            self._sent(attempt=attempt, at=now)

    @event("Sent", topic="cinema.notifications:Notification.Sent")
    def _sent(self, attempt: int, at: datetime) -> None:
        # An earlier failure's reason stays in the history, not on a message that got through.
        self.status, self.sent_at, self.next_try_at, self.reason = SENT, at, None, ""
        for h in self.history:
            if h["attempt"] == attempt:
                h["outcome"] = "sent"

    def record_failure(self, attempt: int, reason: str, permanent: bool, now: datetime,
                       policy: RetryPolicy) -> None:
        """The channel refused this attempt: tried again after a backoff, unless retrying
        cannot help or the attempts are used up."""
        if self.status != SENDING or attempt != self.attempt:
            return  # an outcome of an attempt already given up as interrupted
        next_try = None if permanent else policy.next_try(attempt, now)
        self._fail(attempt=attempt, reason=reason, next_try_at=next_try, at=now)

    @event("AttemptFailed", topic="cinema.notifications:Notification.AttemptFailed")
    def _fail(self, attempt: int, reason: str, next_try_at: datetime | None,
              at: datetime) -> None:
        self.status = FAILED if next_try_at is not None else FAILED_PERMANENTLY
        self.reason, self.next_try_at = reason, next_try_at
        self.history[-1].update(outcome="failed", reason=reason)

    def drop(self, reason: str, now: datetime) -> None:
        if self.final:
            return
        if self.status == SENDING:
            self._interrupt(attempt=self.attempt, at=now)
        self._drop(reason=reason, at=now)

    @event("Dropped", topic="cinema.notifications:Notification.Dropped")
    def _drop(self, reason: str, at: datetime) -> None:
        self.status, self.reason, self.next_try_at = DROPPED, reason, None


def address(booking: BookingNotices, notice: Notice, contact: ContactPreferences | None,
            channels: Collection[str], now: datetime) -> list[Notification]:
    """The messages of a notice: one per destination the customer has on each channel
    they chose for its kind (among the ``channels`` this service has); or one dropped,
    saying why none is sent."""
    assert booking.customer_id is not None
    common: dict[str, Any] = {
        "booking_id": booking.booking_id, "customer_id": booking.customer_id,
        "kind": notice.kind, "occasion": notice.occasion, "facts": notice.facts, "at": now,
        "language": contact.language if contact is not None else "en",
    }
    why = None
    destinations: list[tuple[str, int, dict[str, Any]]] = []
    if contact is None or not contact.reachable:
        why = NO_CONTACT
    elif notice.kind == PAYMENT_REMINDER and not contact.reminders:
        why = OPTED_OUT
    else:
        destinations = [d for d in contact.destinations(notice.kind) if d[0] in channels]
        if not destinations:
            why = OPTED_OUT if not contact.channels_for(notice.kind) else NO_CONTACT
    if why is not None:
        dropped = Notification(channel=NO_CHANNEL, copy=0, destination={}, **common)
        dropped.drop(why, now)
        return [dropped]
    return [Notification(channel=channel, copy=copy, destination=destination, **common)
            for channel, copy, destination in destinations]

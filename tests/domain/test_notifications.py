"""The notification service's domain: which facts make which notices due, the reminder's
timing and its end when the booking is paid or over, a message's attempts, backoff and
bounded failure, and the interrupted-attempt rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from notifications.contact import (
    ContactDetails,
    ContactPreferences,
    InvalidEmail,
    InvalidPushSubscription,
    UnknownChoice,
    UnknownLanguage,
)
from notifications.domain import (
    CANCELLATION,
    CONFIRMATION,
    DROPPED,
    FAILED,
    FAILED_PERMANENTLY,
    KINDS,
    NO_CONTACT,
    OPTED_OUT,
    PAYMENT_FAILED,
    PAYMENT_REMINDER,
    REFUND,
    SENDING,
    SENT,
    BookingNotices,
    Notification,
    RetryPolicy,
    address,
)
from notifications.messages import MessageWriter
from notifications.shows import ShowDetails, TheatreDetails
from notifications.tickets import ticket_code
from shared import ids

T0 = datetime(2030, 1, 1, 18, 0, tzinfo=UTC)
HOLD = timedelta(minutes=10)
BEFORE = timedelta(minutes=2)
POLICY = RetryPolicy(max_attempts=3, first_wait=timedelta(seconds=30),
                     send_timeout=timedelta(minutes=1))
# A browser's subscription: a P-256 point (65 bytes) and a 16-byte secret, base64url.
P256DH = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
AUTH = "tBHItJI5svbpez7KI4CCXg"
SUBSCRIPTION = {"endpoint": "https://push.example.net/send/abc", "p256dh": P256DH, "auth": AUTH}


def booking(customer: str = "ann") -> BookingNotices:
    b = BookingNotices(booking_id=uuid4(), show_id="s1")
    b.requested(customer, ["A1", "A2"])
    return b


def held(b: BookingNotices | None = None) -> BookingNotices:
    b = b or booking()
    b.held(["A1", "A2"], 2400, "EUR", T0 + HOLD, BEFORE)
    return b


def contact(email: str | None = "ann@example.com", push: tuple = (), channels=None,
            reminders: bool = True, language: str = "en") -> ContactPreferences:
    c = ContactPreferences(customer_id="ann")
    c.update(ContactDetails.checked(email, language, list(push), channels or {}, reminders,
                                    KINDS), T0)
    return c


def kinds(b: BookingNotices, now: datetime = T0) -> list[str]:
    return [n.key for n in b.notices_due(now)]


def names(aggregate) -> list[str]:
    return [type(e).__name__ for e in aggregate.collect_events()]


# --- which facts make which notices due -------------------------------------------


def test_a_confirmation_is_due_once_confirmed_and_held_in_either_order():
    b = booking()
    b.confirmed_for("ann", 2400)
    assert kinds(b) == []  # the seats and currency come with the hold
    held(b)
    assert kinds(b) == [CONFIRMATION]
    facts = b.notices_due(T0)[0].facts
    assert (facts["seat_ids"], facts["amount"], facts["currency"]) == (["A1", "A2"], 2400, "EUR")
    c = held()
    c.confirmed_for("ann", 2400)
    assert kinds(c) == [CONFIRMATION]


def test_a_decided_notice_is_not_due_again():
    b = held()
    b.confirmed_for("ann", 2400)
    [notice] = b.notices_due(T0)
    b.decide(notice, address(b, notice, contact(), ["email"], T0))
    assert kinds(b) == []
    assert not b.confirmed_for("ann", 2400)  # a repeated fact is no news


def test_a_payment_failure_is_told_while_the_seats_are_held():
    b = held()
    b.payment_failed(1, "card_declined")
    [notice] = b.notices_due(T0)
    assert (notice.key, notice.facts["reason"]) == (f"{PAYMENT_FAILED}/1", "card_declined")
    assert notice.facts["reserved_until"] == (T0 + HOLD).isoformat()  # until when to pay
    assert kinds(b, T0 + HOLD) == []  # the hold is over: nothing to do any more


def test_failures_that_need_no_message():
    b = held()
    b.payment_failed(1, "hold_expired")  # too late anyway
    b.payment_failed(2, "canceled")  # the customer chose another way to pay
    assert kinds(b) == []
    c = held()
    c.retry_requested(2)
    c.payment_failed(1, "card_declined")  # the customer already paid again
    assert kinds(c) == []
    d = booking()
    d.payment_failed(1, "card_declined")
    assert kinds(d) == []  # not known to be held (yet)
    held(d)
    assert kinds(d) == [f"{PAYMENT_FAILED}/1"]


def test_a_cancellation_says_why_and_a_refund_how_much():
    b = held()
    b.cancelled_for("ann", "show_cancelled", "")
    b.refunded("re_1", 2400, "EUR", "seats_released:show_cancelled")
    due = {n.key: n.facts for n in b.notices_due(T0)}
    assert due[CANCELLATION]["reason"] == "show_cancelled"
    assert due[f"{REFUND}/re_1"]["amount"] == 2400
    assert CONFIRMATION not in due


def test_no_notice_before_the_customer_is_known():
    b = BookingNotices(booking_id=uuid4(), show_id="s1")
    held(b)
    b.payment_failed(1, "card_declined")
    assert kinds(b) == []
    b.requested("ann", ["A1", "A2"])
    assert kinds(b) == [f"{PAYMENT_FAILED}/1"]


# --- the reminder -----------------------------------------------------------------------


def test_the_reminder_is_scheduled_with_the_hold_and_due_before_its_end():
    b = held()
    assert "ReminderScheduled" in names(b)
    assert b.reminder_pending() == T0 + HOLD - BEFORE
    assert b.reminder_due(T0 + HOLD - BEFORE - timedelta(seconds=1)) is None
    notice = b.reminder_due(T0 + HOLD - BEFORE)
    assert notice is not None and notice.kind == PAYMENT_REMINDER
    b.decide(notice, address(b, notice, contact(), ["email"], T0))
    assert b.reminder_pending() is None and b.reminder_due(T0 + HOLD - BEFORE) is None  # once


@pytest.mark.parametrize("meanwhile", [
    lambda b: b.payment_succeeded(),
    lambda b: b.confirmed_for("ann", 2400),
    lambda b: b.cancelled_for("ann", "cancelled_by_customer", ""),
    lambda b: b.seats_ended("hold_expired"),
])
def test_no_reminder_for_a_booking_paid_cancelled_or_expired_meanwhile(meanwhile):
    b = held()
    meanwhile(b)
    assert b.reminder_pending() is None
    assert b.reminder_due(T0 + HOLD - BEFORE) is None


def test_no_reminder_once_the_hold_is_over_nor_for_a_hold_learned_after_payment():
    b = held()
    assert b.reminder_due(T0 + HOLD) is None  # the timer came too late: the seats are gone
    c = booking()
    c.payment_succeeded()
    held(c)
    assert c.reminder_pending() is None and "ReminderScheduled" not in names(c)


def test_a_decided_reminder_lapses_when_the_booking_is_paid_before_it_is_sent():
    b = held()
    assert b.irrelevance(PAYMENT_REMINDER, "", T0) is None
    b.payment_succeeded()
    assert b.irrelevance(PAYMENT_REMINDER, "", T0) == "paid"
    c = held()
    c.cancelled_for("ann", "cancelled_by_customer", "")
    assert c.irrelevance(PAYMENT_REMINDER, "", T0) == "booking_cancelled"
    assert c.irrelevance(CONFIRMATION, "", T0) == "booking_cancelled"
    assert held().irrelevance(PAYMENT_REMINDER, "", T0 + HOLD) == "hold_ended"


# --- addressing: contact details and wishes -----------------------------------------------


def notice_of(kind: str = CONFIRMATION):
    b = held()
    if kind == PAYMENT_REMINDER:
        return b, b.reminder_due(T0 + HOLD - BEFORE)
    b.confirmed_for("ann", 2400)
    return b, b.notices_due(T0)[0]


def test_one_message_per_destination_with_ids_from_the_notice():
    b, notice = notice_of()
    made = address(b, notice, contact(push=(SUBSCRIPTION,)), ["email", "push"], T0)
    assert [(n.channel, n.copy) for n in made] == [("email", 0), ("push", 0)]
    assert made[0].destination == {"address": "ann@example.com"}
    assert made[0].id == ids.notification_id(b.booking_id, CONFIRMATION, "", "email", 0)
    assert made[0].message_id == f"<{made[0].id}@cinema-saga>"
    # a channel the service does not have is not used
    assert [n.channel for n in address(b, notice, contact(push=(SUBSCRIPTION,)), ["email"], T0)
            ] == ["email"]


def test_no_contact_details_drop_the_notice_without_error():
    b, notice = notice_of()
    for prefs in (None, contact(email=None)):
        [n] = address(b, notice, prefs, ["email", "push"], T0)
        assert (n.status, n.reason) == (DROPPED, NO_CONTACT)


def test_opted_out_of_reminders_or_of_every_channel_for_a_kind():
    b, reminder = notice_of(PAYMENT_REMINDER)
    [n] = address(b, reminder, contact(reminders=False), ["email"], T0)
    assert (n.status, n.reason) == (DROPPED, OPTED_OUT)
    _, confirmation = notice_of()
    [m] = address(b, confirmation, contact(channels={CONFIRMATION: []}), ["email"], T0)
    assert (m.status, m.reason) == (DROPPED, OPTED_OUT)
    [p] = address(b, confirmation, contact(channels={CONFIRMATION: ["push"]}), ["email"], T0)
    assert (p.status, p.reason) == (DROPPED, NO_CONTACT)  # push chosen, but no subscription


@pytest.mark.parametrize(("change", "error"), [
    ({"email": "not-an-address"}, InvalidEmail),
    ({"email": "ann@localhost"}, InvalidEmail),
    ({"language": "de"}, UnknownLanguage),
    ({"push": [{**SUBSCRIPTION, "p256dh": "short"}]}, InvalidPushSubscription),
    ({"push": [{**SUBSCRIPTION, "auth": "!!!"}]}, InvalidPushSubscription),
    ({"push": [{**SUBSCRIPTION, "endpoint": "ftp://x"}]}, InvalidPushSubscription),
    ({"channels": {"newsletter": ["email"]}}, UnknownChoice),
    ({"channels": {CONFIRMATION: ["pigeon"]}}, UnknownChoice),
])
def test_contact_details_are_checked(change, error):
    given = {"email": "ann@example.com", "language": "en", "push": [], "channels": {}, **change}
    with pytest.raises(error):
        ContactDetails.checked(given["email"], given["language"], given["push"],
                               given["channels"], True, KINDS)


def test_the_same_details_again_record_nothing():
    c = contact()
    c.collect_events()
    assert not c.update(c.details(), T0)
    assert c.collect_events() == []


# --- delivery: attempts, backoff, bounded failure, interrupted attempts ------------------


def due() -> Notification:
    b, notice = notice_of()
    [n] = address(b, notice, contact(), ["email"], T0)
    return n


def test_an_attempt_is_recorded_before_the_send_and_sent_after_it():
    n = due()
    assert n.sendable(T0, POLICY)
    assert n.start_attempt(T0, POLICY) == 1
    assert n.status == SENDING and not n.sendable(T0, POLICY)  # another dispatcher keeps off
    n.record_sent(1, T0)
    assert (n.status, n.next_look(POLICY)) == (SENT, None)
    assert [h["outcome"] for h in n.history] == ["sent"]


def test_failures_back_off_and_end_in_failed_after_the_bounded_attempts():
    n = due()
    at = T0
    for attempt, wait in ((1, 30), (2, 60)):
        n.start_attempt(at, POLICY)
        n.record_failure(attempt, "smtp 451", False, at, POLICY)
        assert (n.status, n.next_try_at) == (FAILED, at + timedelta(seconds=wait))
        assert not n.sendable(at + timedelta(seconds=wait - 1), POLICY)
        at += timedelta(seconds=wait)
    n.start_attempt(at, POLICY)
    n.record_failure(3, "smtp 451", False, at, POLICY)
    assert (n.status, n.reason, n.next_look(POLICY)) == (FAILED_PERMANENTLY, "smtp 451", None)


def test_a_message_sent_after_a_failure_says_no_reason_its_history_does():
    n = due()
    n.start_attempt(T0, POLICY)
    n.record_failure(1, "smtp 451", False, T0, POLICY)
    later = T0 + timedelta(seconds=30)
    n.start_attempt(later, POLICY)
    n.record_sent(2, later)
    assert (n.status, n.reason) == (SENT, "")
    assert [(h["outcome"], h["reason"]) for h in n.history] == [("failed", "smtp 451"),
                                                                ("sent", "")]


def test_a_permanent_refusal_is_not_tried_again():
    n = due()
    n.start_attempt(T0, POLICY)
    n.record_failure(1, "recipient refused", True, T0, POLICY)
    assert (n.status, n.attempt) == (FAILED_PERMANENTLY, 1)


def test_an_attempt_without_outcome_is_interrupted_then_tried_again_with_the_same_id():
    n = due()
    message_id = n.message_id
    n.start_attempt(T0, POLICY)  # ... the process dies after the send
    assert not n.sendable(T0 + POLICY.send_timeout - timedelta(seconds=1), POLICY)
    later = T0 + POLICY.send_timeout
    assert n.start_attempt(later, POLICY) == 2
    assert n.interrupted == [1] and n.message_id == message_id
    assert [h["outcome"] for h in n.history] == ["interrupted", ""]
    n.record_failure(1, "late answer", False, later, POLICY)  # the lost attempt's: ignored
    assert n.status == SENDING
    n.record_sent(2, later)
    assert n.status == SENT


def test_a_dropped_or_sent_message_stays_so():
    n = due()
    n.drop("paid", T0)
    n.record_sent(1, T0)
    assert (n.status, n.reason) == (DROPPED, "paid")
    assert not n.sendable(T0 + timedelta(days=1), POLICY)


# --- messages: templates in both languages --------------------------------------------


def show_and_theatre():
    show = ShowDetails(show_id="s1", theatre_id="odeon", screen_id="one", film="Dune",
                       starts_at=datetime(2030, 6, 1, 18, 0, tzinfo=UTC),
                       local_start="2030-06-01T19:00:00+01:00")
    theatre = TheatreDetails(theatre_id="odeon", name="Odeon", city="London",
                             address="Leicester Square", time_zone="Europe/London")
    theatre.name_screen("one", "Screen 1")
    return show, theatre


def written(kind: str, language: str, channel: str = "email"):
    b = BookingNotices(booking_id=uuid4(), show_id="s1")
    b.requested("ann", ["A1", "A2"])
    # held until 18:10 UTC on 1 June: 19:10 in London (summer time)
    b.held(["A1", "A2"], 2450, "EUR", datetime(2030, 6, 1, 18, 10, tzinfo=UTC), BEFORE)
    if kind == CONFIRMATION:
        b.confirmed_for("ann", 2450)
    elif kind == PAYMENT_FAILED:
        b.payment_failed(1, "card_declined")
    elif kind == CANCELLATION:
        b.cancelled_for("ann", "show_cancelled", "")
    elif kind == REFUND:
        b.refunded("re_1", 2450, "EUR", "seats_released:show_cancelled")
    at = datetime(2030, 6, 1, 18, 0, tzinfo=UTC)
    [notice] = [n for n in b.notices_due(at) if n.kind == kind] or [b.reminder_due(b.reminder_pending())]
    prefs = contact(push=(SUBSCRIPTION,), language=language)
    [n] = [m for m in address(b, notice, prefs, ["email", "push"], at) if m.channel == channel]
    show, theatre = show_and_theatre()
    return MessageWriter(secret="s3cret").write(n, show, theatre), n


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_message_is_written_in_both_languages(kind, language):
    email, n = written(kind, language)
    assert email.message_id == n.message_id and email.to == "ann@example.com"
    assert email.language == language and email.subject and "\n" not in email.subject
    for part in (email.text, email.html):
        assert "A1, A2" in part  # the seats
        assert ("19:00" in part) and ("2030" in part)  # the start, in the theatre's zone
        assert n.booking_id.hex[:8].upper() in part.replace("-", "")  # the reference
    push, p = written(kind, language, "push")
    assert push.message_id == p.message_id and push.title and push.body
    assert push.subscription.endpoint == SUBSCRIPTION["endpoint"]


@pytest.mark.parametrize(("language", "amount", "until", "reason"), [
    ("en", "€24.50", "Saturday 1 June 2030, 19:10", "your card was declined"),
    ("fr", "24,50\u00a0€", "samedi 1 juin 2030 à 19:10", "votre carte a été refusée"),
])
def test_a_payment_failure_says_what_went_wrong_and_until_when_in_the_theatres_zone(
        language, amount, until, reason):
    email, _ = written(PAYMENT_FAILED, language)
    assert amount in email.text and until in email.text and reason in email.text
    assert until in email.html and "Dune" in email.html and "Odeon" in email.html


def test_the_confirmation_carries_its_ticket_code_and_qr_code_inline():
    email, n = written(CONFIRMATION, "en")
    [image] = email.images
    assert image.png.startswith(b"\x89PNG") and f"cid:{image.content_id}" in email.html
    code = ticket_code("s3cret", n.booking_id, "s1", ["A1", "A2"])
    assert code in email.text and code in email.html
    assert code != ticket_code("other secret", n.booking_id, "s1", ["A1", "A2"])


@pytest.mark.parametrize(("language", "words"), [
    ("en", "the cinema cancelled the show"), ("fr", "le cinéma a annulé la séance")])
def test_a_cancellation_says_why_in_words(language, words):
    email, _ = written(CANCELLATION, language)
    assert words in email.text and words in email.html


def test_html_escapes_what_it_quotes():
    show, theatre = show_and_theatre()
    show.film = "<script>x</script>"
    b, notice = notice_of()
    [n] = address(b, notice, contact(), ["email"], T0)
    email = MessageWriter(secret="s").email(n, show, theatre)
    assert "<script>" not in email.html and "&lt;script&gt;" in email.html


def test_a_show_without_theatre_facts_is_named_by_its_id():
    b, notice = notice_of()
    [n] = address(b, notice, contact(), ["email"], T0)
    email = MessageWriter(secret="s").email(n, None, None)
    assert "s1" in email.text and "A1, A2" in email.text
